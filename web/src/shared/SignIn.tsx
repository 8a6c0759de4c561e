/**
 * Signing in, the same page in the three apps: email and password
 * (POST /v1/auth/sign-in, which sets the HttpOnly session cookie and answers
 * the session), "Email me a sign-in link", "Forgot password", and the places
 * for single sign-on and passkeys (account-slots.tsx). Also the two pages an
 * emailed link opens: /sign-in/link?token= and /reset-password?token= (the
 * token is read once and taken out of the address bar at once).
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

import { accountApi } from './account-api';
import { PasskeySignInSlot, SsoSignInSlot } from './account-slots';
import { Api, ApiError, messageOf, ok } from './api';
import { APP_OF } from './session';
import type { SessionView } from './types';
import { Button, Field } from './ui';

type Mode = 'password' | 'link' | 'forgot';

export function SignInPage({
  title,
  note,
  onSignedIn,
  extra,
}: {
  title: string;
  /** Why the page shows (a session that ended…), else the usual line. */
  note: string | null;
  onSignedIn(view: SessionView): void;
  extra?: ComponentChildren;
}) {
  const [mode, setMode] = useState<Mode>('password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const switchTo = (m: Mode) => {
    setMode(m);
    setError(null);
    setSent(null);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSent(null);
    try {
      if (mode === 'password') {
        onSignedIn(await ok(new Api().client.POST('/v1/auth/sign-in', { body: { email: email.trim(), password } })));
      } else if (mode === 'link') {
        await accountApi.requestSignInLink(email.trim());
        setSent(`If ${email.trim()} has an account, a sign-in link is on its way. It works once, for 15 minutes.`);
      } else {
        await accountApi.requestPasswordReset(email.trim());
        setSent(`If ${email.trim()} has an account, a link to choose a new password is on its way.`);
      }
    } catch (err) {
      setError(
        err instanceof ApiError && err.fieldError('email') ? `Email: ${err.fieldError('email')}` : messageOf(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin-wrap">
      <form class="signin" onSubmit={submit} data-mode={mode}>
        <h1>{title}</h1>
        <p class="muted" data-testid="signin-note">
          {note ??
            (mode === 'password'
              ? 'Sign in with your email and password.'
              : mode === 'link'
                ? 'We will email you a link that signs you in.'
                : 'We will email you a link to choose a new password.')}
        </p>
        <Field label="Email">
          <input
            name="email"
            type="email"
            autocomplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            autofocus
          />
        </Field>
        {mode === 'password' ? (
          <Field label="Password">
            <input
              name="password"
              type="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </Field>
        ) : null}
        {error ? (
          <div class="note note-bad" role="alert" data-testid="signin-error">
            {error}
          </div>
        ) : null}
        {sent ? (
          <div class="note note-ok" role="status" data-testid="signin-sent">
            {sent}
          </div>
        ) : null}
        <Button type="submit" variant="primary" size="lg" busy={busy} class="wide">
          {mode === 'password' ? 'Sign in' : mode === 'link' ? 'Email me a sign-in link' : 'Email me a reset link'}
        </Button>
        <div class="signin-slots">
          <SsoSignInSlot email={email} onSignedIn={onSignedIn} />
          <PasskeySignInSlot onSignedIn={onSignedIn} />
        </div>
        <p class="signin-alt">
          {mode !== 'password' ? (
            <button type="button" class="link" onClick={() => switchTo('password')}>
              Sign in with a password
            </button>
          ) : (
            <>
              <button type="button" class="link" data-testid="mode-link" onClick={() => switchTo('link')}>
                Email me a sign-in link
              </button>
              {' · '}
              <button type="button" class="link" data-testid="mode-forgot" onClick={() => switchTo('forgot')}>
                Forgot password
              </button>
            </>
          )}
        </p>
      </form>
      {extra}
    </div>
  );
}

/** The token of an emailed link, taken out of the address bar (history, screenshots) as soon as it is read. */
function useLinkToken(): string {
  const [token] = useState(() => {
    const t = new URLSearchParams(location.search).get('token') ?? '';
    history.replaceState(null, '', location.pathname);
    return t;
  });
  return token;
}

/** Where a new session goes: the app of the organisation it acts in. */
const landingOf = (view: SessionView): string =>
  view.stage === 'full' && view.organisation ? APP_OF[view.organisation.kind].path : '/';

/** /sign-in/link?token=: one click (a mail scanner that follows the link signs nobody in) uses the link. */
export function LinkSignInPage() {
  const token = useLinkToken();
  const [error, setError] = useState<string | null>(token ? null : 'This link has no token: ask for a new one.');
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      location.replace(landingOf(await accountApi.completeSignInLink(token)));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status < 500
          ? 'This sign-in link has expired or was already used. Ask for a new one.'
          : messageOf(err),
      );
      setBusy(false);
    }
  };
  return (
    <div class="signin-wrap">
      <div class="signin" data-testid="link-sign-in">
        <h1>Sign in</h1>
        <p class="muted">Continue to sign in with the link we emailed you.</p>
        {error ? (
          <div class="note note-bad" role="alert" data-testid="signin-error">
            {error}
          </div>
        ) : null}
        <Button variant="primary" size="lg" class="wide" busy={busy} disabled={!token} onClick={go}>
          Continue
        </Button>
        <p class="signin-alt">
          <a href="/">Back to sign-in</a>
        </p>
      </div>
    </div>
  );
}

/** /reset-password?token=: choose a new password (the same policy as everywhere: the server says what is wrong). */
export function ResetPasswordPage() {
  const token = useLinkToken();
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(token ? null : 'This link has no token: ask for a new one.');
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (password !== again) return setError('The two passwords differ.');
    setBusy(true);
    setError(null);
    try {
      await accountApi.completePasswordReset(token, password);
      setDone(true);
    } catch (err) {
      setError(
        err instanceof ApiError && err.fieldError('password')
          ? `Password: ${err.fieldError('password')}`
          : err instanceof ApiError && err.status < 500
            ? `${err.detail} Ask for a new link if this one has expired.`
            : messageOf(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="signin-wrap">
      <form class="signin" onSubmit={submit} data-testid="reset-password">
        <h1>Choose a new password</h1>
        {done ? (
          <div class="note note-ok" role="status" data-testid="reset-done">
            Your password is changed. <a href="/">Sign in</a>
          </div>
        ) : (
          <>
            <p class="muted">At least 12 characters; a long phrase is easiest to remember.</p>
            <Field label="New password">
              <input
                name="new-password"
                type="password"
                autocomplete="new-password"
                required
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </Field>
            <Field label="The same again">
              <input
                name="new-password-again"
                type="password"
                autocomplete="new-password"
                required
                value={again}
                onInput={(e) => setAgain(e.currentTarget.value)}
              />
            </Field>
            {error ? (
              <div class="note note-bad" role="alert" data-testid="signin-error">
                {error}
              </div>
            ) : null}
            <Button type="submit" variant="primary" size="lg" busy={busy} disabled={!token} class="wide">
              Save the new password
            </Button>
          </>
        )}
      </form>
    </div>
  );
}
