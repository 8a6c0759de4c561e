/**
 * Never a changed record on a refused request: every row the database holds
 * about agency A is snapshotted, a batch of requests that must be refused is
 * sent (other tenants and wrong keys on every route with A's ids, A's own
 * keys with the wrong role, malformed or random bodies, semantic refusals,
 * hostile feed frames), and the snapshot is compared afterwards, row by row.
 *
 * Business refusals of a claim (403 not_targeted, 409 offer_closed…) are not
 * in the batch: they are outcomes the timeline records on purpose
 * (`claim_attempted` / `claim_failed`).
 */
import crypto from 'node:crypto';

import fc from 'fast-check';
import type { Pool } from 'pg';

import { apiLead, bearer, connectFeed, type Harness, leadFields, ROOT_TOKEN, startHarness } from '../api/harness';
import { buildWorld, offerOfLead, type World } from '../api/world';
import { diffSnapshots, snapshotAgency } from './snapshot';

jest.setTimeout(180_000);

let h: Harness;
let w: World;
let pool: Pool;
let openOfferId: string;

beforeAll(async () => {
  h = await startHarness();
  w = await buildWorld(h);
  pool = h.database.raw as Pool;
  // An open auction of A's (60 s window), so cancel, claim and bid routes have something to refuse on.
  const lead = await apiLead(h, w.A.adminKey, w.campaign.id);
  openOfferId = (await offerOfLead(h, lead.id)).id;
  // A top-up under a key, so that reusing the key for another amount is a refusal.
  const first = await h.http
    .post(`/v1/buyers/${w.T.buyer.id}/credits`)
    .set(bearer(w.A.adminKey))
    .set('Idempotency-Key', 'refused-topup')
    .send({ amount: 5 });
  expect(first.status).toBe(201);
});

afterAll(async () => {
  await h?.close();
});

/** A's resource for each `:id` route prefix. */
function idFor(path: string): string {
  const prefix = path.split('/:id')[0];
  const ids: Record<string, string> = {
    '/v1/buyers': w.T.buyer.id,
    '/v1/campaigns': w.campaign.id,
    '/v1/leads': w.lead1.id,
    '/v1/offers': openOfferId,
    '/v1/disputes': w.disputeId,
    '/v1/assignments': w.assignment1,
  };
  return ids[prefix!] ?? crypto.randomUUID();
}

/** A body each route would accept from the right caller. */
function sampleBody(method: string, path: string): object {
  const samples: Record<string, object> = {
    'POST /v1/agencies': { name: 'x' },
    'POST /v1/service-lines': { key: 'windows', name: 'Windows' },
    'POST /v1/buyers': { name: 'b', serviceLines: ['roofing'] },
    'PATCH /v1/buyers/:id': { status: 'paused', name: 'renamed' },
    'POST /v1/buyers/:id/credits': { amount: 1000 },
    'POST /v1/buyers/:id/keys': { revokeExisting: true },
    'POST /v1/campaigns': { name: 'c', serviceLine: 'roofing', mode: 'push', price: { base: 1 } },
    'PATCH /v1/campaigns/:id': { status: 'paused', price: { base: 1 } },
    'POST /v1/leads': { campaignId: w.campaign.id, fields: leadFields() },
    'POST /v1/leads/:id/reoffer': {},
    'POST /v1/leads/:id/assign': { buyerId: w.T.buyer.id },
    'POST /v1/leads/:id/reject': { reason: 'spam' },
    'POST /v1/offers/:id/claim': { requestId: 'refused-claim' },
    'POST /v1/offers/:id/bids': { amount: 500, requestId: 'refused-bid' },
    'POST /v1/offers/:id/cancel': { reason: 'no' },
    'POST /v1/assignments/:id/disputes': { reason: 'fake' },
    'POST /v1/disputes/:id/resolve': { approve: true },
  };
  return samples[`${method.toUpperCase()} ${path}`] ?? {};
}

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

async function send(
  method: Method,
  url: string,
  key: string | null,
  body?: string | object,
  headers: Record<string, string> = {},
) {
  let req = h.http[method](url);
  if (key) req = req.set(bearer(key));
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  if (body === undefined || method === 'get') return req;
  if (typeof body === 'string') return req.set('Content-Type', 'application/json').send(body);
  return req.send(body);
}

