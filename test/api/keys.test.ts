/**
 * API keys belong to people (#20 item 7): an organisation's owners (and an
 * agency's admins) list, make and revoke its keys; a key acts as a role no
 * higher than its maker's, records who made it, may expire, and is shown once.
 * The attacks: a key above one's role, a key for another organisation, another
 * organisation's key revoked, an expired key, a member making keys.
 */
import { Authenticator, KEY_TOUCH_MS } from '../../api/auth';
import { TokenBuckets } from '../../api/rate-limit';
import { createUser } from '../../db/accounts';
import { createApiKey } from '../../db/keys';
import { docCurlBody } from './doc-examples';
import { bearer, connectFeed, type Harness, startHarness, unique } from './harness';
import { buildWorld, type World } from './world';

let h: Harness;
let w: World;
/** A person in agency A, and an owner key of agency A that person made. */
let person: { id: string; email: string; displayName: string };
let ownerKeyA: string;
/** A buyer-owner key of T made by a person (T's key from the world has no maker). */
let buyerOwner: { id: string; email: string; displayName: string };
let ownerKeyT: string;

const pool = () => h.database.raw as import('pg').Pool;
const keyCount = async (agencyId: string) =>
  Number((await pool().query('SELECT count(*)::int AS n FROM api_keys WHERE agency_id = $1', [agencyId])).rows[0].n);

beforeAll(async () => {
  h = await startHarness();
  w = await buildWorld(h);
  const u = await createUser(h.database.db, { email: `${unique('owner')}@example.com`, displayName: 'Olive Owner' });
  person = { id: u.id, email: u.email, displayName: u.displayName };
  ownerKeyA = (
    await createApiKey(h.database.db, {
      kind: 'admin',
      agencyId: w.A.agency.id,
      role: 'owner',
      name: 'Olive’s key',
      createdByUserId: u.id,
    })
  ).key;
  const b = await createUser(h.database.db, { email: `${unique('buyer')}@example.com`, displayName: 'Bo Buyer' });
  buyerOwner = { id: b.id, email: b.email, displayName: b.displayName };
  ownerKeyT = (
    await createApiKey(h.database.db, {
      kind: 'buyer',
      agencyId: w.A.agency.id,
      buyerId: w.T.buyer.id,
      role: 'owner',
      name: 'Bo’s key',
      createdByUserId: b.id,
    })
  ).key;
});

afterAll(async () => {
  await h?.close();
});

const makeKey = (key: string, body: object) => h.http.post('/v1/keys').set(bearer(key)).send(body);

test('an owner makes a dispatcher key: shown once, acting as dispatcher, made by the owner’s person', async () => {
  const res = await makeKey(ownerKeyA, { name: 'Dispatch desk', role: 'dispatcher' });
  expect(res.status).toBe(201);
  expect(res.body).toEqual({
    id: expect.any(String),
    name: 'Dispatch desk',
    role: 'dispatcher',
    prefix: res.body.key.slice(0, 13),
    key: expect.stringMatching(/^lw_admin_[A-Za-z0-9_-]{43}$/),
    expiresAt: null,
    createdAt: expect.any(String),
  });
  // It acts as a dispatcher: leads yes, money no.
  expect((await h.http.get('/v1/leads').set(bearer(res.body.key))).status).toBe(200);
  const credits = await h.http.post(`/v1/buyers/${w.T.buyer.id}/credits`).set(bearer(res.body.key)).send({ amount: 5 });
  expect(credits.status).toBe(403);
  expect(credits.body.detail).toMatch(/agency owner, agency admin/);

  const list = await h.http.get('/v1/keys').set(bearer(ownerKeyA));
  expect(list.status).toBe(200);
  const listed = list.body.keys.find((k: { id: string }) => k.id === res.body.id);
  expect(listed).toEqual({
    id: res.body.id,
    name: 'Dispatch desk',
    role: 'dispatcher',
    prefix: res.body.prefix,
    createdBy: person,
    createdAt: res.body.createdAt,
    expiresAt: null,
    lastUsedAt: listed.lastUsedAt, // written in the background after its first use: last test
    revokedAt: null,
  });
  // Never a secret, nor its hash; only agency A's own staff keys (no buyer's or source's).
  expect(JSON.stringify(list.body)).not.toContain(res.body.key);
  for (const k of list.body.keys) expect(Object.keys(k)).not.toContain('keyHash');
  const { rows } = await pool().query(
    "SELECT id FROM api_keys WHERE agency_id = $1 AND kind = 'admin' ORDER BY created_at",
    [w.A.agency.id],
  );
  expect(list.body.keys.map((k: { id: string }) => k.id).sort()).toEqual(rows.map((r) => r.id).sort());
});

