/**
 * A team: its members (role, 2FA, since), the pending invitations, an invite
 * form, role changes, removal and the hand-over of ownership. The agency
 * console shows the agency's team (and, with `buyerId`, a buyer's); the
 * buyer's pages show the buyer's. The API decides what is allowed
 * (docs/accounts.md "Invitations and teams"); the page shows its refusals.
 */
import { useState } from 'preact/hooks';

import type { Schemas } from '../../../packages/client';
import { type Api, ApiError, ok } from '../shared/api';
import { dateTime } from '../shared/format';
import { Badge, Button, ErrorNote, Field, Loading, Panel, SecretOnce, toast, useAction, useAsync } from '../shared/ui';

type Member = Schemas['Members']['members'][number];

const ROLES: Record<'agency' | 'buyer', string[]> = {
  agency: ['owner', 'admin', 'dispatcher', 'analyst'],
  buyer: ['owner', 'member'],
};

/** `kind`: whose team – the agency's, or a buyer's (the buyer's own pages, or the console with `buyerId`). */
export function TeamPanel({ api, kind, buyerId }: { api: Api; kind: 'agency' | 'buyer'; buyerId?: string }) {
  const query = buyerId ? { buyerId } : {};
  const members = useAsync(() => ok(api.client.GET('/v1/members', { params: { query } })), [buyerId]);
  const invitations = useAsync(() => ok(api.client.GET('/v1/invitations', { params: { query } })), [buyerId]);
  const reload = () => Promise.all([members.reload(), invitations.reload()]);

  const [email, setEmail] = useState('');
  const [role, setRole] = useState(ROLES[kind][ROLES[kind].length - 1]!);
  const [inviteError, setInviteError] = useState<ApiError | null>(null);
  const [link, setLink] = useState<string | null>(null);
  const [invite, inviting] = useAction(async () => {
    setInviteError(null);
    try {
      const res = await ok(
        api.client.POST('/v1/invitations', { body: { email, role: role as Member['role'], ...query } }),
      );
      setLink(res.link ?? null);
      toast(
        res.emailed ? `Invitation emailed to ${res.email}` : `Invitation made: pass the link on to ${res.email}`,
        'ok',
      );
      setEmail('');
      await invitations.reload();
    } catch (err) {
      if (err instanceof ApiError) setInviteError(err);
      throw err;
    }
  });
  const [act, acting] = useAction(async (call: () => Promise<unknown>, done: string) => {
    await call();
    toast(done, 'ok');
    await reload();
  });

  return (
    <div class="team" data-testid="team">
      <Panel title="Members">
        <ErrorNote error={members.error} />
        {members.loading && !members.data ? <Loading /> : null}
        {members.data ? (
          <div class="table-wrap">
            <table class="table" data-testid="members-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Email</th>
                  <th>Role</th>
                  <th>2FA</th>
                  <th>Since</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {members.data.members.map((m) => (
                  <tr key={m.membershipId} data-email={m.email}>
                    <td>{m.displayName}</td>
                    <td>{m.email}</td>
                    <td>
                      <select
                        aria-label={`Role of ${m.email}`}
                        value={m.role}
                        disabled={acting}
                        onChange={(e) => {
                          const to = e.currentTarget.value as Member['role'];
                          void act(
                            () =>
                              ok(
                                api.client.PATCH('/v1/members/{membershipId}', {
                                  params: { path: { membershipId: m.membershipId } },
                                  body: { role: to },
                                }),
                              ),
                            `${m.displayName} is ${to} now`,
                          ).then((changed) => changed || void members.reload());
                        }}
                      >
                        {ROLES[kind].map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>{m.twoFactor ? <Badge tone="ok">on</Badge> : <Badge tone="muted">off</Badge>}</td>
                    <td>{dateTime(m.since)}</td>
                    <td class="row-actions">
                      <Button
                        size="sm"
                        variant="ghost"
                        disabled={acting}
                        onClick={() =>
                          void act(
                            () =>
                              ok(
                                api.client.POST('/v1/members/transfer-ownership', {
                                  body: { membershipId: m.membershipId },
                                }),
                              ),
                            `${m.displayName} owns it now`,
                          )
                        }
                      >
                        Make owner
                      </Button>
                      <Button
                        size="sm"
                        variant="ghost"
                        disabled={acting}
                        onClick={() =>
                          confirm(`Remove ${m.displayName}? Their sessions end at once.`) &&
                          void act(
                            () =>
                              ok(
                                api.client.POST('/v1/members/{membershipId}/remove', {
                                  params: { path: { membershipId: m.membershipId } },
                                }),
                              ),
                            `${m.displayName} was removed`,
                          )
                        }
                      >
                        Remove
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Panel>

      <Panel title="Invite someone">
        <form
          class="form-row"
          onSubmit={(e) => {
            e.preventDefault();
            void invite();
          }}
        >
          <Field label="Email" error={inviteError?.fieldError('email')}>
            <input
              name="inviteEmail"
              type="email"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          </Field>
          <Field label="Role" error={inviteError?.fieldError('role')}>
            <select name="inviteRole" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              {ROLES[kind].map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </Field>
          <Button type="submit" variant="primary" busy={inviting}>
            Invite
          </Button>
        </form>
        {link ? (
          <SecretOnce label="No email server is configured: pass this link on (works once, 7 days)" value={link} />
        ) : null}
      </Panel>

      <Panel title="Pending invitations">
        <ErrorNote error={invitations.error} />
        {(invitations.data?.invitations ?? []).length === 0 ? <p class="muted">None.</p> : null}
        <ul class="plain-list" data-testid="pending-invitations">
          {(invitations.data?.invitations ?? []).map((i) => (
            <li key={i.id}>
              {i.email} · {i.role} · expires {dateTime(i.expiresAt)}{' '}
              <Button
                size="sm"
                variant="ghost"
                disabled={acting}
                onClick={() =>
                  void act(
                    () => ok(api.client.POST('/v1/invitations/{id}/revoke', { params: { path: { id: i.id } } })),
                    'Invitation withdrawn',
                  )
                }
              >
                Withdraw
              </Button>
            </li>
          ))}
        </ul>
      </Panel>
    </div>
  );
}