test('no refused request changes a single row of the agency', async () => {
  const before = await snapshotAgency(pool, w.A.agency.id);
  expect(Object.keys(before).length).toBeGreaterThan(10);
  const routes = h.main.api.routes.filter((r) => r.path !== '/v1/feed');
  const refused: string[] = [];
  const wrong: string[] = [];
  const expectRefused = async (label: string, res: { status: number; body: unknown }) => {
    if (res.status >= 400 && res.status < 500) refused.push(label);
    else wrong.push(`${label} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  };

  // 1. Other tenants and bad keys, every route, A's ids, bodies A's admin could have sent.
  const foreign = {
    none: null,
    wrong: 'lw_admin_notAKey000000000000000000000000000000000',
    expired: 'lw_buyer_' + 'x'.repeat(43),
    root: ROOT_TOKEN,
    adminB: w.B.adminKey,
    buyerF: w.F.apiKey,
  };
  for (const route of routes) {
    for (const [who, key] of Object.entries(foreign)) {
      const url = route.path.replace(':id', idFor(route.path));
      const res = await send(
        route.method as Method,
        url,
        key,
        route.body ? sampleBody(route.method, route.path) : undefined,
      );
      // Without an id a foreign caller may act in its own tenant (adminB creates B's buyers): only A's rows are watched.
      if (
        route.path.includes(':id') ||
        (route.roles.length && (who === 'none' || who === 'wrong' || who === 'expired'))
      )
        await expectRefused(`${who} ${route.method} ${url}`, res);
    }
  }

  // 2. A's own keys on routes their kind may not use.
  const own = { adminA: w.A.adminKey, buyerT: w.T.apiKey, buyerO: w.O.apiKey };
  for (const route of routes) {
    for (const [who, key] of Object.entries(own)) {
      if (!route.roles.length || route.roles.includes(who === 'adminA' ? 'admin' : 'buyer')) continue;
      const url = route.path.replace(':id', idFor(route.path));
      await expectRefused(
        `${who} ${route.method} ${url}`,
        await send(route.method as Method, url, key, route.body ? sampleBody(route.method, route.path) : undefined),
      );
    }
  }

  // 3. The right key, a body that cannot be accepted: random JSON, always carrying a reserved key, or no object at all.
  const adminRoutes = routes.filter((r) => r.body && r.roles.includes('admin'));
  const junk = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => `{"__proto__":{"isAdmin":true},"v":${JSON.stringify(v)}}`),
    fc
      .jsonValue({ maxDepth: 3 })
      .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
      .map((v) => JSON.stringify(v)),
    fc.constantFrom('{"amount":', '[', '{"constructor":{"prototype":{"x":1}}}', `{"name":"${'x'.repeat(2_000_000)}"}`),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...adminRoutes), junk, async (route, body) => {
      const url = route.path.replace(':id', idFor(route.path));
      await expectRefused(
        `adminA ${route.method} ${url} junk`,
        await send(route.method as Method, url, w.A.adminKey, body),
      );
    }),
    { numRuns: 120 },
  );
  for (const route of routes.filter((r) => r.method === 'get' && r.roles.length)) {
    const key = route.roles.includes('admin') ? w.A.adminKey : w.T.apiKey;
    const url = route.path.replace(':id', idFor(route.path));
    await expectRefused(`${route.method} ${url}?unknown`, await send('get', `${url}?__proto__=1`, key));
    if (route.path.includes(':id')) {
      await expectRefused(`${route.method} bad id`, await send('get', route.path.replace(':id', 'not-a-uuid'), key));
      await expectRefused(
        `${route.method} unknown id`,
        await send('get', route.path.replace(':id', crypto.randomUUID()), key),
      );
    }
  }
  for (const route of routes.filter((r) => r.body && r.path.includes(':id') && r.roles.includes('admin'))) {
    const body = sampleBody(route.method, route.path);
    await expectRefused(
      `${route.method} ${route.path} unknown id`,
      await send(route.method as Method, route.path.replace(':id', crypto.randomUUID()), w.A.adminKey, body),
    );
    await expectRefused(
      `${route.method} ${route.path} 415`,
      await h.http[route.method as Method](route.path.replace(':id', idFor(route.path)))
        .set(bearer(w.A.adminKey))
        .set('Content-Type', 'text/plain')
        .send('amount=1'),
    );
  }

  // 4. Valid requests the business refuses.
  const a = w.A.adminKey;
  const semantic: [string, () => Promise<{ status: number; body: unknown }>][] = [
    [
      'top-up key reused for another amount',
      () =>
        send('post', `/v1/buyers/${w.T.buyer.id}/credits`, a, { amount: 6 }, { 'Idempotency-Key': 'refused-topup' }),
    ],
    ['a duplicate lead', () => send('post', '/v1/leads', a, { campaignId: w.campaign.id, fields: w.lead1.fields })],
    [
      'a lead for the other agency’s campaign',
      () => send('post', '/v1/leads', a, { campaignId: w.campaignB.id, fields: leadFields() }),
    ],
    ['reject a sold lead', () => send('post', `/v1/leads/${w.lead1.id}/reject`, a, { reason: 'spam' })],
    ['assign a sold lead', () => send('post', `/v1/leads/${w.lead1.id}/assign`, a, { buyerId: w.O.buyer.id })],
    ['re-offer a sold lead', () => send('post', `/v1/leads/${w.lead1.id}/reoffer`, a, {})],
    ['cancel a closed offer', () => send('post', `/v1/offers/${w.offer1.id}/cancel`, a, { reason: 'late' })],
    [
      'fall back to itself',
      () => send('patch', `/v1/campaigns/${w.campaign.id}`, a, { fallbackCampaignId: w.campaign.id }),
    ],
    [
      'fall back to another agency’s campaign',
      () => send('patch', `/v1/campaigns/${w.campaign.id}`, a, { fallbackCampaignId: w.campaignB.id }),
    ],
    [
      'a buyer in an unknown service line',
      () => send('patch', `/v1/buyers/${w.T.buyer.id}`, a, { serviceLines: ['plumbing'], status: 'paused' }),
    ],
    [
      'a second dispute on the same assignment',
      () => send('post', `/v1/assignments/${w.assignment2}/disputes`, w.T.apiKey, { reason: 'again' }),
    ],
    [
      'a dispute on somebody else’s assignment',
      () => send('post', `/v1/assignments/${w.assignment1}/disputes`, w.O.apiKey, { reason: 'not mine' }),
    ],
    [
      'a webhook on a private address',
      () =>
        send('patch', `/v1/buyers/${w.T.buyer.id}`, a, {
          delivery: { webhookUrl: 'http://10.0.0.1/hook' },
          status: 'paused',
        }),
    ],
  ];
  for (const [label, run] of semantic) await expectRefused(label, await run());

  // 5. Hostile frames on the feed, from a buyer of A's that is not targeted and from another agency's.
  for (const key of [w.O.apiKey, w.F.apiKey]) {
    const feed = await connectFeed(h.main.wsUrl, key);
    await feed.next((m) => m.type === 'snapshot');
    const frames = [
      { type: 'viewed', offerId: openOfferId },
      { type: 'viewed', offerId: w.offer1.id },
      '{"type":"viewed","offerId":"' + openOfferId + '","__proto__":{"x":1}}',
      { type: 'claim', offerId: crypto.randomUUID(), requestId: 'r' },
      { type: 'bid', offerId: openOfferId, amount: 10, requestId: 'b' },
      'not json',
    ];
    for (const f of frames) {
      const seen = feed.messages.length;
      feed.send(f);
      await feed.next((m) => feed.messages.indexOf(m) >= seen, 10_000);
    }
    await feed.close();
  }

  expect(wrong).toEqual([]);
  expect(refused.length).toBeGreaterThan(300);
  const after = await snapshotAgency(pool, w.A.agency.id);
  expect(diffSnapshots(before, after)).toEqual({});
  expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();

  // The snapshot does see a change: one accepted request shows up in it.
  expect((await send('patch', `/v1/buyers/${w.O.buyer.id}`, a, { name: 'renamed-once' })).status).toBe(200);
  expect(Object.keys(diffSnapshots(after, await snapshotAgency(pool, w.A.agency.id)))).toEqual(
    expect.arrayContaining(['buyers']),
  );
  process.stdout.write(
    `[security] ${refused.length} refused requests and 12 hostile feed frames; ${Object.values(before).flat().length} rows of ${Object.keys(before).length} tables unchanged\n`,
  );
});
