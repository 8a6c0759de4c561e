/**
 * "Sign in with SSO" (#20), for the sign-in page: asks for the work email,
 * finds the agency whose single sign-on allows its domain, and sends the
 * browser to it (the API's start, then the agency's provider). Coming back
 * refused, the sign-in page's `?error=<code>` is worded here.
 */
import { useState } from 'preact/hooks';

import { Api, ApiError, messageOf, ok } from './api';
import type { Schemas } from './types';
import { Button, Field } from './ui';

/** What each refusal of a sign-in says to the person (one entry per code of the contract). */
const SSO_ERRORS: Record<Schemas['SsoErrorCode'], string> = {
  sso_not_configured: 'Single sign-on is not set up (or is switched off) for that agency.',
  sso_state_invalid: 'That sign-in expired or was started in another browser. Try again.',
  sso_provider_error: 'Your identity provider could not complete the sign-in. Try again, or ask your administrator.',
  sso_denied: 'The sign-in was cancelled at your identity provider.',
  sso_email_unverified: 'Your identity provider does not confirm your email address.',
  sso_domain_not_allowed: "Your email's domain is not one this agency signs in with SSO.",
  sso_account_conflict:
    'Your account also belongs to another organisation: sign in with your password, a link or a passkey.',
  account_disabled: 'This account is disabled.',
};

/** The worded refusal of this page's `?error=`, if it is one of single sign-on's. */
function ssoErrorOfUrl(): string | null {
  const code = new URLSearchParams(location.search).get('error');
  return code && code in SSO_ERRORS ? SSO_ERRORS[code as Schemas['SsoErrorCode']] : null;
}

export function SsoButton() {
  const refused = ssoErrorOfUrl();
  const [open, setOpen] = useState(refused !== null);
  const [email, setEmail] = useState('');
  const [error, setError] = useState<string | null>(refused);
  const [busy, setBusy] = useState(false);

  if (!open)
    return (
      <Button class="wide sso-button" size="lg" onClick={() => setOpen(true)}>
        Sign in with SSO
      </Button>
    );

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { url } = await ok(new Api(() => null).client.POST('/v1/auth/sso/discover', { body: { email } }));
      location.assign(url);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 404
          ? 'No single sign-on for that email domain: sign in another way.'
          : err instanceof ApiError && err.status === 400
            ? 'Enter your work email address.'
            : messageOf(err),
      );
      setBusy(false);
    }
  };
  return (
    <form class="signin sso-signin" onSubmit={submit} data-testid="sso-signin">
      <h2>Sign in with SSO</h2>
      <Field label="Work email" error={error ?? undefined}>
        <input
          name="ssoEmail"
          type="email"
          autocomplete="email"
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
          required
        />
      </Field>
      <Button type="submit" variant="primary" busy={busy} class="wide">
        Continue to your identity provider
      </Button>
    </form>
  );
}
