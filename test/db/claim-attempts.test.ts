/**
 * #27.1, the last phantom-charge window: a claim attempt's refusal (what the
 * buyer is answered) and its sale are exclusive in the database. Whichever
 * takes the attempt's row first wins; the other sees it. On Postgres a real
 * sale transaction is held open (a lock taken from another connection
 * pauses it) across the refusal, in both orders; on both drivers the
 * decisions in sequence.
 */
import { sql } from 'drizzle-orm';

import { attemptDecision, type ClaimAttemptKey, refuseAttempt } from '../../db/claim-attempts';
import type { Database, Db } from '../../db/connection';
import { ledgerInvariants } from '../../db/invariants';
import { insertLead } from '../../db/leads';
import { postLedgerEntry } from '../../db/ledger';
import { saveOffer } from '../../db/offers';
import { sellOffer } from '../../db/sales';
import { assignments, ledgerEntries, offers, wallets } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { DRIVERS, openTestPostgres } from '../helpers/db';
import { holdLock, tracked, waitingOnLock } from '../helpers/locks';
import { leadFields, makeAgency, makeBuyers, makeCampaign } from '../helpers/world';

/** An open first-claim offer targeting two buyers with credits, as route-and-open stores it. */
async function openOffer(db: Db, maxWinners = 1) {
  const agency = await makeAgency(db);
  const [buyer, other] = await makeBuyers(db, agency.id, 2, { credits: 50 });
  const campaign = await makeCampaign(db, agency.id, { price: { base: 20 } });
  const lead = await insertLead(db, {
    agencyId: agency.id,
    campaignId: campaign.id,
    fields: leadFields(),
    workflowId: leadWorkflowId,
  });
  const offerId = crypto.randomUUID();
  await saveOffer(
    db,
    {
      id: offerId,
      leadId: lead.id,
      agencyId: agency.id,
      campaignId: campaign.id,
      kind: 'ping_post',
      workflowId: lead.workflowId,
      price: 20,
      preview: {},
      maxWinners,
      depth: 0,
      auction: 'first_claim',
      pricing: 'first_price',
      openedAt: new Date(),
      closesAt: new Date(Date.now() + 60_000),
    },
    [buyer!, other!].map((b) => ({ buyerId: b.id, eligible: true, reason: null, detail: null, snapshot: {} })),
  );
  // The first buyer's claim attempt `r1`.
  const key: ClaimAttemptKey = { offerId, buyerId: buyer!.id, requestId: 'r1' };
  return { agencyId: agency.id, leadId: lead.id, offerId, buyer: buyer!, other: other!, key };
}

/** What the ledger says of one buyer on one offer: its charges and its assignments. */
async function chargedOn(db: Db, offerId: string, buyerId: string) {
  const charges = await db.execute(
    sql`SELECT count(*)::int AS n FROM ${ledgerEntries} WHERE offer_id = ${offerId} AND buyer_id = ${buyerId} AND kind = 'charge'`,
  );
  const sold = await db.execute(
    sql`SELECT count(*)::int AS n FROM ${assignments} WHERE offer_id = ${offerId} AND buyer_id = ${buyerId}`,
  );
  const [wallet] = await db
    .select({ balance: wallets.balance })
    .from(wallets)
    .where(sql`${wallets.buyerId} = ${buyerId}`);
  const n = (r: unknown) => (r as { rows: { n: number }[] }).rows[0]!.n;
  return { charges: n(charges), assignments: n(sold), balance: wallet!.balance };
}

/** The audit's attempts check over one agency: how many attempts it looked at, and its violations. */
async function attemptsAudit(db: Db, agencyId: string) {
  const checks = await ledgerInvariants(db, { agencyId, maxListed: 10 });
  const check = checks.find((c) => c.name === 'attempts')!;
  return { checked: check.checked, failed: check.failed };
}

