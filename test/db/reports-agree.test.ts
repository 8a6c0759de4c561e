/**
 * Property: the SQL reports agree with the ledgers to the credit. For random
 * worlds (sources with fixed or share rules, leads from sources or the agency
 * itself, sales at random prices to random buyers, some returned), every
 * grouping's revenue totals the buyers' ledger (charges less refunds), its
 * payouts total the source ledger, each source's payouts equal its wallet and
 * each buyer's revenue its own charges less refunds; every lead is counted
 * once in the lead groupings.
 *
 * Property: the roll-up report (db/reports.ts runReport: roll-ups plus the
 * pending deltas, kept by the triggers of migration 0007) equals the
 * reference query over the base tables (runReportFromBase) row for row and
 * page for page, for every grouping and several date ranges, before and after
 * a fold: over worlds with returns, re-offers, manual review and rejection,
 * shared offers with two winners, leads never offered, targets eligible or
 * not, leads moved to another day after their sales, and pings.
 */
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import type { Pool } from 'pg';

import { createBuyer } from '../../db/buyers';
import type { Database } from '../../db/connection';
import { openDispute, resolveDispute } from '../../db/disputes';
import { insertLead } from '../../db/leads';
import { topUp } from '../../db/ledger';
import {
  foldReports,
  type ReportArgs,
  type ReportGroup,
  type ReportRowData,
  runReport,
  runReportFromBase,
} from '../../db/reports';
import { sellOffer } from '../../db/sales';
import { offers, offerTargets } from '../../db/schema';
import { createSource, setSourceCampaign } from '../../db/sources';
import { leadWorkflowId } from '../../domain/ids';
import type { PayoutRule } from '../../domain/types';
import { openTestPostgres } from '../helpers/db';
import { leadFields, makeAgency, makeCampaign } from '../helpers/world';

let database: Database;
beforeAll(async () => {
  database = await openTestPostgres();
});
afterAll(async () => database?.close());

const rule = fc.oneof(
  fc.record({ kind: fc.constant('fixed' as const), amount: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('share' as const), shareBps: fc.integer({ min: 0, max: 10_000 }) }),
);
const leadPlan = fc.record({
  source: fc.integer({ min: -1, max: 2 }), // -1: the agency's own lead
  buyer: fc.integer({ min: 0, max: 2 }),
  price: fc.integer({ min: 1, max: 90 }), // a charge is never 0 (ledger_amount_sign)
  sold: fc.boolean(),
  returned: fc.boolean(),
});
const world = fc.record({
  rules: fc.array(rule, { minLength: 3, maxLength: 3 }),
  leads: fc.array(leadPlan, { minLength: 1, maxLength: 14 }),
});

async function all(agencyId: string, groupBy: ReportGroup): Promise<ReportRowData[]> {
  const out: ReportRowData[] = [];
  let after: string | null = null;
  do {
    const page = await runReport(database.db, {
      agencyId,
      groupBy,
      range: { from: null, to: null, timeZone: 'America/Chicago' },
      limit: 2,
      after,
    });
    out.push(...page.rows);
    after = page.nextKey;
  } while (after);
  return out;
}
const sum = (rows: ReportRowData[], k: keyof ReportRowData) => rows.reduce((s, r) => s + Number(r[k] ?? 0), 0);

