/**
 * Endpoint bidders inside highest-bid auctions (#22), on the real dev server,
 * real Postgres and a fleet of real local buyer endpoint servers: the
 * campaign's endpoint buyers are pinged when the offer opens and bid in the
 * same window as the feed's buyers; at close the highest bid wins under the
 * campaign's pricing rule. An endpoint winner is reserved, posted with the
 * sale's Idempotency-Key and charged only with an accepted post; a refused
 * post falls to the next bid; a post whose fate is unknown stops for a person;
 * a ping answered after the window is no bid. The ledger is asserted every
 * time, and no charge exists without an accepted post.
 */
import { Worker } from '@temporalio/worker';

import { POST_SENDS } from '../../activities/endpoints';
import { leadTimeline } from '../../db/offers';
import type { AuctionPricing } from '../../domain/types';
import {
  BEHAVIOURS,
  endpointFleetForFile,
  type FleetServer,
  makeEndpointBuyer,
  pingsTo,
  postsTo,
  type Script,
} from '../helpers/endpoint-fleet';
import { recordHistory } from '../helpers/histories';
import { assignmentsFor, balanceOf, ledgerOf, placeBid, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { eventually, startLead, workflowBundle } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite({ delivery: { allowlist: '127.0.0.1' } });
const fleet = endpointFleetForFile();

/** An agency with endpoint bidders answering `scripts` and `feed` feed buyers, each with 100 credits. */
async function world(scripts: (Script | { script: Script; timeoutMs: number })[], feed: number) {
  const agency = await makeAgency(suite.db);
  const endpoints = [];
  for (const s of scripts) {
    const [script, opts] = 'script' in s ? [s.script, { timeoutMs: s.timeoutMs }] : [s, {}];
    endpoints.push(await makeEndpointBuyer(suite.db, fleet, agency.id, script, opts));
  }
  const feeds = [];
  for (let i = 0; i < feed; i++) feeds.push(await makeBuyer(suite.db, agency.id, { credits: 100 }));
  return { agency, endpoints, feeds };
}

/** A highest-bid campaign (floor 20) naming these endpoint bidders, and a lead offered on it. */
async function auction(
  agencyId: string,
  endpointBidders: string[],
  opts: { pricing?: AuctionPricing; windowSeconds?: number } = {},
) {
  const campaign = await makeCampaign(suite.db, agencyId, {
    auction: 'highest_bid',
    floorPrice: 20,
    pricing: opts.pricing ?? 'first_price',
    claimWindowSeconds: opts.windowSeconds ?? 4,
    price: { base: 10 },
    endpointBidders,
  });
  const lead = await makeLead(suite.db, agencyId, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(suite.db, lead.id);
  expect(offer).toMatchObject({ auction: 'highest_bid', price: 20 });
  return { lead, offer };
}

const bid = (offer: { id: string; workflowId: string }, buyerId: string, amount: number) =>
  placeBid(suite.client, offer, buyerId, amount);

/** Waits until the lead's first bid (its endpoint bidder's, in these tests) is recorded. */
async function endpointBidPlaced(leadId: string): Promise<void> {
  await eventually(
    async () => (await leadTimeline(suite.db, leadId)).find((e) => e.type === 'bid_placed'),
    10_000,
    "the endpoint's bid",
  );
}

/** Sold through the feed's sale: one assignment at `price`, one charge, no endpoint posted, nothing reserved. */
async function expectFeedSale(leadId: string, buyerId: string, price: number, endpoints: { server: FleetServer }[]) {
  expect(await assignmentsFor(suite.db, leadId)).toEqual([expect.objectContaining({ buyerId, price })]);
  expect(await ledgerOf(suite.db, leadId)).toEqual([[buyerId, 'charge', -price]]);
  for (const e of endpoints) expect(postsTo(e.server)).toHaveLength(0);
}

/** No charge without an accepted post: every endpoint bidder's charge on the lead has its `post_accepted`. */
async function expectNoChargeWithoutAcceptedPost(leadId: string, endpointBuyerIds: string[]) {
  const timeline = await leadTimeline(suite.db, leadId);
  const accepted = new Set(timeline.filter((e) => e.type === 'post_accepted').map((e) => e.buyerId));
  const charged = (await ledgerOf(suite.db, leadId)).filter(([, kind]) => kind === 'charge').map(([b]) => b);
  for (const buyerId of charged.filter((b) => endpointBuyerIds.includes(b))) expect(accepted).toContain(buyerId);
}

test('three endpoint buyers and two feed buyers bid in one window: the highest (an endpoint) is posted and pays its bid; every bid is on the timeline; a replay decides the same', async () => {
  const db = suite.db;
  const { agency, endpoints, feeds } = await world([BEHAVIOURS.bid(55), BEHAVIOURS.bid(40), BEHAVIOURS.reject()], 2);
  const [top, mid, nope] = endpoints;
  const [f1, f2] = feeds;
  const ids = endpoints.map((e) => e.id);
  const { lead, offer } = await auction(agency.id, ids);
  expect(await bid(offer, f1!.id, 45)).toMatchObject({ result: 'accepted' });
  expect(await bid(offer, f2!.id, 30)).toMatchObject({ result: 'accepted' });

  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  const handle = suite.client.workflow.getHandle(offer.workflowId);
  await handle.result();
  expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: top!.id, price: 55 })]);
  expect(await ledgerOf(db, lead.id)).toEqual(
    expect.arrayContaining([
      [top!.id, 'reserve', -55],
      [top!.id, 'release', 55],
      [top!.id, 'charge', -55],
    ]),
  );
  expect(await ledgerOf(db, lead.id)).toHaveLength(3);
  expect(await balanceOf(db, top!.id)).toBe(45);
  for (const other of [mid!, nope!, f1!, f2!]) expect(await balanceOf(db, other.id)).toBe(100);
  // Every endpoint bidder pinged once, together; only the winner posted, with the sale's key.
  for (const e of endpoints) expect(pingsTo(e.server)).toHaveLength(1);
  expect(postsTo(top!.server).map((p) => p.headers['idempotency-key'])).toEqual([`sale:${offer.id}:${top!.id}`]);
  expect(postsTo(mid!.server)).toHaveLength(0);
  await expectNoChargeWithoutAcceptedPost(lead.id, ids);

  const timeline = await leadTimeline(db, lead.id);
  const of = (type: string) => timeline.filter((e) => e.type === type);
  expect(
    of('pinged')
      .map((e) => [e.buyerId, e.data?.bid ?? null, e.reason ?? null])
      .sort(),
  ).toEqual(
    [
      [top!.id, 55, null],
      [mid!.id, 40, null],
      [nope!.id, null, 'not in our area'],
    ].sort(),
  );
  // The endpoint bids are recorded like any bid (the reports and the timeline read them), marked as such.
  expect(
    of('bid_placed')
      .map((e) => [e.buyerId, e.data?.amount, e.data?.via ?? 'feed'])
      .sort(),
  ).toEqual(
    [
      [top!.id, 55, 'endpoint'],
      [mid!.id, 40, 'endpoint'],
      [f1!.id, 45, 'feed'],
      [f2!.id, 30, 'feed'],
    ].sort(),
  );
  expect(of('posted').map((e) => e.buyerId)).toEqual([top!.id]);
  expect(of('post_accepted')).toEqual([expect.objectContaining({ buyerId: top!.id })]);
  expect(of('won')).toEqual([
    expect.objectContaining({ buyerId: top!.id, data: expect.objectContaining({ charged: 55 }) }),
  ]);

  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, offer.workflowId);
  await recordHistory(suite.client, offer.workflowId, 'highest-bid-endpoints-won');
});

