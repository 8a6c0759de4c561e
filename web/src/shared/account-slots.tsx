/**
 * The places in the sign-in and account pages that other parts of #20 fill:
 * single sign-on, passkeys, the second factor step, two-factor settings, and
 * the links to API keys and the team. Each is one named component, rendered
 * where it belongs; the engineer who builds the feature replaces its body (or
 * re-exports the real component under this name) and nothing else changes.
 */
import type { Session } from './session';
import { SsoButton } from './SsoButton';
import type { SessionView } from './types';

/** Single sign-on: "Sign in with SSO" on the sign-in page (web/src/shared/SsoButton.tsx). */
export function SsoSignInSlot(_: { email: string; onSignedIn(view: SessionView): void }) {
  return <SsoButton />;
}

/** SLOT (passkeys): a "Sign in with a passkey" button on the sign-in page. Empty until built. */
export function PasskeySignInSlot(_: { onSignedIn(view: SessionView): void }) {
  return null;
}

/**
 * SLOT (two-factor: e.g. web/src/shared/SecondFactor.tsx): the step after a
 * right password when a second factor is owed (`stage: 'second_factor'`).
 * `onDone` takes the full session; until the step is built this placeholder
 * says what is owed and offers to sign out.
 */
export function SecondFactorSlot({
  view,
  onCancel,
}: {
  view: SessionView;
  onDone(view: SessionView): void;
  onCancel(): void;
}) {
  return (
    <div class="signin-wrap">
      <div class="signin" data-testid="second-factor">
        <h1>Second factor</h1>
        <p class="muted">
          Your password was right. Finish signing in with your second factor (
          {view.secondFactors.join(', ') || 'none set up'}).
        </p>
        <button class="link" type="button" onClick={onCancel}>
          Sign out
        </button>
      </div>
    </div>
  );
}

/** SLOT (two-factor): the "Two-factor" section of the account page. Empty until built. */
export function TwoFactorSection(_: { session: Session }) {
  return null;
}

/** SLOT (passkeys): the "Passkeys" section of the account page. Empty until built. */
export function PasskeysSection(_: { session: Session }) {
  return null;
}

/** SLOT (keys, team): links from the account page to "API keys" and "Team". Empty until built. */
export function AccountLinks(_: { session: Session }) {
  return null;
}