test('a key made by a key records the maker of that key; a key without a maker makes keys without one', async () => {
  const byAdmin = await makeKey(w.A.adminKey, { name: 'Analyst export', role: 'analyst' });
  expect(byAdmin.status).toBe(201);
  const byOwner = await makeKey(ownerKeyT, { name: 'Phone app', role: 'member' });
  expect(byOwner.status).toBe(201);
  const { rows } = await pool().query('SELECT id, created_by_user_id FROM api_keys WHERE id = ANY($1)', [
    [byAdmin.body.id, byOwner.body.id],
  ]);
  const maker = Object.fromEntries(rows.map((r) => [r.id, r.created_by_user_id]));
  expect(maker[byAdmin.body.id]).toBeNull();
  expect(maker[byOwner.body.id]).toBe(buyerOwner.id);
  const list = await h.http.get('/v1/keys').set(bearer(ownerKeyT));
  expect(list.body.keys.find((k: { id: string }) => k.id === byOwner.body.id).createdBy).toEqual(buyerOwner);
});

test('a key above one’s own role is refused and nothing is stored', async () => {
  const before = await keyCount(w.A.agency.id);
  const res = await makeKey(w.A.adminKey, { name: 'Sneaky', role: 'owner' });
  expect(res.status).toBe(403);
  expect(res.body.code).toBe('forbidden');
  // A buyer-member key may not make keys at all, let alone an owner's.
  const member = (await makeKey(ownerKeyT, { name: 'member', role: 'member' })).body.key;
  const before2 = await keyCount(w.A.agency.id);
  const up = await makeKey(member, { name: 'Escalate', role: 'owner' });
  expect(up.status).toBe(403);
  expect(await keyCount(w.A.agency.id)).toBe(before2);
  expect(before2).toBe(before + 1);
});

test('members, dispatchers and analysts may not list, make or revoke keys', async () => {
  const dispatcher = (await makeKey(ownerKeyA, { name: 'd', role: 'dispatcher' })).body.key;
  const analyst = (await makeKey(ownerKeyA, { name: 'a', role: 'analyst' })).body.key;
  const buyerMember = (await makeKey(ownerKeyT, { name: 'm', role: 'member' })).body.key;
  const sourceMember = (await makeKey(w.S.apiKey, { name: 'sm', role: 'member' })).body.key;
  const victim = (await makeKey(ownerKeyA, { name: 'victim', role: 'analyst' })).body.id;
  const before = await keyCount(w.A.agency.id);
  for (const key of [dispatcher, analyst, buyerMember, sourceMember]) {
    const create = await makeKey(key, {
      name: 'mine',
      role: key === dispatcher || key === analyst ? 'analyst' : 'member',
    });
    expect(create.status).toBe(403);
    expect(create.body.code).toBe('forbidden');
    expect((await h.http.get('/v1/keys').set(bearer(key))).status).toBe(403);
    expect((await h.http.post(`/v1/keys/${victim}/revoke`).set(bearer(key))).status).toBe(403);
  }
  expect(await keyCount(w.A.agency.id)).toBe(before);
  const { rows } = await pool().query('SELECT revoked_at FROM api_keys WHERE id = $1', [victim]);
  expect(rows[0].revoked_at).toBeNull();
});