test("a feed buyer's bid is the highest: it wins through the feed's sale, no endpoint is posted or held", async () => {
  const db = suite.db;
  const { agency, endpoints, feeds } = await world([BEHAVIOURS.bid(50), BEHAVIOURS.bid(35), BEHAVIOURS.error500()], 2);
  const [f1, f2] = feeds;
  const ids = endpoints.map((e) => e.id);
  const { lead, offer } = await auction(agency.id, ids);
  expect(await bid(offer, f1!.id, 30)).toMatchObject({ result: 'accepted' });
  expect(await bid(offer, f2!.id, 70)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  await expectFeedSale(lead.id, f2!.id, 70, endpoints);
  for (const e of endpoints) {
    expect(pingsTo(e.server)).toHaveLength(1);
    expect(await balanceOf(db, e.id)).toBe(100);
  }
});

test("second price: an endpoint winner is reserved, posted and charged at the second bid (a feed buyer's); a feed winner pays the next bid (an endpoint's)", async () => {
  const db = suite.db;
  const a = await world([BEHAVIOURS.bid(60), BEHAVIOURS.bid(25)], 1);
  const [winner, low] = a.endpoints;
  const first = await auction(a.agency.id, [winner!.id, low!.id], { pricing: 'second_price' });
  expect(await bid(first.offer, a.feeds[0]!.id, 45)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, first.lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, first.lead.id)).toEqual([
    expect.objectContaining({ buyerId: winner!.id, price: 45 }),
  ]);
  expect((await ledgerOf(db, first.lead.id)).sort()).toEqual(
    [
      [winner!.id, 'reserve', -45],
      [winner!.id, 'release', 45],
      [winner!.id, 'charge', -45],
    ].sort(),
  );
  expect(await balanceOf(db, winner!.id)).toBe(55);
  expect(postsTo(winner!.server)).toHaveLength(1);
  expect(postsTo(low!.server)).toHaveLength(0);
  await expectNoChargeWithoutAcceptedPost(first.lead.id, [winner!.id, low!.id]);

  const b = await world([BEHAVIOURS.bid(38)], 1);
  const second = await auction(b.agency.id, [b.endpoints[0]!.id], { pricing: 'second_price' });
  expect(await bid(second.offer, b.feeds[0]!.id, 80)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, second.lead.id, 'sold', 30_000);
  await expectFeedSale(second.lead.id, b.feeds[0]!.id, 38, b.endpoints);
});

