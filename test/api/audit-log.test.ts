/**
 * The audit log through the API: the changes an agency's key and a buyer's
 * key make (buyer, credits, settings, campaign and its price, keys, the
 * buyer's own settings) come back from GET /v1/audit-log with the key that
 * made them, filtered by actor, object and time, a page at a time; as CSV;
 * in a buyer's change history (with `by`); a buyer's owner sees only its own
 * buyer's entries; secrets shown once never appear; bad filters are a 400
 * naming the field.
 */
import { addMembership, createSession, createUser, membershipsOf } from '../../db/accounts';
import { findApiKeyByHash, hashApiKey } from '../../db/keys';
import { eventually } from '../helpers/temporal';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  getCsv,
  type Harness,
  startHarness,
  unique,
} from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const keyIdOf = async (key: string) => (await findApiKeyByHash(h.database.db, hashApiKey(key)))!.id;

interface Entry {
  id: string;
  at: string;
  actor: { type: string; userId: string | null; keyId: string | null; label: string };
  side: string;
  objectType: string;
  objectId: string;
  action: string;
  buyerId: string | null;
  changes: Record<string, { from: unknown; to: unknown }>;
  note: string | null;
}

async function log(key: string, query = '', path = '/v1/audit-log'): Promise<Entry[]> {
  const res = await h.http.get(`${path}${query}`).set(bearer(key));
  expect(res.status).toBe(200);
  return res.body.entries as Entry[];
}