test('reports agree with the buyers’ ledger and the source ledger to the credit', async () => {
  await fc.assert(
    fc.asyncProperty(world, async (w) => {
      const db = database.db;
      const agency = await makeAgency(db, { timeZone: 'America/Chicago' });
      const campaign = await makeCampaign(db, agency.id);
      const buyers = [];
      for (let i = 0; i < 3; i++) {
        const b = await createBuyer(db, agency.id, { name: `b${i}`, serviceLines: ['roofing'] });
        await topUp(db, { buyerId: b.id, agencyId: agency.id, amount: 10_000, idempotencyKey: `seed-${b.id}` });
        buyers.push(b);
      }
      const sources = [];
      for (const r of w.rules) {
        const s = await createSource(db, agency.id, { name: 's' });
        await setSourceCampaign(db, {
          agencyId: agency.id,
          sourceId: s.id,
          campaignId: campaign.id,
          allowed: true,
          payout: r as PayoutRule,
        });
        sources.push(s);
      }
      for (const plan of w.leads) {
        const lead = await insertLead(db, {
          agencyId: agency.id,
          campaignId: campaign.id,
          fields: leadFields(),
          workflowId: leadWorkflowId,
          source: plan.source >= 0 ? { sourceId: sources[plan.source]!.id } : null,
        });
        if (!plan.sold) continue;
        const [offer] = await db
          .insert(offers)
          .values({
            leadId: lead.id,
            agencyId: agency.id,
            campaignId: campaign.id,
            kind: 'manual',
            workflowId: lead.workflowId,
            price: plan.price,
            preview: {},
            closesAt: new Date(Date.now() + 60_000),
          })
          .returning();
        const sale = await sellOffer(db, { offerId: offer!.id, buyerId: buyers[plan.buyer]!.id, sale: 'manual' });
        if (sale.result !== 'won') throw new Error(`sale refused: ${sale.reason}`);
        if (plan.returned) {
          const d = await openDispute(db, {
            assignmentId: sale.assignmentId,
            buyerId: buyers[plan.buyer]!.id,
            reason: 'bad',
          });
          if (!d.ok) throw new Error(`dispute: ${d.error}`);
          await resolveDispute(db, { agencyId: agency.id, disputeId: d.dispute.id, approve: true });
        }
      }

      const pool = database.raw as Pool;
      const [money] = (
        await pool.query(
          `SELECT (SELECT coalesce(-sum(amount), 0) FROM ledger_entries WHERE agency_id = $1 AND kind IN ('charge', 'refund'))::int AS revenue,
                  (SELECT coalesce(sum(amount), 0) FROM source_ledger_entries WHERE agency_id = $1)::int AS payouts`,
          [agency.id],
        )
      ).rows;
      for (const group of ['day', 'campaign', 'source', 'buyer'] as const) {
        const rows = await all(agency.id, group);
        expect([group, sum(rows, 'revenue'), sum(rows, 'payouts')]).toEqual([group, money.revenue, money.payouts]);
        for (const r of rows) expect(r.margin).toBe(r.revenue - r.payouts);
        if (group !== 'buyer') expect(sum(rows, 'leads')).toBe(w.leads.length);
      }
      const bySource = new Map((await all(agency.id, 'source')).map((r) => [r.key, r]));
      for (const s of sources) {
        const [{ balance }] = (await pool.query('SELECT balance FROM source_wallets WHERE source_id = $1', [s.id]))
          .rows;
        expect(bySource.get(s.id)?.payouts ?? 0).toBe(balance);
      }
      const byBuyer = new Map((await all(agency.id, 'buyer')).map((r) => [r.key, r]));
      for (const b of buyers) {
        const [{ net }] = (
          await pool.query(
            `SELECT coalesce(-sum(amount), 0)::int AS net FROM ledger_entries WHERE buyer_id = $1 AND kind IN ('charge', 'refund')`,
            [b.id],
          )
        ).rows;
        expect(byBuyer.get(b.id)?.revenue ?? 0).toBe(net);
      }
      const expectedSold = w.leads.filter((l) => l.sold && !l.returned).length;
      expect(sum(await all(agency.id, 'campaign'), 'sold')).toBe(expectedSold);
      expect(sum(await all(agency.id, 'day'), 'returned')).toBe(w.leads.filter((l) => l.sold && l.returned).length);
    }),
    { numRuns: 20 },
  );
}, 120_000);

const ZONE = 'America/Chicago';
/** The local date `days` from today in the agency's zone, as the API takes it. */
const localDay = (days: number) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(new Date(Date.now() + days * 86_400_000));

/** Every page of a report (limit 2, so paging is exercised), with the cursor each page gave. */
async function pages(
  run: typeof runReport,
  agencyId: string,
  groupBy: ReportGroup,
  range: Omit<ReportArgs['range'], 'timeZone'>,
  timeZone = ZONE,
): Promise<{ rows: ReportRowData[]; nextKey: string | null }[]> {
  const out = [];
  let after: string | null = null;
  do {
    const page = await run(database.db, { agencyId, groupBy, range: { ...range, timeZone }, limit: 2, after });
    out.push(page);
    after = page.nextKey;
  } while (after);
  return out;
}

const RANGES = [
  { from: null, to: null },
  { from: localDay(-6), to: localDay(-2) },
  { from: localDay(-1), to: null },
  { from: null, to: localDay(-4) },
];

/** The roll-up report against the reference, for every grouping and range. */
async function expectAgreement(agencyId: string): Promise<void> {
  for (const group of ['day', 'campaign', 'source', 'buyer'] as const)
    for (const range of RANGES) {
      const rolled = await pages(runReport, agencyId, group, range);
      const reference = await pages(runReportFromBase, agencyId, group, range);
      expect({ group, range, pages: rolled }).toEqual({ group, range, pages: reference });
    }
}

const richLead = fc.record({
  source: fc.integer({ min: -1, max: 2 }),
  ageHours: fc.integer({ min: 0, max: 24 * 9 }),
  offer: fc.constantFrom('none' as const, 'single' as const, 'shared' as const),
  buyer: fc.integer({ min: 0, max: 2 }),
  price: fc.integer({ min: 1, max: 90 }),
  openedSecsAgo: fc.integer({ min: 0, max: 900 }),
  eligible: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  sold: fc.boolean(),
  returned: fc.boolean(),
  reoffer: fc.boolean(),
  status: fc.constantFrom(null, 'manual_review' as const, 'rejected' as const),
  moveHours: fc.option(fc.integer({ min: -60, max: 60 }), { nil: null }),
  fold: fc.boolean(),
});
const richWorld = fc.record({
  rules: fc.array(rule, { minLength: 3, maxLength: 3 }),
  leads: fc.array(richLead, { minLength: 1, maxLength: 8 }),
  pings: fc.array(fc.record({ ageHours: fc.integer({ min: 0, max: 24 * 9 }), accepted: fc.boolean() }), {
    maxLength: 4,
  }),
});

