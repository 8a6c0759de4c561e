/**
 * TEMPORARY (#20, until the account page shell and the session client land):
 * mounts the two-factor, passkey and second-step components at
 * /admin/account and /admin/account/second-factor so they run in Chromium.
 * The session's CSRF token comes in the URL fragment (never sent to the
 * server, never stored); the real pages get it from the session route.
 */
import { createLeadwireClient } from '../../../../packages/client';
import { Passkeys } from './Passkeys';
import { SecondFactor } from './SecondFactor';
import { TwoFactor } from './TwoFactor';

function sessionClient() {
  const csrf = new URLSearchParams(location.hash.slice(1)).get('csrf') ?? '';
  const client = createLeadwireClient({ baseUrl: location.origin });
  client.use({
    onRequest({ request }) {
      request.headers.set('X-CSRF-Token', csrf);
      return request;
    },
  });
  return client;
}

export function AccountPreview() {
  const client = sessionClient();
  if (location.pathname.endsWith('/second-factor')) {
    const factors = (new URLSearchParams(location.search).get('factors') ?? 'totp').split(',') as Array<
      'totp' | 'recovery_code' | 'passkey'
    >;
    return (
      <main class="account-preview">
        <SecondFactor
          client={client}
          factors={factors}
          onDone={() => document.body.setAttribute('data-signed-in', 'full')}
        />
      </main>
    );
  }
  return (
    <main class="account-preview">
      <TwoFactor client={client} />
      <Passkeys client={client} />
    </main>
  );
}
