/**
 * The places in the sign-in and account pages that other parts of #20 fill:
 * single sign-on, passkeys, the second factor step, two-factor settings, and
 * the links to API keys and the team. Each is one named component, rendered
 * where it belongs; the engineer who builds the feature replaces its body (or
 * re-exports the real component under this name) and nothing else changes.
 */
import { startAuthentication } from '@simplewebauthn/browser';
import { useState } from 'preact/hooks';

import { Passkeys } from './account/Passkeys';
import { SecondFactor } from './account/SecondFactor';
import { TwoFactor } from './account/TwoFactor';
import { Api, ok } from './api';
import type { Session } from './session';
import { SsoButton } from './SsoButton';
import type { SessionView } from './types';
import { Button, ErrorNote } from './ui';

type RequestOptions = Parameters<typeof startAuthentication>[0]['optionsJSON'];

/** Single sign-on: "Sign in with SSO" on the sign-in page (web/src/shared/SsoButton.tsx). */
export function SsoSignInSlot(_: { email: string; onSignedIn(view: SessionView): void }) {
  return <SsoButton />;
}

/** Passkeys: "Sign in with a passkey" on the sign-in page – the browser's WebAuthn, then the session. */
export function PasskeySignInSlot({ onSignedIn }: { onSignedIn(view: SessionView): void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const signIn = async () => {
    setBusy(true);
    setError(null);
    try {
      const api = new Api();
      const { options } = await ok(api.client.POST('/v1/auth/passkey/options'));
      const response = await startAuthentication({ optionsJSON: options as unknown as RequestOptions });
      await ok(api.client.POST('/v1/auth/passkey', { body: { response: response as never } }));
      onSignedIn(await ok(api.client.GET('/v1/session')));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="passkey-signin">
      <Button type="button" variant="ghost" busy={busy} onClick={() => void signIn()} data-testid="passkey-sign-in">
        Sign in with a passkey
      </Button>
      <ErrorNote error={error} />
    </div>
  );
}

/**
 * Two-factor (web/src/shared/account/SecondFactor.tsx): the step after a right
 * password when a second factor is owed (`stage: 'second_factor'`); `onDone`
 * takes the full session.
 */
export function SecondFactorSlot({
  view,
  onDone,
  onCancel,
}: {
  view: SessionView;
  onDone(view: SessionView): void;
  onCancel(): void;
}) {
  const api = new Api(() => view.csrfToken);
  return (
    <div class="signin-wrap">
      <div class="signin" data-testid="second-factor">
        <h1>Second factor</h1>
        <p class="muted">Your password was right. Finish signing in with your second factor.</p>
        <SecondFactor
          client={api.client}
          factors={view.secondFactors}
          onDone={() => void ok(api.client.GET('/v1/session')).then(onDone)}
        />
        <button class="link" type="button" onClick={onCancel}>
          Sign out
        </button>
      </div>
    </div>
  );
}

/** The "Two-factor" section of the account page (web/src/shared/account/TwoFactor.tsx). */
export function TwoFactorSection({ session }: { session: Session }) {
  return <TwoFactor client={session.api.client} />;
}

/** The "Passkeys" section of the account page (web/src/shared/account/Passkeys.tsx). */
export function PasskeysSection({ session }: { session: Session }) {
  return <Passkeys client={session.api.client} />;
}

/** SLOT (keys, team): links from the account page to "API keys" and "Team". Empty until built. */
export function AccountLinks(_: { session: Session }) {
  return null;
}