test("the endpoint winner's post is rejected: the next bid is sold – a feed buyer's, then (another auction) an endpoint's; the reserve released, one charge", async () => {
  const db = suite.db;
  // The next bid is a feed buyer's.
  const a = await world([BEHAVIOURS.acceptPingRejectPost(60), BEHAVIOURS.bid(40)], 1);
  const [refuses, lower] = a.endpoints;
  const feed = a.feeds[0]!;
  const first = await auction(a.agency.id, [refuses!.id, lower!.id]);
  expect(await bid(first.offer, feed.id, 50)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, first.lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, first.lead.id)).toEqual([expect.objectContaining({ buyerId: feed.id, price: 50 })]);
  expect((await ledgerOf(db, first.lead.id)).sort()).toEqual(
    [
      [refuses!.id, 'reserve', -60],
      [refuses!.id, 'release', 60],
      [feed.id, 'charge', -50],
    ].sort(),
  );
  expect(await balanceOf(db, refuses!.id)).toBe(100);
  expect(postsTo(refuses!.server)).toHaveLength(1);
  expect(postsTo(lower!.server)).toHaveLength(0);
  const timeline = await leadTimeline(db, first.lead.id);
  expect(timeline.filter((e) => e.type === 'post_rejected')).toEqual([
    expect.objectContaining({ buyerId: refuses!.id, reason: 'duplicate lead' }),
  ]);
  await expectNoChargeWithoutAcceptedPost(first.lead.id, [refuses!.id, lower!.id]);

  // The next bid is another endpoint's: reserved, posted, charged.
  const b = await world([BEHAVIOURS.acceptPingRejectPost(70), BEHAVIOURS.bid(55)], 1);
  const [top, next] = b.endpoints;
  const second = await auction(b.agency.id, [top!.id, next!.id]);
  expect(await bid(second.offer, b.feeds[0]!.id, 30)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, second.lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, second.lead.id)).toEqual([expect.objectContaining({ buyerId: next!.id, price: 55 })]);
  expect((await ledgerOf(db, second.lead.id)).sort()).toEqual(
    [
      [top!.id, 'reserve', -70],
      [top!.id, 'release', 70],
      [next!.id, 'reserve', -55],
      [next!.id, 'release', 55],
      [next!.id, 'charge', -55],
    ].sort(),
  );
  expect(await balanceOf(db, top!.id)).toBe(100);
  expect(await balanceOf(db, next!.id)).toBe(45);
  expect(await balanceOf(db, b.feeds[0]!.id)).toBe(100);
  await expectNoChargeWithoutAcceptedPost(second.lead.id, [top!.id, next!.id]);
});