test('bad input is 400 naming the field, and nothing is stored', async () => {
  const before = await keyCount(w.A.agency.id);
  const beforeB = await keyCount(w.B.agency.id);
  const cases: [string, object, string][] = [
    [ownerKeyA, { role: 'analyst' }, 'name'],
    [ownerKeyA, { name: '', role: 'analyst' }, 'name'],
    [ownerKeyA, { name: 'x'.repeat(81), role: 'analyst' }, 'name'],
    [ownerKeyA, { name: 'ok' }, 'role'],
    [ownerKeyA, { name: 'ok', role: 'operator' }, 'role'],
    // A role of another kind of organisation: an agency key is never a "member", a buyer's never a "dispatcher".
    [ownerKeyA, { name: 'ok', role: 'member' }, 'role'],
    [ownerKeyT, { name: 'ok', role: 'dispatcher' }, 'role'],
    [w.S.apiKey, { name: 'ok', role: 'admin' }, 'role'],
    [ownerKeyA, { name: 'ok', role: 'analyst', expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt'],
    [ownerKeyA, { name: 'ok', role: 'analyst', expiresAt: 'tomorrow' }, 'expiresAt'],
    // A key for another organisation cannot even be asked for: the body names no organisation.
    [ownerKeyA, { name: 'ok', role: 'analyst', agencyId: w.B.agency.id }, 'agencyId'],
    [ownerKeyT, { name: 'ok', role: 'member', buyerId: w.F.buyer.id }, 'buyerId'],
  ];
  for (const [key, body, field] of cases) {
    const res = await makeKey(key, body);
    expect([res.status, JSON.stringify(body)]).toEqual([400, JSON.stringify(body)]);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path).join(' ')).toContain(field);
  }
  expect(await keyCount(w.A.agency.id)).toBe(before);
  expect(await keyCount(w.B.agency.id)).toBe(beforeB);
  const bad = await h.http.post('/v1/keys/not-a-uuid/revoke').set(bearer(ownerKeyA));
  expect(bad.status).toBe(400);
});

test('another organisation’s key is not found: 404, and it keeps working', async () => {
  const keyOfA = await makeKey(ownerKeyA, { name: 'A’s', role: 'analyst' });
  const keyOfT = await makeKey(ownerKeyT, { name: 'T’s', role: 'member' });
  const attempts: [string, string][] = [
    [w.B.adminKey, keyOfA.body.id], // another agency
    [w.F.apiKey, keyOfT.body.id], // a buyer of another agency
    [w.O.apiKey, keyOfT.body.id], // another buyer of the same agency
    [w.A.adminKey, keyOfT.body.id], // the agency itself: a buyer's keys are the buyer's
    [ownerKeyT, keyOfA.body.id], // a buyer, the agency's key
    [w.S.apiKey, keyOfA.body.id], // a source, the agency's key
  ];
  for (const [key, id] of attempts) {
    const res = await h.http.post(`/v1/keys/${id}/revoke`).set(bearer(key));
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  }
  expect((await h.http.get('/v1/leads').set(bearer(keyOfA.body.key))).status).toBe(200);
  expect((await h.http.get('/v1/me/wallet').set(bearer(keyOfT.body.key))).status).toBe(200);
  const listB = await h.http.get('/v1/keys').set(bearer(w.B.adminKey));
  expect(listB.body.keys.map((k: { id: string }) => k.id)).not.toContain(keyOfA.body.id);
});

test('a revoked key stops at once; an admin may not revoke an owner’s key', async () => {
  const made = await makeKey(w.A.adminKey, { name: 'Short-lived', role: 'admin' });
  expect((await h.http.get('/v1/leads').set(bearer(made.body.key))).status).toBe(200); // now remembered for a second
  const res = await h.http.post(`/v1/keys/${made.body.id}/revoke`).set(bearer(w.A.adminKey));
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: made.body.id, revokedAt: expect.any(String) });
  expect((await h.http.get('/v1/leads').set(bearer(made.body.key))).status).toBe(401);
  const again = await h.http.post(`/v1/keys/${made.body.id}/revoke`).set(bearer(w.A.adminKey));
  expect(again.body.revokedAt).toBe(res.body.revokedAt);

  const { rows } = await pool().query("SELECT id FROM api_keys WHERE key_hash = encode(sha256($1::bytea), 'hex')", [
    ownerKeyA,
  ]);
  const refused = await h.http.post(`/v1/keys/${rows[0].id}/revoke`).set(bearer(w.A.adminKey));
  expect(refused.status).toBe(403);
  expect((await h.http.get('/v1/leads').set(bearer(ownerKeyA))).status).toBe(200);
});

