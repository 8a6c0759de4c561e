/**
 * The report roll-ups (migration 0007) under the conditions the property in
 * reports-agree.test.ts does not reach: concurrent sales of one campaign and
 * day (no deadlock, nothing lost or counted twice), the rebuild from the base
 * tables (the migration's backfill and the bench seed), a change of the
 * agency's time zone, the audit's check, and the migration itself on PGlite
 * over data written before it. Every comparison is with the reference query
 * over the base tables (runReportFromBase).
 */
import crypto from 'node:crypto';

import { sql } from 'drizzle-orm';
import type { Pool } from 'pg';

import { createBuyer } from '../../db/buyers';
import { type Database, type Db, openDatabase } from '../../db/connection';
import { openDispute, resolveDispute } from '../../db/disputes';
import { insertLead } from '../../db/leads';
import { topUp } from '../../db/ledger';
import { createInProcessBus } from '../../db/offer-bus';
import {
  foldReports,
  rebuildReports,
  type ReportGroup,
  type ReportRowData,
  runReport,
  runReportFromBase,
} from '../../db/reports';
import { sellOffer } from '../../db/sales';
import { leads, offers, offerTargets } from '../../db/schema';
import { createSource, setSourceCampaign } from '../../db/sources';
import { leadWorkflowId } from '../../domain/ids';
import { runAudit } from '../../ops/audit';
import { openTestPostgres } from '../helpers/db';
import { MigrationFolders, migrationJournal } from '../helpers/migrations';
import { testSchedules } from '../helpers/schedules';
import { startWorker, testClient } from '../helpers/temporal';
import { leadFields, makeAgency, makeCampaign } from '../helpers/world';

const GROUPS: ReportGroup[] = ['day', 'campaign', 'source', 'buyer'];

async function pages(
  db: Db,
  run: typeof runReport,
  agencyId: string,
  groupBy: ReportGroup,
  timeZone: string,
  from: string | null = null,
): Promise<{ rows: ReportRowData[]; nextKey: string | null }[]> {
  const out = [];
  let after: string | null = null;
  do {
    const page = await run(db, { agencyId, groupBy, range: { from, to: null, timeZone }, limit: 3, after });
    out.push(page);
    after = page.nextKey;
  } while (after);
  return out;
}

async function expectAgreement(db: Db, agencyId: string, timeZone: string): Promise<void> {
  for (const group of GROUPS) {
    const rolled = await pages(db, runReport, agencyId, group, timeZone);
    expect({ group, pages: rolled }).toEqual({
      group,
      pages: await pages(db, runReportFromBase, agencyId, group, timeZone),
    });
  }
}

interface World {
  agencyId: string;
  campaignId: string;
  buyerIds: string[];
  offer(leadId: string, winners?: number): Promise<string>;
  lead(hoursAgo: number, sourced: boolean): Promise<string>;
}

/** An agency with a campaign, a source paid a share, and `buyers` buyers with credit. */
async function makeWorld(db: Db, timeZone: string, buyers = 3): Promise<World> {
  const agency = await makeAgency(db, { timeZone });
  const campaign = await makeCampaign(db, agency.id);
  const buyerIds: string[] = [];
  for (let i = 0; i < buyers; i++) {
    const b = await createBuyer(db, agency.id, { name: `b${i}`, serviceLines: ['roofing'] });
    await topUp(db, { buyerId: b.id, agencyId: agency.id, amount: 100_000, idempotencyKey: `seed-${b.id}` });
    buyerIds.push(b.id);
  }
  const source = await createSource(db, agency.id, { name: 's' });
  await setSourceCampaign(db, {
    agencyId: agency.id,
    sourceId: source.id,
    campaignId: campaign.id,
    allowed: true,
    payout: { kind: 'share', shareBps: 2500 },
  });
  return {
    agencyId: agency.id,
    campaignId: campaign.id,
    buyerIds,
    async lead(hoursAgo, sourced) {
      const lead = await insertLead(db, {
        agencyId: agency.id,
        campaignId: campaign.id,
        fields: leadFields(),
        workflowId: leadWorkflowId,
        source: sourced ? { sourceId: source.id } : null,
      });
      await db.execute(
        sql`UPDATE leads SET created_at = now() - make_interval(hours => ${hoursAgo}) WHERE id = ${lead.id}`,
      );
      return lead.id;
    },
    async offer(leadId, winners = 1) {
      const [offer] = await db
        .insert(offers)
        .values({
          leadId,
          agencyId: agency.id,
          campaignId: campaign.id,
          kind: 'manual',
          workflowId: leadWorkflowId(leadId),
          price: 40,
          preview: {},
          maxWinners: winners,
          openedAt: new Date(Date.now() - 90_000),
          closesAt: new Date(Date.now() + 60_000),
        })
        .returning();
      await db
        .insert(offerTargets)
        .values(buyerIds.map((buyerId) => ({ offerId: offer!.id, buyerId, eligible: true })));
      return offer!.id;
    },
  };
}

