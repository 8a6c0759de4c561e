/**
 * A feed that heals (issue 16, item 2), on the real API, worker, dev server
 * and Postgres with the LISTEN/NOTIFY bus of a multi-process deployment:
 * - the LISTEN connection killed from the server side (`pg_terminate_backend`)
 *   while buyers are connected: offers opened during and after the cut reach
 *   every client (a resync snapshot brings them up to date), and the bus
 *   state shows on /readyz and /metrics;
 * - a client that reconnects with its cursor (`?since=<seq>`) misses nothing:
 *   the offers opened meanwhile are in its snapshot, and the one it had on
 *   screen that closed meanwhile is closed with its outcome;
 * - a half-open LISTEN connection (a stalled proxy) is found by the
 *   keepalive and replaced.
 */
import type { Pool } from 'pg';
import WebSocket from 'ws';

import { BUS_APPLICATION_NAME, createPostgresBus } from '../../db/offer-bus';
import { startPgProxy } from '../faults/pg-proxy';
import { eventually } from '../helpers/temporal';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  type FeedClient,
  feedMessagesOffSchema,
  type Harness,
  startHarness,
} from './harness';
import { offerOfLead, winOffer } from './world';

jest.setTimeout(120_000);

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ bus: 'postgres' });
});

afterAll(async () => {
  await h?.close();
});

/** Whether the client has the offer of this lead: as `offer.opened`, or in a snapshot. */
const hasOfferOf = (feed: FeedClient, leadId: string) =>
  feed.messages.some(
    (m) =>
      (m.type === 'offer.opened' && (m.offer as { leadId: string }).leadId === leadId) ||
      (m.type === 'snapshot' && (m.offers as { leadId: string }[]).some((o) => o.leadId === leadId)),
  );

test('the LISTEN connection killed from the server side: offers opened during and after the cut reach every client; /readyz and /metrics show the bus', async () => {
  const { adminKey } = await apiAgency(h);
  const buyers = [
    await apiBuyer(h, adminKey, { credits: 100 }),
    await apiBuyer(h, adminKey, { credits: 100 }),
    await apiBuyer(h, adminKey, { credits: 100 }),
  ];
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 120 });
  const feeds = await Promise.all(buyers.map((b) => connectFeed(h.main.wsUrl, b.apiKey)));
  for (const f of feeds) await f.next((m) => m.type === 'snapshot');
  expect((await h.http.get('/readyz')).body).toMatchObject({ status: 'ready', bus: true });

  const pool = h.database.raw as Pool;
  const killed = await pool.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
    [BUS_APPLICATION_NAME],
  );
  expect(killed.rowCount).toBeGreaterThanOrEqual(1);
  const during = await apiLead(h, adminKey, campaign.id); // published while the gateways are not listening
  await eventually(
    async () => (h.main.bus.state().connected && h.main.bus.state().reconnects >= 1) || undefined,
    30_000,
    'the bus to reconnect',
  );
  const after = await apiLead(h, adminKey, campaign.id);

  for (const f of feeds) {
    await eventually(
      async () => (hasOfferOf(f, during.id) && hasOfferOf(f, after.id)) || undefined,
      30_000,
      `both offers on every feed; got ${JSON.stringify(f.messages).slice(0, 1500)}`,
    );
    expect(f.messages.some((m) => m.type === 'snapshot' && m.resync === true)).toBe(true);
    for (const m of f.messages.filter((x) => ['snapshot', 'offer.opened', 'offer.closed'].includes(String(x.type))))
      expect(m.seq).toEqual(expect.any(Number));
  }
  expect((await h.http.get('/readyz')).body).toMatchObject({ status: 'ready', bus: true });
  const metrics = await h.http.get('/metrics');
  expect(metrics.text).toMatch(/^leadwire_feed_bus_connected 1$/m);
  expect(metrics.text).toMatch(/^leadwire_feed_bus_reconnects_total [1-9]\d*$/m);
  for (const f of feeds) await f.close();
});

test('a client that reconnects with its cursor misses nothing: offers opened while away are in its snapshot, the one it had closes with its outcome', async () => {
  const { adminKey } = await apiAgency(h);
  const away = await apiBuyer(h, adminKey, { credits: 100 });
  const rival = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 120 });
  const feed = await connectFeed(h.main.wsUrl, away.apiKey);
  await feed.next((m) => m.type === 'snapshot');
  const first = await apiLead(h, adminKey, campaign.id);
  const opened = await feed.next(
    (m) => m.type === 'offer.opened' && (m.offer as { leadId: string }).leadId === first.id,
  );
  const cursor = Math.max(...feed.messages.map((m) => (typeof m.seq === 'number' ? m.seq : 0)));
  await feed.close();

  // While it is away: the rival takes the first offer, and a second one opens.
  const offer = await offerOfLead(h, first.id);
  expect(offer.id).toBe((opened.offer as { id: string }).id);
  await winOffer(h, rival.apiKey, offer.id);
  await offerOfLead(h, first.id, 'won');
  const second = await apiLead(h, adminKey, campaign.id);
  const secondOffer = await offerOfLead(h, second.id);

  const back = await connectFeed(`${h.main.wsUrl}?since=${cursor}`, away.apiKey);
  const snapshot = await back.next((m) => m.type === 'snapshot');
  expect((snapshot.offers as { id: string }[]).map((o) => o.id)).toContain(secondOffer.id);
  expect((snapshot.offers as { id: string }[]).map((o) => o.id)).not.toContain(offer.id);
  expect(await back.next((m) => m.type === 'offer.closed' && m.offerId === offer.id)).toMatchObject({
    outcome: 'taken',
    seq: expect.any(Number),
  });
  await back.close();

  // A malformed cursor is refused, naming it.
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${h.main.wsUrl}?since=yesterday`, { headers: bearer(away.apiKey) });
    ws.on('error', () => undefined);
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
  });
  expect(refused).toBe(400);
});

test('a half-open LISTEN connection is found by the keepalive and replaced; subscribers are told to resync and hear events again', async () => {
  const url = new URL(h.database.url!);
  const proxy = await startPgProxy({ host: url.hostname, port: Number(url.port || 5432) });
  const bus = createPostgresBus(proxy.urlFor(h.database.url!), h.database.raw as Pool, {
    keepaliveMs: 300,
    keepaliveTimeoutMs: 200,
  });
  try {
    const heard: string[] = [];
    let resyncs = 0;
    bus.subscribe((e) => e.type !== 'buyer.access' && heard.push(e.offerId));
    bus.onResync(() => resyncs++);
    await bus.ready();
    expect(bus.state()).toEqual({ connected: true, reconnects: 0 });

    proxy.stall(); // the connection stays open but nothing comes back: half-open
    await eventually(async () => !bus.state().connected || undefined, 20_000, 'the keepalive to notice');
    proxy.resume();
    await eventually(
      async () => (bus.state().connected && resyncs === 1) || undefined,
      30_000,
      'a new LISTEN connection and a resync',
    );
    expect(bus.state().reconnects).toBe(1);

    await bus.publish({
      type: 'offer.opened',
      offerId: '00000000-0000-4000-8000-000000000001',
      agencyId: '00000000-0000-4000-8000-000000000002',
    });
    await eventually(
      async () => heard.includes('00000000-0000-4000-8000-000000000001') || undefined,
      10_000,
      'the event after the repair',
    );
  } finally {
    await bus.close();
    await proxy.close();
  }
});

test('every message the gateway sent in this file is one its schemas admit (api/feed-messages.ts)', () => {
  expect(feedMessagesOffSchema()).toEqual([]);
});
