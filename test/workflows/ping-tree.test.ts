/**
 * Ping trees on the real dev server, real Postgres and a fleet of real local
 * buyer endpoint servers (#22): each tier pinged together, the best bid at or
 * above the tier's floor reserved and posted with the sale's Idempotency-Key,
 * a rejected post falling to the next bid, then the next tier, then the
 * campaign's fallback; a post whose fate is unknown sending the lead to review
 * as `post_unknown` with the reserve held. The ledger is asserted every time:
 * no charge without an accepted post, every reserve released but the one a
 * person must decide.
 */
import { Worker } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';

import { POST_SENDS } from '../../activities/endpoints';
import { leadTimeline } from '../../db/offers';
import { buyerAlerts, ledgerEntries } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import type { PingTree } from '../../domain/types';
import { manualActionUpdate } from '../../workflows/messages';
import {
  BEHAVIOURS,
  endpointFleetForFile,
  makeEndpointBuyer,
  pingsTo,
  postsTo,
  type Script,
} from '../helpers/endpoint-fleet';
import { recordHistory } from '../helpers/histories';
import { assignmentsFor, balanceOf, ledgerOf, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { startLead, workflowBundle } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite({ delivery: { allowlist: '127.0.0.1' } });
const fleet = endpointFleetForFile();

/** A buyer with `credits` whose endpoint is a fleet server answering `script`. */
const endpointBuyer = (agencyId: string, script: Script, opts: { credits?: number; timeoutMs?: number } = {}) =>
  makeEndpointBuyer(suite.db, fleet, agencyId, script, opts);

async function runTree(agencyId: string, tiers: PingTree['tiers'], opts: { fallbackCampaignId?: string } = {}) {
  const campaign = await makeCampaign(suite.db, agencyId, {
    auction: 'ping_tree',
    pingTree: { tiers },
    price: { base: 10 },
    fallbackCampaignId: opts.fallbackCampaignId ?? null,
  });
  const lead = await makeLead(suite.db, agencyId, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(suite.db, lead.id);
  return { lead, offer };
}

test("tier 1's best post is rejected: the lead is sold to tier 1's second bid at its bid; one charge, the reserve released, the timeline tells it", async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const best = await endpointBuyer(agency.id, BEHAVIOURS.acceptPingRejectPost(50));
  const second = await endpointBuyer(agency.id, BEHAVIOURS.bid(40));
  const low = await endpointBuyer(agency.id, BEHAVIOURS.bid(15)); // below the floor
  const nope = await endpointBuyer(agency.id, BEHAVIOURS.reject());
  const tier2 = await endpointBuyer(agency.id, BEHAVIOURS.bid(90));
  // Eligible for the campaign (it has no buyer pool) but in no tier: targeted, never asked – nor alerted, though it
  // asks for offer alerts by SMS (a tree's offer is not on the feed and nobody claims it).
  const outsider = await makeBuyer(db, agency.id, {
    credits: 100,
    delivery: { smsTo: '+15125550101' },
    alerts: { channels: ['sms'] },
  });
  const { lead, offer } = await runTree(agency.id, [
    { buyerIds: [best.id, second.id, low.id, nope.id], floor: 20 },
    { buyerIds: [tier2.id], floor: 20 },
  ]);
  expect(offer).toMatchObject({ auction: 'ping_tree' });
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  const handle = suite.client.workflow.getHandle(offer.workflowId);
  await handle.result();

  expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: second.id, price: 40 })]);
  expect((await ledgerOf(db, lead.id)).sort()).toEqual(
    [
      [best.id, 'reserve', -50],
      [best.id, 'release', 50],
      [second.id, 'reserve', -40],
      [second.id, 'release', 40],
      [second.id, 'charge', -40],
    ].sort(),
  );
  expect(await balanceOf(db, best.id)).toBe(100);
  expect(await balanceOf(db, second.id)).toBe(60);
  // Tier 1 pinged together; only the winners posted, each with the sale's key; tier 2 never pinged.
  for (const b of [best, second, low, nope]) expect(pingsTo(b.server)).toHaveLength(1);
  expect(pingsTo(tier2.server)).toHaveLength(0);
  expect(postsTo(low.server)).toHaveLength(0);
  expect(postsTo(best.server).map((p) => p.headers['idempotency-key'])).toEqual([`sale:${offer.id}:${best.id}`]);
  expect(postsTo(second.server).map((p) => p.headers['idempotency-key'])).toEqual([`sale:${offer.id}:${second.id}`]);
  expect(JSON.parse(postsTo(second.server)[0]!.body)).toMatchObject({ ping_id: expect.any(String), lead_id: lead.id });

  const timeline = await leadTimeline(db, lead.id);
  const of = (type: string) => timeline.filter((e) => e.type === type);
  // Each ping says its tier.
  expect(
    of('pinged')
      .map((e) => [e.buyerId, e.data?.tier, e.data?.bid ?? null, e.reason ?? null])
      .sort(),
  ).toEqual(
    [
      [best.id, 1, 50, null],
      [second.id, 1, 40, null],
      [low.id, 1, 15, null],
      [nope.id, 1, null, 'not in our area'],
    ].sort(),
  );
  // Only the pinged buyers took part, so only they lost it; tier 2 (never pinged once tier 1 sold) and the eligible
  // buyer outside the tree were targeted and nothing more – no claim attempt, no loss.
  expect(
    of('lost')
      .map((e) => [e.buyerId, e.reason])
      .sort(),
  ).toEqual(
    [
      [best.id, 'taken'],
      [low.id, 'taken'],
      [nope.id, 'taken'],
    ].sort(),
  );
  for (const bystander of [tier2.id, outsider.id])
    expect(timeline.filter((e) => e.buyerId === bystander).map((e) => e.type)).toEqual(['targeted']);
  expect(await db.select().from(buyerAlerts).where(eq(buyerAlerts.offerId, offer.id))).toEqual([]);
  expect(of('claim_attempted').map((e) => e.buyerId)).toEqual([second.id]);
  expect(of('posted').map((e) => e.buyerId)).toEqual([best.id, second.id]);
  expect(of('post_rejected')).toEqual([expect.objectContaining({ buyerId: best.id, reason: 'duplicate lead' })]);
  expect(of('post_accepted')).toEqual([expect.objectContaining({ buyerId: second.id })]);
  expect(of('won')).toEqual([expect.objectContaining({ buyerId: second.id })]);
  // The timeline tells it in the order it happened: the post, the buyer's acceptance (at its answer), the sale.
  const sale = timeline
    .filter((e) => e.buyerId === second.id && ['posted', 'post_accepted', 'won'].includes(e.type))
    .map((e) => e.type);
  expect(sale).toEqual(['posted', 'post_accepted', 'won']);

  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, offer.workflowId);
  await recordHistory(suite.client, offer.workflowId, 'ping-tree-won');
});

