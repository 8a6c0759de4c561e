/**
 * Property: the SQL reports agree with the ledgers to the credit. For random
 * worlds (sources with fixed or share rules, leads from sources or the agency
 * itself, sales at random prices to random buyers, some returned), every
 * grouping's revenue totals the buyers' ledger (charges less refunds), its
 * payouts total the source ledger, each source's payouts equal its wallet and
 * each buyer's revenue its own charges less refunds; every lead is counted
 * once in the lead groupings.
 */
import fc from 'fast-check';
import type { Pool } from 'pg';
import { createBuyer, insertLead, topUp } from '../../db/admin';
import type { Database } from '../../db/connection';
import { openDispute, resolveDispute } from '../../db/disputes';
import { runReport, type ReportGroup, type ReportRowData } from '../../db/reports';
import { sellOffer } from '../../db/sales';
import { offers } from '../../db/schema';
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