describe.each(DRIVERS)('claim attempts on %s', (_name, open) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
  });
  afterAll(async () => database?.close());

  test('refused first: a sale of the same attempt afterwards charges nothing, and the offer stays open', async () => {
    const db = database.db;
    const { key, ...w } = await openOffer(db);
    expect(await refuseAttempt(db, key, 'offer_closed', 5_000)).toEqual({ state: 'refused', reason: 'offer_closed' });
    // The stale sale arrives: the buyer's answer stands (the reason it was told), nothing is charged.
    expect(await sellOffer(db, { ...key, sale: 'claim' })).toEqual({ result: 'lost', reason: 'offer_closed' });
    expect(await chargedOn(db, w.offerId, w.buyer.id)).toEqual({ charges: 0, assignments: 0, balance: 50 });
    const [offer] = await db
      .select()
      .from(offers)
      .where(sql`${offers.id} = ${w.offerId}`);
    expect(offer).toMatchObject({ status: 'open', winners: 0 });
    // As if that claim had lost: another buyer (or the same buyer's next attempt) can still win it.
    expect(await sellOffer(db, { ...key, requestId: 'r2', sale: 'claim' })).toMatchObject({
      result: 'won',
      charged: 20,
    });
    expect(await attemptDecision(db, { ...key, requestId: 'r2' })).toEqual({ state: 'sold' });
    // A second refusal of the first attempt keeps its first answer.
    expect(await refuseAttempt(db, key, 'lost_race', 5_000)).toEqual({ state: 'refused', reason: 'offer_closed' });
    expect(await attemptsAudit(db, w.agencyId)).toEqual({ checked: 2, failed: 0 });
  });

  test('sold first: the refusal of the same attempt finds the sale and must answer the win', async () => {
    const db = database.db;
    const { key, ...w } = await openOffer(db);
    expect(await sellOffer(db, { ...key, sale: 'claim' })).toMatchObject({ result: 'won', charged: 20 });
    expect(await refuseAttempt(db, key, 'offer_closed', 5_000)).toEqual({ state: 'sold' });
    expect(await attemptDecision(db, key)).toEqual({ state: 'sold' });
    expect(await chargedOn(db, w.offerId, w.buyer.id)).toEqual({ charges: 1, assignments: 1, balance: 30 });
    expect(await attemptsAudit(db, w.agencyId)).toEqual({ checked: 1, failed: 0 });
  });

  test('a sale the transaction refuses by itself takes no attempt row; sales that are not claims take none', async () => {
    const db = database.db;
    const w = await openOffer(db);
    const key: ClaimAttemptKey = { offerId: w.offerId, buyerId: w.other.id, requestId: 'poor' };
    // Drain the other buyer, so its sale refuses insufficient_credits (its savepoint, attempt row included, rolls back).
    await postLedgerEntry(db, {
      buyerId: w.other.id,
      agencyId: w.agencyId,
      kind: 'adjustment',
      amount: -45,
      idempotencyKey: `drain-${w.other.id}`,
    });
    expect(await sellOffer(db, { ...key, sale: 'claim' })).toEqual({
      result: 'failed',
      reason: 'insufficient_credits',
    });
    expect(await attemptDecision(db, key)).toBeNull();
    expect(await sellOffer(db, { offerId: w.offerId, buyerId: w.buyer.id, sale: 'manual' })).toMatchObject({
      result: 'won',
    });
    expect(await attemptsAudit(db, w.agencyId)).toEqual({ checked: 0, failed: 0 });
  });
});

describe('claim attempts under a sale transaction held open (Postgres)', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestPostgres();
  });
  afterAll(async () => database?.close());

  test('the sale holds its attempt when the refusal comes: the refusal waits, then answers the win', async () => {
    const db = database.db;
    const { key, ...w } = await openOffer(db);
    // Pauses the sale after it took the attempt (its assignment's insert checks the lead's key: the lock holds it).
    const lead = await holdLock(db, sql`SELECT 1 FROM leads WHERE id = ${w.leadId} FOR UPDATE`);
    const sale = tracked(sellOffer(db, { ...key, sale: 'claim' }));
    await waitingOnLock(db, 'insert into "assignments"');
    const refusal = tracked(refuseAttempt(db, key, 'offer_closed', 30_000));
    await waitingOnLock(db, 'insert into "claim_attempts"');
    // Neither is decided while the sale's transaction is open: no answer can be given yet.
    expect([sale.settled, refusal.settled]).toEqual([false, false]);
    await lead.release();
    expect(await sale.promise).toMatchObject({ result: 'won', charged: 20 });
    expect(await refusal.promise).toEqual({ state: 'sold' });
    expect(await chargedOn(db, w.offerId, w.buyer.id)).toEqual({ charges: 1, assignments: 1, balance: 30 });
    expect(await attemptsAudit(db, w.agencyId)).toEqual({ checked: 1, failed: 0 });
  });

  test('the refusal comes before the paused sale reaches its attempt: the sale rolls back, nothing is charged', async () => {
    const db = database.db;
    const { key, ...w } = await openOffer(db);
    // Pauses the sale before its attempt: it waits for the buyer's wallet row.
    const wallet = await holdLock(db, sql`SELECT 1 FROM wallets WHERE buyer_id = ${w.buyer.id} FOR UPDATE`);
    const sale = tracked(sellOffer(db, { ...key, sale: 'claim' }));
    await waitingOnLock(db, 'select');
    expect(await refuseAttempt(db, key, 'offer_closed', 30_000)).toEqual({ state: 'refused', reason: 'offer_closed' });
    expect(sale.settled).toBe(false);
    await wallet.release();
    expect(await sale.promise).toEqual({ result: 'lost', reason: 'offer_closed' });
    expect(await chargedOn(db, w.offerId, w.buyer.id)).toEqual({ charges: 0, assignments: 0, balance: 50 });
    const [offer] = await db
      .select()
      .from(offers)
      .where(sql`${offers.id} = ${w.offerId}`);
    expect(offer).toMatchObject({ status: 'open', winners: 0 });
    expect(await attemptsAudit(db, w.agencyId)).toEqual({ checked: 1, failed: 0 });
  });

  test('a sale that holds its attempt past the refusal’s wait leaves it undecided (the claim is pending)', async () => {
    const db = database.db;
    const { key, ...w } = await openOffer(db);
    const lead = await holdLock(db, sql`SELECT 1 FROM leads WHERE id = ${w.leadId} FOR UPDATE`);
    const sale = tracked(sellOffer(db, { ...key, sale: 'claim' }));
    await waitingOnLock(db, 'insert into "assignments"');
    expect(await refuseAttempt(db, key, 'offer_closed', 50)).toEqual({ state: 'undecided' });
    await lead.release();
    expect(await sale.promise).toMatchObject({ result: 'won' });
    // The claim's retry then finds the sale.
    expect(await refuseAttempt(db, key, 'offer_closed', 5_000)).toEqual({ state: 'sold' });
  });
});
