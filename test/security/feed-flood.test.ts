/**
 * One socket must not slow everyone (issue 27, item 2), at the documented
 * frame limit (FEED_FRAME_LIMIT): a buyer's socket that floods the gateway
 * with 10,000 frames – malformed JSON, unknown types, invalid messages,
 * `viewed` of offers it cannot see – is closed with the documented code
 * (4429) after exactly the documented number of frames over the limit; the
 * frames over the limit cost no reply and no database statement; the frames
 * handled cost no statement when invalid and at most two reads per offer
 * and socket for `viewed`. Statements are counted on the instance's own
 * database handle. Meanwhile another buyer's socket and REST calls are
 * served, and the flooder's key cannot open a new socket at once (429 for
 * the documented cooldown). No clocks: only counts.
 */
import crypto from 'node:crypto';

import WebSocket from 'ws';

import { FEED_CLOSE_CODES, FEED_FRAME_LIMIT } from '../../api/feed-messages';
import type { Db } from '../../db/connection';
import {
  apiAgency,
  apiBuyer,
  type ApiInstance,
  bearer,
  connectFeed,
  type Harness,
  RELAXED_LIMITS,
  startHarness,
} from '../api/harness';
import { sample } from '../helpers/metrics';

jest.setTimeout(120_000);

let h: Harness;
let instance: ApiInstance;
/** Statements the instance started on its database handle. */
let statements = 0;

/** The database handle, counting every statement begun on it (queries, inserts, updates, deletes, transactions). */
function counting(db: Db): Db {
  const starts = new Set(['select', 'selectDistinct', 'insert', 'update', 'delete', 'execute', 'transaction', 'query']);
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && starts.has(prop)) statements++;
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

beforeAll(async () => {
  h = await startHarness();
  instance = await h.startInstance({
    db: counting(h.database.db),
    // The documented frame limit; the other limits stay out of the way.
    rateLimits: { ...RELAXED_LIMITS, feedFrames: FEED_FRAME_LIMIT },
    // No heartbeat during the test: its access re-check would be a statement of its own.
    feedPingIntervalMs: 600_000,
  });
});

afterAll(async () => {
  await h?.close();
});

/** A flood of `n` frames of every hostile kind; `viewed` names one of `ids` (offers this buyer cannot see). */
function floodFrames(n: number, ids: string[]): string[] {
  const kinds = [
    () => '{not json',
    () => JSON.stringify({ type: 'subscribe', channel: '*' }),
    () => JSON.stringify({ type: 'claim', offerId: 'not-a-uuid' }),
    (i: number) => JSON.stringify({ type: 'viewed', offerId: ids[i % ids.length] }),
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]!(i));
}