test('an expired key is refused with 401', async () => {
  const made = await makeKey(ownerKeyA, {
    name: 'Expiring',
    role: 'analyst',
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  expect(made.status).toBe(201);
  expect(made.body.expiresAt).toEqual(expect.any(String));
  await pool().query("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1", [made.body.id]);
  const res = await h.http.get('/v1/reports').set(bearer(made.body.key));
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('unauthorized');
});

test('a buyer member key opens the feed; revoking it closes its socket', async () => {
  const member = await makeKey(ownerKeyT, { name: 'Tablet', role: 'member' });
  const feed = await connectFeed(h.main.wsUrl, member.body.key);
  await feed.next((m) => m.type === 'snapshot');
  const closed = new Promise<number>((resolve) => feed.ws.once('close', (code) => resolve(code)));
  const res = await h.http.post(`/v1/keys/${member.body.id}/revoke`).set(bearer(ownerKeyT));
  expect(res.status).toBe(200);
  expect(await closed).toBe(4403);
});

test('last_used_at is written on use, at most once a minute per key', async () => {
  const made = await makeKey(ownerKeyA, { name: 'Counted', role: 'analyst' });
  let t = 1_000_000;
  const auth = new Authenticator(
    h.database.db,
    'unused-root',
    new TokenBuckets({ capacity: 10, refillPerSecond: 1 }),
    () => t,
  );
  const lastUsed = async () =>
    (await pool().query('SELECT last_used_at FROM api_keys WHERE id = $1', [made.body.id])).rows[0]
      .last_used_at as Date | null;
  await pool().query('UPDATE api_keys SET last_used_at = NULL WHERE id = $1', [made.body.id]);
  expect(await auth.verify(made.body.key)).toMatchObject({ keyId: made.body.id, role: 'analyst' });
  await auth.settled();
  const first = await lastUsed();
  expect(first).toBeInstanceOf(Date);
  // Half a minute later (past the key cache): looked up again, but not written again.
  await pool().query("UPDATE api_keys SET last_used_at = '2000-01-01Z' WHERE id = $1", [made.body.id]);
  t += KEY_TOUCH_MS / 2;
  await auth.verify(made.body.key);
  await auth.settled();
  expect((await lastUsed())!.toISOString()).toBe('2000-01-01T00:00:00.000Z');
  // A minute after the first write: written again.
  t += KEY_TOUCH_MS / 2;
  await auth.verify(made.body.key);
  await auth.settled();
  expect((await lastUsed())!.getTime()).toBeGreaterThan(Date.parse('2000-01-01Z'));
});

test('the example of docs/accounts.md makes a key that reads and cannot write, and revoking it works', async () => {
  const made = await makeKey(w.A.adminKey, docCurlBody('docs/accounts.md', '-X POST $API/v1/keys -H'));
  expect(made.status).toBe(201);
  expect(made.body).toMatchObject({ role: 'analyst', expiresAt: '2030-12-31T23:59:59.000Z' });
  expect((await h.http.get('/v1/reports').set(bearer(made.body.key))).status).toBe(200);
  expect((await h.http.patch('/v1/settings').set(bearer(made.body.key)).send({})).status).toBe(403);
  const revoked = await h.http.post(`/v1/keys/${made.body.id}/revoke`).set(bearer(w.A.adminKey));
  expect(revoked.status).toBe(200);
  expect((await h.http.get('/v1/reports').set(bearer(made.body.key))).status).toBe(401);
});