test('a post that never answers: the lead goes to review as post_unknown, the reserve held, nothing charged, no second post', async () => {
  const db = suite.db;
  const silentScript: Script = { ping: { answer: 'bid', bid: 45 }, post: { answer: 'slow', delayMs: 3_000 } };
  const { agency, endpoints, feeds } = await world([{ script: silentScript, timeoutMs: 400 }, BEHAVIOURS.bid(30)], 1);
  const [silent, next] = endpoints;
  const { lead, offer } = await auction(agency.id, [silent!.id, next!.id]);
  expect(await bid(offer, feeds[0]!.id, 40)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, lead.id, 'manual_review', 30_000);
  const timeline = await leadTimeline(db, lead.id);
  expect(timeline.filter((e) => e.type === 'manual_review')).toEqual([
    expect.objectContaining({ reason: 'post_unknown' }),
  ]);
  expect(timeline.filter((e) => e.type === 'posted')).toEqual([
    expect.objectContaining({ buyerId: silent!.id, data: expect.objectContaining({ outcome: 'unknown' }) }),
  ]);
  // Sent POST_SENDS times, each time with the sale's key, before a person is asked.
  expect(postsTo(silent!.server).map((p) => p.headers['idempotency-key'])).toEqual(
    Array<string>(POST_SENDS).fill(`sale:${offer.id}:${silent!.id}`),
  );
  expect(postsTo(next!.server)).toHaveLength(0);
  expect(await ledgerOf(db, lead.id)).toEqual([[silent!.id, 'reserve', -45]]);
  expect(await balanceOf(db, silent!.id)).toBe(55);
  expect(await balanceOf(db, feeds[0]!.id)).toBe(100);
  expect(await assignmentsFor(db, lead.id)).toEqual([]);
});

test('an endpoint that answers after the window is no bid: the feed buyer wins at its bid, the slow one is neither bid nor posted', async () => {
  const db = suite.db;
  // Its answer (at 4 s, a bid of 99) is inside its own 10 s timeout but past the 2 s window.
  const { agency, endpoints, feeds } = await world(
    [{ script: BEHAVIOURS.slow(4_000, 99), timeoutMs: 10_000 }, BEHAVIOURS.bid(25)],
    1,
  );
  const [slow, quick] = endpoints;
  const { lead, offer } = await auction(agency.id, [slow!.id, quick!.id], { windowSeconds: 2 });
  expect(await bid(offer, feeds[0]!.id, 30)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  await expectFeedSale(lead.id, feeds[0]!.id, 30, endpoints);
  expect(pingsTo(slow!.server)).toHaveLength(1);
  const timeline = await leadTimeline(db, lead.id);
  expect(timeline.filter((e) => e.type === 'pinged' && e.buyerId === slow!.id)).toEqual([
    expect.objectContaining({ data: expect.objectContaining({ outcome: 'late' }) }),
  ]);
  expect(timeline.filter((e) => e.type === 'bid_placed').map((e) => e.buyerId)).not.toContain(slow!.id);
});

test("a tie goes to the earlier bid, as the history holds it: the endpoint's answer before a feed bid, a feed bid before a slower answer", async () => {
  const db = suite.db;
  // The endpoint answers at once; the feed buyer bids the same once the endpoint's bid is recorded.
  const a = await world([BEHAVIOURS.bid(50)], 1);
  const first = await auction(a.agency.id, [a.endpoints[0]!.id]);
  await endpointBidPlaced(first.lead.id);
  expect(await bid(first.offer, a.feeds[0]!.id, 50)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, first.lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, first.lead.id)).toEqual([
    expect.objectContaining({ buyerId: a.endpoints[0]!.id, price: 50 }),
  ]);

  // The endpoint answers after two seconds; the feed buyer's equal bid is in the history before it.
  const b = await world([BEHAVIOURS.bid(50, 2_000)], 1);
  const second = await auction(b.agency.id, [b.endpoints[0]!.id]);
  expect(await bid(second.offer, b.feeds[0]!.id, 50)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, second.lead.id, 'sold', 30_000);
  await expectFeedSale(second.lead.id, b.feeds[0]!.id, 50, b.endpoints);
});

test('an endpoint bidder that raises its bid through the feed is sold as a feed winner: its latest bid decides, no post, no reserve', async () => {
  const db = suite.db;
  const { agency, endpoints, feeds } = await world([BEHAVIOURS.bid(40)], 1);
  const both = endpoints[0]!;
  const { lead, offer } = await auction(agency.id, [both.id]);
  await endpointBidPlaced(lead.id);
  // Its own earlier (endpoint) bid stands: a lower feed bid is no raise.
  expect(await bid(offer, both.id, 35)).toEqual({ result: 'refused', reason: 'not_a_raise' });
  expect(await bid(offer, both.id, 60)).toMatchObject({ result: 'accepted', raised: true });
  expect(await bid(offer, feeds[0]!.id, 50)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  await expectFeedSale(lead.id, both.id, 60, endpoints);
});