test('every change records the key that made it; filters, pages, CSV, the buyer history and the buyer owner view', async () => {
  const { adminKey } = await apiAgency(h);
  const adminKeyId = await keyIdOf(adminKey);
  const { buyer, apiKey } = await apiBuyer(h, adminKey, { credits: 300 });
  const other = await apiBuyer(h, adminKey);
  const buyerKeyId = await keyIdOf(apiKey);
  const admin = (method: 'post' | 'patch', path: string, body: object) =>
    h.http[method](path).set(bearer(adminKey)).send(body);

  expect((await admin('patch', `/v1/buyers/${buyer.id}`, { status: 'paused', pauseReason: 'holiday' })).status).toBe(
    200,
  );
  expect((await admin('patch', '/v1/settings', { duplicateWindowDays: 9 })).status).toBe(200);
  const campaign = await apiCampaign(h, adminKey, { price: { base: 10 } });
  expect((await admin('patch', `/v1/campaigns/${campaign.id}`, { price: { base: 40 } })).status).toBe(200);
  expect(
    (
      await admin('post', `/v1/campaigns/${campaign.id}/buyer-prices`, {
        buyerId: buyer.id,
        rule: { kind: 'fixed', value: 30 },
      })
    ).status,
  ).toBe(200);
  const issued = await admin('post', `/v1/buyers/${buyer.id}/keys`, {});
  expect(issued.status).toBe(201);
  const rotated = await admin('post', `/v1/buyers/${buyer.id}/webhook-secret`, { overlapSeconds: 0 });
  expect(rotated.status).toBe(201);
  // The buyer changes its own caps with its key.
  expect(
    (
      await h.http
        .patch('/v1/me')
        .set(bearer(apiKey))
        .send({ caps: { daily: 4 } })
    ).status,
  ).toBe(200);

  const entries = await log(adminKey);
  expect(entries.map((e) => `${e.objectType} ${e.action}`)).toEqual([
    'buyer updated', // the buyer's own caps
    'buyer webhook_secret_rotated',
    'api_key key_issued',
    'campaign updated', // the buyer's own price
    'campaign updated', // the price
    'campaign created',
    'agency_settings updated',
    'buyer updated', // paused
    'buyer created', // the other buyer
    'wallet credited',
    'buyer created',
  ]);
  const [own, ...byAdmin] = entries;
  expect(own).toMatchObject({
    actor: {
      type: 'key',
      keyId: buyerKeyId,
      userId: null,
      label: expect.stringMatching(/^key "Buyer key" \(lw_buyer_/),
    },
    side: 'buyer',
    buyerId: buyer.id,
    changes: { caps: { from: {}, to: { daily: 4 } } },
  });
  for (const e of byAdmin) expect(e).toMatchObject({ actor: { type: 'key', keyId: adminKeyId }, side: 'admin' });
  expect(entries.find((e) => e.objectType === 'campaign' && e.changes.price)!.changes).toEqual({
    price: { from: { base: 10 }, to: { base: 40 } },
  });
  expect(entries[7]!.changes).toEqual({
    status: { from: 'active', to: 'paused' },
    pauseReason: { from: null, to: 'holiday' },
  });
  expect(entries.find((e) => e.objectType === 'wallet')).toMatchObject({
    buyerId: buyer.id,
    changes: { balance: { from: 0, to: 300 } },
  });

  // Secrets shown once are never in the log.
  const everything = JSON.stringify(entries);
  for (const secret of [apiKey, other.apiKey, issued.body.apiKey, rotated.body.webhookSecret, adminKey])
    expect(everything).not.toContain(secret);

  // Filters.
  expect((await log(adminKey, `?actorKeyId=${buyerKeyId}`)).map((e) => e.id)).toEqual([own!.id]);
  expect((await log(adminKey, `?objectType=campaign&objectId=${campaign.id}`)).map((e) => e.action)).toEqual([
    'updated',
    'updated',
    'created',
  ]);
  expect(await log(adminKey, `?objectType=dispute`)).toEqual([]);
  const middle = entries[5]!.at;
  const newer = await log(adminKey, `?from=${encodeURIComponent(middle)}`);
  const older = await log(adminKey, `?to=${encodeURIComponent(middle)}`);
  expect([...newer, ...older].map((e) => e.id)).toEqual(entries.map((e) => e.id));
  expect(newer.at(-1)!.id).toBe(entries[5]!.id);

  // Pages.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=4${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await h.http.get(`/v1/audit-log${query}`).set(bearer(adminKey));
    expect(res.status).toBe(200);
    const body = res.body as { entries: Entry[]; nextCursor: string | null };
    seen.push(...body.entries.map((e) => e.id));
    cursor = body.nextCursor;
  } while (cursor);
  expect(seen).toEqual(entries.map((e) => e.id));

  // CSV: the same entries, a header, changes as JSON.
  const csv = await getCsv(h, '/v1/exports/audit-log.csv', adminKey);
  expect(csv[0]).toEqual([
    'at',
    'actorType',
    'actorLabel',
    'actorUserId',
    'actorKeyId',
    'side',
    'objectType',
    'objectId',
    'action',
    'buyerId',
    'changes',
    'note',
  ]);
  expect(csv.slice(1).map((r) => r[7] + ' ' + r[8])).toEqual(entries.map((e) => `${e.objectId} ${e.action}`));
  expect(JSON.parse(csv[1]![10]!)).toEqual(own!.changes);
  expect(csv.slice(1).every((r) => r[0] !== '' && r[2] !== '')).toBe(true);
  const filtered = await getCsv(h, `/v1/exports/audit-log.csv?actorKeyId=${buyerKeyId}`, adminKey);
  expect(filtered).toHaveLength(2);
  for (const secret of [apiKey, issued.body.apiKey, rotated.body.webhookSecret])
    expect(JSON.stringify(csv)).not.toContain(secret);

  // The buyer's change history answers from the log, with who did it.
  const history = (await h.http.get(`/v1/buyers/${buyer.id}/changes`).set(bearer(adminKey))).body.changes;
  expect(history.map((c: { actor: string; action: string }) => `${c.actor} ${c.action}`)).toEqual([
    'buyer updated',
    'admin webhook_secret_rotated',
    'admin updated',
  ]); // its creation is in the log, not in its settings' history
  expect(history[1]).toMatchObject({ buyerId: buyer.id, by: { type: 'key', keyId: adminKeyId } });

  // A buyer's owner sees its own buyer's entries only.
  const mine = await log(apiKey, '', '/v1/me/audit-log');
  expect(mine.map((e) => e.id)).toEqual(entries.filter((e) => e.buyerId === buyer.id).map((e) => e.id));
  expect(await log(other.apiKey, '', '/v1/me/audit-log')).toEqual([entries[8]]);
});

