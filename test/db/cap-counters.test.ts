/**
 * Cap counters (#26 item 1; db/cap-counters.ts, migration 0031): the sales of
 * each buyer and campaign per day, ISO week and month in the agency's zone,
 * kept by the sale's transaction and taken back by a refund, read by
 * eligibility instead of counting assignments.
 *
 * Property (beside the reports-vs-ledger one, test/db/reports-agree.test.ts):
 * after random sales (real sales through `sellOffer`, at instants around
 * daylight-saving days and period boundaries in a zone with DST), returns
 * (real disputes, approved), offers with and without a campaign, every stored
 * counter equals an independent recount of the active assignments – periods
 * named by the local calendar (Intl), not by domain/caps.ts – the audit's own
 * recount finds no drift, and the eligibility loader, asked at each sale's
 * instant, reads each buyer's counts of that instant.
 *
 * The sale's instant: the database stamps an assignment with now(), so a
 * trigger this test installs (for its own agencies only) stamps it with the
 * instant the test set; the sale counts at the stamp it gets back, as always.
 *
 * Also: N concurrent sales against one buyer's cap, and against one
 * campaign's cap, never oversell and leave the counter equal to the count; the
 * audit catches a planted drift; an upgraded database (migration 0031 over
 * sales made before it) is backfilled at migrate and enforces caps from its
 * first sale.
 */
import crypto from 'node:crypto';

import { sql } from 'drizzle-orm';
import fc from 'fast-check';

import { backfillCapCounters, counterDrift, recountCapCounters } from '../../db/cap-counters';
import { type Database, type Db, migrateDatabase, openDatabase } from '../../db/connection';
import { openDispute, resolveDispute } from '../../db/disputes';
import { loadEligibilityInputs } from '../../db/eligibility';
import { postLedgerEntry } from '../../db/ledger';
import { sellByPush, sellManually, sellOffer } from '../../db/sales';
import { assignments, offerTargets } from '../../db/schema';
import type { CapPeriod } from '../../domain/types';
import { auditCorrupted } from '../helpers/audit';
import { openTestPostgres } from '../helpers/db';
import { MigrationFolders } from '../helpers/migrations';
import { makeAgency, makeBuyer, makeBuyers, makeCampaign, makeLead, makeOffer } from '../helpers/world';

let database: Database;
beforeAll(async () => {
  database = await openTestPostgres();
  // The test's clock for sales: an assignment of an agency with a row here is stamped with its instant.
  await database.db.execute(
    sql`CREATE TABLE IF NOT EXISTS test_sale_clock (agency_id uuid PRIMARY KEY, at timestamptz NOT NULL)`,
  );
  await database.db.execute(sql`CREATE OR REPLACE FUNCTION test_sale_clock() RETURNS trigger AS $$
    BEGIN
      NEW.created_at := coalesce((SELECT at FROM test_sale_clock WHERE agency_id = NEW.agency_id), NEW.created_at);
      RETURN NEW;
    END; $$ LANGUAGE plpgsql`);
  await database.db.execute(sql`CREATE OR REPLACE TRIGGER test_sale_clock BEFORE INSERT ON assignments
    FOR EACH ROW EXECUTE FUNCTION test_sale_clock()`);
});
afterAll(async () => {
  await database?.db.execute(sql`DROP TRIGGER IF EXISTS test_sale_clock ON assignments`);
  await database?.db.execute(sql`DROP FUNCTION IF EXISTS test_sale_clock()`);
  await database?.db.execute(sql`DROP TABLE IF EXISTS test_sale_clock`);
  await database?.close();
});

const rows = <T>(r: unknown) => (r as { rows: T[] }).rows;

// ─── the independent oracle: periods named by the local calendar ────────────

/** The local date (y, m, d) of an instant in a zone, by Intl: no luxon, no domain/caps.ts. */
function localDate(at: Date, timeZone: string): { y: number; m: number; d: number } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(at)
    .reduce<Record<string, string>>((o, p) => ({ ...o, [p.type]: p.value }), {});
  return { y: Number(parts.year), m: Number(parts.month), d: Number(parts.day) };
}