test('nothing in tier 1 can take it (500, malformed, too slow, cannot pay): tier 2 sells', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const broken = await endpointBuyer(agency.id, BEHAVIOURS.error500());
  const garbled = await endpointBuyer(agency.id, BEHAVIOURS.malformed());
  const slow = await endpointBuyer(agency.id, BEHAVIOURS.slow(2_000, 80), { timeoutMs: 300 });
  // Eligible (it can pay the campaign's price of 10), but its wallet cannot hold its bid.
  const poor = await endpointBuyer(agency.id, BEHAVIOURS.bid(70), { credits: 15 });
  const t2 = await endpointBuyer(agency.id, BEHAVIOURS.bid(25));
  const { lead } = await runTree(agency.id, [
    { buyerIds: [broken.id, garbled.id, slow.id, poor.id], floor: 20 },
    { buyerIds: [t2.id], floor: 20 },
  ]);
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: t2.id, price: 25 })]);
  // The buyer that could not hold its bid was never posted; nobody but the winner was charged.
  expect(postsTo(poor.server)).toHaveLength(0);
  expect((await ledgerOf(db, lead.id)).filter(([, kind]) => kind === 'charge')).toEqual([[t2.id, 'charge', -25]]);
  expect(await balanceOf(db, poor.id)).toBe(15);
  const outcomes = (await leadTimeline(db, lead.id))
    .filter((e) => e.type === 'pinged')
    .map((e) => [e.buyerId, e.data?.outcome]);
  expect(outcomes).toEqual(
    expect.arrayContaining([
      [broken.id, 'error'],
      [garbled.id, 'malformed'],
      [slow.id, 'timeout'],
      [poor.id, 'accepted'],
      [t2.id, 'accepted'],
    ]),
  );
  // The tier each was pinged in.
  const tiers = (await leadTimeline(db, lead.id))
    .filter((e) => e.type === 'pinged')
    .map((e) => [e.buyerId, e.data?.tier]);
  expect(tiers.sort()).toEqual(
    [
      [broken.id, 1],
      [garbled.id, 1],
      [slow.id, 1],
      [poor.id, 1],
      [t2.id, 2],
    ].sort(),
  );
});

