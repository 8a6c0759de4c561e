/**
 * What a hostile-client probe found (issue 16, item 5), each as a regression
 * test on the real API, feed, dev server and Postgres:
 * - a revoked key (or a paused buyer) loses its open feed sockets at once, and
 *   every frame is checked against the key's state now, even on a gateway
 *   that never hears the access change;
 * - failed logins throttle failing attempts only: a valid key from a limited
 *   address still works; with `trust proxy` the limit is per forwarded client,
 *   on the REST routes and the feed's upgrade alike;
 * - an impossible date inside a pagination cursor is a 400 naming `cursor` on
 *   every paginated route, never a 500;
 * - requests in flight are bounded per connection (pipelining) and per key.
 */
import net from 'node:net';

import WebSocket from 'ws';

import { FEED_ACCESS_REVOKED } from '../../api/feed';
import type { BusEvent, OfferBus } from '../../db/offer-bus';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  type FeedClient,
  type Harness,
  startHarness,
} from '../api/harness';
import { apiSourceFor, offerOfLead } from '../api/world';

jest.setTimeout(120_000);

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const closed = (feed: FeedClient) =>
  new Promise<number>((resolve) => {
    if (feed.ws.readyState === WebSocket.CLOSED) return resolve(-1);
    feed.ws.once('close', (code) => resolve(code));
  });

const upgradeStatus = (url: string, headers: Record<string, string>) =>
  new Promise<{ status: number; body: string }>((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('error', () => undefined);
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });

/** A bus that never tells its gateway about access changes: only the per-frame check stands. */
function deafToAccess(inner: OfferBus): OfferBus {
  return {
    publish: (e) => inner.publish(e),
    subscribe: (listener) => inner.subscribe((e: BusEvent) => (e.type === 'buyer.access' ? undefined : listener(e))),
    ready: () => inner.ready(),
    close: async () => undefined,
    state: () => inner.state(),
    onResync: (l) => inner.onResync(l),
  };
}

describe('feed access follows the key and the buyer (high)', () => {
  test('revoking a key closes its open feed sockets at once (4403); the new key connects and receives offers', async () => {
    const { adminKey } = await apiAgency(h);
    const { buyer, apiKey } = await apiBuyer(h, adminKey, { credits: 100 });
    const feed = await connectFeed(h.main.wsUrl, apiKey);
    await feed.next((m) => m.type === 'snapshot');
    const gone = closed(feed);

    const rotated = await h.http
      .post(`/v1/buyers/${buyer.id}/keys`)
      .set(bearer(adminKey))
      .send({ revokeExisting: true });
    expect(rotated.body.revoked).toBe(1);
    expect(await gone).toBe(FEED_ACCESS_REVOKED);
    expect(feed.messages).toContainEqual(expect.objectContaining({ type: 'error', code: 'access_revoked' }));
    expect((await upgradeStatus(h.main.wsUrl, bearer(apiKey))).status).toBe(401);

    const fresh = await connectFeed(h.main.wsUrl, rotated.body.apiKey as string);
    await fresh.next((m) => m.type === 'snapshot');
    const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
    const lead = await apiLead(h, adminKey, campaign.id);
    await fresh.next((m) => m.type === 'offer.opened' && (m.offer as { leadId: string }).leadId === lead.id);
    await fresh.close();
  });

  test('a claim frame on a socket whose key was revoked is refused and closes it, even when the gateway missed the revocation: no sale, no charge', async () => {
    const deaf = await h.startInstance({ bus: deafToAccess(h.main.bus), feedPingIntervalMs: 600_000 });
    try {
      const { adminKey } = await apiAgency(h);
      const { buyer, apiKey } = await apiBuyer(h, adminKey, { credits: 100 });
      const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
      const feed = await connectFeed(deaf.wsUrl, apiKey);
      await feed.next((m) => m.type === 'snapshot');
      const lead = await apiLead(h, adminKey, campaign.id);
      const opened = await feed.next(
        (m) => m.type === 'offer.opened' && (m.offer as { leadId: string }).leadId === lead.id,
      );
      const offerId = (opened.offer as { id: string }).id;

      expect(
        (await h.http.post(`/v1/buyers/${buyer.id}/keys`).set(bearer(adminKey)).send({ revokeExisting: true })).status,
      ).toBe(201);
      expect(feed.ws.readyState).toBe(WebSocket.OPEN); // this gateway heard nothing
      const gone = closed(feed);
      feed.send({ type: 'claim', offerId, requestId: 'after-revoke' });
      expect(await gone).toBe(FEED_ACCESS_REVOKED);
      expect(feed.messages.some((m) => m.type === 'claim.result')).toBe(false);

      const offer = await offerOfLead(h, lead.id, null);
      expect(offer.status).toBe('open');
      const detail = await h.http.get(`/v1/buyers/${buyer.id}`).set(bearer(adminKey));
      expect(detail.body.buyer.balance).toBe(100);
      const timeline = await h.http.get(`/v1/offers/${offerId}/timeline`).set(bearer(adminKey));
      expect(
        timeline.body.events.filter((e: { type: string }) => e.type === 'claim_attempted' || e.type === 'won'),
      ).toEqual([]);
    } finally {
      await deaf.close();
    }
  });

  test('pausing a buyer closes its sockets and refuses new ones (403 buyer_paused) until it is resumed', async () => {
    const { adminKey } = await apiAgency(h);
    const { buyer, apiKey } = await apiBuyer(h, adminKey);
    const feed = await connectFeed(h.main.wsUrl, apiKey);
    await feed.next((m) => m.type === 'snapshot');
    const gone = closed(feed);
    expect((await h.http.patch(`/v1/buyers/${buyer.id}`).set(bearer(adminKey)).send({ status: 'paused' })).status).toBe(
      200,
    );
    expect(await gone).toBe(FEED_ACCESS_REVOKED);
    const refused = await upgradeStatus(h.main.wsUrl, bearer(apiKey));
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'buyer_paused' });

    expect((await h.http.patch(`/v1/buyers/${buyer.id}`).set(bearer(adminKey)).send({ status: 'active' })).status).toBe(
      200,
    );
    const back = await connectFeed(h.main.wsUrl, apiKey);
    await back.next((m) => m.type === 'snapshot');
    await back.close();
  });
});