/** The name of the period holding an instant: the local date, the local ISO week's Monday, the local month. */
function periodName(period: CapPeriod, at: Date, timeZone: string): string {
  const { y, m, d } = localDate(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (period === 'daily') return `${y}-${pad(m)}-${pad(d)}`;
  if (period === 'monthly') return `${y}-${pad(m)}`;
  // The Monday on or before the local date (calendar arithmetic on a UTC date: no zone involved).
  const day = new Date(Date.UTC(y, m - 1, d));
  day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
  return `week of ${day.toISOString().slice(0, 10)}`;
}

const PERIODS: CapPeriod[] = ['daily', 'weekly', 'monthly'];

/** DST days of each zone (the instant of the change) and a month's first local midnight near them. */
const ZONES: Record<string, string[]> = {
  // 2022-09-11: 00:00 -04 became 01:00 -03 (no midnight); 2023-04-02: 00:00 -03 became 23:00 -04 (midnight twice).
  'America/Santiago': ['2022-09-11T04:00:00Z', '2023-04-02T03:00:00Z', '2023-04-01T03:00:00Z'],
  // 2023-03-12: 00:00 -05 became 01:00 -04; 2023-11-05: 01:00 -04 became 00:00 -05 (midnight twice).
  'America/Havana': ['2023-03-12T05:00:00Z', '2023-11-05T05:00:00Z', '2023-11-01T04:00:00Z'],
  'America/New_York': ['2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', '2026-11-01T04:00:00Z'],
  'Europe/London': ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-01T00:00:00Z'],
};

const salePlan = fc.record({
  anchor: fc.integer({ min: 0, max: 2 }),
  // Seconds from the anchor: on it, a second either side, an hour either side, or anywhere within four days.
  offset: fc.oneof(fc.constantFrom(0, -1, 1, -3600, 3600), fc.integer({ min: -4 * 86_400, max: 4 * 86_400 })),
  buyer: fc.integer({ min: 0, max: 2 }),
  campaign: fc.constantFrom(0, 1, null),
  returned: fc.boolean(),
});
const world = fc.record({
  zone: fc.constantFrom(...Object.keys(ZONES)),
  sales: fc.array(salePlan, { minLength: 1, maxLength: 12 }),
});

async function setClock(db: Db, agencyId: string, at: Date | null): Promise<void> {
  if (at)
    await db.execute(sql`INSERT INTO test_sale_clock (agency_id, at) VALUES (${agencyId}, ${at.toISOString()}::timestamptz)
      ON CONFLICT (agency_id) DO UPDATE SET at = EXCLUDED.at`);
  else await db.execute(sql`DELETE FROM test_sale_clock WHERE agency_id = ${agencyId}`);
}

test('after random sales and returns around DST days and period boundaries, every counter equals a recount of the assignments', async () => {
  await fc.assert(
    fc.asyncProperty(world, async (w) => {
      const db = database.db;
      const agency = await makeAgency(db, { timeZone: w.zone });
      const buyers = await makeBuyers(db, agency.id, 3, { credits: 10_000 });
      const campaigns = [await makeCampaign(db, agency.id), await makeCampaign(db, agency.id)];
      const sold: { buyerId: string; campaignId: string | null; at: Date; active: boolean }[] = [];
      for (const plan of w.sales) {
        const at = new Date(Date.parse(ZONES[w.zone]![plan.anchor]!) + plan.offset * 1000);
        const lead = await makeLead(db, agency.id, campaigns[plan.campaign ?? 0]!.id);
        const offer = await makeOffer(db, lead, {
          campaignId: plan.campaign === null ? null : campaigns[plan.campaign]!.id,
        });
        const buyer = buyers[plan.buyer]!;
        await setClock(db, agency.id, at);
        const sale = await sellOffer(db, { offerId: offer.id, buyerId: buyer.id, sale: 'manual' });
        await setClock(db, agency.id, null);
        if (sale.result !== 'won') throw new Error(`sale refused: ${sale.reason}`);
        if (plan.returned) {
          const d = await openDispute(db, { assignmentId: sale.assignmentId, buyerId: buyer.id, reason: 'bad' });
          if (!d.ok) throw new Error(`dispute: ${d.error}`);
          await resolveDispute(db, { agencyId: agency.id, disputeId: d.dispute.id, approve: true });
        }
        sold.push({ buyerId: buyer.id, campaignId: offer.campaignId, at, active: !plan.returned });
      }

      // The oracle: every active sale in its buyer's and its campaign's periods, named by the local calendar.
      const expected = new Map<string, number>();
      for (const s of sold.filter((x) => x.active))
        for (const subject of [s.buyerId, s.campaignId].filter((x): x is string => x !== null))
          for (const p of PERIODS) {
            const key = `${subject} ${p} ${periodName(p, s.at, w.zone)}`;
            expected.set(key, (expected.get(key) ?? 0) + 1);
          }
      const stored = rows<{ subject_id: string; period: CapPeriod; period_start: Date | string; sales: number }>(
        await db.execute(sql`SELECT subject_id, period, period_start, sales FROM cap_counters
          WHERE subject_id = ANY (${`{${[...buyers.map((b) => b.id), ...campaigns.map((c) => c.id)].join(',')}}`}::uuid[]) AND sales > 0`),
      );
      const actual = new Map(
        stored.map((r) => [
          `${r.subject_id} ${r.period} ${periodName(r.period, new Date(r.period_start), w.zone)}`,
          Number(r.sales),
        ]),
      );
      expect(actual).toEqual(expected);
      // Each stored period starts at the first instant of its local period: the instant before is in another.
      for (const r of stored) {
        const start = new Date(r.period_start);
        expect(periodName(r.period, new Date(start.getTime() - 1000), w.zone)).not.toBe(
          periodName(r.period, start, w.zone),
        );
      }

      // The audit's recount agrees.
      expect(counterDrift(await recountCapCounters(db, { agencyId: agency.id }))).toEqual([]);

      // Eligibility at each sale's instant reads each buyer's counts of that instant.
      for (const { at } of sold) {
        const inputs = await loadEligibilityInputs(
          db,
          { id: null, agencyId: agency.id, dedupeKeys: [] },
          { id: null, caps: {}, pool: null },
          { now: at },
        );
        for (const c of inputs.candidates) {
          const want = Object.fromEntries(
            PERIODS.map((p) => [p, expected.get(`${c.buyer.id} ${p} ${periodName(p, at, w.zone)}`) ?? 0]),
          );
          expect({ buyer: c.buyer.id, at, counts: c.counts }).toEqual({ buyer: c.buyer.id, at, counts: want });
        }
      }
    }),
    { numRuns: 25 },
  );
}, 300_000);

test('concurrent sales against one buyer’s cap never oversell, and its counter equals the count', async () => {
  const db = database.db;
  const agency = await makeAgency(db, { timeZone: 'America/New_York' });
  const buyer = await makeBuyer(db, agency.id, { credits: 10_000, caps: { daily: 3, weekly: 5 } });
  const campaign = await makeCampaign(db, agency.id);
  const opened = [];
  for (let i = 0; i < 12; i++) opened.push(await makeOffer(db, await makeLead(db, agency.id, campaign.id)));
  const results = await Promise.all(
    opened.map((o) => sellOffer(db, { offerId: o.id, buyerId: buyer.id, sale: 'manual' })),
  );
  expect(results.filter((r) => r.result === 'won')).toHaveLength(3);
  expect(results.filter((r) => r.result !== 'won').map((r) => 'reason' in r && r.reason)).toEqual(
    Array(9).fill('cap_reached'),
  );
  const counters = rows<{ period: CapPeriod; sales: number }>(
    await db.execute(sql`SELECT period, sales FROM cap_counters WHERE subject_id = ${buyer.id} ORDER BY period`),
  );
  const active = rows<{ n: number }>(
    await db.execute(
      sql`SELECT count(*)::int AS n FROM assignments WHERE buyer_id = ${buyer.id} AND status = 'active'`,
    ),
  )[0]!.n;
  expect(active).toBe(3);
  expect(counters).toEqual([
    { period: 'daily', sales: 3 },
    { period: 'monthly', sales: 3 },
    { period: 'weekly', sales: 3 },
  ]);
  expect(counterDrift(await recountCapCounters(db, { agencyId: agency.id }))).toEqual([]);
}, 120_000);

test('concurrent sales of one campaign to many buyers never pass its cap, and its counter equals the count', async () => {
  const db = database.db;
  const agency = await makeAgency(db, { timeZone: 'Europe/London' });
  const buyers = await makeBuyers(db, agency.id, 10, { credits: 1_000 });
  const campaign = await makeCampaign(db, agency.id, { caps: { daily: 4 } });
  const opened = [];
  for (let i = 0; i < buyers.length; i++) opened.push(await makeOffer(db, await makeLead(db, agency.id, campaign.id)));
  const results = await Promise.all(
    opened.map((o, i) => sellOffer(db, { offerId: o.id, buyerId: buyers[i]!.id, sale: 'manual' })),
  );
  expect(results.filter((r) => r.result === 'won')).toHaveLength(4);
  const [daily] = rows<{ sales: number }>(
    await db.execute(sql`SELECT sales FROM cap_counters WHERE subject_id = ${campaign.id} AND period = 'daily'`),
  );
  expect(daily?.sales).toBe(4);
  // A return gives the place back: the next sale of the campaign is taken again.
  const won = results.find((r) => r.result === 'won')!;
  if (won.result !== 'won') throw new Error('unreachable');
  const d = await openDispute(db, { assignmentId: won.assignmentId, buyerId: won.buyerId, reason: 'bad' });
  if (!d.ok) throw new Error(d.error);
  await resolveDispute(db, { agencyId: agency.id, disputeId: d.dispute.id, approve: true });
  const refused = results.findIndex((r) => r.result !== 'won');
  const again = await sellOffer(db, { offerId: opened[refused]!.id, buyerId: buyers[refused]!.id, sale: 'manual' });
  expect(again.result).toBe('won');
  expect(counterDrift(await recountCapCounters(db, { agencyId: agency.id }))).toEqual([]);
}, 120_000);

test('every way of selling counts: a claim, an auction’s bid, a push, an admin’s assignment; a return takes one back', async () => {
  const db = database.db;
  const agency = await makeAgency(db, { timeZone: 'America/Havana' });
  const [buyer, other] = await makeBuyers(db, agency.id, 2, { credits: 1_000 });
  const campaign = await makeCampaign(db, agency.id);
  /** An offer of a new lead of the campaign, of this kind, with both buyers targeted. */
  const offerOf = async (kind: 'ping_post' | 'push') => {
    const offer = await makeOffer(db, await makeLead(db, agency.id, campaign.id), { kind });
    await db
      .insert(offerTargets)
      .values([buyer!, other!].map((b) => ({ offerId: offer.id, buyerId: b.id, eligible: true })));
    return { offer };
  };
  const counts = async () =>
    Object.fromEntries(
      rows<{ subject_id: string; period: string; sales: number }>(
        await db.execute(sql`SELECT subject_id, period, sales FROM cap_counters
          WHERE subject_id IN (${buyer!.id}, ${campaign.id}) ORDER BY subject_id, period`),
      ).map((r) => [`${r.subject_id === buyer!.id ? 'buyer' : 'campaign'} ${r.period}`, r.sales]),
    );
  const both = (n: number) => ({
    'buyer daily': n,
    'buyer weekly': n,
    'buyer monthly': n,
    'campaign daily': n,
    'campaign weekly': n,
    'campaign monthly': n,
  });

  const claimed = await offerOf('ping_post');
  const claim = await sellOffer(db, {
    offerId: claimed.offer.id,
    buyerId: buyer!.id,
    sale: 'claim',
    requestId: 'claim-1',
  });
  expect(claim.result).toBe('won');
  expect(await counts()).toEqual(both(1));

  const auctioned = await offerOf('ping_post');
  const bid = await sellOffer(db, { offerId: auctioned.offer.id, buyerId: buyer!.id, sale: 'auction', price: 7 });
  expect(bid.result).toBe('won');
  expect(await counts()).toEqual(both(2));

  const pushed = await offerOf('push');
  await db.execute(sql`DELETE FROM offer_targets WHERE offer_id = ${pushed.offer.id} AND buyer_id = ${other!.id}`);
  const push = await sellByPush(db, {
    offerId: pushed.offer.id,
    campaignId: campaign.id,
    strategy: 'round_robin',
    maxWinners: 1,
    close: true,
  });
  expect(push.map((p) => p.result)).toEqual(['won']);
  expect(await counts()).toEqual(both(3));

  const reviewed = await makeLead(db, agency.id, campaign.id);
  const assigned = await sellManually(db, {
    offerId: crypto.randomUUID(),
    leadId: reviewed.id,
    buyerId: buyer!.id,
    workflowId: reviewed.workflowId,
    at: new Date().toISOString(),
  });
  expect(assigned.result).toBe('won');
  expect(await counts()).toEqual(both(4));

  if (claim.result !== 'won') throw new Error('unreachable');
  const d = await openDispute(db, { assignmentId: claim.assignmentId, buyerId: buyer!.id, reason: 'bad' });
  if (!d.ok) throw new Error(d.error);
  await resolveDispute(db, { agencyId: agency.id, disputeId: d.dispute.id, approve: true });
  expect(await counts()).toEqual(both(3));
  // A second approval of the same return is refused and takes nothing more back.
  expect(await resolveDispute(db, { agencyId: agency.id, disputeId: d.dispute.id, approve: true })).toMatchObject({
    ok: false,
  });
  expect(await counts()).toEqual(both(3));
  expect(counterDrift(await recountCapCounters(db, { agencyId: agency.id }))).toEqual([]);
}, 60_000);

test('the sale judges caps at the database’s instant, the one it is counted at, whatever the process’s clock says', async () => {
  const db = database.db;
  const agency = await makeAgency(db, { timeZone: 'America/New_York' });
  const buyer = await makeBuyer(db, agency.id, { credits: 100, caps: { daily: 1 } });
  const campaign = await makeCampaign(db, agency.id);
  const first = await makeOffer(db, await makeLead(db, agency.id, campaign.id));
  const second = await makeOffer(db, await makeLead(db, agency.id, campaign.id));
  expect((await sellOffer(db, { offerId: first.id, buyerId: buyer.id, sale: 'manual' })).result).toBe('won');
  // A process whose clock is a day ahead (its "today" has no sales yet): the sale still counts today, as the
  // database stamps it, so today's cap of 1 refuses it.
  const fakeable = ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate'] as const;
  jest.useFakeTimers({
    now: Date.now() + 86_400_000,
    doNotFake: [...fakeable, 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
  });
  try {
    const [{ now }] = rows<{ now: Date | string }>(await db.execute(sql`SELECT now() AS now`));
    expect(new Date().getTime() - new Date(now).getTime()).toBeGreaterThan(23 * 3_600_000); // the process is ahead
    expect(await sellOffer(db, { offerId: second.id, buyerId: buyer.id, sale: 'manual' })).toMatchObject({
      reason: 'cap_reached',
    });
  } finally {
    jest.useRealTimers();
  }
  expect(counterDrift(await recountCapCounters(db, { agencyId: agency.id }))).toEqual([]);
}, 60_000);

test('the audit finds a counter that drifted from its assignments, and a sale no counter holds', async () => {
  const db = database.db;
  const agency = await makeAgency(db, { timeZone: 'America/Santiago' });
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id);
  const offer = await makeOffer(db, await makeLead(db, agency.id, campaign.id));
  expect((await sellOffer(db, { offerId: offer.id, buyerId: buyer.id, sale: 'manual' })).result).toBe('won');

  const clean = await auditCorrupted(db, agency.id, async () => undefined);
  expect(clean.checks.find((c) => c.name === 'cap_counters')).toMatchObject({ checked: 6, failed: 0 });

  const drifted = await auditCorrupted(db, agency.id, async (tx) => {
    await tx.execute(
      sql`UPDATE cap_counters SET sales = sales + 2 WHERE subject_id = ${buyer.id} AND period = 'weekly'`,
    );
    await tx.execute(sql`DELETE FROM cap_counters WHERE subject_id = ${campaign.id} AND period = 'monthly'`);
  });
  expect(drifted.ok).toBe(false);
  const check = drifted.checks.find((c) => c.name === 'cap_counters')!;
  expect(check.failed).toBe(2);
  expect(check.violations.map((v) => v.message)).toEqual(
    expect.arrayContaining([
      expect.stringMatching(new RegExp(`^${buyer.id}: 3 in its weekly counter from .*, 1 active assignments$`)),
      expect.stringMatching(new RegExp(`^${campaign.id}: 0 in its monthly counter from .*, 1 active assignments$`)),
    ]),
  );
  expect(check.violations.map((v) => v.ids.subjectId).sort()).toEqual([buyer.id, campaign.id].sort());
}, 60_000);

test('migration 0031 backfills the counters of an upgraded database, which enforces caps from its first sale', async () => {
  const folders = new MigrationFolders();
  const { before } = folders.around('0031_cap_counters');
  const upgraded = await openDatabase({ dataDir: 'memory://', migrate: false });
  try {
    const db = upgraded.db;
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(db as never, { migrationsFolder: before });

    // Sales made before the upgrade, written as the sale of then wrote them: two active, one refunded.
    const agency = await makeAgency(db, { timeZone: 'America/Havana' });
    const buyer = await makeBuyer(db, agency.id, { credits: 100, caps: { daily: 2 } });
    const campaign = await makeCampaign(db, agency.id);
    for (const status of ['active', 'active', 'refunded'] as const) {
      const lead = await makeLead(db, agency.id, campaign.id);
      // The offers table of then (later migrations add columns the schema's insert would name).
      const offer = { id: crypto.randomUUID() };
      await db.execute(
        sql`INSERT INTO offers (id, lead_id, agency_id, campaign_id, kind, workflow_id, price, preview, closes_at)
            VALUES (${offer.id}, ${lead.id}, ${agency.id}, ${campaign.id}, 'manual', ${lead.workflowId}, 10, '{}',
                    now() + interval '1 minute')`,
      );
      const { entry } = await postLedgerEntry(db, {
        buyerId: buyer.id,
        agencyId: agency.id,
        kind: 'charge',
        amount: -10,
        idempotencyKey: `offer:${offer.id}:buyer:${buyer.id}`,
        leadId: lead.id,
        offerId: offer.id,
      });
      await db.insert(assignments).values({
        leadId: lead.id,
        offerId: offer.id,
        buyerId: buyer.id,
        agencyId: agency.id,
        price: 10,
        exclusive: true,
        chargeEntryId: entry.id,
        status,
      });
    }

    await migrateDatabase(upgraded); // 0031, then its one-off backfill
    const counters = rows<{ subject_id: string; period: string; sales: number }>(
      await db.execute(
        sql`SELECT subject_id, period, sales FROM cap_counters ORDER BY subject_id = ${buyer.id} DESC, period`,
      ),
    );
    expect(counters).toEqual(
      [buyer.id, campaign.id].flatMap((s) =>
        ['daily', 'monthly', 'weekly'].map((period) => ({ subject_id: s, period, sales: 2 })),
      ),
    );
    expect(rows(await db.execute(sql`SELECT * FROM cap_counters_backfill`))).toEqual([]);
    expect(await backfillCapCounters(db)).toBe(false); // a second start finds nothing to do
    expect(counterDrift(await recountCapCounters(db, { agencyId: agency.id }))).toEqual([]);

    // The first sale after the upgrade sees the two sales of today: the daily cap of 2 is reached.
    const offer = await makeOffer(db, await makeLead(db, agency.id, campaign.id));
    expect(await sellOffer(db, { offerId: offer.id, buyerId: buyer.id, sale: 'manual' })).toMatchObject({
      reason: 'cap_reached',
    });
  } finally {
    await upgraded.close();
    folders.remove();
  }
}, 120_000);
