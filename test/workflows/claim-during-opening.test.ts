/**
 * Publish first (#26) lets a buyer see an offer before its workflow has finished opening it: the offer row and its
 * target ids commit and `offer.opened` reaches the feeds, then the verdict rows are written, then the open (a local
 * activity) returns and the workflow sets up the offer's desk. A claim normally reaches the workflow after that, in
 * the next workflow task; but an opening that takes long (a stalled database) outlasts its workflow task, which the
 * worker then heartbeats (about 8 s in), and a claim can reach the workflow in between. It waits for the desk
 * (claims/messages.ts `CLAIM_ARRIVAL_PATCH`) instead of being told `offer_closed`, and it is judged as of its arrival
 * in the workflow, so one that arrived inside the window still wins when the opening outlasts the window.
 *
 * The opening is held without any hook in the product: a row lock on one targeted buyer, taken from the test, holds
 * the verdict rows' insert (its key check on that buyer); nothing before them takes it.
 */
import crypto from 'node:crypto';

import { sql } from 'drizzle-orm';

import { recordHistory } from '../helpers/histories';
import {
  assignmentsFor,
  balanceOf,
  chargesFor,
  claim,
  placeBid,
  timelineCounts,
  waitForLeadStatus,
  waitForOffer,
} from '../helpers/lifecycle';
import { holdLock, tracked, waitingOnLock } from '../helpers/locks';
import { lifecycleSuite } from '../helpers/suite';
import { eventually, startLead } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds the opening past its workflow task's first heartbeat (about 8 s), so the message reaches the workflow first. */
const PAST_THE_HEARTBEAT_MS = 10_000;

/** A lead whose offer is open (row committed, feeds told) while its verdict rows wait on a lock held on `held`. */
async function openingHeld(opts: { windowSeconds: number; auction?: 'highest_bid' }) {
  const db = suite.db;
  const agency = await makeAgency(db);
  const a = await makeBuyer(db, agency.id, { credits: 100 });
  const held = await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, {
    claimWindowSeconds: opts.windowSeconds,
    price: { base: 25 },
    ...(opts.auction ? { auction: opts.auction, floorPrice: 20 } : {}),
  });
  const hold = await holdLock(db, sql`SELECT 1 FROM buyers WHERE id = ${held.id} FOR UPDATE`);
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  await waitingOnLock(db, 'insert into "offer_targets"', 30_000);
  return { a, held, lead, offer, hold };
}

test('a claim that reaches the workflow while its offer is still being opened waits for it and wins, even past the window', async () => {
  const db = suite.db;
  const { a, held, lead, offer, hold } = await openingHeld({ windowSeconds: 12 });
  try {
    const requestId = crypto.randomUUID();
    const first = tracked(claim(suite.client, offer, a.id, requestId));
    // It reaches the workflow when the opening's workflow task is heartbeated, inside the window; the opening then
    // outlasts the window, and the claim is still waiting.
    await sleep(Math.max(PAST_THE_HEARTBEAT_MS, offer.closesAt.getTime() - Date.now() + 1_000));
    expect(first.settled).toBe(false);
    await hold.release();

    const won = await first.promise;
    expect(won).toMatchObject({ result: 'won', charged: 25, balance: 75 });
    // A retry of the same claim gets the same answer; a claim that arrives after the window does not win.
    expect(await claim(suite.client, offer, a.id, requestId)).toMatchObject({ result: 'won', charged: 25 });
    expect(await claim(suite.client, offer, held.id)).toMatchObject({ result: 'lost' });
  } finally {
    await hold.release();
  }
  await waitForLeadStatus(db, lead.id, 'sold');
  expect(await chargesFor(db, offer.id)).toHaveLength(1);
  expect((await assignmentsFor(db, lead.id)).map((x) => x.buyerId)).toEqual([a.id]);
  expect(await balanceOf(db, a.id)).toBe(75);
  expect(await balanceOf(db, held.id)).toBe(100);
  const counts = await eventually(async () => {
    const c = await timelineCounts(db, offer.id);
    return c.delivered ? c : undefined;
  });
  expect(counts).toMatchObject({ targeted: 2, won: 1, delivered: 1 });
  await recordHistory(suite.client, offer.workflowId, 'claim-during-opening');
});

test('a sealed bid placed while its offer is still being opened waits for the auction and counts', async () => {
  const db = suite.db;
  const { a, lead, offer, hold } = await openingHeld({ windowSeconds: 14, auction: 'highest_bid' });
  try {
    const bid = tracked(placeBid(suite.client, offer, a.id, 30));
    await sleep(PAST_THE_HEARTBEAT_MS);
    expect(bid.settled).toBe(false);
    await hold.release();
    expect(await bid.promise).toMatchObject({ result: 'accepted', amount: 30 });
  } finally {
    await hold.release();
  }
  await waitForLeadStatus(db, lead.id, 'sold');
  expect((await chargesFor(db, offer.id)).map((c) => c.buyerId)).toEqual([a.id]);
  expect(await balanceOf(db, a.id)).toBe(70);
});
