/**
 * The authorization matrix: every route × every kind of caller. Ids of
 * another agency are 404 (never 403); a key of the wrong kind for a route is
 * 403 whatever the id; no key or a bad key is 401.
 */
import { ProblemSchema } from '../../api/schemas';
import { bearer, type Harness, leadFields, ROOT_TOKEN, startHarness, unique } from './harness';
import { buildWorld, type World } from './world';

type Who = 'none' | 'wrong' | 'root' | 'adminA' | 'adminB' | 'buyerT' | 'buyerO' | 'buyerF' | 'sourceS' | 'sourceZ';
const CALLERS: Who[] = [
  'none',
  'wrong',
  'root',
  'adminB',
  'buyerO',
  'buyerF',
  'sourceZ',
  'buyerT',
  'sourceS',
  'adminA',
];

interface Case {
  method: 'get' | 'post' | 'patch';
  path: string;
  url: (w: World) => string;
  body?: (w: World) => object;
  expect: Partial<Record<Who, number>>;
}

const NO_KEY = { none: 401, wrong: 401 };
const DENY_ALL = {
  root: 403,
  adminA: 403,
  adminB: 403,
  buyerT: 403,
  buyerO: 403,
  buyerF: 403,
  sourceS: 403,
  sourceZ: 403,
};
const rootOnly = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, root: ok });
/** An admin route without ids: each admin acts in its own agency. */
const anyAdmin = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, adminA: ok, adminB: ok });
/** An admin route on agency A's resource: B's admin does not find it. */
const adminOfA = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, adminA: ok, adminB: 404 });
const anyBuyer = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, buyerT: ok, buyerO: ok, buyerF: ok });
/** A source route without ids: each source acts as itself. */
const anySource = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, sourceS: ok, sourceZ: ok });
const everyone = (status: number) => ({
  none: status,
  wrong: status,
  root: status,
  adminA: status,
  adminB: status,
  buyerT: status,
  buyerO: status,
  buyerF: status,
  sourceS: status,
  sourceZ: status,
});

