/**
 * How long a sale holds its campaign's shared rows (#22, #26; db/sales.ts): the campaign's cap-counter rows are
 * shared by every sale of the campaign and a row lock lasts until COMMIT, so the sale runs what the commit would run
 * (the deferred report refresh of its lead, the source-payout check) before it takes them with its last statement.
 * A sale held up in its paperwork then holds no lock on the counters, and the campaign's other sales pass it.
 *
 * The paperwork is held up by hand: another connection holds the lead's report facts row, which the refresh locks
 * (migration 0007 `report_refresh`), so the sale waits there as it would behind a slow refresh on a busy machine.
 */
import { sql } from 'drizzle-orm';

import { type Database, type Db } from '../../db/connection';
import { openDispute, resolveDispute } from '../../db/disputes';
import { insertLead } from '../../db/leads';
import { pgErrorOf } from '../../db/ledger';
import { sellByPush, sellOffer } from '../../db/sales';
import { offerTargets } from '../../db/schema';
import { createSource, setSourceCampaign } from '../../db/sources';
import { leadWorkflowId } from '../../domain/ids';
import { runAudit } from '../../ops/audit';
import { openTestPostgres } from '../helpers/db';
import { holdLock, tracked, waitingOnLock } from '../helpers/locks';
import { eventually } from '../helpers/temporal';
import { leadFields, makeAgency, makeBuyers, makeCampaign, makeLead, makeOffer } from '../helpers/world';

let database: Database;
beforeAll(async () => {
  database = await openTestPostgres();
});
afterAll(async () => {
  await database?.close();
});

const rows = <T>(r: unknown) => (r as { rows: T[] }).rows;

/** The campaign's stored sales per period. */
async function campaignCounts(db: Db, campaignId: string): Promise<Record<string, number>> {
  return Object.fromEntries(
    rows<{ period: string; sales: number }>(
      await db.execute(sql`SELECT period, sales FROM cap_counters WHERE subject_id = ${campaignId} ORDER BY period`),
    ).map((r) => [r.period, r.sales]),
  );
}

