/**
 * What stands before every app: the pages an emailed link opens, the sign-in
 * page, the second-factor step, the account page (`<app>/account`), and the
 * choice of organisation — an app shows only organisations of its kind (Live
 * Leads: buyers; the console: agencies, and the platform for operators; the
 * source portal: sources). A person whose session acts in another kind of
 * organisation is offered theirs of this kind, or a link to the right app.
 * Then the app itself, given the session and its organisation (GET /v1/me).
 */
import type { ComponentChildren } from 'preact';

import { AccountPage } from './Account';
import { SecondFactorSlot } from './account-slots';
import { messageOf } from './api';
import { APP_OF, type AppKind, BASE_OF, fitsApp, orgName, type Session, useSession } from './session';
import { LinkSignInPage, ResetPasswordPage, SignInPage } from './SignIn';
import type { Me, MembershipView, SessionView } from './types';
import { Button, Loading, toast, Toasts } from './ui';

/** A session signed in, acting in an organisation of this app, its details loaded. */
export type ReadySession = Session & { view: SessionView & { organisation: MembershipView }; me: Me };

const pathNow = () => location.pathname.replace(/\/+$/, '') || '/';

export function SessionGate(props: {
  app: AppKind;
  /** The app's name, on the sign-in page. */
  title: string;
  /** Under the sign-in form (links to the other apps). */
  extra?: ComponentChildren;
  children(s: ReadySession): ComponentChildren;
}) {
  const path = pathNow();
  if (path === '/sign-in/link') return <LinkSignInPage />;
  if (path === '/reset-password') return <ResetPasswordPage />;
  return <Gate {...props} />;
}

function Gate({
  app,
  title,
  extra,
  children,
}: {
  app: AppKind;
  title: string;
  extra?: ComponentChildren;
  children(s: ReadySession): ComponentChildren;
}) {
  const s = useSession(app);
  const { view } = s;
  if (!s.checked) return <Loading label="Loading…" />;
  if (!view)
    return (
      <>
        <SignInPage title={title} note={s.note} onSignedIn={s.adopt} extra={extra} />
        <Toasts />
      </>
    );
  if (view.stage !== 'full') return <SecondFactorSlot view={view} onDone={s.adopt} onCancel={() => void s.signOut()} />;
  if (pathNow() === `${BASE_OF[app]}/account`) return <AccountPage session={s} app={app} />;
  const org = view.organisation;
  if (!org || !fitsApp(app, org)) return <ChooseOrganisation session={s} app={app} title={title} />;
  if (!s.me)
    return s.note ? <ChooseOrganisation session={s} app={app} title={title} /> : <Loading label="Signing in…" />;
  return <>{children(s as ReadySession)}</>;
}

/** The organisations of this app's kind to act in, and links to the apps of the others. */
function ChooseOrganisation({ session: s, app, title }: { session: Session; app: AppKind; title: string }) {
  const view = s.view!;
  const here = view.memberships.filter((m) => fitsApp(app, m));
  const elsewhere = view.memberships.filter((m) => !fitsApp(app, m));
  const choose = (id: string) => s.choose(id).catch((err) => toast(messageOf(err), 'bad'));
  return (
    <div class="signin-wrap">
      <div class="signin" data-testid="choose-organisation">
        <h1>{title}</h1>
        {s.note ? <div class="note note-bad">{s.note}</div> : null}
        <p class="muted">
          Signed in as <strong>{view.user.email}</strong>.{' '}
          {here.length
            ? 'Choose where to work:'
            : `You are not a member of any organisation ${APP_OF[app].name} serves.`}
        </p>
        {here.map((m) => (
          <Button key={m.id} variant="primary" class="wide" data-testid="choose-org" onClick={() => void choose(m.id)}>
            {orgName(m)} <span class="muted">· {m.role}</span>
          </Button>
        ))}
        {elsewhere.length ? (
          <ul class="plain-list" data-testid="other-apps">
            {elsewhere.map((m) => (
              <li key={m.id}>
                {orgName(m)} ({m.role}): <a href={APP_OF[m.kind].path}>open {APP_OF[m.kind].name}</a>
              </li>
            ))}
          </ul>
        ) : null}
        <button class="link" type="button" onClick={() => void s.signOut()}>
          Sign out
        </button>
      </div>
      <Toasts />
    </div>
  );
}

/**
 * The right end of an app's top bar for a person: the organisation switcher
 * (when they belong to several of this app's kind), their account, sign out.
 */
export function SessionControls({ session: s, app }: { session: ReadySession; app: AppKind }) {
  const mine = s.view.memberships.filter((m) => fitsApp(app, m));
  return (
    <>
      {mine.length > 1 ? (
        <select
          class="org-switcher"
          aria-label="Organisation"
          data-testid="org-switcher"
          value={s.view.organisation.id}
          onChange={(e) => void s.choose(e.currentTarget.value).catch((err) => toast(messageOf(err), 'bad'))}
        >
          {mine.map((m) => (
            <option key={m.id} value={m.id}>
              {orgName(m)}
            </option>
          ))}
        </select>
      ) : null}
      <a
        class="btn btn-ghost btn-sm on-dark"
        href={`${BASE_OF[app]}/account`}
        data-testid="account-link"
        title={s.view.user.email}
      >
        {s.view.user.displayName || 'Account'}
      </a>
      <Button size="sm" variant="ghost" class="on-dark" data-testid="sign-out" onClick={() => void s.signOut()}>
        Sign out
      </Button>
    </>
  );
}