test('no tier sells: the lead falls to the fallback campaign; no charge without an accepted post', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const pushBuyer = await makeBuyer(db, agency.id, { credits: 100 });
  const fallback = await makeCampaign(db, agency.id, { mode: 'push', buyers: [{ buyerId: pushBuyer.id }] });
  const refuses = await endpointBuyer(agency.id, BEHAVIOURS.acceptPingRejectPost(60));
  const cheap = await endpointBuyer(agency.id, BEHAVIOURS.bid(30));
  const { lead } = await runTree(
    agency.id,
    [
      { buyerIds: [refuses.id], floor: 20 },
      { buyerIds: [cheap.id], floor: 50 },
    ],
    { fallbackCampaignId: fallback.id },
  );
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: pushBuyer.id })]);
  expect(postsTo(cheap.server)).toHaveLength(0);
  const ledger = await ledgerOf(db, lead.id);
  expect(ledger.filter(([, kind]) => kind === 'charge')).toEqual([[pushBuyer.id, 'charge', -10]]);
  expect(await balanceOf(db, refuses.id)).toBe(100);
  expect(await balanceOf(db, cheap.id)).toBe(100);
  const timeline = await leadTimeline(db, lead.id);
  const fell = timeline.filter((e) => e.type === 'fell_through');
  expect(fell).toEqual([expect.objectContaining({ data: expect.objectContaining({ toCampaignId: fallback.id }) })]);
  // The tree's offer expired unsold: both pinged buyers lost it as such; the push buyer (eligible on the tree's
  // offer too, never pinged) lost nothing there and won the fallback's.
  const treeOffer = fell[0]!.offerId;
  expect(
    timeline
      .filter((e) => e.type === 'lost' && e.offerId === treeOffer)
      .map((e) => [e.buyerId, e.reason])
      .sort(),
  ).toEqual(
    [
      [refuses.id, 'expired'],
      [cheap.id, 'expired'],
    ].sort(),
  );
});

test('a post that never answers: the lead goes to review as post_unknown, the reserve held, nothing charged, no second buyer posted', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const silent = await endpointBuyer(
    agency.id,
    { ping: { answer: 'bid', bid: 45 }, post: { answer: 'hold' } },
    { timeoutMs: 400 },
  );
  const next = await endpointBuyer(agency.id, BEHAVIOURS.bid(30));
  const { lead, offer } = await runTree(agency.id, [{ buyerIds: [silent.id, next.id], floor: 20 }]);
  await waitForLeadStatus(db, lead.id, 'manual_review', 30_000);
  const timeline = await leadTimeline(db, lead.id);
  expect(timeline.filter((e) => e.type === 'manual_review')).toEqual([
    expect.objectContaining({ reason: 'post_unknown' }),
  ]);
  expect(timeline.filter((e) => e.type === 'posted')).toEqual([
    expect.objectContaining({ buyerId: silent.id, data: expect.objectContaining({ outcome: 'unknown' }) }),
  ]);
  // Sent POST_SENDS times, each time with the sale's key, before a person is asked.
  expect(postsTo(silent.server).map((p) => p.headers['idempotency-key'])).toEqual(
    Array<string>(POST_SENDS).fill(`sale:${offer.id}:${silent.id}`),
  );
  expect(postsTo(next.server)).toHaveLength(0);
  expect(await ledgerOf(db, lead.id)).toEqual([[silent.id, 'reserve', -45]]);
  expect(await balanceOf(db, silent.id)).toBe(55);
  expect(await assignmentsFor(db, lead.id)).toEqual([]);
  const [reserve] = await db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.leadId, lead.id), eq(ledgerEntries.kind, 'reserve')));
  expect(reserve?.idempotencyKey).toBe(`offer:${offer.id}:buyer:${silent.id}:reserve`);

  // A person decides: assigning the lead to the buyer whose post went unanswered gives the hold back and charges the
  // sale once, in the assignment's transaction – the wallet ends one sale down, not two.
  const handle = suite.client.workflow.getHandle(leadWorkflowId(lead.id));
  const result = await handle.executeUpdate(manualActionUpdate, { args: [{ action: 'assign', buyerId: silent.id }] });
  expect(result).toMatchObject({ action: 'assign', sale: { result: 'won' } });
  await waitForLeadStatus(db, lead.id, 'sold');
  const entries = await ledgerOf(db, lead.id);
  expect(entries.filter(([, kind]) => kind === 'reserve' || kind === 'release')).toEqual([
    [silent.id, 'reserve', -45],
    [silent.id, 'release', 45],
  ]);
  const charged = entries.filter(([, kind]) => kind === 'charge');
  expect(charged).toHaveLength(1);
  expect(await balanceOf(db, silent.id)).toBe(100 + charged[0]![2]);
});

test('a lead held as post_unknown and then rejected by a person gives the held bid back', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const silent = await endpointBuyer(
    agency.id,
    { ping: { answer: 'bid', bid: 35 }, post: { answer: 'hold' } },
    { timeoutMs: 400 },
  );
  const { lead } = await runTree(agency.id, [{ buyerIds: [silent.id], floor: 20 }]);
  await waitForLeadStatus(db, lead.id, 'manual_review', 30_000);
  expect(await balanceOf(db, silent.id)).toBe(65);
  const handle = suite.client.workflow.getHandle(leadWorkflowId(lead.id));
  await handle.executeUpdate(manualActionUpdate, {
    args: [{ action: 'reject', reason: 'buyer says it never got it' }],
  });
  await waitForLeadStatus(db, lead.id, 'rejected');
  expect(await ledgerOf(db, lead.id)).toEqual([
    [silent.id, 'reserve', -35],
    [silent.id, 'release', 35],
  ]);
  expect(await balanceOf(db, silent.id)).toBe(100);
});