describe('failed logins throttle failing attempts only (medium)', () => {
  test('an address that used up its failed attempts gets 429 for bad keys, while a valid key from it still works (a claim included)', async () => {
    const strict = await h.startInstance({
      rateLimits: {
        authFailures: { capacity: 5, refillPerSecond: 0.01 },
        claims: { capacity: 100, refillPerSecond: 100 },
      },
    });
    try {
      const { adminKey } = await apiAgency(h);
      const { apiKey } = await apiBuyer(h, adminKey, { credits: 100 });
      const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
      const offer = await offerOfLead(h, (await apiLead(h, adminKey, campaign.id)).id);
      for (let i = 0; i < 5; i++)
        expect((await strict.http.get('/v1/me').set(bearer(`lw_buyer_bad${i}`))).status).toBe(401);
      const blocked = await strict.http.get('/v1/me').set(bearer('lw_buyer_bad-next'));
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await strict.http.get('/v1/me').set(bearer(apiKey))).status).toBe(200);
      const claim = await strict.http
        .post(`/v1/offers/${offer.id}/claim`)
        .set(bearer(apiKey))
        .send({ requestId: 'valid-while-limited' });
      expect(claim.status).toBe(200);
      expect(claim.body.result).toBe('won');
      // The feed's upgrade: a bad key still 429, a good one connects.
      expect((await upgradeStatus(strict.wsUrl, bearer('lw_buyer_bad-ws'))).status).toBe(429);
      const feed = await connectFeed(strict.wsUrl, apiKey);
      await feed.next((m) => m.type === 'snapshot');
      await feed.close();
    } finally {
      await strict.close();
    }
  });

  test('with trust proxy, the limit is per forwarded client on REST and on the feed: one client with a stale key locks out no one else', async () => {
    const proxied = await h.startInstance({
      trustProxy: 'loopback',
      rateLimits: { authFailures: { capacity: 3, refillPerSecond: 0.01 } },
    });
    try {
      const stale = { ...bearer('lw_buyer_expired'), 'X-Forwarded-For': '203.0.113.9' };
      for (let i = 0; i < 3; i++) expect((await proxied.http.get('/v1/me').set(stale)).status).toBe(401);
      expect((await proxied.http.get('/v1/me').set(stale)).status).toBe(429);
      // The same client is limited on the feed's upgrade too (one identity for both).
      expect((await upgradeStatus(proxied.wsUrl, stale)).status).toBe(429);
      // Another client behind the same proxy is not.
      const other = { ...bearer('lw_buyer_typo'), 'X-Forwarded-For': '198.51.100.4' };
      expect((await proxied.http.get('/v1/me').set(other)).status).toBe(401);
      expect((await upgradeStatus(proxied.wsUrl, other)).status).toBe(401);
    } finally {
      await proxied.close();
    }
  });
});

