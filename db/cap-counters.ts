/**
 * Cap counters (#26 item 1): the active sales of each buyer and each campaign
 * per cap period, so eligibility (routing, pings, the sale's re-check: all
 * through db/eligibility.ts) reads three rows instead of counting a month of
 * assignments.
 *
 * A row is (subject, period, period start) → sales: the subject is a buyer or
 * a campaign (its sales across buyers), the period daily, weekly or monthly,
 * and its start the instant the period began in the agency's zone, as
 * domain/caps.ts `periodStart` defines it for the caps (one definition; luxon's
 * DST rules). A sale counts in the periods of its assignment's `created_at`,
 * the instant the recount (and the audit) reads.
 *
 * Written only here: `countSale` in the sale's transaction (db/sales.ts, every
 * path that creates a charged assignment), `uncountSale` when a refund gives
 * the sale back (db/disputes.ts, with the sale db/assignments.ts `markRefunded`
 * answers: the one move that stops a sale counting), the backfill at migrate
 * (migration 0031) and `rebuildCapCounters`. Both writers take the rows last in
 * their transactions, the buyer's before the campaign's: a campaign's rows are
 * shared by all its sales, so they are held for the shortest time, and in one
 * order (after the wallet and the lead's row) by everyone. A row lock lasts
 * until COMMIT, so both first run what the commit would (`commitTimeWorkNow`:
 * the deferred report refresh of the transaction's leads, which locks each
 * lead's facts row, and the payout check): a campaign's sales then queue on its
 * rows for the upsert and the commit only, and every writer takes a lead's
 * facts row before the counters (one order, no deadlock between a sale and a
 * refund of one shared lead).
 * The audit compares them with `recountCapCounters` (db/invariants.ts).
 *
 * Old periods are kept, not pruned: a row is ~60 bytes, a subject gains at most
 * one daily, one weekly and one monthly row per period in which it sold, and
 * eligibility reads only the current periods' rows by primary key, so the old
 * ones cost disk, never time.
 *
 * Tables: cap_counters, cap_counters_backfill (aggregate: sales, with db/sales.ts and db/assignments.ts).
 */
import { eq, type SQL, sql } from 'drizzle-orm';

import { periodStarts } from '../domain/caps';
import { CAP_PERIODS, type CapPeriod } from '../domain/types';
import type { Db, DbOrTx, Tx } from './connection';
import { agencies, capCounters, capCountersBackfill } from './schema';

/** One sale counted: the buyer's and (when the offer has one) the campaign's subjects, at the assignment's instant. */
export interface CountedSale {
  agencyId: string;
  buyerId: string;
  campaignId: string | null;
  /** The assignment's `created_at`. */
  at: Date;
}

type Rows<T> = { rows: T[] };

async function agencyZone(db: DbOrTx, agencyId: string): Promise<string> {
  const [row] = await db.select({ timeZone: agencies.timeZone }).from(agencies).where(eq(agencies.id, agencyId));
  return row?.timeZone ?? 'UTC';
}

/** The counter rows one sale touches, the buyer's first (every writer takes them in this order). */
function saleKeys(sale: CountedSale, timeZone: string): { subjectId: string; period: CapPeriod; periodStart: Date }[] {
  const starts = periodStarts(sale.at, timeZone);
  const subjects = sale.campaignId ? [sale.buyerId, sale.campaignId] : [sale.buyerId];
  return subjects.flatMap((subjectId) =>
    CAP_PERIODS.map((period) => ({ subjectId, period, periodStart: starts[period] })),
  );
}

/**
 * Runs now what COMMIT would run: every deferred constraint trigger's pending events (the report refresh of the
 * changed leads, migration 0007; the source-payout check, 0006) fire in the first statement, on the transaction's
 * state so far, and the second makes the transaction's later changes deferred again, as they were. The refresh is
 * idempotent (it appends only the difference), so a lead changed again afterwards is refreshed again at COMMIT.
 * `ALL` is right only while every deferrable constraint is INITIALLY DEFERRED (test/db/sale-lock-hold.test.ts checks
 * the schema): the second statement then defers no constraint that was immediate.
 */
async function commitTimeWorkNow(tx: Tx): Promise<void> {
  await tx.execute(sql`SET CONSTRAINTS ALL IMMEDIATE`);
  await tx.execute(sql`SET CONSTRAINTS ALL DEFERRED`);
}

