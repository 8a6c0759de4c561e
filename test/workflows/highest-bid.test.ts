/**
 * Highest-bid auctions on the real dev server: sealed bids during the window,
 * the highest wins at close (ties to the earliest), first or second price,
 * the next bid wins when the winner can no longer pay, and a replay of the
 * history decides the same winner.
 */
import { Worker } from '@temporalio/worker';

import { postLedgerEntry } from '../../db/ledger';
import { offerTimeline } from '../../db/offers';
import { recordHistory } from '../helpers/histories';
import { assignmentsFor, balanceOf, chargesFor, placeBid, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { startLead, workflowBundle } from '../helpers/temporal';
import { makeAgency, makeBuyers, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

const bid = (offer: { id: string; workflowId: string }, buyerId: string, amount: number) =>
  placeBid(suite.client, offer, buyerId, amount);

async function auction(opts: {
  pricing?: 'first_price' | 'second_price';
  floorPrice?: number;
  buyers?: number;
  credits?: number;
  windowSeconds?: number;
}) {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyers = await makeBuyers(db, agency.id, opts.buyers ?? 4, { credits: opts.credits ?? 100 });
  const campaign = await makeCampaign(db, agency.id, {
    claimWindowSeconds: opts.windowSeconds ?? 4,
    price: { base: 10 },
    auction: 'highest_bid',
    floorPrice: opts.floorPrice ?? 20,
    pricing: opts.pricing ?? 'first_price',
  });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  return { agency, buyers, campaign, lead, offer };
}

test('concurrent sealed bids: the highest wins at close and pays its bid; bids are on the timeline; a replay decides the same', async () => {
  const db = suite.db;
  const { buyers, lead, offer } = await auction({ buyers: 5, windowSeconds: 5 });
  expect(offer).toMatchObject({ auction: 'highest_bid', price: 20 });
  const [a, b, c, d, e] = buyers;

  const results = await Promise.all([
    bid(offer, a.id, 25),
    bid(offer, b.id, 40),
    bid(offer, c.id, 31),
    bid(offer, d.id, 19),
    bid(offer, e.id, 150),
  ]);
  expect(results.slice(0, 3).every((r) => r.result === 'accepted')).toBe(true);
  expect(results[3]).toEqual({ result: 'refused', reason: 'below_floor' });
  expect(results[4]).toEqual({ result: 'refused', reason: 'insufficient_credits' });
  // A buyer raises its bid; lowering it is refused.
  expect(await bid(offer, a.id, 45)).toMatchObject({ result: 'accepted', amount: 45, raised: true });
  expect(await bid(offer, b.id, 30)).toEqual({ result: 'refused', reason: 'not_a_raise' });

  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  const [won] = await assignmentsFor(db, lead.id);
  expect(won).toMatchObject({ buyerId: a.id, price: 45 });
  expect(await balanceOf(db, a.id)).toBe(55);
  for (const other of [b, c, d, e]) expect(await balanceOf(db, other.id)).toBe(100);
  expect(await chargesFor(db, offer.id)).toHaveLength(1);

  const handle = suite.client.workflow.getHandle(offer.workflowId);
  await handle.result();
  const timeline = await offerTimeline(db, offer.id);
  expect(timeline.filter((t) => t.type === 'bid_placed').map((t) => [t.buyerId, t.data?.amount])).toEqual(
    expect.arrayContaining([
      [a.id, 25],
      [b.id, 40],
      [c.id, 31],
      [a.id, 45],
    ]),
  );
  expect(timeline.filter((t) => t.type === 'won')).toEqual([
    expect.objectContaining({ buyerId: a.id, data: expect.objectContaining({ sale: 'auction', charged: 45 }) }),
  ]);

  // The history replays against the current code: same bids, same order, same winner.
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, offer.workflowId);
  await recordHistory(suite.client, offer.workflowId, 'highest-bid-auction');
});

test('second price: the winner pays the next bid, never below the floor; a tie goes to the earlier bid', async () => {
  const db = suite.db;
  const tie = await auction({ pricing: 'second_price', buyers: 3 });
  const [x, y, z] = tie.buyers;
  expect(await bid(tie.offer, x.id, 30)).toMatchObject({ result: 'accepted' });
  expect(await bid(tie.offer, y.id, 30)).toMatchObject({ result: 'accepted' });
  expect(await bid(tie.offer, z.id, 22)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, tie.lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, tie.lead.id)).toEqual([expect.objectContaining({ buyerId: x.id, price: 30 })]);

  const lone = await auction({ pricing: 'second_price', buyers: 1, floorPrice: 15 });
  expect(await bid(lone.offer, lone.buyers[0].id, 60)).toMatchObject({ result: 'accepted' });
  await waitForLeadStatus(db, lone.lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, lone.lead.id)).toEqual([expect.objectContaining({ price: 15 })]);
});

test('a winner that can no longer pay at close is passed over: the next bid wins', async () => {
  const db = suite.db;
  const { agency, buyers, lead, offer } = await auction({ buyers: 2, credits: 50 });
  const [rich, steady] = buyers;
  expect(await bid(offer, rich.id, 50)).toMatchObject({ result: 'accepted' });
  expect(await bid(offer, steady.id, 35)).toMatchObject({ result: 'accepted' });
  // The top bidder spends its credits elsewhere before the close.
  await postLedgerEntry(db, {
    buyerId: rich.id,
    agencyId: agency.id,
    kind: 'adjustment',
    amount: -45,
    idempotencyKey: `drain-${rich.id}`,
  });
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: steady.id, price: 35 })]);
  const timeline = await offerTimeline(db, offer.id);
  expect(timeline).toContainEqual(
    expect.objectContaining({ type: 'claim_failed', buyerId: rich.id, reason: 'insufficient_credits' }),
  );
});
