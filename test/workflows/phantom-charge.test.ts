/**
 * #27.1 end to end: a stale worker's sale of a claim attempt is still in
 * flight (a real transaction, paused by a lock held from another connection)
 * when the offer's workflow refuses the same attempt because its window is
 * over. The claim relay's answer and the ledger agree in both orders: the
 * sale first – the buyer is answered the win it was charged for; the
 * refusal first – the sale rolls back and charges nothing.
 */
import { sql } from 'drizzle-orm';

import { attemptDecision } from '../../db/claim-attempts';
import { sellOffer } from '../../db/sales';
import {
  assignmentsFor,
  balanceOf,
  claim,
  waitForLeadStatus,
  waitForOffer,
  waitForOfferWindow,
} from '../helpers/lifecycle';
import { holdLock, tracked, waitingOnLock } from '../helpers/locks';
import { lifecycleSuite } from '../helpers/suite';
import { eventually, startLead } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

/** A lead with an open two-second offer to one buyer with 50 credits, at 20. */
async function openOffer() {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 50 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 2, price: { base: 20 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  // Opened in its workflow (the paperwork written): the locks below then hold only the sale they are meant for.
  await waitForOfferWindow(suite.client, offer.workflowId);
  return { lead, buyer, offer };
}

/** Until the offer's window is over by the workflow's clock: its desk refuses claims as `offer_closed`. */
const pastWindow = (closesAt: Date) =>
  new Promise((r) => setTimeout(r, Math.max(0, closesAt.getTime() - Date.now()) + 200));

/** The workflow answers an Update only after its task (busy closing the offer the stale sale holds) heartbeats. */
const UPDATE_WAIT_MS = 30_000;

test('the stale sale holds the attempt when the workflow refuses it: the buyer is answered the win it is charged for', async () => {
  const db = suite.db;
  const { lead, buyer, offer } = await openOffer();
  const lock = await holdLock(db, sql`SELECT 1 FROM leads WHERE id = ${lead.id} FOR UPDATE`);
  let stale, answer;
  try {
    stale = tracked(sellOffer(db, { offerId: offer.id, buyerId: buyer.id, requestId: 'r1', sale: 'claim' }));
    await waitingOnLock(db, 'insert into "assignments"'); // paused after taking its attempt
    await pastWindow(offer.closesAt);
    answer = tracked(claim(suite.client, offer, buyer.id, 'r1'));
    await waitingOnLock(db, 'insert into "claim_attempts"', UPDATE_WAIT_MS); // the refusal waits for the sale
    expect([stale.settled, answer.settled]).toEqual([false, false]);
  } finally {
    await lock.release();
  }
  const sold = await stale.promise;
  expect(sold).toMatchObject({ result: 'won', charged: 20 });
  expect(await answer.promise).toMatchObject({
    result: 'won',
    charged: 20,
    assignmentId: (sold as { assignmentId: string }).assignmentId,
  });
  expect(await balanceOf(db, buyer.id)).toBe(30);
  await waitForLeadStatus(db, lead.id, 'sold');
});

test('the workflow’s refusal takes the attempt before the paused stale sale: the buyer is refused and charged nothing', async () => {
  const db = suite.db;
  const { lead, buyer, offer } = await openOffer();
  const key = { offerId: offer.id, buyerId: buyer.id, requestId: 'r1' };
  const lock = await holdLock(db, sql`SELECT 1 FROM wallets WHERE buyer_id = ${buyer.id} FOR UPDATE`);
  let stale, answer;
  try {
    stale = tracked(sellOffer(db, { ...key, sale: 'claim' }));
    await waitingOnLock(db, 'select'); // paused before its attempt, at the buyer's wallet
    await pastWindow(offer.closesAt);
    answer = tracked(claim(suite.client, offer, buyer.id, 'r1'));
    // The relay's refusal takes the attempt (its timeline write then waits for the offer row the sale holds).
    await eventually(async () => (await attemptDecision(db, key))?.state === 'refused', UPDATE_WAIT_MS, 'the refusal');
    expect(stale.settled).toBe(false);
  } finally {
    await lock.release();
  }
  expect(await answer.promise).toEqual({ result: 'lost', reason: 'offer_closed' });
  expect(await stale.promise).toEqual({ result: 'lost', reason: 'offer_closed' });
  expect(await balanceOf(db, buyer.id)).toBe(50);
  expect(await assignmentsFor(db, lead.id)).toEqual([]);
  // The offer went on as if that claim had lost: it expired, and the lead went to a person.
  await waitForLeadStatus(db, lead.id, 'manual_review');
});