const CASES: Case[] = [
  {
    method: 'post',
    path: '/v1/agencies',
    url: () => '/v1/agencies',
    body: () => ({ name: unique('agency') }),
    expect: rootOnly(201),
  },
  {
    method: 'get',
    path: '/v1/me',
    url: () => '/v1/me',
    expect: {
      ...NO_KEY,
      root: 200,
      adminA: 200,
      adminB: 200,
      buyerT: 200,
      buyerO: 200,
      buyerF: 200,
      sourceS: 200,
      sourceZ: 200,
    },
  },
  { method: 'get', path: '/v1/me/wallet', url: () => '/v1/me/wallet', expect: anyBuyer(200) },
  { method: 'get', path: '/v1/me/ledger', url: () => '/v1/me/ledger', expect: anyBuyer(200) },
  { method: 'get', path: '/v1/me/leads', url: () => '/v1/me/leads', expect: anyBuyer(200) },
  { method: 'patch', path: '/v1/me', url: () => '/v1/me', body: () => ({}), expect: anyBuyer(200) },
  { method: 'get', path: '/v1/settings', url: () => '/v1/settings', expect: anyAdmin(200) },
  { method: 'patch', path: '/v1/settings', url: () => '/v1/settings', body: () => ({}), expect: anyAdmin(200) },
  {
    method: 'post',
    path: '/v1/service-lines',
    url: () => '/v1/service-lines',
    body: () => ({ key: unique('line').toLowerCase(), name: 'A line' }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/service-lines', url: () => '/v1/service-lines', expect: anyAdmin(200) },
  {
    method: 'post',
    path: '/v1/buyers',
    url: () => '/v1/buyers',
    body: () => ({ name: unique('buyer'), serviceLines: [] }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/buyers', url: () => '/v1/buyers', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/buyers/:id', url: (w) => `/v1/buyers/${w.T.buyer.id}`, expect: adminOfA(200) },
  {
    method: 'patch',
    path: '/v1/buyers/:id',
    url: (w) => `/v1/buyers/${w.T.buyer.id}`,
    body: () => ({ name: unique('renamed') }),
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/buyers/:id/credits',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/credits`,
    body: () => ({ amount: 1 }),
    expect: adminOfA(201),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/ledger',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/ledger`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/buyers/:id/keys',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/keys`,
    body: () => ({}),
    expect: adminOfA(201),
  },
  {
    method: 'post',
    path: '/v1/buyers/:id/webhook-secret',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/webhook-secret`,
    expect: adminOfA(201),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/changes',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/changes`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/stats',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/stats`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/campaigns',
    url: () => '/v1/campaigns',
    body: () => ({
      name: unique('campaign'),
      serviceLine: 'roofing',
      mode: 'push',
      price: { base: 1 },
      status: 'paused',
    }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/campaigns', url: () => '/v1/campaigns', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/campaigns/:id', url: (w) => `/v1/campaigns/${w.campaign.id}`, expect: adminOfA(200) },
  {
    method: 'post',
    path: '/v1/campaigns/dry-run',
    url: () => '/v1/campaigns/dry-run',
    body: () => ({ campaign: { serviceLine: 'roofing', price: { base: 1 } }, lastN: 5 }),
    expect: anyAdmin(200),
  },
  {
    method: 'patch',
    path: '/v1/campaigns/:id',
    url: (w) => `/v1/campaigns/${w.campaign.id}`,
    body: () => ({ name: unique('campaign') }),
    expect: adminOfA(200),
  },
  // S may post into A's campaign; Z (agency B) does not find it.
  {
    method: 'post',
    path: '/v1/leads',
    url: () => '/v1/leads',
    body: (w) => ({ campaignId: w.campaign.id, fields: leadFields() }),
    expect: { ...adminOfA(202), sourceS: 202, sourceZ: 404 },
  },
  { method: 'get', path: '/v1/leads', url: () => '/v1/leads', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/leads/:id', url: (w) => `/v1/leads/${w.lead1.id}`, expect: adminOfA(200) },
  {
    method: 'get',
    path: '/v1/leads/:id/timeline',
    url: (w) => `/v1/leads/${w.lead1.id}/timeline`,
    expect: adminOfA(200),
  },
  // lead1 is sold: the owner's admin hears 409 not_in_manual_review, the other agency's 404.
  {
    method: 'post',
    path: '/v1/leads/:id/reoffer',
    url: (w) => `/v1/leads/${w.lead1.id}/reoffer`,
    body: () => ({}),
    expect: adminOfA(409),
  },
  {
    method: 'post',
    path: '/v1/leads/:id/assign',
    url: (w) => `/v1/leads/${w.lead1.id}/assign`,
    body: (w) => ({ buyerId: w.T.buyer.id }),
    expect: adminOfA(409),
  },
  {
    method: 'post',
    path: '/v1/leads/:id/reject',
    url: (w) => `/v1/leads/${w.lead1.id}/reject`,
    body: () => ({ reason: 'spam' }),
    expect: adminOfA(409),
  },
  { method: 'get', path: '/v1/offers', url: () => '/v1/offers', expect: anyBuyer(200) },
  // T already won offer1 (same answer again), O was excluded (403 not_targeted), F is of another agency.
  {
    method: 'post',
    path: '/v1/offers/:id/claim',
    url: (w) => `/v1/offers/${w.offer1.id}/claim`,
    body: () => ({}),
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 200, buyerO: 403, buyerF: 404 },
  },
  // offer1 is a first-claim offer: T (targeted) hears 409 not_an_auction, O (excluded) 403 not_targeted, F 404.
  {
    method: 'post',
    path: '/v1/offers/:id/bids',
    url: (w) => `/v1/offers/${w.offer1.id}/bids`,
    body: () => ({ amount: 30 }),
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 409, buyerO: 403, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/offers/:id/cancel',
    url: (w) => `/v1/offers/${w.offer1.id}/cancel`,
    body: () => ({ reason: 'test' }),
    expect: adminOfA(409),
  },
  {
    method: 'get',
    path: '/v1/offers/:id/timeline',
    url: (w) => `/v1/offers/${w.offer1.id}/timeline`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/offers/:id/eligibility',
    url: (w) => `/v1/offers/${w.offer1.id}/eligibility`,
    expect: { ...adminOfA(200), buyerT: 200, buyerO: 200, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/assignments/:id/disputes',
    url: (w) => `/v1/assignments/${w.assignment1}/disputes`,
    body: () => ({ reason: 'not a real person' }),
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 201, buyerO: 404, buyerF: 404 },
  },
  // T's sale has no webhook configured: A's admin hears 409 channel_not_configured (nothing is started), B's admin 404.
  {
    method: 'post',
    path: '/v1/assignments/:id/redeliver',
    url: (w) => `/v1/assignments/${w.assignment1}/redeliver`,
    body: () => ({ channel: 'webhook' }),
    expect: adminOfA(409),
  },
  {
    method: 'get',
    path: '/v1/assignments/:id/deliveries',
    url: (w) => `/v1/assignments/${w.assignment1}/deliveries`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/disputes',
    url: () => '/v1/disputes',
    expect: { ...anyAdmin(200), buyerT: 200, buyerO: 200, buyerF: 200 },
  },
  {
    method: 'get',
    path: '/v1/disputes/:id',
    url: (w) => `/v1/disputes/${w.disputeId}`,
    expect: { ...adminOfA(200), buyerT: 200, buyerO: 404, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/disputes/:id/resolve',
    url: (w) => `/v1/disputes/${w.disputeId}/resolve`,
    body: () => ({ approve: false }),
    expect: adminOfA(200),
  },
  // The buyer's side (#12): per-buyer prices are the agency's; the pipeline of a bought lead is its buyer's alone.
  {
    method: 'get',
    path: '/v1/campaigns/:id/buyer-prices',
    url: (w) => `/v1/campaigns/${w.campaign.id}/buyer-prices`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/campaigns/:id/buyer-prices',
    url: (w) => `/v1/campaigns/${w.campaign.id}/buyer-prices`,
    body: (w) => ({ buyerId: w.O.buyer.id, rule: { kind: 'fixed', value: 30 } }),
    expect: adminOfA(200),
  },
  { method: 'get', path: '/v1/me/pipeline', url: () => '/v1/me/pipeline', expect: anyBuyer(200) },
  { method: 'get', path: '/v1/me/alerts', url: () => '/v1/me/alerts', expect: anyBuyer(200) },
  {
    method: 'get',
    path: '/v1/me/leads/:id/pipeline',
    url: (w) => `/v1/me/leads/${w.assignment1}/pipeline`,
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 200, buyerO: 404, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/me/leads/:id/pipeline',
    url: (w) => `/v1/me/leads/${w.assignment1}/pipeline`,
    body: () => ({ status: 'contacted' }),
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 201, buyerO: 404, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/sources',
    url: () => '/v1/sources',
    body: () => ({ name: unique('source') }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/sources', url: () => '/v1/sources', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/sources/:id', url: (w) => `/v1/sources/${w.S.source.id}`, expect: adminOfA(200) },
  {
    method: 'patch',
    path: '/v1/sources/:id',
    url: (w) => `/v1/sources/${w.S.source.id}`,
    body: () => ({ name: unique('renamed') }),
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/sources/:id/campaigns',
    url: (w) => `/v1/sources/${w.S.source.id}/campaigns`,
    body: (w) => ({ campaignId: w.campaign.id, payout: { kind: 'share', shareBps: 3000 } }),
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/sources/:id/keys',
    url: (w) => `/v1/sources/${w.S.source.id}/keys`,
    body: () => ({}),
    expect: adminOfA(201),
  },
  {
    method: 'post',
    path: '/v1/sources/:id/keys/revoke',
    url: (w) => `/v1/sources/${w.R.source.id}/keys/revoke`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/sources/:id/ledger',
    url: (w) => `/v1/sources/${w.S.source.id}/ledger`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/sources/:id/settlements',
    url: (w) => `/v1/sources/${w.S.source.id}/settlements`,
    // An adjustment up needs no balance, so the admin's 201 does not depend on S having sold a lead.
    body: () => ({ kind: 'adjustment', amount: 1, reference: unique('matrix') }),
    expect: adminOfA(201),
  },
  {
    method: 'get',
    path: '/v1/sources/:id/leads',
    url: (w) => `/v1/sources/${w.S.source.id}/leads`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/sources/:id/spec',
    url: (w) => `/v1/sources/${w.S.source.id}/spec`,
    expect: adminOfA(200),
  },
  { method: 'get', path: '/v1/reports', url: () => '/v1/reports', expect: anyAdmin(200) },
  // A's campaign: S pings it, Z (agency B) does not find it.
  {
    method: 'post',
    path: '/v1/pings',
    url: () => '/v1/pings',
    body: (w) => ({ campaignId: w.campaign.id, fields: { zip: '78701' } }),
    expect: { ...anySource(200), sourceZ: 404 },
  },
  // S's ping: S posts it, Z does not find it.
  {
    method: 'post',
    path: '/v1/posts',
    url: () => '/v1/posts',
    body: (w) => ({ pingId: w.pingId, fields: w.pingFields }),
    expect: { ...anySource(202), sourceZ: 404 },
  },
  { method: 'get', path: '/v1/source/leads', url: () => '/v1/source/leads', expect: anySource(200) },
  { method: 'get', path: '/v1/source/spec', url: () => '/v1/source/spec', expect: anySource(200) },
  { method: 'get', path: '/v1/source/balance', url: () => '/v1/source/balance', expect: anySource(200) },
  { method: 'get', path: '/v1/source/ledger', url: () => '/v1/source/ledger', expect: anySource(200) },
  {
    method: 'get',
    path: '/v1/exports/leads.csv',
    url: () => '/v1/exports/leads.csv',
    expect: { ...anyAdmin(200), sourceS: 200, sourceZ: 200 },
  },
  {
    method: 'get',
    path: '/v1/exports/sales.csv',
    url: () => '/v1/exports/sales.csv',
    expect: { ...anyAdmin(200), buyerT: 200, buyerO: 200, buyerF: 200 },
  },
  {
    method: 'get',
    path: '/v1/exports/ledger.csv',
    url: () => '/v1/exports/ledger.csv',
    expect: { ...anyAdmin(200), buyerT: 200, buyerO: 200, buyerF: 200 },
  },
  { method: 'get', path: '/v1/exports/audit-log.csv', url: () => '/v1/exports/audit-log.csv', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/audit-log', url: () => '/v1/audit-log', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/me/audit-log', url: () => '/v1/me/audit-log', expect: anyBuyer(200) },
  // A's admin and S may name S; B's admin and Z do not find it.
  {
    method: 'get',
    path: '/v1/exports/source-ledger.csv',
    url: (w) => `/v1/exports/source-ledger.csv?sourceId=${w.S.source.id}`,
    expect: { ...adminOfA(200), sourceS: 200, sourceZ: 404 },
  },
  { method: 'get', path: '/v1/exports/report.csv', url: () => '/v1/exports/report.csv', expect: anyAdmin(200) },
  { method: 'get', path: '/healthz', url: () => '/healthz', expect: everyone(200) },
  { method: 'get', path: '/readyz', url: () => '/readyz', expect: everyone(200) },
  { method: 'get', path: '/metrics', url: () => '/metrics', expect: everyone(200) },
  { method: 'get', path: '/v1/openapi.json', url: () => '/v1/openapi.json', expect: everyone(200) },
  { method: 'get', path: '/v1/asyncapi.json', url: () => '/v1/asyncapi.json', expect: everyone(200) },
  { method: 'get', path: '/v1/docs', url: () => '/v1/docs', expect: everyone(200) },
  { method: 'get', path: '/v1/feed', url: () => '/v1/feed', expect: everyone(426) },
];

let h: Harness;
let w: World;
let keys: Record<Who, string | null>;

beforeAll(async () => {
  h = await startHarness();
  w = await buildWorld(h);
  keys = {
    none: null,
    wrong: 'lw_admin_thisIsNotAKeyAnyoneWasGiven0000000000000',
    root: ROOT_TOKEN,
    adminA: w.A.adminKey,
    adminB: w.B.adminKey,
    buyerT: w.T.apiKey,
    buyerO: w.O.apiKey,
    buyerF: w.F.apiKey,
    sourceS: w.S.apiKey,
    sourceZ: w.Z.apiKey,
  };
});

afterAll(async () => {
  await h?.close();
});

test('the matrix covers every route the app serves', () => {
  const served = h.main.api.routes.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
  expect(CASES.map((c) => `${c.method.toUpperCase()} ${c.path}`).sort()).toEqual(served);
});

describe.each(CASES.map((c) => [`${c.method.toUpperCase()} ${c.path}`, c] as const))('%s', (_name, c) => {
  test('answers each caller as expected', async () => {
    const route = h.main.api.routes.find((r) => r.method === c.method && r.path === c.path)!;
    const got: Partial<Record<Who, number>> = {};
    const wanted: Partial<Record<Who, number>> = {};
    for (const who of CALLERS) {
      if (c.expect[who] === undefined) continue;
      let req = h.http[c.method](c.url(w));
      const key = keys[who];
      if (key) req = req.set(bearer(key));
      const res = c.body ? await req.send(c.body(w)) : await req;
      got[who] = res.status;
      wanted[who] = c.expect[who];
      if (res.status >= 400) {
        const isClaimAnswer = typeof res.body?.result === 'string';
        expect(isClaimAnswer || /application\/problem\+json/.test(String(res.headers['content-type']))).toBe(true);
        if (!isClaimAnswer)
          expect(res.body).toMatchObject({
            status: res.status,
            code: expect.any(String),
            title: expect.any(String),
            detail: expect.any(String),
          });
      }
      // Every answer matches what the OpenAPI document says about it.
      const documented = route.responses[res.status];
      expect(documented).toBeDefined();
      const isProblemDoc = /application\/problem\+json/.test(String(res.headers['content-type']));
      const schema = isProblemDoc ? ProblemSchema : documented?.schema;
      if (schema && /json/.test(String(res.headers['content-type']))) {
        const parsed = schema.safeParse(res.body);
        if (!parsed.success)
          throw new Error(`${who}: ${res.status} answer does not match its documented schema: ${parsed.error.message}`);
      }
      if (res.status === 401) expect(res.body.code).toBe('unauthorized');
      if (res.status === 403 && !res.body.result) expect(res.body.code).toBe('forbidden');
    }
    expect(got).toEqual(wanted);
  });
});

test('a foreign id and an unknown id answer the same 404', async () => {
  const foreign = await h.http.get(`/v1/buyers/${w.F.buyer.id}`).set(bearer(w.A.adminKey));
  const unknown = await h.http.get(`/v1/buyers/00000000-0000-4000-8000-000000000000`).set(bearer(w.A.adminKey));
  expect(foreign.status).toBe(404);
  expect(unknown.status).toBe(404);
  expect(foreign.body).toEqual(unknown.body);
});

test('a revoked key no longer works; the new one does', async () => {
  const res = await h.http
    .post(`/v1/buyers/${w.O.buyer.id}/keys`)
    .set(bearer(w.A.adminKey))
    .send({ revokeExisting: true });
  expect(res.status).toBe(201);
  expect(res.body.revoked).toBeGreaterThanOrEqual(1);
  expect((await h.http.get('/v1/me').set(bearer(w.O.apiKey))).status).toBe(401);
  const me = await h.http.get('/v1/me').set(bearer(res.body.apiKey));
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ kind: 'buyer', buyer: { id: w.O.buyer.id } });
});

test('keys are random, prefixed by kind, and stored only as hashes', async () => {
  expect(w.A.adminKey).toMatch(/^lw_admin_[A-Za-z0-9_-]{43}$/);
  expect(w.T.apiKey).toMatch(/^lw_buyer_[A-Za-z0-9_-]{43}$/);
  const { rows } = await (h.database.raw as import('pg').Pool).query(
    'SELECT key_hash, prefix FROM api_keys WHERE agency_id = $1',
    [w.A.agency.id],
  );
  for (const r of rows) {
    expect(r.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect([w.A.adminKey, w.T.apiKey, w.O.apiKey]).not.toContain(r.key_hash);
  }
});