test('a socket flooding 10,000 frames is closed with 4429 after exactly the documented frames over its limit; the flood costs a bounded number of statements; others are served', async () => {
  const { adminKey } = await apiAgency(h);
  const flooder = await apiBuyer(h, adminKey);
  const other = await apiBuyer(h, adminKey, { credits: 40 });
  const bystander = await connectFeed(instance.wsUrl, other.apiKey);
  await bystander.next((m) => m.type === 'snapshot');

  const ws = new WebSocket(instance.wsUrl, { headers: bearer(flooder.apiKey) });
  const received: Record<string, unknown>[] = [];
  ws.on('message', (data) => received.push(JSON.parse(String(data)) as Record<string, unknown>));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve) => ws.once('message', () => resolve())); // the snapshot
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

  const metricsBefore = (await instance.http.get('/metrics')).text;
  const handledBefore = sample(metricsBefore, 'leadwire_feed_frames_total', { outcome: 'handled' }) ?? 0;
  const droppedBefore = sample(metricsBefore, 'leadwire_feed_frames_total', { outcome: 'dropped' }) ?? 0;
  const closesBefore = sample(metricsBefore, 'leadwire_feed_rate_limited_closes_total') ?? 0;
  const statementsBefore = statements;

  // Offers this buyer cannot see: the flood names each of them many times.
  const invisible = Array.from({ length: 5 }, () => crypto.randomUUID());
  const frames = floodFrames(10_000, invisible);
  for (const frame of frames) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(frame);
  }
  expect(await closed).toBe(FEED_CLOSE_CODES.frame_rate_exceeded.code);
  const flooded = received.length - 1; // after the snapshot

  const metricsAfter = (await instance.http.get('/metrics')).text;
  const handled = (sample(metricsAfter, 'leadwire_feed_frames_total', { outcome: 'handled' }) ?? 0) - handledBefore;
  const dropped = (sample(metricsAfter, 'leadwire_feed_frames_total', { outcome: 'dropped' }) ?? 0) - droppedBefore;
  // Exactly the documented number of frames over the limit, the last of which closed the socket.
  expect(dropped).toBe(FEED_FRAME_LIMIT.closeAfter);
  expect((sample(metricsAfter, 'leadwire_feed_rate_limited_closes_total') ?? 0) - closesBefore).toBe(1);
  // The burst was handled; the 10,000 were not.
  expect(handled).toBeGreaterThanOrEqual(FEED_FRAME_LIMIT.burst);
  expect(handled + dropped).toBeLessThan(frames.length / 10);
  // Replies: one per handled frame that needed one, one `rate_limited` per run of dropped frames, and the close's.
  const rateLimited = received.filter((m) => m.type === 'error' && m.code === 'rate_limited');
  expect(rateLimited.length).toBeGreaterThanOrEqual(2); // the first dropped frame's, and the one before the close
  expect(flooded).toBeLessThanOrEqual(handled + rateLimited.length);
  // Every reply an error, none an internal one.
  expect(received.slice(1).every((m) => m.type === 'error' && m.code !== 'internal_error')).toBe(true);

  // Statements: none for malformed, unknown or invalid frames, none for dropped ones, and for `viewed` two reads
  // per offer at most (is it targeted at this buyer, and what is it), once per socket: the repeats cost nothing.
  // (The two /metrics scrapes read the open offers, one statement each.)
  expect(statements - statementsBefore).toBeLessThanOrEqual(2 * invisible.length + 2);

  // The other buyer's socket and REST calls are served.
  bystander.send({ type: 'viewed', offerId: crypto.randomUUID() });
  expect(await bystander.next((m) => m.type === 'error' && m.code === 'not_found')).toBeTruthy();
  expect((await instance.http.get('/v1/me/wallet').set(bearer(other.apiKey))).body).toMatchObject({ balance: 40 });
  await bystander.close();

  // The flooder's key may not start over at once on a new socket: its upgrades are refused for the cooldown,
  // with the wait in Retry-After (no socket, no snapshot).
  const refused = await new Promise<{ status: number; retryAfter: number }>((resolve, reject) => {
    const ws = new WebSocket(instance.wsUrl, { headers: bearer(flooder.apiKey) });
    ws.on('error', () => undefined);
    ws.once('open', () => reject(new Error('the upgrade was accepted during the cooldown')));
    ws.once('unexpected-response', (_req, res) =>
      resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after']) }),
    );
  });
  expect(refused.status).toBe(429);
  expect(refused.retryAfter).toBeGreaterThanOrEqual(1);
  expect(refused.retryAfter).toBeLessThanOrEqual(FEED_FRAME_LIMIT.cooldownSeconds);
  // Only that key: the other buyer connects as ever.
  const another = await connectFeed(instance.wsUrl, other.apiKey);
  await another.next((m) => m.type === 'snapshot');
  await another.close();
});

test('a burst of frames up to the limit is handled whole: each gets its answer, the socket stays open', async () => {
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey);
  const feed = await connectFeed(instance.wsUrl, buyer.apiKey);
  await feed.next((m) => m.type === 'snapshot');
  const statementsBefore = statements;
  for (let i = 0; i < FEED_FRAME_LIMIT.burst; i++) feed.send({ type: 'nonsense', i });
  await feed.next(() => feed.messages.filter((m) => m.code === 'unknown_type').length === FEED_FRAME_LIMIT.burst);
  expect(feed.messages.filter((m) => m.code === 'rate_limited')).toEqual([]);
  expect(feed.ws.readyState).toBe(WebSocket.OPEN);
  // An unknown type costs the database nothing.
  expect(statements - statementsBefore).toBe(0);
  await feed.close();
});