test('the roll-up report equals the reference query row for row, by every grouping and range, before and after a fold', async () => {
  await fc.assert(
    fc.asyncProperty(richWorld, async (w) => {
      const db = database.db;
      const agency = await makeAgency(db, { timeZone: ZONE });
      const campaign = await makeCampaign(db, agency.id);
      const buyers: { id: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const b = await createBuyer(db, agency.id, { name: `b${i}`, serviceLines: ['roofing'] });
        await topUp(db, { buyerId: b.id, agencyId: agency.id, amount: 10_000, idempotencyKey: `seed-${b.id}` });
        buyers.push(b);
      }
      const sources = [];
      for (const r of w.rules) {
        const s = await createSource(db, agency.id, { name: 's' });
        await setSourceCampaign(db, {
          agencyId: agency.id,
          sourceId: s.id,
          campaignId: campaign.id,
          allowed: true,
          payout: r as PayoutRule,
        });
        sources.push(s);
      }
      for (const p of w.pings)
        await db.execute(sql`INSERT INTO pings (agency_id, source_id, campaign_id, fields, decision, expires_at, created_at)
          VALUES (${agency.id}, ${sources[0]!.id}, ${campaign.id}, '{"zip": "78701"}', ${p.accepted ? 'accepted' : 'rejected'},
                  now(), now() - make_interval(hours => ${p.ageHours}))`);

      const openOffer = async (leadId: string, workflowId: string, plan: (typeof w.leads)[number], winners: number) => {
        const [offer] = await db
          .insert(offers)
          .values({
            leadId,
            agencyId: agency.id,
            campaignId: campaign.id,
            kind: 'manual',
            workflowId,
            price: plan.price,
            preview: {},
            maxWinners: winners,
            openedAt: new Date(Date.now() - plan.openedSecsAgo * 1000),
            closesAt: new Date(Date.now() + 60_000),
          })
          .returning();
        await db.insert(offerTargets).values(
          buyers.map((b, i) => ({
            offerId: offer!.id,
            buyerId: b.id,
            eligible: plan.eligible[i]!,
            reason: plan.eligible[i] ? null : ('cap_reached' as const),
          })),
        );
        return offer!;
      };
      const sell = async (offerId: string, buyer: number) => {
        const sale = await sellOffer(db, { offerId, buyerId: buyers[buyer % 3]!.id, sale: 'manual' });
        if (sale.result !== 'won') throw new Error(`sale refused: ${sale.reason}`);
        return sale;
      };

      for (const plan of w.leads) {
        const lead = await insertLead(db, {
          agencyId: agency.id,
          campaignId: campaign.id,
          fields: leadFields(),
          workflowId: leadWorkflowId,
          source: plan.source >= 0 ? { sourceId: sources[plan.source]!.id } : null,
        });
        await db.execute(
          sql`UPDATE leads SET created_at = now() - make_interval(hours => ${plan.ageHours}) WHERE id = ${lead.id}`,
        );
        if (plan.offer !== 'none') {
          const offer = await openOffer(lead.id, lead.workflowId, plan, plan.offer === 'shared' ? 2 : 1);
          if (plan.sold) {
            const first = await sell(offer.id, plan.buyer);
            if (plan.offer === 'shared') await sell(offer.id, plan.buyer + 1); // two winners of one offer
            if (plan.returned) {
              const d = await openDispute(db, {
                assignmentId: first.assignmentId,
                buyerId: buyers[plan.buyer]!.id,
                reason: 'bad',
              });
              if (!d.ok) throw new Error(`dispute: ${d.error}`);
              await resolveDispute(db, { agencyId: agency.id, disputeId: d.dispute.id, approve: true });
              if (plan.reoffer) {
                // Offered again and sold to a buyer that holds none of it.
                const again = await openOffer(lead.id, lead.workflowId, plan, 1);
                await sell(again.id, plan.buyer + 2);
              }
            }
          }
        }
        if (plan.status) await db.execute(sql`UPDATE leads SET status = ${plan.status} WHERE id = ${lead.id}`);
        if (plan.moveHours !== null)
          await db.execute(
            sql`UPDATE leads SET created_at = created_at + make_interval(hours => ${plan.moveHours}) WHERE id = ${lead.id}`,
          );
        if (plan.fold) await foldReports(db);
      }

      await expectAgreement(agency.id);
      await foldReports(db);
      await expectAgreement(agency.id);
    }),
    { numRuns: 15 },
  );
}, 240_000);
