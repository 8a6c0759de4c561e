/**
 * API keys of the signed-in organisation (#20 item 7), one component for the
 * agency console's "API keys" page and the buyer's Settings: the keys (never
 * their secrets) with who made them and when they were last used, a form that
 * makes one – shown once, with a copy button – and a revoke button per key.
 * Everything goes through GET/POST /v1/keys and POST /v1/keys/:id/revoke; the
 * server decides which roles the caller may hand out.
 */
import { useState } from 'preact/hooks';

import { type Api, ApiError, messageOf, ok } from './api';
import { dateTime } from './format';
import type { Schemas } from './types';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Modal, Panel, SecretOnce, toast, useAsync } from './ui';

type ApiKey = Schemas['ApiKeyView'];
type Issued = Schemas['ApiKeyIssued'];
type KeyRole = Schemas['ApiKeyCreate']['role'];

export function ApiKeys({ api, roles, intro }: { api: Api; roles: readonly KeyRole[]; intro: string }) {
  const keys = useAsync(async () => (await ok(api.client.GET('/v1/keys'))).keys, [api]);
  const [creating, setCreating] = useState(false);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);

  const revoke = async (k: ApiKey) => {
    if (!window.confirm(`Revoke “${k.name}”? Anything using it stops at once.`)) return;
    setRevoking(k.id);
    try {
      await ok(api.client.POST('/v1/keys/{id}/revoke', { params: { path: { id: k.id } } }));
      toast(`Revoked “${k.name}”`, 'ok');
      await keys.reload();
    } catch (err) {
      toast(messageOf(err), 'bad');
    } finally {
      setRevoking(null);
    }
  };

  return (
    <Panel
      title="API keys"
      actions={
        <Button variant="primary" size="sm" onClick={() => setCreating(true)} data-testid="new-key">
          New key
        </Button>
      }
    >
      <p class="muted">{intro}</p>
      <ErrorNote error={keys.error} />
      {keys.loading && !keys.data ? <Loading /> : null}
      {keys.data && keys.data.length === 0 ? <Empty title="No key yet" /> : null}
      {keys.data && keys.data.length ? (
        <div class="table-wrap">
          <table class="table" data-testid="keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Key</th>
                <th>Made by</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id} data-key-id={k.id} class={k.revokedAt ? 'muted' : ''}>
                  <td>{k.name}</td>
                  <td>
                    <Badge tone="info">{k.role}</Badge>
                  </td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{k.createdBy ? k.createdBy.displayName || k.createdBy.email : '–'}</td>
                  <td class="muted">{dateTime(k.createdAt)}</td>
                  <td class="muted">{k.expiresAt ? dateTime(k.expiresAt) : 'never'}</td>
                  <td class="muted">{k.lastUsedAt ? dateTime(k.lastUsedAt) : 'never'}</td>
                  <td>
                    {k.revokedAt ? (
                      <Badge tone="muted">revoked</Badge>
                    ) : (
                      <Button size="sm" busy={revoking === k.id} onClick={() => void revoke(k)}>
                        Revoke
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {creating ? (
        <Modal title="New API key" onClose={() => setCreating(false)}>
          <CreateKey
            api={api}
            roles={roles}
            onCreated={(res) => {
              setCreating(false);
              setIssued(res);
              void keys.reload();
            }}
          />
        </Modal>
      ) : null}
      {issued ? (
        <Modal title={`Key “${issued.name}” made`} onClose={() => setIssued(null)}>
          <SecretOnce label={`API key (acts as ${issued.role})`} value={issued.key} />
        </Modal>
      ) : null}
    </Panel>
  );
}

function CreateKey({ api, roles, onCreated }: { api: Api; roles: readonly KeyRole[]; onCreated(res: Issued): void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<KeyRole>(roles[roles.length - 1]!);
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    try {
      const body = { name, role, ...(expires ? { expiresAt: new Date(`${expires}T23:59:59`).toISOString() } : {}) };
      onCreated(await ok(api.client.POST('/v1/keys', { body })));
    } catch (err) {
      if (err instanceof ApiError && err.errors.length)
        setErrors(Object.fromEntries(err.errors.map((f) => [f.path.split('.').pop() ?? f.path, f.message])));
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form" onSubmit={submit} data-testid="key-form">
      <Field label="Name" error={errors.name} hint="What the key is for, e.g. “CRM sync”.">
        <input
          type="text"
          value={name}
          maxLength={80}
          required
          onInput={(e) => setName(e.currentTarget.value)}
          data-testid="key-name"
        />
      </Field>
      <Field label="Acts as" error={errors.role} hint="Never more than your own role.">
        <select value={role} onChange={(e) => setRole(e.currentTarget.value as KeyRole)} data-testid="key-role">
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Expires (optional)" error={errors.expiresAt}>
        <input
          type="date"
          value={expires}
          onInput={(e) => setExpires(e.currentTarget.value)}
          data-testid="key-expires"
        />
      </Field>
      <ErrorNote error={error} />
      <Button type="submit" variant="primary" busy={busy}>
        Make key
      </Button>
    </form>
  );
}