/** Whether another transaction could lock the campaign's counter rows right now (NOWAIT: no waiting). */
async function countersFree(db: Db, campaignId: string): Promise<boolean> {
  try {
    await db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1 FROM cap_counters WHERE subject_id = ${campaignId} FOR UPDATE NOWAIT`);
    });
    return true;
  } catch (err) {
    if (pgErrorOf(err).code === '55P03') return false; // lock_not_available
    throw err;
  }
}

/** How many backends of this database wait on a lock in `SET CONSTRAINTS ALL IMMEDIATE`. */
async function waitingInSetConstraints(db: Db): Promise<number> {
  const r = rows<{ n: number }>(
    await db.execute(sql`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'set constraints all immediate%'`),
  );
  return r[0]!.n;
}

test('every deferrable constraint is initially deferred (the sale fires them early with SET CONSTRAINTS ALL)', async () => {
  const found = rows<{ conname: string; condeferred: boolean }>(
    await database.db.execute(sql`SELECT conname, condeferred FROM pg_constraint
      WHERE condeferrable AND connamespace = 'public'::regnamespace ORDER BY conname`),
  );
  expect(found.length).toBeGreaterThan(0);
  expect(found.filter((c) => !c.condeferred)).toEqual([]);
});

test('a sale held up in its report refresh holds no lock on its campaign’s counters; the campaign’s next sale passes it', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const [first, slow, next] = await makeBuyers(db, agency.id, 3, { credits: 1_000 });
  const campaign = await makeCampaign(db, agency.id);
  const offerOf = async () => makeOffer(db, await makeLead(db, agency.id, campaign.id));

  // The campaign's counter rows exist (a first sale), so a lock on them is a lock on rows that are there.
  const firstOffer = await offerOf();
  expect((await sellOffer(db, { offerId: firstOffer.id, buyerId: first!.id, sale: 'manual' })).result).toBe('won');
  expect(await campaignCounts(db, campaign.id)).toEqual({ daily: 1, monthly: 1, weekly: 1 });

  const slowOffer = await offerOf();
  const held = await holdLock(db, sql`SELECT 1 FROM report_lead_facts WHERE lead_id = ${slowOffer.leadId} FOR UPDATE`);
  try {
    const slowSale = tracked(sellOffer(db, { offerId: slowOffer.id, buyerId: slow!.id, sale: 'manual' }));
    // It waits in the refresh run before the counters (before this change: in COMMIT, the counters held).
    await waitingOnLock(db, 'set constraints all immediate');
    expect(slowSale.settled).toBe(false);
    expect(await countersFree(db, campaign.id)).toBe(true);

    // Another sale of the campaign, to another buyer, commits meanwhile: no convoy behind the held-up one.
    const nextOffer = await offerOf();
    const nextSale = await sellOffer(db, { offerId: nextOffer.id, buyerId: next!.id, sale: 'manual' });
    expect(nextSale.result).toBe('won');
    expect(slowSale.settled).toBe(false);
    expect(await campaignCounts(db, campaign.id)).toEqual({ daily: 2, monthly: 2, weekly: 2 });

    await held.release();
    expect((await slowSale.promise).result).toBe('won');
  } finally {
    await held.release();
  }
  expect(await campaignCounts(db, campaign.id)).toEqual({ daily: 3, monthly: 3, weekly: 3 });
  const audit = await runAudit(db, { agencyId: agency.id });
  expect(audit.violations).toEqual([]);
}, 60_000);

test('a refund and a sale of one lead in one campaign, both held up in its refresh: neither holds the counters, both complete', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const [returning, second] = await makeBuyers(db, agency.id, 2, { credits: 1_000 });
  const campaign = await makeCampaign(db, agency.id);
  const lead = await makeLead(db, agency.id, campaign.id);
  // A shared offer sold once, then another offer of the lead in the same campaign (as manual review opens one): the
  // refund of the first sale and the second sale share the lead's facts row and the campaign's counters, not an offer.
  const first = await makeOffer(db, lead, { maxWinners: 2 });
  const bought = await sellOffer(db, { offerId: first.id, buyerId: returning!.id, sale: 'manual' });
  if (bought.result !== 'won') throw new Error(`first sale: ${bought.reason}`);
  const dispute = await openDispute(db, { assignmentId: bought.assignmentId, buyerId: returning!.id, reason: 'bad' });
  if (!dispute.ok) throw new Error(dispute.error);
  const another = await makeOffer(db, lead, { maxWinners: 2 });

  // Both write the lead, so both refresh its facts: held, they wait there, before the counters. (Were the refund to
  // take the counters first and the facts at COMMIT, and the sale the facts first, the two would deadlock.)
  const held = await holdLock(db, sql`SELECT 1 FROM report_lead_facts WHERE lead_id = ${lead.id} FOR UPDATE`);
  try {
    const refund = tracked(resolveDispute(db, { agencyId: agency.id, disputeId: dispute.dispute.id, approve: true }));
    const sale = tracked(sellOffer(db, { offerId: another.id, buyerId: second!.id, sale: 'manual' }));
    await eventually(async () => (await waitingInSetConstraints(db)) === 2, 10_000, 'both waiting on the facts row');
    expect(await countersFree(db, campaign.id)).toBe(true);
    expect(refund.settled || sale.settled).toBe(false);
    await held.release();
    expect(await refund.promise).toMatchObject({ ok: true });
    expect((await sale.promise).result).toBe('won');
  } finally {
    await held.release();
  }
  // The first sale refunded, the second counted: one active sale.
  expect(await campaignCounts(db, campaign.id)).toEqual({ daily: 1, monthly: 1, weekly: 1 });
  const audit = await runAudit(db, { agencyId: agency.id });
  expect(audit.violations).toEqual([]);
}, 60_000);

test('two sales of one sourced lead in one push transaction: the second’s payout check still runs at commit', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyers = await makeBuyers(db, agency.id, 2, { credits: 1_000 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push' });
  const source = await createSource(db, agency.id, { name: 'src' });
  await setSourceCampaign(db, {
    agencyId: agency.id,
    sourceId: source.id,
    campaignId: campaign.id,
    allowed: true,
    payout: { kind: 'share', shareBps: 2500 },
  });
  const lead = await insertLead(db, {
    agencyId: agency.id,
    campaignId: campaign.id,
    fields: leadFields(),
    workflowId: leadWorkflowId,
    source: { sourceId: source.id },
  });
  const offer = await makeOffer(db, lead, { kind: 'push', maxWinners: 2 });
  await db.insert(offerTargets).values(buyers.map((b) => ({ offerId: offer.id, buyerId: b.id, eligible: true })));

  // The second sale writes its assignment before its payout (db/sales.ts): were the payout check left immediate by
  // the first sale's early firing, that insert would fail.
  const sales = await sellByPush(db, {
    offerId: offer.id,
    campaignId: campaign.id,
    strategy: 'round_robin',
    maxWinners: 2,
    close: true,
  });
  expect(sales.map((s) => s.result)).toEqual(['won', 'won']);
  expect(await campaignCounts(db, campaign.id)).toEqual({ daily: 2, monthly: 2, weekly: 2 });
  const payouts = rows<{ n: number }>(
    await db.execute(sql`SELECT count(*)::int AS n FROM source_ledger_entries WHERE lead_id = ${lead.id}`),
  );
  expect(payouts[0]!.n).toBe(2);
  // Reports (each sale's refresh run early, on the transaction's state so far), ledgers and counters agree.
  const audit = await runAudit(db, { agencyId: agency.id });
  expect(audit.violations).toEqual([]);
}, 60_000);