/**
 * Adds one sale to its counters, as the last statement of the sale's transaction: one UPSERT of the buyer's three
 * rows and the campaign's, so concurrent sales of one buyer or campaign add up (each waits on the row another holds)
 * and never lose an increment. The commit's deferred work runs before it (`commitTimeWorkNow`).
 */
export async function countSale(tx: Tx, sale: CountedSale): Promise<void> {
  const keys = saleKeys(sale, await agencyZone(tx, sale.agencyId));
  await commitTimeWorkNow(tx);
  await tx
    .insert(capCounters)
    .values(keys.map((k) => ({ ...k, sales: 1 })))
    .onConflictDoUpdate({
      target: [capCounters.subjectId, capCounters.period, capCounters.periodStart],
      set: { sales: sql`${capCounters.sales} + 1` },
    });
}

/**
 * Takes one refunded sale back from its counters, as the last statement of the refund's transaction, after the
 * commit's deferred work (`commitTimeWorkNow`, as `countSale`). A counter already at 0 stays there (the refund is
 * never refused over a counter; the audit reports the drift).
 */
export async function uncountSale(tx: Tx, sale: CountedSale): Promise<void> {
  const keys = saleKeys(sale, await agencyZone(tx, sale.agencyId));
  await commitTimeWorkNow(tx);
  const match = sql.join(
    keys.map(
      (k) =>
        sql`(${capCounters.subjectId} = ${k.subjectId} AND ${capCounters.period} = ${k.period} AND ${capCounters.periodStart} = ${k.periodStart.toISOString()}::timestamptz)`,
    ),
    sql` OR `,
  );
  await tx.execute(sql`UPDATE ${capCounters} SET sales = sales - 1 WHERE (${match}) AND ${capCounters.sales} > 0`);
}

/**
 * The SQL of one subject's current counts, as int[3] (daily, weekly, monthly): three primary-key lookups for the
 * periods that begin at `starts`. The eligibility loader's only read of cap usage.
 */
export function currentCountsSql(starts: Record<CapPeriod, Date>, subject: SQL): SQL<number[]> {
  const of = (p: CapPeriod) =>
    sql`coalesce((SELECT c.sales FROM cap_counters c
      WHERE c.subject_id = ${subject} AND c.period = ${p} AND c.period_start = ${starts[p].toISOString()}::timestamptz), 0)`;
  return sql<number[]>`ARRAY[${sql.join(CAP_PERIODS.map(of), sql`, `)}]::int[]`;
}

// ─── recount: the counters as the assignments say they should be ───────────

/**
 * `periodStarts` for instants read in time order: within 20 hours of a day's start (no local day is shorter) the
 * day, and so its week and month, are the same, so a recount over a year of sales computes about one per day.
 */
function periodStartsCache(): (at: Date, timeZone: string) => Record<CapPeriod, Date> {
  const last = new Map<string, { from: number; to: number; starts: Record<CapPeriod, Date> }>();
  return (at, timeZone) => {
    const t = at.getTime();
    const hit = last.get(timeZone);
    if (hit && t >= hit.from && t < hit.to) return hit.starts;
    const starts = periodStarts(at, timeZone);
    const from = starts.daily.getTime();
    last.set(timeZone, { from, to: from + 20 * 3_600_000, starts });
    return starts;
  };
}

/** `subject|period|start ISO` → sales. */
export type CounterMap = Map<string, number>;

const keyOf = (subjectId: string, period: CapPeriod, start: Date) => `${subjectId}|${period}|${start.toISOString()}`;

/** A counter's key split back into its parts. */
export function counterKeyParts(key: string): { subjectId: string; period: CapPeriod; periodStart: string } {
  const [subjectId, period, periodStart] = key.split('|') as [string, CapPeriod, string];
  return { subjectId, period, periodStart };
}

const agencyFilter = (agencyId: string | null, column: SQL) =>
  agencyId ? sql`AND ${column} = ${agencyId}::uuid` : sql``;
const subjectsOf = (agencyId: string) =>
  sql`(SELECT id FROM buyers WHERE agency_id = ${agencyId}::uuid UNION ALL SELECT id FROM campaigns WHERE agency_id = ${agencyId}::uuid)`;

/**
 * The stored counters and the recount from the active assignments (of one agency, or all), read in one statement
 * so both sides are of one snapshot while sales commit. Zero rows are left out of both: a counter a refund took
 * back to 0 equals no counter.
 *
 * The assignments are read grouped per minute (`date_bin`): a period boundary is a local midnight, on a whole
 * minute in every zone's offset since 1972, so every sale of one minute falls in the same periods.
 */
