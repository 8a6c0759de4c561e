/**
 * The buyer endpoints' report (#22 item 5, db/reports.ts `endpointReport`)
 * against what was really done: calls made by the activities to a fleet of
 * real local endpoint servers (bids, a refusal, timeouts, a post accepted and
 * resent with the same Idempotency-Key, a post refused, a post left unknown)
 * and counted by the test from the answers; a test call that never counts; the
 * log's last 100 calls while the report keeps every one; and, as a property,
 * random call logs folded by a model of the figures.
 */
import fc from 'fast-check';

import { endpointActivities, type PingAnswer } from '../../activities/endpoints';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import { listEndpointCalls, recordEndpointCall, saveEndpoint } from '../../db/endpoints';
import { createInProcessBus } from '../../db/offer-bus';
import { type DateRange, endpointReport, type EndpointReportRow } from '../../db/reports';
import { ENDPOINT_CALL_OUTCOMES, ENDPOINT_LOG_SIZE, type EndpointCall } from '../../domain/endpoints';
import { openTestPostgres } from '../helpers/db';
import {
  BEHAVIOURS,
  type Fleet,
  fleetEndpointSettings,
  type FleetServer,
  startEndpointFleet,
} from '../helpers/endpoint-fleet';
import { leadFields, makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

jest.setTimeout(120_000);

let database: Database;
let fleet: Fleet;

beforeAll(async () => {
  database = await openTestPostgres();
  fleet = startEndpointFleet();
});

afterAll(async () => {
  await fleet.close();
  await database.close();
});

const ALL_TIME: DateRange = { from: null, to: null, timeZone: 'UTC' };

/** A buyer of the agency whose endpoint is this fleet server (or a server never called). */
async function buyerWithEndpoint(agencyId: string, urls: Pick<FleetServer, 'pingUrl' | 'postUrl'>, timeoutMs = 1500) {
  const buyer = await makeBuyer(database.db, agencyId);
  const settings = fleetEndpointSettings(urls, { timeoutMs });
  const endpoint = await saveEndpoint(database.db, { agencyId, buyerId: buyer.id, settings, by: SYSTEM });
  if (endpoint === 'missing_secret') throw new Error('no secret is needed');
  return { buyer, endpoint };
}

const row = (rows: EndpointReportRow[], buyerId: string) => rows.find((r) => r.buyerId === buyerId);

test('the report counts the pings, bids, posts and timeouts the activities made against real endpoints', async () => {
  const agency = await makeAgency(database.db);
  const campaign = await makeCampaign(database.db, agency.id);
  const activities = endpointActivities({
    db: database.db,
    bus: createInProcessBus(),
    delivery: { allowlist: '127.0.0.1' },
  });
  const at30 = await buyerWithEndpoint(agency.id, await fleet.add(BEHAVIOURS.bid(30)));
  const at50 = await buyerWithEndpoint(agency.id, await fleet.add(BEHAVIOURS.bid(50)));
  const refusing = await buyerWithEndpoint(agency.id, await fleet.add(BEHAVIOURS.reject('not our area')));
  const slow = await buyerWithEndpoint(agency.id, await fleet.add(BEHAVIOURS.slow(2000)), 200);
  const postRefusing = await buyerWithEndpoint(agency.id, await fleet.add(BEHAVIOURS.acceptPingRejectPost(40)));
  const idle = await buyerWithEndpoint(agency.id, await fleet.add(BEHAVIOURS.bid(10)));
  const withoutEndpoint = await makeBuyer(database.db, agency.id);
  const pinged = [at30, at50, refusing, slow, postRefusing];

  const leads = [];
  for (let i = 0; i < 2; i++) leads.push(await makeLead(database.db, agency.id, campaign.id, leadFields()));
  const answers: PingAnswer[] = [];
  for (const lead of leads) {
    answers.push(
      ...(await activities.pingEndpoints({
        leadId: lead.id,
        buyerIds: pinged.map((b) => b.buyer.id),
        deadlineMs: 1500,
      })),
    );
  }
  const post = (buyerId: string, leadId: string, idempotencyKey: string) =>
    activities.postToEndpoint({ leadId, buyerId, pingId: null, bid: null, idempotencyKey });
  const posts = [
    await post(at50.buyer.id, leads[0]!.id, 'sale-1'),
    await post(at50.buyer.id, leads[0]!.id, 'sale-1'), // a resend after a crash: the same post
    await post(postRefusing.buyer.id, leads[0]!.id, 'sale-2'),
    await post(at30.buyer.id, leads[1]!.id, 'sale-3'),
    await post(slow.buyer.id, leads[1]!.id, 'sale-4'),
  ];
  expect(posts.map((p) => p.result)).toEqual(['accepted', 'accepted', 'rejected', 'accepted', 'unknown']);
  // A test call from the console: logged, never counted.
  await recordEndpointCall(database.db, {
    endpointId: at30.endpoint.id,
    leadId: null,
    kind: 'test',
    step: 'ping',
    request: { method: 'POST', url: 'http://127.0.0.1/ping', headers: {}, body: '{}' },
    response: { status: 200, body: '{}' },
    latencyMs: 3,
    outcome: 'accepted',
    bid: 999,
  });

  // What the answers say, buyer by buyer.
  const of = (buyerId: string) => answers.filter((a) => a.buyerId === buyerId);
  const bids = (buyerId: string) => of(buyerId).filter((a) => a.outcome === 'accepted');
  expect(bids(at30.buyer.id).map((a) => a.bid)).toEqual([30, 30]);
  expect(of(slow.buyer.id).map((a) => a.outcome)).toEqual(['timeout', 'timeout']);

  const rows = await endpointReport(database.db, agency.id, ALL_TIME);
  const zero = {
    pings: 0,
    bids: 0,
    avgBid: null,
    posts: 0,
    postsAccepted: 0,
    postAcceptanceRate: null,
    postsUnknown: 0,
    timeouts: 0,
  };
  expect(row(rows, at30.buyer.id)).toMatchObject({
    pings: 2,
    bids: 2,
    avgBid: 30,
    posts: 1,
    postsAccepted: 1,
    postAcceptanceRate: 1,
    postsUnknown: 0,
    timeouts: 0,
  });
  expect(row(rows, at50.buyer.id)).toMatchObject({
    pings: 2,
    bids: 2,
    avgBid: 50,
    posts: 1,
    postsAccepted: 1,
    postAcceptanceRate: 1,
    timeouts: 0,
  });
  expect(row(rows, refusing.buyer.id)).toMatchObject({ ...zero, pings: 2 });
  expect(row(rows, slow.buyer.id)).toMatchObject({
    pings: 2,
    bids: 0,
    posts: 1,
    postsAccepted: 0,
    postAcceptanceRate: 0,
    postsUnknown: 1,
    timeouts: 2,
  });
  expect(row(rows, postRefusing.buyer.id)).toMatchObject({
    pings: 2,
    bids: 2,
    avgBid: 40,
    posts: 1,
    postsAccepted: 0,
    postAcceptanceRate: 0,
  });
  // A buyer with an endpoint and no call is a row of zeros; a buyer without an endpoint is no row.
  expect(row(rows, idle.buyer.id)).toMatchObject({ ...zero, name: idle.buyer.name });
  expect(row(rows, withoutEndpoint.id)).toBeUndefined();
  expect(rows).toHaveLength(6);

  // Another range: the buyers with an endpoint, nothing counted.
  const before = await endpointReport(database.db, agency.id, {
    from: '2001-01-01',
    to: '2001-01-31',
    timeZone: 'UTC',
  });
  expect(before.map((r) => ({ ...r, buyerId: undefined, name: undefined }))).toEqual(
    Array.from({ length: 6 }, () => ({ ...zero, buyerId: undefined, name: undefined })),
  );
});

const loggedCall = (endpointId: string, over: Partial<EndpointCall>): EndpointCall => ({
  endpointId,
  leadId: null,
  kind: 'ping',
  step: 'ping',
  request: { method: 'POST', url: 'http://127.0.0.1:1/x', headers: {}, body: '' },
  response: null,
  latencyMs: 5,
  outcome: 'accepted',
  ...over,
});

test('the log keeps its last 100 calls; the report counts every call', async () => {
  const agency = await makeAgency(database.db);
  const { buyer, endpoint } = await buyerWithEndpoint(agency.id, {
    pingUrl: 'http://127.0.0.1:1/ping',
    postUrl: 'http://127.0.0.1:1/post',
  });
  const n = ENDPOINT_LOG_SIZE + 5;
  for (let i = 1; i <= n; i++)
    await recordEndpointCall(database.db, loggedCall(endpoint.id, { bid: i, pingId: `p-${i}` }));
  expect(await listEndpointCalls(database.db, endpoint.id)).toHaveLength(ENDPOINT_LOG_SIZE);
  const [r] = await endpointReport(database.db, agency.id, ALL_TIME);
  expect(r).toMatchObject({ buyerId: buyer.id, pings: n, bids: n, avgBid: (n + 1) / 2 });
});

/** The figures from the calls as recorded: the report's definition, restated. */
function model(calls: EndpointCall[]) {
  const counted = calls.filter((c) => c.kind !== 'test');
  const pings = counted.filter((c) => c.step === 'ping');
  const bids = pings.filter((c) => c.outcome === 'accepted');
  const byPost = new Map<string, EndpointCall[]>();
  counted
    .filter((c) => c.step === 'post')
    .forEach((c, i) =>
      byPost.set(c.idempotencyKey ?? `unkeyed-${i}`, [...(byPost.get(c.idempotencyKey ?? `unkeyed-${i}`) ?? []), c]),
    );
  const sends = [...byPost.values()];
  const accepted = sends.filter((s) => s.some((c) => c.outcome === 'accepted')).length;
  const avg = bids.length ? bids.reduce((a, c) => a + c.bid!, 0) / bids.length : null;
  return {
    pings: pings.filter((c) => c.outcome !== 'busy' && c.outcome !== 'refused').length,
    bids: bids.length,
    avgBid: avg === null ? null : Math.round(avg * 100) / 100,
    posts: sends.length,
    postsAccepted: accepted,
    postAcceptanceRate: sends.length ? Math.round((accepted / sends.length) * 10_000) / 10_000 : null,
    postsUnknown: sends.filter(
      (s) =>
        !s.some((c) => c.outcome === 'accepted' || c.outcome === 'rejected') && s.some((c) => c.outcome === 'unknown'),
    ).length,
    timeouts: counted.filter((c) => c.outcome === 'timeout' || c.outcome === 'late').length,
  };
}

const callPlan = fc.record({
  buyer: fc.integer({ min: 0, max: 1 }),
  kind: fc.constantFrom('ping' as const, 'post' as const, 'test' as const),
  step: fc.constantFrom('ping' as const, 'post' as const),
  outcome: fc.constantFrom(...ENDPOINT_CALL_OUTCOMES),
  bid: fc.integer({ min: 1, max: 500 }),
  key: fc.option(fc.constantFrom('k1', 'k2', 'k3'), { nil: null }),
});

test('property: the report equals the figures folded from the calls recorded, test calls apart', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(callPlan, { maxLength: 25 }), async (plan) => {
      const agency = await makeAgency(database.db);
      const urls = { pingUrl: 'http://127.0.0.1:1/ping', postUrl: 'http://127.0.0.1:1/post' };
      const eps = [await buyerWithEndpoint(agency.id, urls), await buyerWithEndpoint(agency.id, urls)];
      const made: EndpointCall[][] = [[], []];
      for (const p of plan) {
        // A call is the kind's own step, except a test call, which tries either.
        const step = p.kind === 'test' ? p.step : p.kind;
        const call = loggedCall(eps[p.buyer]!.endpoint.id, {
          kind: p.kind,
          step,
          outcome: p.outcome,
          bid: step === 'ping' && p.outcome === 'accepted' ? p.bid : null,
          idempotencyKey: step === 'post' ? p.key : null,
        });
        await recordEndpointCall(database.db, call);
        made[p.buyer]!.push(call);
      }
      const rows = await endpointReport(database.db, agency.id, ALL_TIME);
      for (const [i, e] of eps.entries()) expect(row(rows, e.buyer.id)).toMatchObject(model(made[i]!));
    }),
    { numRuns: 15 },
  );
});