test("another agency's log is not visible; bad filters are a 400 naming the field", async () => {
  const a = await apiAgency(h);
  const b = await apiAgency(h);
  await apiBuyer(h, a.adminKey);
  expect(await log(b.adminKey)).toEqual([]);
  for (const [query, field] of [
    ['?objectType=spaceship', 'objectType'],
    ['?from=yesterday', 'from'],
    ['?to=2026-13-40T00:00:00Z', 'to'],
    ['?actorUserId=42', 'actorUserId'],
    ['?actorKeyId=x', 'actorKeyId'],
    ['?cursor=nope', 'cursor'],
    ['?limit=0', 'limit'],
    ['?bogus=1', 'bogus'],
  ] as const) {
    for (const path of ['/v1/audit-log', '/v1/exports/audit-log.csv']) {
      if (path.endsWith('.csv') && (field === 'cursor' || field === 'limit')) continue;
      const res = await h.http.get(`${path}${query}`).set(bearer(a.adminKey));
      expect({ path, query, status: res.status, type: res.headers['content-type'] }).toEqual({
        path,
        query,
        status: 400,
        type: expect.stringMatching(/application\/problem\+json/),
      });
      expect(JSON.stringify(res.body.errors)).toContain(field);
    }
  }
});

test('manual review decisions (assign, reject, re-offer) enter the log and the timeline names who made them', async () => {
  const { adminKey } = await apiAgency(h);
  const adminKeyId = await keyIdOf(adminKey);
  // No credits: nobody is eligible, so each lead lands in manual review.
  const { buyer } = await apiBuyer(h, adminKey);
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 1 });
  const inReview = async () => {
    const lead = await apiLead(h, adminKey, campaign.id);
    await eventually(
      async () =>
        (await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey))).body.lead?.status === 'manual_review' ||
        undefined,
      30_000,
      `lead ${lead.id} in manual review`,
    );
    return lead.id;
  };
  const [assigned, rejected, reoffered] = [await inReview(), await inReview(), await inReview()];
  expect((await h.http.post(`/v1/buyers/${buyer.id}/credits`).set(bearer(adminKey)).send({ amount: 100 })).status).toBe(
    201,
  );

  const sale = await h.http.post(`/v1/leads/${assigned}/assign`).set(bearer(adminKey)).send({ buyerId: buyer.id });
  expect(sale.status).toBe(200);
  expect(
    (await h.http.post(`/v1/leads/${rejected}/reject`).set(bearer(adminKey)).send({ reason: 'spam' })).status,
  ).toBe(200);
  expect((await h.http.post(`/v1/leads/${reoffered}/reoffer`).set(bearer(adminKey)).send({})).status).toBe(202);

  const decided = async (leadId: string, type: string) =>
    eventually(
      async () =>
        (
          (await h.http.get(`/v1/leads/${leadId}/timeline`).set(bearer(adminKey))).body.events as {
            type: string;
            data: { actor?: unknown } | null;
          }[]
        ).find((e) => e.type === type),
      30_000,
      `${type} on the timeline of ${leadId}`,
    );
  const actor = { type: 'key', keyId: adminKeyId, userId: null, label: expect.stringMatching(/^key "Agency key"/) };
  expect((await decided(assigned, 'assigned')).data).toMatchObject({ actor });
  expect((await decided(rejected, 'rejected')).data).toMatchObject({ actor });
  expect((await decided(reoffered, 'reoffered')).data).toMatchObject({ actor, campaignId: campaign.id });

  const entries = await log(adminKey, '?objectType=lead');
  const ORDER = ['assigned', 'rejected', 'reoffered'];
  expect(
    entries
      .map((e) => [e.objectId, e.action, e.actor.keyId, e.buyerId])
      .sort((a, b) => ORDER.indexOf(a[1]!) - ORDER.indexOf(b[1]!)),
  ).toEqual([
    [assigned, 'assigned', adminKeyId, buyer.id],
    [rejected, 'rejected', adminKeyId, null],
    [reoffered, 'reoffered', adminKeyId, null],
  ]);
  expect(entries.find((e) => e.action === 'assigned')!.changes).toMatchObject({
    status: { from: 'manual_review', to: 'sold' },
    charged: { from: null, to: 10 },
  });
  expect(entries.find((e) => e.action === 'rejected')!.changes).toEqual({
    status: { from: 'manual_review', to: 'rejected' },
    reason: { from: null, to: 'spam' },
  });
}, 120_000);

