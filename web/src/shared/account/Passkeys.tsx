/**
 * The account's passkeys section (#20): add a passkey with the browser's
 * WebAuthn API (@simplewebauthn/browser), list them, delete one. Takes the
 * typed API client of a signed-in session; the account page places it.
 */
import { startRegistration } from '@simplewebauthn/browser';
import { useState } from 'preact/hooks';

import type { LeadwireClient, Schemas } from '../../../../packages/client';
import { ok } from '../../shared/api';
import { Button, Empty, ErrorNote, Field, Loading, Panel, useAsync } from '../ui';

type CreationOptions = Parameters<typeof startRegistration>[0]['optionsJSON'];

export function Passkeys({ client }: { client: LeadwireClient }) {
  const list = useAsync(() => ok(client.GET('/v1/account/passkeys')), []);
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      await list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const add = () =>
    act(async () => {
      const { options } = await ok(client.POST('/v1/account/passkeys/options'));
      const response = await startRegistration({ optionsJSON: options as unknown as CreationOptions });
      await ok(
        client.POST('/v1/account/passkeys', {
          body: { name: name.trim() || 'Passkey', response: response as unknown as Schemas['RegistrationResponse'] },
        }),
      );
      setName('');
    });
  const remove = (id: string) =>
    act(async () => {
      await ok(client.POST('/v1/account/passkeys/{id}/delete', { params: { path: { id } } }));
    });

  return (
    <Panel title="Passkeys" class="passkeys">
      {list.loading && !list.data ? (
        <Loading />
      ) : list.data?.passkeys.length ? (
        <ul class="passkey-list" data-testid="passkeys">
          {list.data.passkeys.map((p) => (
            <li key={p.id}>
              <strong>{p.name}</strong> · added {new Date(p.createdAt).toLocaleDateString()}
              {p.lastUsedAt ? ` · last used ${new Date(p.lastUsedAt).toLocaleString()}` : ''}{' '}
              <Button size="sm" variant="danger" busy={busy} onClick={() => void remove(p.id)}>
                Delete
              </Button>
            </li>
          ))}
        </ul>
      ) : (
        <Empty title="No passkeys yet">Sign in with your fingerprint, face or device PIN instead of a password.</Empty>
      )}
      <Field label="Name of the new passkey">
        <input
          name="passkey-name"
          maxLength={100}
          value={name}
          placeholder="e.g. Work laptop"
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </Field>
      <Button variant="primary" busy={busy} onClick={() => void add()}>
        Add a passkey
      </Button>
      <ErrorNote error={error ?? list.error} />
    </Panel>
  );
}
