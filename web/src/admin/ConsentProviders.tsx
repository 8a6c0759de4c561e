/**
 * Consent-certificate providers (#23 item 4): the agency's TrustedForm and
 * Jornaya accounts – the base URL claims go to and the credential, which is
 * sealed on the server and never shown again (the page says only that one is
 * set). Campaigns name the provider in their certificate rule (the editor's
 * "Consent certificate" panel).
 */
import { useState } from 'preact/hooks';

import { ok } from '../shared/api';
import { dateTime } from '../shared/format';
import type { ConsentProvider } from '../shared/types';
import { Button, ErrorNote, Field, Loading, Panel, useAction, useAsync } from '../shared/ui';
import { useConsole } from './context';

const PROVIDERS: { provider: ConsentProvider; name: string; credential: string; baseUrl: string }[] = [
  { provider: 'trustedform', name: 'TrustedForm', credential: 'API key', baseUrl: 'https://cert.trustedform.com' },
  {
    provider: 'jornaya',
    name: 'Jornaya (LeadiD)',
    credential: 'Account code (lac)',
    baseUrl: 'https://api.leadid.com',
  },
];

export function ConsentProvidersPage() {
  const { api } = useConsole();
  const [version, setVersion] = useState(0);
  const accounts = useAsync(() => ok(api.client.GET('/v1/consent-providers')), [version]);
  const changed = () => setVersion((v) => v + 1);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Consent providers</h1>
          <p class="muted">
            The accounts each sold lead's consent certificate is claimed with, for campaigns that require one. A
            credential is stored sealed and never shown again.
          </p>
        </div>
      </div>
      <ErrorNote error={accounts.error} />
      {accounts.loading && !accounts.data ? <Loading /> : null}
      {accounts.data
        ? PROVIDERS.map((p) => (
            <ProviderPanel
              key={p.provider}
              {...p}
              account={accounts.data!.providers.find((a) => a.provider === p.provider) ?? null}
              onChange={changed}
            />
          ))
        : null}
    </div>
  );
}

function ProviderPanel(props: {
  provider: ConsentProvider;
  name: string;
  credential: string;
  baseUrl: string;
  account: { baseUrl: string; updatedAt: string } | null;
  onChange(): void;
}) {
  const { api } = useConsole();
  const [baseUrl, setBaseUrl] = useState(props.account?.baseUrl ?? props.baseUrl);
  const [credential, setCredential] = useState('');
  const path = { params: { path: { provider: props.provider } } };
  const [save, saving] = useAction(
    async () => {
      await ok(api.client.PUT('/v1/consent-providers/{provider}', { ...path, body: { baseUrl, credential } }));
      setCredential('');
      props.onChange();
    },
    { success: 'Saved' },
  );
  const [remove, removing] = useAction(
    async () => {
      await ok(api.client.DELETE('/v1/consent-providers/{provider}', path));
      props.onChange();
    },
    { success: 'Removed' },
  );
  return (
    <Panel title={props.name}>
      <div data-testid={`provider-${props.provider}`}>
        <p class="muted" data-testid="provider-state">
          {props.account ? `Credential set · updated ${dateTime(props.account.updatedAt)}` : 'Not connected'}
        </p>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <Field label="Base URL">
            <input value={baseUrl} data-testid="provider-base-url" onInput={(e) => setBaseUrl(e.currentTarget.value)} />
          </Field>
          <Field
            label={props.credential}
            hint={props.account ? 'leave as is, or enter a new one to replace it' : undefined}
          >
            <input
              type="password"
              autocomplete="off"
              value={credential}
              data-testid="provider-credential"
              onInput={(e) => setCredential(e.currentTarget.value)}
            />
          </Field>
          <Button type="submit" variant="primary" busy={saving} disabled={!credential.trim()}>
            Save
          </Button>
          {props.account ? (
            <Button busy={removing} onClick={() => void remove()}>
              Remove
            </Button>
          ) : null}
        </form>
      </div>
    </Panel>
  );
}