/** Leads over the last three days at hours that straddle midnight in most zones, sold, some returned. */
async function fillWorld(db: Db, w: World): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const leadId = await w.lead(i * 7, i % 2 === 0);
    if (i % 5 === 4) continue; // never offered
    const offerId = await w.offer(leadId, i % 3 === 0 ? 2 : 1);
    if (i % 4 === 3) continue; // offered, unsold
    const sale = await sellOffer(db, { offerId, buyerId: w.buyerIds[i % 3]!, sale: 'manual' });
    if (sale.result !== 'won') throw new Error(`sale refused: ${sale.reason}`);
    if (i % 3 === 0) {
      const d = await openDispute(db, { assignmentId: sale.assignmentId, buyerId: w.buyerIds[i % 3]!, reason: 'bad' });
      if (!d.ok) throw new Error(`dispute: ${d.error}`);
      await resolveDispute(db, { agencyId: w.agencyId, disputeId: d.dispute.id, approve: true });
    }
  }
}

describe('on postgres', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestPostgres();
  });
  afterAll(async () => database?.close());

  test('concurrent sales of one campaign and day, and two buyers on one shared offer, commit without deadlock and the roll-ups count each once', async () => {
    const db = database.db;
    const w = await makeWorld(db, 'UTC', 8);
    for (let round = 0; round < 3; round++) {
      const offerIds: string[] = [];
      for (let i = 0; i < 8; i++) offerIds.push(await w.offer(await w.lead(0, i % 2 === 0)));
      const shared = await w.offer(await w.lead(0, true), 2);
      // Every sale of the round at once, with folds among them: the sales append deltas of the same campaign, day
      // and source; the shared offer's two winners change one lead.
      const results = await Promise.all([
        ...offerIds.map((offerId, i) => sellOffer(db, { offerId, buyerId: w.buyerIds[i]!, sale: 'manual' })),
        sellOffer(db, { offerId: shared, buyerId: w.buyerIds[0]!, sale: 'manual' }),
        sellOffer(db, { offerId: shared, buyerId: w.buyerIds[1]!, sale: 'manual' }),
        foldReports(db),
        foldReports(db),
      ]);
      expect(results.slice(0, 10).map((r) => (r as { result: string }).result)).toEqual(Array(10).fill('won'));
      await expectAgreement(db, w.agencyId, 'UTC');
    }
    const [all] = (
      await runReport(db, {
        agencyId: w.agencyId,
        groupBy: 'campaign',
        range: { from: null, to: null, timeZone: 'UTC' },
        limit: 5,
      })
    ).rows;
    expect(all).toMatchObject({ leads: 27, offered: 27, sold: 27, revenue: 30 * 40 });
    await foldReports(db);
    await expectAgreement(db, w.agencyId, 'UTC');
  }, 60_000);

  test('multi-row statements in one transaction, interleaving leads, count each lead once', async () => {
    const db = database.db;
    const w = await makeWorld(db, 'UTC');
    await db.transaction(async (tx) => {
      const ids = Array.from({ length: 5 }, () => crypto.randomUUID());
      await tx.insert(leads).values(
        ids.map((id) => ({
          id,
          agencyId: w.agencyId,
          campaignId: w.campaignId,
          fields: leadFields(),
          workflowId: leadWorkflowId(id),
        })),
      );
      await tx.execute(
        sql`UPDATE leads SET status = 'manual_review' WHERE id IN (${sql.join(
          ids.map((id) => sql`${id}::uuid`),
          sql`, `,
        )})`,
      );
      // Offers of three of them, then the first lead again: the commit's triggers see A B C D E, A B C D E, A B C, A.
      await tx.insert(offers).values(
        ids.slice(0, 3).map((leadId) => ({
          leadId,
          agencyId: w.agencyId,
          campaignId: w.campaignId,
          kind: 'manual' as const,
          workflowId: leadWorkflowId(leadId),
          price: 10,
          preview: {},
          closesAt: new Date(Date.now() + 60_000),
        })),
      );
      await tx.execute(sql`UPDATE leads SET status = 'offered' WHERE id = ${ids[0]!}`);
    });
    // Deferred events fired early (SET CONSTRAINTS … IMMEDIATE), then the same lead changed again: not skipped.
    const late = await w.lead(0, false);
    await db.transaction(async (tx) => {
      await tx.execute(sql`SET CONSTRAINTS ALL IMMEDIATE`);
      await tx.execute(sql`UPDATE leads SET status = 'manual_review' WHERE id = ${late}`);
      await tx.execute(sql`UPDATE leads SET status = 'offered' WHERE id = ${late}`);
    });
    await expectAgreement(db, w.agencyId, 'UTC');
    const [row] = (
      await runReport(db, {
        agencyId: w.agencyId,
        groupBy: 'campaign',
        range: { from: null, to: null, timeZone: 'UTC' },
        limit: 5,
      })
    ).rows;
    expect(row).toMatchObject({ leads: 6, offered: 3, unsold: 4, sold: 0 }); // the first and the late one left manual review last
  }, 60_000);

  test('the rebuild recomputes from the base tables exactly what the triggers kept (the backfill of existing data)', async () => {
    const db = database.db;
    const pool = database.raw as Pool;
    const w = await makeWorld(db, 'America/New_York');
    await fillWorld(db, w);
    await foldReports(db);
    const facts = async () => ({
      leads: (await pool.query('SELECT * FROM report_lead_facts WHERE agency_id = $1 ORDER BY lead_id', [w.agencyId]))
        .rows,
      buyers: (
        await pool.query('SELECT * FROM report_buyer_facts WHERE agency_id = $1 ORDER BY lead_id, buyer_id', [
          w.agencyId,
        ])
      ).rows,
      // A day a lead only passed through (created now, then dated back) keeps a row of zeros until a rebuild; the
      // claim seconds are compared as numbers (a sum of deltas may carry another scale than the sum of the facts).
      days: (
        await pool.query(
          `SELECT agency_id, day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs::float8 AS claim_secs, sales
             FROM report_lead_days WHERE agency_id = $1 AND leads <> 0 ORDER BY day, source_id`,
          [w.agencyId],
        )
      ).rows,
    });
    const kept = await facts();
    expect(kept.leads).toHaveLength(10);
    // As if the rows had been written before the migration: no facts, no roll-ups.
    for (const table of [
      'report_lead_facts',
      'report_buyer_facts',
      'report_lead_days',
      'report_buyer_days',
      'report_lead_deltas',
      'report_buyer_deltas',
    ])
      await pool.query(`DELETE FROM ${table} WHERE agency_id = $1`, [w.agencyId]);
    expect(
      (
        await runReport(db, {
          agencyId: w.agencyId,
          groupBy: 'campaign',
          range: { from: null, to: null, timeZone: 'America/New_York' },
          limit: 5,
        })
      ).rows,
    ).toEqual([]);
    await rebuildReports(db, w.agencyId);
    expect(await facts()).toEqual(kept);
    await expectAgreement(db, w.agencyId, 'America/New_York');
  }, 60_000);

  test('a new time zone for the agency moves every lead to its day in that zone; reports by day agree with the reference after it', async () => {
    const db = database.db;
    const w = await makeWorld(db, 'America/Chicago');
    await fillWorld(db, w);
    await foldReports(db);
    await db.execute(sql`UPDATE agencies SET time_zone = 'Asia/Tokyo' WHERE id = ${w.agencyId}`);
    await expectAgreement(db, w.agencyId, 'Asia/Tokyo');
    // Chicago and Tokyo days differ for these hours: the keys did move.
    expect(await pages(db, runReportFromBase, w.agencyId, 'day', 'Asia/Tokyo')).not.toEqual(
      await pages(db, runReportFromBase, w.agencyId, 'day', 'America/Chicago'),
    );
    // A range in a zone other than the agency's is the reference query's (the roll-ups have the agency's days).
    expect(await pages(db, runReport, w.agencyId, 'day', 'America/Chicago')).toEqual(
      await pages(db, runReportFromBase, w.agencyId, 'day', 'America/Chicago'),
    );
    // And the triggers go on in the new zone.
    const offerId = await w.offer(await w.lead(20, true));
    expect((await sellOffer(db, { offerId, buyerId: w.buyerIds[2]!, sale: 'manual' })).result).toBe('won');
    await expectAgreement(db, w.agencyId, 'Asia/Tokyo');
  }, 60_000);

  /** Each agency's reports agree with the recount, with the deltas pending and after a fold. */
  async function agreeBeforeAndAfterFold(db: Db, agencies: [agencyId: string, timeZone: string][]): Promise<void> {
    for (const [agencyId, zone] of agencies) await expectAgreement(db, agencyId, zone);
    await foldReports(db);
    for (const [agencyId, zone] of agencies) await expectAgreement(db, agencyId, zone);
  }

  /** Whether another transaction holds the lock of this lead's facts row (the refresh's lock). */
  async function factsRowLocked(pool: Pool, leadId: string): Promise<boolean> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM report_lead_facts WHERE lead_id = $1 FOR UPDATE NOWAIT', [leadId]);
      return false;
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') return true; // lock_not_available
      throw err;
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  test("one agency's time-zone change, held open in its transaction, does not stop another agency's sales; both agree with a recount after it", async () => {
    const db = database.db;
    const pool = database.raw as Pool;
    const a = await makeWorld(db, 'America/Chicago');
    await fillWorld(db, a);
    const b = await makeWorld(db, 'UTC');
    await fillWorld(db, b);
    const aLead = (await pool.query('SELECT lead_id FROM report_lead_facts WHERE agency_id = $1 LIMIT 1', [a.agencyId]))
      .rows[0].lead_id as string;
    const bOffer = await b.offer(await b.lead(2, true));

    const zoneChange = await pool.connect();
    try {
      await zoneChange.query('BEGIN');
      // The trigger rebuilds A's roll-ups in this transaction, which stays open.
      await zoneChange.query(`UPDATE agencies SET time_zone = 'Asia/Tokyo' WHERE id = $1`, [a.agencyId]);
      // Still in progress: A's leads are locked by it, and it holds the fold lock (a fold steps aside).
      expect(await factsRowLocked(pool, aLead)).toBe(true);
      expect(await foldReports(db)).toBeNull();
      // B's sale, a new lead and a return commit meanwhile (the 0007 rebuild's table locks made them wait).
      const sale = await sellOffer(db, { offerId: bOffer, buyerId: b.buyerIds[0]!, sale: 'manual' });
      expect(sale.result).toBe('won');
      if (sale.result !== 'won') return;
      const d = await openDispute(db, { assignmentId: sale.assignmentId, buyerId: b.buyerIds[0]!, reason: 'bad' });
      if (!d.ok) throw new Error(`dispute: ${d.error}`);
      await resolveDispute(db, { agencyId: b.agencyId, disputeId: d.dispute.id, approve: true });
      await b.lead(0, false);
      expect(await factsRowLocked(pool, aLead)).toBe(true); // the zone change had not committed
      await zoneChange.query('COMMIT');
    } finally {
      zoneChange.release();
    }
    await agreeBeforeAndAfterFold(db, [
      [a.agencyId, 'Asia/Tokyo'],
      [b.agencyId, 'UTC'],
    ]);
  }, 60_000);

  test("the online rebuild holds one batch of the agency's leads at a time: sales of other agencies and of the agency's other leads commit during it, and lost roll-ups come back exact", async () => {
    const db = database.db;
    const pool = database.raw as Pool;
    const a = await makeWorld(db, 'Europe/Berlin');
    await fillWorld(db, a);
    const fresh = [await a.lead(3, true), await a.lead(30, false)];
    const b = await makeWorld(db, 'UTC');
    await fillWorld(db, b);
    const bOffer = await b.offer(await b.lead(5, true));
    await foldReports(db);
    // Roll-ups lost (a restore, a hand edit): the facts and the base tables are what the rebuild trusts.
    await pool.query('DELETE FROM report_lead_days WHERE agency_id = $1', [a.agencyId]);
    await pool.query('DELETE FROM report_buyer_days WHERE agency_id = $1', [a.agencyId]);

    let batches = 0;
    let during = 0;
    await rebuildReports(db, a.agencyId, {
      batch: 1,
      async inBatch(lastLeadId) {
        batches++;
        if (batches !== 1) return;
        // Inside the first batch's transaction: its lead is locked, the rest of the agency's are not.
        expect(await factsRowLocked(pool, lastLeadId)).toBe(true);
        const later = (
          await pool.query('SELECT id FROM leads WHERE id = ANY($1::uuid[]) AND id > $2::uuid ORDER BY id LIMIT 1', [
            fresh,
            lastLeadId,
          ])
        ).rows[0].id as string;
        expect(await factsRowLocked(pool, later)).toBe(false);
        const sales = await Promise.all([
          sellOffer(db, { offerId: await a.offer(later), buyerId: a.buyerIds[1]!, sale: 'manual' }),
          sellOffer(db, { offerId: bOffer, buyerId: b.buyerIds[2]!, sale: 'manual' }),
        ]);
        expect(sales.map((s) => s.result)).toEqual(['won', 'won']);
        await a.lead(1, true);
        await foldReports(db);
        during = sales.length;
        expect(await factsRowLocked(pool, lastLeadId)).toBe(true); // still the same batch
      },
    });
    expect(during).toBe(2);
    const leadsOfA = Number(
      (await pool.query('SELECT count(*) AS n FROM leads WHERE agency_id = $1', [a.agencyId])).rows[0].n,
    );
    expect(batches).toBeGreaterThanOrEqual(leadsOfA - 1); // one lead a batch (the lead added during it may come before)
    await agreeBeforeAndAfterFold(db, [
      [a.agencyId, 'Europe/Berlin'],
      [b.agencyId, 'UTC'],
    ]);
  }, 60_000);

  test("the report-fold schedule's run moves the pending deltas into the roll-ups; the report is the same before and after", async () => {
    const db = database.db;
    const pool = database.raw as Pool;
    const w = await makeWorld(db, 'UTC');
    await fillWorld(db, w);
    const pending = async () =>
      Number(
        (await pool.query('SELECT count(*) AS n FROM report_lead_deltas WHERE agency_id = $1', [w.agencyId])).rows[0].n,
      );
    expect(await pending()).toBeGreaterThan(0);
    const before = await pages(db, runReport, w.agencyId, 'campaign', 'UTC');
    // The fold as production runs it: its schedule starts the workflow, a worker runs the activity.
    const worker = await startWorker({ db, bus: createInProcessBus() });
    const { client, connection } = await testClient();
    const schedules = await testSchedules(client, worker.taskQueue, { only: ['report-fold'] });
    try {
      // Another file's fold may hold the fold lock when this run comes (the run then folds nothing): ask again.
      for (let i = 0; i < 50 && (await pending()) > 0; i++) {
        await schedules.handle('report-fold').trigger();
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await schedules.remove();
      await worker.stop();
      await connection.close();
    }
    expect(await pending()).toBe(0);
    expect(await pages(db, runReport, w.agencyId, 'campaign', 'UTC')).toEqual(before);
    await expectAgreement(db, w.agencyId, 'UTC');
  }, 60_000);

  test('the audit checks the roll-ups against the base tables and names a group that disagrees', async () => {
    const db = database.db;
    const w = await makeWorld(db, 'UTC');
    await fillWorld(db, w);
    const good = await runAudit(db, { agencyId: w.agencyId });
    const reports = good.checks.find((c) => c.name === 'reports')!;
    expect(reports.failed).toBe(0);
    expect(reports.checked).toBeGreaterThan(0);
    // A roll-up off by one sale, inside a transaction that is rolled back.
    const refused = new Error('rolled back');
    let found: Awaited<ReturnType<typeof runAudit>> | null = null;
    await db
      .transaction(async (tx) => {
        await tx.execute(sql`SELECT report_fold()`);
        await tx.execute(
          sql`UPDATE report_lead_days SET sold = sold + 1 WHERE ctid = (SELECT ctid FROM report_lead_days WHERE agency_id = ${w.agencyId} AND leads > 0 LIMIT 1)`,
        );
        found = await runAudit(tx, { agencyId: w.agencyId });
        throw refused;
      })
      .catch((err: unknown) => {
        if (err !== refused) throw err;
      });
    const bad = found!.checks.find((c) => c.name === 'reports')!;
    expect(bad.failed).toBe(1);
    expect(bad.violations[0]!.message).toMatch(
      /campaign and source .*: sold \d+ in the roll-ups, \d+ in the base tables/,
    );
  }, 60_000);
});