test("keys and the team: a person's key made and revoked, an invitation, a role change and a removal, each with who did it", async () => {
  const { agency, adminKey } = await apiAgency(h);
  const adminKeyId = await keyIdOf(adminKey);
  const db = h.database.db;
  // A person of the agency, with a session, acting through the cookie.
  const owner = await createUser(db, { email: `${unique('owner')}@example.com`, displayName: 'Olive Owner' });
  await addMembership(db, owner.id, { kind: 'agency', agencyId: agency.id }, 'owner');
  const { session, token } = await createSession(db, {
    userId: owner.id,
    membershipId: (await membershipsOf(db, owner.id))[0]!.id,
    method: 'password',
  });
  const asOwner = (path: string, body: object = {}) =>
    h.http
      .post(path)
      .set('Cookie', `lw_session=${token}`)
      .set('Origin', h.main.baseUrl)
      .set('X-CSRF-Token', session.csrfToken)
      .send(body);

  const made = await asOwner('/v1/keys', { name: 'Reporting job', role: 'analyst' });
  expect(made.status).toBe(201);
  expect((await asOwner(`/v1/keys/${made.body.id}/revoke`)).status).toBe(200);
  const keyEntries = await log(adminKey, `?objectType=api_key&objectId=${made.body.id}`);
  expect(keyEntries.map((e) => e.action).sort()).toEqual(['key_issued', 'key_revoked']);
  for (const e of keyEntries) expect(e.actor).toMatchObject({ type: 'user', userId: owner.id });
  expect(JSON.stringify(keyEntries)).not.toContain(made.body.key);

  // The team: a key invites; the person changes a member's role, then removes them.
  const invited = await h.http
    .post('/v1/invitations')
    .set(bearer(adminKey))
    .send({ email: `${unique('invitee')}@example.com`, role: 'analyst' });
  expect(invited.status).toBe(201);
  const member = await createUser(db, { email: `${unique('member')}@example.com`, displayName: 'Max Member' });
  const membership = await addMembership(db, member.id, { kind: 'agency', agencyId: agency.id }, 'analyst');
  expect(
    (
      await h.http
        .patch(`/v1/members/${membership.id}`)
        .set('Cookie', `lw_session=${token}`)
        .set('Origin', h.main.baseUrl)
        .set('X-CSRF-Token', session.csrfToken)
        .send({ role: 'dispatcher' })
    ).status,
  ).toBe(200);
  expect((await asOwner(`/v1/members/${membership.id}/remove`)).status).toBe(200);
  const team = await log(adminKey, '?objectType=membership');
  const byAction = Object.fromEntries(team.map((e) => [e.action, e]));
  expect(byAction.invited).toMatchObject({
    actor: { type: 'key', keyId: adminKeyId },
    changes: { role: { to: 'analyst' } },
  });
  expect(byAction.role_changed).toMatchObject({
    objectId: membership.id,
    actor: { type: 'user', userId: owner.id },
    changes: { role: { from: 'analyst', to: 'dispatcher' } },
  });
  expect(byAction.removed).toMatchObject({ objectId: membership.id, actor: { type: 'user', userId: owner.id } });
});