export async function recountCapCounters(
  db: DbOrTx,
  opts: { agencyId: string | null },
): Promise<{ stored: CounterMap; recounted: CounterMap }> {
  const { agencyId } = opts;
  const result = (await db.execute(sql`
    SELECT 'stored' AS side, c.subject_id::text AS buyer_id, NULL::text AS campaign_id, c.period, c.period_start AS at,
           NULL::text AS time_zone, c.sales AS n
      FROM cap_counters c
     WHERE c.sales > 0 ${agencyId ? sql`AND c.subject_id IN ${subjectsOf(agencyId)}` : sql``}
    UNION ALL
    SELECT 'sold', a.buyer_id::text, o.campaign_id::text, NULL, date_bin('1 minute', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
           ag.time_zone, count(*)::int
      FROM assignments a JOIN offers o ON o.id = a.offer_id JOIN agencies ag ON ag.id = a.agency_id
     WHERE a.status = 'active' ${agencyFilter(agencyId, sql`a.agency_id`)}
     GROUP BY 2, 3, 5, 6
     ORDER BY 6, 5`)) as unknown as Rows<{
    side: 'stored' | 'sold';
    buyer_id: string;
    campaign_id: string | null;
    period: CapPeriod | null;
    at: Date | string;
    time_zone: string | null;
    n: number;
  }>;
  const startsOf = periodStartsCache();
  const stored: CounterMap = new Map();
  const recounted: CounterMap = new Map();
  const add = (m: CounterMap, key: string, n: number) => m.set(key, (m.get(key) ?? 0) + n);
  for (const r of result.rows) {
    const at = new Date(r.at);
    if (r.side === 'stored') {
      stored.set(keyOf(r.buyer_id, r.period!, at), Number(r.n));
      continue;
    }
    const starts = startsOf(at, r.time_zone ?? 'UTC');
    for (const period of CAP_PERIODS) {
      add(recounted, keyOf(r.buyer_id, period, starts[period]), Number(r.n));
      if (r.campaign_id) add(recounted, keyOf(r.campaign_id, period, starts[period]), Number(r.n));
    }
  }
  return { stored, recounted };
}

/** Every counter whose stored sales differ from the recount (missing on either side counts as 0). */
export function counterDrift(
  counts: Awaited<ReturnType<typeof recountCapCounters>>,
): { key: string; stored: number; recounted: number }[] {
  const out = [];
  for (const key of new Set([...counts.stored.keys(), ...counts.recounted.keys()])) {
    const stored = counts.stored.get(key) ?? 0;
    const recounted = counts.recounted.get(key) ?? 0;
    if (stored !== recounted) out.push({ key, stored, recounted });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Replaces the counters (of one agency, or all) by the recount, inside the caller's transaction; answers how many rows. */
async function replaceByRecount(tx: DbOrTx, opts: { agencyId: string | null }): Promise<number> {
  const { recounted } = await recountCapCounters(tx, opts);
  await tx.execute(
    opts.agencyId
      ? sql`DELETE FROM cap_counters WHERE subject_id IN ${subjectsOf(opts.agencyId)}`
      : sql`DELETE FROM cap_counters`,
  );
  const rows = [...recounted].map(([key, sales]) => {
    const { subjectId, period, periodStart } = counterKeyParts(key);
    return { subjectId, period, periodStart: new Date(periodStart), sales };
  });
  for (let i = 0; i < rows.length; i += 1000) await tx.insert(capCounters).values(rows.slice(i, i + 1000));
  return rows.length;
}

/**
 * Replaces the counters (of one agency, or all) by the recount, in one transaction (a savepoint in the caller's):
 * what a seed that writes assignments in bulk runs after (bench/scenarios/supply.ts), or an operator after moving
 * sales by hand. A sale that commits while it runs may be missed by its snapshot: run it when the agency is quiet.
 */
export async function rebuildCapCounters(db: DbOrTx, opts: { agencyId: string | null }): Promise<number> {
  return db.transaction((tx) => replaceByRecount(tx, opts));
}

/**
 * The one-off step of migration 0031: when its backfill row is still there, fill every counter from the
 * assignments and delete the row, in one transaction (a second process finds nothing to do). Called by
 * `migrateDatabase` right after the SQL migrations, so an upgraded database enforces caps from its first sale.
 */
export async function backfillCapCounters(db: Db): Promise<boolean> {
  return db.transaction(async (tx) => {
    const taken = await tx.delete(capCountersBackfill).returning();
    if (!taken.length) return false;
    await replaceByRecount(tx, { agencyId: null });
    return true;
  });
}