describe('on pglite', () => {
  test('migration 0007 applies over data written before it, backfills the roll-ups, and its triggers keep them', async () => {
    // A database as it was before the roll-ups: the migrations up to 0006, plus those after 0007 that do not
    // touch the reports (the key store, the claim attempts), which today's code needs to write its data. The
    // migrator applies what is newer than the newest applied, so here they are stamped just after 0006; the
    // roll-ups (0007) and their online rebuild (0010) then come as their own step, over the data.
    const journal = migrationJournal();
    const REPORTS = new Set(['0007_report_rollups', '0010_online_report_rebuild']);
    const entry0006 = journal.find((e) => e.idx === 6)!;
    const beforeEntries = journal
      .filter((e) => !REPORTS.has(e.tag))
      .map((e, i) => (e.idx > 6 ? { ...e, when: entry0006.when + i } : e));
    const folders = new MigrationFolders();
    const before = folders.folder(beforeEntries);
    const reports = folders.folder(journal.filter((e) => REPORTS.has(e.tag)));

    const database = await openDatabase({ dataDir: 'memory://', migrate: false });
    try {
      const db = database.db;
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      await migrate(db as never, { migrationsFolder: before });
      const w = await makeWorld(db, 'Europe/Berlin');
      await fillWorld(db, w);
      const exists = async () =>
        (
          (await db.execute(sql`SELECT to_regclass('report_lead_days') IS NOT NULL AS there`)) as unknown as {
            rows: { there: boolean }[];
          }
        ).rows[0]!.there;
      expect(await exists()).toBe(false);

      await migrate(db as never, { migrationsFolder: reports }); // 0007 with its backfill, then 0010
      expect(await exists()).toBe(true);
      await expectAgreement(db, w.agencyId, 'Europe/Berlin');
      const [row] = (
        await runReport(db, {
          agencyId: w.agencyId,
          groupBy: 'campaign',
          range: { from: null, to: null, timeZone: 'Europe/Berlin' },
          limit: 5,
        })
      ).rows;
      expect(row).toMatchObject({ leads: 10 });

      const offerId = await w.offer(await w.lead(1, true), 2);
      for (const buyerId of w.buyerIds.slice(0, 2))
        expect((await sellOffer(db, { offerId, buyerId, sale: 'manual' })).result).toBe('won');
      await expectAgreement(db, w.agencyId, 'Europe/Berlin');
      await foldReports(db);
      await expectAgreement(db, w.agencyId, 'Europe/Berlin');
      expect((await runAudit(db, { agencyId: w.agencyId })).checks.find((c) => c.name === 'reports')!.failed).toBe(0);
    } finally {
      await database.close();
      folders.remove();
    }
  }, 120_000);
});
