/**
 * A buyer endpoint's status query (#22 item 4), through the post activity, against real local endpoint servers and
 * the real Postgres: a post that times out is asked about under its key before it is resent – the status query's
 * accepted is a sale charged once (the accepted status answer in the log is the sale's proof), its rejected a
 * refusal whose reserve goes back, anything else (a 500) leaves the send unanswered and the post resent, then
 * `unknown` as before; without a status query, nothing changes. The endpoint report counts the post once.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';

import { endpointActivities, POST_SENDS } from '../../activities/endpoints';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import { endpointOfBuyer, listEndpointCalls, saveEndpoint } from '../../db/endpoints';
import { createInProcessBus } from '../../db/offer-bus';
import { leadTimeline } from '../../db/offers';
import { endpointReport } from '../../db/reports';
import { releaseBid, reserveBid, sellAcceptedPost } from '../../db/sales';
import { ledgerEntries } from '../../db/schema';
import { endpointPostKey } from '../../domain/ids';
import { openTestPostgres } from '../helpers/db';
import {
  BEHAVIOURS,
  endpointFleetForFile,
  endpointOffer,
  fleetEndpointSettings,
  fleetStatusQuery,
  postsTo,
  type Script,
  statusQueriesTo,
} from '../helpers/endpoint-fleet';
import { balanceOf } from '../helpers/lifecycle';
import { makeAgency, makeBuyer } from '../helpers/world';

let database: Database;
const fleet = endpointFleetForFile();

beforeAll(async () => {
  database = await openTestPostgres();
});

afterAll(async () => {
  await database.close();
});

const ALL_TIME = { from: null, to: null, timeZone: 'UTC' };

const activities = () =>
  endpointActivities({ db: database.db, bus: createInProcessBus(), delivery: { allowlist: '127.0.0.1' } });

/** A buyer with 100 credits whose endpoint is a fleet server answering `script` (300 ms timeout), and its open offer. */
async function world(script: Script, opts: { statusQuery: boolean }) {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const { lead, offerId } = await endpointOffer(db, agency.id, [buyer.id]);
  const server = await fleet.add(script);
  const settings = fleetEndpointSettings(server, {
    timeoutMs: 300,
    ...(opts.statusQuery ? fleetStatusQuery(server) : {}),
  });
  const endpoint = await saveEndpoint(db, { agencyId: agency.id, buyerId: buyer.id, settings, by: SYSTEM });
  if (endpoint === 'missing_secret') throw new Error('missing secret');
  const key = endpointPostKey(offerId, buyer.id);
  await reserveBid(db, { offerId, buyerId: buyer.id, amount: 40 });
  const input = { leadId: lead.id, buyerId: buyer.id, pingId: 'p-1', bid: 40, idempotencyKey: key, offerId };
  return { agency, buyer, lead, offerId, server, endpoint, key, input };
}

const entriesOf = (offerId: string, buyerId: string) =>
  database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.offerId, offerId), eq(ledgerEntries.buyerId, buyerId)));

/** The post activity as its `attempt`-th send (the activity's retry is the resend). */
const sendAs = (attempt: number, input: Parameters<ReturnType<typeof activities>['postToEndpoint']>[0]) =>
  new MockActivityEnvironment({ attempt }).run(activities().postToEndpoint, input);

test('a post that times out and whose status query says accepted is accepted: the sale charges once, with the status answer as its proof', async () => {
  const db = database.db;
  const w = await world(BEHAVIOURS.postTimesOut({ answer: 'accept' }), { statusQuery: true });

  // The first send: the post times out, the status query (asked before any resend) answers accepted.
  expect(await sendAs(1, w.input)).toMatchObject({ result: 'accepted', outcome: 'accepted' });
  expect(postsTo(w.server)).toHaveLength(1);
  const [query] = statusQueriesTo(w.server);
  expect(query).toMatchObject({ method: 'GET', path: `/status?idempotency_key=${encodeURIComponent(w.key)}` });
  expect(query!.headers['idempotency-key']).toBe(w.key);

  // The log: the post unknown, then the status query under the same key, logged as the post's call.
  const calls = (await listEndpointCalls(db, w.endpoint.id)).reverse();
  expect(calls.map((c) => [c.kind, c.step, c.outcome, c.idempotencyKey])).toEqual([
    ['post', 'post', 'unknown', w.key],
    ['post', 'status', 'accepted', w.key],
  ]);
  expect(calls[1]!.request).toMatchObject({
    method: 'GET',
    url: `${w.server.statusUrl}?idempotency_key=${encodeURIComponent(w.key)}`,
  });

  // The sale goes on exactly as for an accepted post: charged once, a retry charges nothing more.
  expect(await sellAcceptedPost(db, { offerId: w.offerId, buyerId: w.buyer.id, price: 40 })).toMatchObject({
    result: 'won',
    charged: 40,
  });
  await sellAcceptedPost(db, { offerId: w.offerId, buyerId: w.buyer.id, price: 40 });
  expect(await balanceOf(db, w.buyer.id)).toBe(60);
  expect((await entriesOf(w.offerId, w.buyer.id)).map((e) => [e.kind, e.amount]).sort()).toEqual([
    ['charge', -40],
    ['release', 40],
    ['reserve', -40],
  ]);
  const types = (await leadTimeline(db, w.lead.id)).map((e) => e.type);
  expect(types.filter((t) => ['posted', 'post_accepted', 'won'].includes(t))).toEqual([
    'posted',
    'post_accepted',
    'won',
  ]);

  // The report: one post, accepted, not unknown; the status query is not a second post, nor a timeout.
  const [row] = await endpointReport(db, w.agency.id, ALL_TIME);
  expect(row).toMatchObject({ posts: 1, postsAccepted: 1, postsUnknown: 0, timeouts: 0 });
});