describe('pagination cursors are validated strictly (low-medium)', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
  const BAD = [
    b64(['2026-02-30T00:00:00.000000Z', '00000000-0000-0000-0000-000000000000']),
    b64(['0000-01-01T00:00:00.000000Z', '00000000-0000-0000-0000-000000000000']),
    b64(['2026-01-01T24:00:00.000000Z', '00000000-0000-0000-0000-000000000000']),
    b64(['2026-04-31T12:00:00.000000Z', '00000000-0000-0000-0000-000000000000']),
  ];

  test('an impossible date in the cursor is a 400 naming cursor on every paginated route', async () => {
    const { adminKey } = await apiAgency(h);
    const { buyer, apiKey } = await apiBuyer(h, adminKey);
    const source = await apiSourceFor(h, adminKey, (await apiCampaign(h, adminKey)).id);
    const paginated = h.main.api.routes.filter(
      (r) => r.method === 'get' && r.query && 'cursor' in ((r.query as unknown as { shape?: object }).shape ?? {}),
    );
    // The ten of the first release, and those the buyer's and the supply side's routes added since.
    expect(paginated.length).toBeGreaterThanOrEqual(10);
    for (const route of paginated) {
      const key = route.roles.includes('admin') ? adminKey : route.roles.includes('buyer') ? apiKey : source.apiKey;
      const path = route.path.replace(':id', route.path.startsWith('/v1/sources/') ? source.source.id : buyer.id);
      for (const cursor of BAD) {
        const res = await h.http.get(path).query({ cursor }).set(bearer(key));
        expect([route.path, res.status, res.body.errors?.[0]?.path]).toEqual([route.path, 400, 'cursor']);
      }
      // A real date still pages (a report's cursor is a position in its groups, not a [date, id] key).
      if (route.path === '/v1/reports') continue;
      const ok = await h.http
        .get(path)
        .query({ cursor: b64(['2024-02-29T23:59:59.999999Z', '00000000-0000-0000-0000-000000000000']) })
        .set(bearer(key));
      expect([route.path, ok.status]).toEqual([route.path, 200]);
    }
  });
});

describe('requests in flight are bounded (low)', () => {
  /** Sends `n` pipelined requests on one raw connection; resolves with the statuses and the raw answer. */
  async function pipelined(port: number, request: string, n: number): Promise<{ statuses: number[]; raw: string }> {
    const socket = net.connect(port, '127.0.0.1');
    let raw = '';
    socket.on('data', (c: Buffer) => (raw += c.toString()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(request.repeat(n));
    const statusLines = () => raw.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    const deadline = Date.now() + 60_000;
    while (statusLines().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    return { statuses: statusLines().map((l) => Number(l.slice(9))), raw };
  }
  const get = (path: string, key: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`;

  test('one connection pipelining many requests gets 429 too_many_in_flight beyond the bound, while another client is served', async () => {
    const bounded = await h.startInstance({ inFlight: { perConnection: 4, perKey: 1000 } });
    try {
      const { adminKey } = await apiAgency(h);
      const { port } = bounded.server.address() as net.AddressInfo;
      const N = 200;
      const flood = pipelined(port, get('/v1/me', adminKey), N);
      // Meanwhile, another client is answered.
      expect((await bounded.http.get('/v1/me').set(bearer(adminKey))).status).toBe(200);
      const { statuses, raw } = await flood;
      expect(statuses).toHaveLength(N);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(N / 2);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      expect(raw).toContain('"code":"too_many_in_flight"');
    } finally {
      await bounded.close();
    }
  });

  test('one key over many connections is bounded too; another key is unaffected', async () => {
    const bounded = await h.startInstance({ inFlight: { perConnection: 100, perKey: 3 } });
    try {
      const { adminKey } = await apiAgency(h);
      const { apiKey } = await apiBuyer(h, adminKey);
      const { port } = bounded.server.address() as net.AddressInfo;
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => pipelined(port, get('/v1/buyers', adminKey), 5)),
      );
      const statuses = answers.flatMap((a) => a.statuses);
      expect(statuses).toHaveLength(50);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      expect(answers.map((a) => a.raw).join('')).toContain('"code":"too_many_in_flight"');
      expect((await bounded.http.get('/v1/me').set(bearer(apiKey))).status).toBe(200);
    } finally {
      await bounded.close();
    }
  });
});
