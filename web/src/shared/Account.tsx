/**
 * The account page (`/account`, `/admin/account`, `/source/account`): the
 * person's display name, their password, the sessions they are signed in with
 * (each can be signed out, or all at once), and the places the two-factor,
 * passkey, API key and team pages fill (./account-slots.tsx). Everything here is about
 * the person, not the organisation, so the three apps share it.
 */
import { useState } from 'preact/hooks';

import { accountApi } from './account-api';
import { AccountLinks, PasskeysSection, TwoFactorSection } from './account-slots';
import { ApiError, messageOf } from './api';
import { dateTime } from './format';
import { APP_OF, type AppKind, BASE_OF, orgName, type Session } from './session';
import { Badge, Button, ErrorNote, Field, Loading, Logo, Panel, toast, Toasts, useAsync } from './ui';

const PRODUCT: Record<AppKind, string> = { buyer: 'Live Leads', agency: 'Agency console', source: 'Source portal' };

export function AccountPage({ session: s, app }: { session: Session; app: AppKind }) {
  const view = s.view!;
  const back = BASE_OF[app] || '/';
  return (
    <div class="app account-app">
      <header class="topbar">
        <Logo product={PRODUCT[app]} />
        <div class="topbar-right">
          <a class="btn btn-ghost btn-sm on-dark" href={back} data-testid="back-to-app">
            Back to {APP_OF[app].name}
          </a>
          <Button size="sm" variant="ghost" class="on-dark" data-testid="sign-out" onClick={() => void s.signOut()}>
            Sign out
          </Button>
        </div>
      </header>
      <main class="main account">
        <h1>Your account</h1>
        <p class="muted">
          {view.user.email}
          {view.organisation ? ` · ${orgName(view.organisation)} (${view.organisation.role})` : ''}
        </p>
        <DisplayName session={s} />
        <ChangePassword session={s} />
        <div data-slot="two-factor">
          <TwoFactorSection session={s} />
        </div>
        <div data-slot="passkeys">
          <PasskeysSection session={s} />
        </div>
        <Sessions session={s} />
        <div data-slot="account-links">
          <AccountLinks session={s} />
        </div>
      </main>
      <Toasts />
    </div>
  );
}

function DisplayName({ session: s }: { session: Session }) {
  const view = s.view!;
  const [name, setName] = useState(view.user.displayName);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await accountApi.updateAccount(s.api, name.trim());
      s.adopt({ ...view, user: { ...view.user, displayName: name.trim() } });
      toast('Name saved.', 'ok');
    } catch (err) {
      setError(err instanceof ApiError ? (err.fieldError('displayName') ?? err.detail) : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel title="Name">
      <form class="form" onSubmit={submit} data-testid="display-name-form">
        <Field label="Display name" hint="How your team and the offer timeline name you." error={error ?? undefined}>
          <input
            name="displayName"
            type="text"
            maxLength={120}
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Button type="submit" variant="primary" busy={busy}>
          Save name
        </Button>
      </form>
    </Panel>
  );
}

function ChangePassword({ session: s }: { session: Session }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [errors, setErrors] = useState<{ current?: string; next?: string; other?: string }>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      await accountApi.changePassword(s.api, current, next);
      setCurrent('');
      setNext('');
      toast('Password changed.', 'ok');
    } catch (err) {
      if (err instanceof ApiError && (err.fieldError('currentPassword') || err.fieldError('newPassword')))
        setErrors({ current: err.fieldError('currentPassword'), next: err.fieldError('newPassword') });
      else setErrors({ other: messageOf(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel title="Password">
      <form class="form" onSubmit={submit} data-testid="password-form">
        <Field label="Current password" error={errors.current}>
          <input
            name="currentPassword"
            type="password"
            autocomplete="current-password"
            required
            value={current}
            onInput={(e) => setCurrent(e.currentTarget.value)}
          />
        </Field>
        <Field label="New password" hint="At least 12 characters." error={errors.next}>
          <input
            name="newPassword"
            type="password"
            autocomplete="new-password"
            required
            value={next}
            onInput={(e) => setNext(e.currentTarget.value)}
          />
        </Field>
        {errors.other ? <div class="note note-bad">{errors.other}</div> : null}
        <Button type="submit" variant="primary" busy={busy}>
          Change password
        </Button>
      </form>
    </Panel>
  );
}

function Sessions({ session: s }: { session: Session }) {
  const list = useAsync(() => accountApi.sessions(s.api), []);
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (id: string, what: () => Promise<unknown>, done: string) => {
    setBusy(id);
    try {
      await what();
      toast(done, 'ok');
      // After signing out everywhere this session is gone too: the reload's 401 brings the sign-in page.
      await list.reload();
    } catch (err) {
      toast(messageOf(err), 'bad');
    } finally {
      setBusy(null);
    }
  };
  return (
    <Panel
      title="Where you are signed in"
      actions={
        <Button
          size="sm"
          variant="danger"
          busy={busy === '*'}
          data-testid="sign-out-everywhere"
          onClick={() => void act('*', () => accountApi.signOutEverywhere(s.api), 'Signed out everywhere.')}
        >
          Sign out everywhere
        </Button>
      }
    >
      {list.loading && !list.data ? <Loading /> : null}
      <ErrorNote error={list.error} />
      {list.data ? (
        <table class="table" data-testid="sessions">
          <thead>
            <tr>
              <th>Device</th>
              <th>How</th>
              <th>Address</th>
              <th>Signed in</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.sessions.map((row) => (
              <tr key={row.id} data-session={row.id}>
                <td>
                  {row.device ?? 'unknown device'} {row.current ? <Badge tone="ok">this browser</Badge> : null}
                </td>
                <td>{row.method}</td>
                <td>{row.ip ?? '–'}</td>
                <td>{dateTime(row.createdAt)}</td>
                <td>{dateTime(row.lastUsedAt)}</td>
                <td>
                  {row.current ? null : (
                    <Button
                      size="sm"
                      busy={busy === row.id}
                      onClick={() =>
                        void act(row.id, () => accountApi.revokeSession(s.api, row.id), 'Session signed out.')
                      }
                    >
                      Sign out
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Panel>
  );
}