test('a post that times out and whose status query says rejected is rejected with the reason: nothing charged, the reserve released', async () => {
  const db = database.db;
  const w = await world(BEHAVIOURS.postTimesOut({ answer: 'reject', reason: 'duplicate lead' }), { statusQuery: true });

  expect(await sendAs(1, w.input)).toMatchObject({ result: 'rejected', outcome: 'rejected', reason: 'duplicate lead' });
  expect(postsTo(w.server)).toHaveLength(1);
  await expect(sellAcceptedPost(db, { offerId: w.offerId, buyerId: w.buyer.id, price: 40 })).rejects.toThrow(
    /no accepted post/,
  );
  expect(await releaseBid(db, { offerId: w.offerId, buyerId: w.buyer.id })).toBe(true);
  expect(await balanceOf(db, w.buyer.id)).toBe(100);
  expect((await entriesOf(w.offerId, w.buyer.id)).map((e) => e.kind).sort()).toEqual(['release', 'reserve']);
  const timeline = await leadTimeline(db, w.lead.id);
  expect(timeline.find((e) => e.type === 'post_rejected')).toMatchObject({ reason: 'duplicate lead' });
  const [row] = await endpointReport(db, w.agency.id, ALL_TIME);
  expect(row).toMatchObject({ posts: 1, postsAccepted: 0, postsUnknown: 0 });
});

test('a status query that answers 500 resolves nothing: the post is resent, then unknown as before', async () => {
  const db = database.db;
  const w = await world(BEHAVIOURS.postTimesOut({ answer: 'status', status: 500 }), { statusQuery: true });

  for (let attempt = 1; attempt < POST_SENDS; attempt++)
    await expect(sendAs(attempt, w.input)).rejects.toThrow(/unanswered.*sending it again/);
  expect(await sendAs(POST_SENDS, w.input)).toMatchObject({ result: 'unknown', outcome: 'unknown' });
  // Each send asked once, after its post.
  expect(postsTo(w.server)).toHaveLength(POST_SENDS);
  expect(statusQueriesTo(w.server)).toHaveLength(POST_SENDS);
  const calls = (await listEndpointCalls(db, w.endpoint.id)).reverse();
  expect(calls.map((c) => `${c.step} ${c.outcome}`)).toEqual(
    Array.from({ length: POST_SENDS }, () => ['post unknown', 'status error']).flat(),
  );
  await expect(sellAcceptedPost(db, { offerId: w.offerId, buyerId: w.buyer.id, price: 40 })).rejects.toThrow(
    /no accepted post/,
  );
  expect(await balanceOf(db, w.buyer.id)).toBe(60); // still reserved: the lead goes to review as post_unknown
  const [row] = await endpointReport(db, w.agency.id, ALL_TIME);
  expect(row).toMatchObject({ posts: 1, postsAccepted: 0, postsUnknown: 1 });
  // The status queries' errors did not lengthen the run of failures: only the unanswered sends did.
  expect((await endpointOfBuyer(db, w.buyer.id))!.consecutiveFailures).toBe(POST_SENDS);
});

test('without a status query nothing changes: the post is resent, then unknown, and nothing is asked', async () => {
  const w = await world(BEHAVIOURS.postTimesOut({ answer: 'accept' }), { statusQuery: false });
  for (let attempt = 1; attempt < POST_SENDS; attempt++)
    await expect(sendAs(attempt, w.input)).rejects.toThrow(/unanswered/);
  expect(await sendAs(POST_SENDS, w.input)).toMatchObject({ result: 'unknown', outcome: 'unknown' });
  expect(postsTo(w.server)).toHaveLength(POST_SENDS);
  expect(statusQueriesTo(w.server)).toHaveLength(0);
  const calls = await listEndpointCalls(database.db, w.endpoint.id);
  expect(calls.every((c) => c.step === 'post')).toBe(true);
});

test('a POST status query with a template sends the post’s key, lead and ping ids in the buyer’s names', async () => {
  const w = await world(BEHAVIOURS.postTimesOut({ answer: 'accept' }), { statusQuery: true });
  const settings = fleetEndpointSettings(w.server, {
    timeoutMs: 300,
    ...fleetStatusQuery(w.server),
    statusMethod: 'POST',
    statusTemplate: { ref: '{{idempotencyKey}}', lead: '{{leadId}}', ping: 'p:{{pingId}}' },
  });
  await saveEndpoint(database.db, { agencyId: w.agency.id, buyerId: w.buyer.id, settings, by: SYSTEM });
  expect(await sendAs(1, w.input)).toMatchObject({ result: 'accepted' });
  const [query] = statusQueriesTo(w.server);
  expect(query!.method).toBe('POST');
  expect(query!.headers['content-type']).toBe('application/json');
  expect(JSON.parse(query!.body)).toEqual({ ref: w.key, lead: w.lead.id, ping: 'p:p-1' });
});
