/**
 * The reports aggregate: reports, exports, per-buyer stats and the fold of the
 * roll-ups. Tables: report_lead_facts, report_buyer_facts, report_lead_days,
 * report_buyer_days, report_lead_deltas, report_buyer_deltas,
 * endpoint_call_facts (filled by triggers, read and folded here).
 *
 * Server-side reports, grouped by day (in the agency's time zone), campaign,
 * source or buyer: leads in, offered, sold, unsold, returned, revenue
 * (charges less refunds), payouts (payouts less reversals), margin, average
 * seconds from the offer opening to the sale, fill rate, and pings with their
 * accept rate.
 *
 * `runReport` reads the daily roll-ups (migration 0007: report_lead_days and
 * report_buyer_days plus the deltas not yet folded into them), which the
 * database keeps in the same transactions as the sales, returns and ledger
 * entries, so a report agrees with the ledgers to the credit at every commit
 * and costs a few hundred rows per year of days whatever the number of leads
 * (#13). `runReportFromBase` is the reference: the same figures computed from
 * the base tables (leads, offers, assignments, both ledgers), which defines
 * them; the tests and `npm run audit` hold the roll-ups to it. Pings stay a
 * live query on both paths (pings_agency_created_idx): linear in the pings of
 * the range, which the bench's agency has a thousand of; should they grow
 * like the leads, they fit the same scheme (a day key; the decision, the one
 * figure a report reads, is never updated).
 *
 * Every report runs with JIT off: the reference query's chained joins are
 * estimated at hundreds of millions of rows, and compiling them cost about
 * half a second of every whole-range report.
 */
import { and, eq, gte, ne, type SQL, sql } from 'drizzle-orm';

import { isLost } from '../claims/vocabulary';
import { type CsvValue, e164Phone } from '../domain/csv';
import { sourceOutcome } from '../domain/payout';
import { type Distribution, distribution, rate } from '../domain/stats';
import type { LeadStatus } from '../domain/types';
import type { DbOrTx } from './connection';
import { agencies, assignments, deliveries, offerEvents, offers, offerTargets } from './schema';

export type ReportGroup = 'day' | 'campaign' | 'source' | 'buyer';

/** A date range in the agency's time zone: whole days, both ends inclusive. */
export interface DateRange {
  from: string | null;
  to: string | null;
  timeZone: string;
}

export async function agencyTimeZone(db: DbOrTx, agencyId: string): Promise<string> {
  const [row] = await db.select({ timeZone: agencies.timeZone }).from(agencies).where(eq(agencies.id, agencyId));
  return row?.timeZone ?? 'UTC';
}

export function rangeOf(query: { from?: string; to?: string }, timeZone: string): DateRange {
  return { from: query.from ?? null, to: query.to ?? null, timeZone };
}

/** `col` inside the range: from the first day's midnight to the midnight after the last day, in the zone. */
export function inRange(col: SQL | SQL.Aliased | unknown, range: DateRange): SQL {
  const c = col as SQL;
  const from = range.from ? sql` AND ${c} >= (${range.from}::date)::timestamp AT TIME ZONE ${range.timeZone}` : sql``;
  const to = range.to ? sql` AND ${c} < ((${range.to}::date + 1))::timestamp AT TIME ZONE ${range.timeZone}` : sql``;
  return sql`TRUE${from}${to}`;
}

export interface ReportRowData {
  key: string;
  name: string | null;
  leads: number;
  offered: number;
  sold: number;
  unsold: number;
  returned: number;
  revenue: number;
  payouts: number;
  margin: number;
  avgSecondsToClaim: number | null;
  fillRate: number | null;
  pings: number;
  pingsAccepted: number;
}

export interface ReportArgs {
  agencyId: string;
  groupBy: ReportGroup;
  range: DateRange;
  limit: number;
  /** Continue after this group key (keys ascend). */
  after?: string | null;
}

const LEAD_KEY: Record<Exclude<ReportGroup, 'buyer'>, (tz: string) => SQL> = {
  day: (tz) => sql`to_char(l.created_at AT TIME ZONE ${tz}, 'YYYY-MM-DD')`,
  campaign: () => sql`l.campaign_id::text`,
  source: () => sql`coalesce(l.source_id::text, 'none')`,
};

const PING_KEY: Record<Exclude<ReportGroup, 'buyer'>, (tz: string) => SQL> = {
  day: (tz) => sql`to_char(p.created_at AT TIME ZONE ${tz}, 'YYYY-MM-DD')`,
  campaign: () => sql`p.campaign_id::text`,
  source: () => sql`p.source_id::text`,
};

const NAME: Record<ReportGroup, SQL> = {
  day: sql`NULL::text`,
  campaign: sql`(SELECT c.name FROM campaigns c WHERE c.id::text = g.key)`,
  source: sql`(SELECT s.name FROM sources s WHERE s.id::text = g.key)`,
  buyer: sql`(SELECT b.name FROM buyers b WHERE b.id::text = g.key)`,
};

type Page = { rows: ReportRowData[]; nextKey: string | null };

/**
 * The report from the roll-ups. They are keyed by the agency's own time
 * zone; a range in another zone (no caller sends one today) has other day
 * boundaries, and is answered by the reference query instead.
 */
export async function runReport(db: DbOrTx, args: ReportArgs): Promise<Page> {
  return withoutJit(db, async (tx) => {
    const zone = await agencyTimeZone(tx, args.agencyId);
    if (zone !== args.range.timeZone) return page(tx, args, baseQuery(args));
    return page(tx, args, args.groupBy === 'buyer' ? buyerRollup(args) : leadRollup(args, args.groupBy));
  });
}

/** The reference: the same report straight from the base tables (linear in the leads of the range). */
export async function runReportFromBase(db: DbOrTx, args: ReportArgs): Promise<Page> {
  return withoutJit(db, (tx) => page(tx, args, baseQuery(args)));
}

/**
 * Moves the deltas the triggers appended into the roll-ups (report_fold():
 * one at a time; null when another fold is running). Reports are exact
 * without it; it keeps the deltas they read few. The `report-fold` job runs it
 * every half minute (worker/schedules.ts).
 */
export async function foldReports(db: DbOrTx): Promise<number | null> {
  const result = (await db.execute(sql`SELECT report_fold() AS groups`)) as unknown as {
    rows: { groups: number | null }[];
  };
  return result.rows[0]?.groups ?? null;
}

/** Leads per transaction of an online rebuild: a sale of one of them waits for one batch at most. */
const REBUILD_BATCH = 1000;

/**
 * Recomputes an agency's roll-ups from the base tables, online (migration
 * 0010): a zero facts row for each lead without one, then the agency's leads
 * batch after batch, each batch its own short transaction running the
 * triggers' own refresh (the lead's facts row locked, recomputed, the
 * difference appended to the deltas), then one reconciling statement under
 * the fold lock. No table is locked: other agencies' sales never wait, and
 * this agency's wait only while their lead is in the batch being refreshed.
 * For rows written with the triggers off (the bench seed) and as a repair;
 * a time-zone change runs the same steps in its own transaction (the
 * report_agency_zone trigger). `inBatch` runs inside each batch's
 * transaction after its refresh (tests hold a batch open with it).
 */
export async function rebuildReports(
  db: DbOrTx,
  agencyId: string,
  opts: { batch?: number; inBatch?: (lastLeadId: string) => Promise<void> } = {},
): Promise<void> {
  await withoutJit(db, (tx) => tx.execute(sql`SELECT report_rebuild_seed(${agencyId}::uuid)`));
  let after: string | null = null;
  do {
    const from: string | null = after;
    after = await withoutJit(db, async (tx) => {
      const result = (await tx.execute(
        sql`SELECT report_rebuild_batch(${agencyId}::uuid, ${from}::uuid, ${opts.batch ?? REBUILD_BATCH}) AS last`,
      )) as unknown as { rows: { last: string | null }[] };
      const last = result.rows[0]?.last ?? null;
      if (last && opts.inBatch) await opts.inBatch(last);
      return last;
    });
  } while (after);
  await withoutJit(db, (tx) => tx.execute(sql`SELECT report_reconcile(${agencyId}::uuid)`));
}

async function withoutJit<T>(db: DbOrTx, fn: (tx: DbOrTx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SET LOCAL jit = off`);
    return fn(tx);
  });
}

async function page(db: DbOrTx, args: ReportArgs, query: SQL): Promise<Page> {
  const result = (await db.execute(query)) as unknown as { rows: Record<string, unknown>[] };
  const rows = result.rows.map(toRow);
  const more = rows.length > args.limit;
  const kept = more ? rows.slice(0, args.limit) : rows;
  return { rows: kept, nextKey: more ? kept.at(-1)!.key : null };
}

const baseQuery = (args: ReportArgs) => (args.groupBy === 'buyer' ? buyerReport(args) : leadReport(args, args.groupBy));

/** `day` (a local date key) inside the range: whole local days, like `inRange` on the timestamps. */
function inDays(col: SQL, range: DateRange): SQL {
  const from = range.from ? sql` AND ${col} >= ${range.from}::date` : sql``;
  const to = range.to ? sql` AND ${col} <= ${range.to}::date` : sql``;
  return sql`TRUE${from}${to}`;
}

const ROLLUP_KEY: Record<Exclude<ReportGroup, 'buyer'>, SQL> = {
  day: sql`to_char(d.day, 'YYYY-MM-DD')`,
  campaign: sql`d.campaign_id::text`,
  source: sql`coalesce(d.source_id::text, 'none')`,
};

/** The pings of the range by group: a live query, both paths. */
function pingCounts(args: ReportArgs, group: Exclude<ReportGroup, 'buyer'>): SQL {
  return sql`
      SELECT ${PING_KEY[group](args.range.timeZone)} AS key, count(*) AS pings, count(*) FILTER (WHERE p.decision = 'accepted') AS accepted
      FROM pings p
      WHERE p.agency_id = ${args.agencyId} AND ${inRange(sql`p.created_at`, args.range)}
      GROUP BY 1`;
}

/**
 * The end of a lead grouping's query, both paths: its `agg` groups joined
 * with the pings of the range, named, one page after `args.after`.
 */
function withPingsPaged(args: ReportArgs, group: Exclude<ReportGroup, 'buyer'>): SQL {
  const after = args.after ? sql`WHERE g.key > ${args.after}` : sql``;
  return sql`p AS (${pingCounts(args, group)}),
    g AS (
      SELECT coalesce(agg.key, p.key) AS key, agg.leads, agg.offered, agg.sold, agg.unsold, agg.returned, agg.revenue, agg.payouts, agg.avg_claim,
             p.pings, p.accepted
      FROM agg FULL JOIN p ON p.key = agg.key
    )
    SELECT g.*, ${NAME[group]} AS name FROM g ${after} ORDER BY g.key LIMIT ${args.limit + 1}`;
}

/**
 * A roll-up's rows of the range beside the deltas not yet folded into it:
 * summed, they are exact at every commit.
 */
function withPending(rollup: 'lead' | 'buyer', cols: SQL, args: ReportArgs): SQL {
  const where = sql`WHERE agency_id = ${args.agencyId} AND ${inDays(sql`day`, args.range)}`;
  return sql`SELECT ${cols} FROM ${sql.raw(`report_${rollup}_days`)} ${where}
      UNION ALL
      SELECT ${cols} FROM ${sql.raw(`report_${rollup}_deltas`)} ${where}`;
}

/**
 * Day, campaign or source from report_lead_days plus the pending deltas. A
 * group with no lead left (its leads moved or went) is no group, as in the
 * reference, where groups come from the leads.
 */
function leadRollup(args: ReportArgs, group: Exclude<ReportGroup, 'buyer'>): SQL {
  const cols = sql`day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs, sales`;
  return sql`
    WITH d AS (${withPending('lead', cols, args)}),
    agg AS (
      SELECT ${ROLLUP_KEY[group]} AS key, sum(d.leads) AS leads, sum(d.offered) AS offered, sum(d.sold) AS sold,
             sum(d.unsold) AS unsold, sum(d.returned) AS returned, sum(d.revenue) AS revenue, sum(d.payouts) AS payouts,
             sum(d.claim_secs) / nullif(sum(d.sales), 0) AS avg_claim
      FROM d
      GROUP BY 1
      HAVING sum(d.leads) <> 0
    ),
    ${withPingsPaged(args, group)}`;
}

/**
 * By buyer from report_buyer_days plus the pending deltas: a buyer is a row
 * when it was offered a lead of the range, bought one, or has a charge or
 * refund on one (`entries`), as in the reference.
 */
function buyerRollup(args: ReportArgs): SQL {
  const after = args.after ? sql`WHERE g.key > ${args.after}` : sql``;
  const cols = sql`buyer_id, offered, sold, returned, revenue, payouts, claim_secs, sales, entries`;
  return sql`
    WITH d AS (${withPending('buyer', cols, args)}),
    a AS (
      SELECT buyer_id, sum(offered) AS offered, sum(sold) AS sold, sum(returned) AS returned, sum(revenue) AS revenue,
             sum(payouts) AS payouts, sum(claim_secs) AS claim_secs, sum(sales) AS sales, sum(entries) AS entries
      FROM d
      GROUP BY buyer_id
    ),
    g AS (
      SELECT b.id::text AS key, a.offered AS leads, a.offered, a.sold, greatest(a.offered - a.sales, 0) AS unsold, a.returned,
             a.revenue, a.payouts, a.claim_secs / nullif(a.sales, 0) AS avg_claim, 0 AS pings, 0 AS accepted
      FROM a JOIN buyers b ON b.id = a.buyer_id
      WHERE b.agency_id = ${args.agencyId} AND (a.offered > 0 OR a.sales > 0 OR a.entries > 0)
    )
    SELECT g.*, ${NAME.buyer} AS name FROM g ${after} ORDER BY g.key LIMIT ${args.limit + 1}`;
}

/** Reference, day, campaign or source: every lead of the range in exactly one group. */
function leadReport(args: ReportArgs, group: Exclude<ReportGroup, 'buyer'>): SQL {
  const tz = args.range.timeZone;
  const key = LEAD_KEY[group](tz);
  return sql`
    WITH l AS (
      SELECT l.id, l.status, l.created_at, ${key} AS key
      FROM leads l
      WHERE l.agency_id = ${args.agencyId} AND ${inRange(sql`l.created_at`, args.range)}
    ),
    a AS (
      SELECT a.lead_id,
             count(*) FILTER (WHERE a.status = 'active') AS active,
             count(*) FILTER (WHERE a.status = 'refunded') AS refunded,
             sum(extract(epoch FROM a.created_at - o.opened_at)) AS claim_secs,
             count(*) AS sales
      FROM assignments a JOIN l ON l.id = a.lead_id JOIN offers o ON o.id = a.offer_id
      GROUP BY a.lead_id
    ),
    r AS (
      SELECT e.lead_id, -sum(e.amount) AS revenue
      FROM ledger_entries e JOIN l ON l.id = e.lead_id
      WHERE e.kind IN ('charge', 'refund')
      GROUP BY e.lead_id
    ),
    s AS (
      SELECT e.lead_id, sum(e.amount) AS payouts
      FROM source_ledger_entries e JOIN l ON l.id = e.lead_id
      GROUP BY e.lead_id
    ),
    o AS (SELECT DISTINCT o.lead_id FROM offers o JOIN l ON l.id = o.lead_id),
    agg AS (
      SELECT l.key,
             count(*) AS leads,
             count(o.lead_id) AS offered,
             count(*) FILTER (WHERE a.active > 0) AS sold,
             count(*) FILTER (WHERE coalesce(a.sales, 0) = 0 AND l.status IN ('manual_review', 'rejected')) AS unsold,
             coalesce(sum(a.refunded), 0) AS returned,
             coalesce(sum(r.revenue), 0) AS revenue,
             coalesce(sum(s.payouts), 0) AS payouts,
             sum(a.claim_secs) / nullif(sum(a.sales), 0) AS avg_claim
      FROM l
      LEFT JOIN a ON a.lead_id = l.id
      LEFT JOIN r ON r.lead_id = l.id
      LEFT JOIN s ON s.lead_id = l.id
      LEFT JOIN o ON o.lead_id = l.id
      GROUP BY l.key
    ),
    ${withPingsPaged(args, group)}`;
}

/**
 * Reference, by buyer: the leads of the range offered to each buyer (targeted), the
 * sales it holds and returned, its charges less refunds, and the payouts of
 * the sources of the leads it bought.
 */
function buyerReport(args: ReportArgs): SQL {
  const after = args.after ? sql`WHERE g.key > ${args.after}` : sql``;
  return sql`
    WITH l AS (
      SELECT l.id FROM leads l WHERE l.agency_id = ${args.agencyId} AND ${inRange(sql`l.created_at`, args.range)}
    ),
    t AS (
      SELECT t.buyer_id, count(DISTINCT o.lead_id) AS offered
      FROM offer_targets t JOIN offers o ON o.id = t.offer_id JOIN l ON l.id = o.lead_id
      WHERE t.eligible
      GROUP BY t.buyer_id
    ),
    a AS (
      SELECT a.buyer_id,
             count(*) FILTER (WHERE a.status = 'active') AS sold,
             count(*) FILTER (WHERE a.status = 'refunded') AS returned,
             sum(extract(epoch FROM a.created_at - o.opened_at)) AS claim_secs,
             count(*) AS sales
      FROM assignments a JOIN l ON l.id = a.lead_id JOIN offers o ON o.id = a.offer_id
      GROUP BY a.buyer_id
    ),
    r AS (
      SELECT e.buyer_id, -sum(e.amount) AS revenue
      FROM ledger_entries e JOIN l ON l.id = e.lead_id
      WHERE e.kind IN ('charge', 'refund')
      GROUP BY e.buyer_id
    ),
    s AS (
      SELECT a.buyer_id, sum(e.amount) AS payouts
      FROM source_ledger_entries e JOIN assignments a ON a.id = e.assignment_id JOIN l ON l.id = e.lead_id
      GROUP BY a.buyer_id
    ),
    g AS (
      SELECT b.id::text AS key, coalesce(t.offered, 0) AS leads, coalesce(t.offered, 0) AS offered, coalesce(a.sold, 0) AS sold,
             greatest(coalesce(t.offered, 0) - coalesce(a.sales, 0), 0) AS unsold, coalesce(a.returned, 0) AS returned,
             coalesce(r.revenue, 0) AS revenue, coalesce(s.payouts, 0) AS payouts,
             a.claim_secs / nullif(a.sales, 0) AS avg_claim, 0 AS pings, 0 AS accepted
      FROM buyers b
      LEFT JOIN t ON t.buyer_id = b.id LEFT JOIN a ON a.buyer_id = b.id LEFT JOIN r ON r.buyer_id = b.id LEFT JOIN s ON s.buyer_id = b.id
      WHERE b.agency_id = ${args.agencyId} AND (t.buyer_id IS NOT NULL OR a.buyer_id IS NOT NULL OR r.buyer_id IS NOT NULL)
    )
    SELECT g.*, ${NAME.buyer} AS name FROM g ${after} ORDER BY g.key LIMIT ${args.limit + 1}`;
}

const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

function toRow(r: Record<string, unknown>): ReportRowData {
  const leads = n(r.leads);
  const sold = n(r.sold);
  const revenue = n(r.revenue);
  const payouts = n(r.payouts);
  return {
    key: String(r.key),
    name: (r.name as string | null) ?? null,
    leads,
    offered: n(r.offered),
    sold,
    unsold: n(r.unsold),
    returned: n(r.returned),
    revenue,
    payouts,
    margin: revenue - payouts,
    avgSecondsToClaim:
      r.avg_claim === null || r.avg_claim === undefined ? null : Math.round(Number(r.avg_claim) * 1000) / 1000,
    fillRate: leads > 0 ? Math.round((sold / leads) * 10_000) / 10_000 : null,
    pings: n(r.pings),
    pingsAccepted: n(r.accepted),
  };
}

// ─── buyer endpoints (#22 item 5) ───────────────────────────────────────────

/**
 * Per buyer with an endpoint (or with calls in the range), from
 * endpoint_call_facts (migration 0029: every ping and post call, kept when
 * the endpoint's log drops it; test calls never count):
 * - `pings`: pings sent (a `busy` or `refused` ping never left and is not one);
 * - `bids` and `avgBid`: pings answered with a bid, and their mean;
 * - `posts`: posts, one per idempotency key – a resend after a crash carries
 *   the sale's key and is the same post; `postsAccepted` those the buyer took
 *   (on any send), `postAcceptanceRate` accepted ÷ posts; `postsUnknown` those
 *   still unanswered (sent, neither taken nor refused on any send). A status
 *   query's answer (step `status`, #22 item 4) is not a post: it counts
 *   nowhere alone, but its accepted or rejected resolves its post's key;
 * - `timeouts`: calls unanswered within the endpoint's timeout or the tier's
 *   deadline (`timeout`, `late`), pings and posts (not status queries).
 */
export interface EndpointReportRow {
  buyerId: string;
  name: string;
  pings: number;
  bids: number;
  avgBid: number | null;
  posts: number;
  postsAccepted: number;
  postAcceptanceRate: number | null;
  postsUnknown: number;
  timeouts: number;
}

export async function endpointReport(db: DbOrTx, agencyId: string, range: DateRange): Promise<EndpointReportRow[]> {
  const result = (await db.execute(sql`
    WITH f AS (
      SELECT * FROM endpoint_call_facts f WHERE f.agency_id = ${agencyId} AND ${inRange(sql`f.created_at`, range)}
    ),
    c AS (
      SELECT buyer_id,
             count(*) FILTER (WHERE step = 'ping' AND outcome NOT IN ('busy', 'refused')) AS pings,
             count(*) FILTER (WHERE step = 'ping' AND outcome = 'accepted') AS bids,
             avg(bid) FILTER (WHERE step = 'ping' AND outcome = 'accepted') AS avg_bid,
             count(*) FILTER (WHERE step IN ('ping', 'post') AND outcome IN ('timeout', 'late')) AS timeouts
      FROM f GROUP BY buyer_id
    ),
    post AS (
      SELECT buyer_id, bool_or(outcome = 'accepted') AS accepted,
             NOT bool_or(outcome IN ('accepted', 'rejected')) AND bool_or(step = 'post' AND outcome = 'unknown') AS unresolved
      FROM f WHERE step IN ('post', 'status')
      GROUP BY buyer_id, coalesce(idempotency_key, id::text)
      HAVING bool_or(step = 'post')
    ),
    p AS (
      SELECT buyer_id, count(*) AS posts, count(*) FILTER (WHERE accepted) AS accepted,
             count(*) FILTER (WHERE unresolved) AS unknown
      FROM post GROUP BY buyer_id
    )
    SELECT b.id AS buyer_id, b.name, c.pings, c.bids, c.avg_bid, c.timeouts, p.posts, p.accepted, p.unknown
    FROM buyers b
    LEFT JOIN c ON c.buyer_id = b.id
    LEFT JOIN p ON p.buyer_id = b.id
    WHERE b.agency_id = ${agencyId}
      AND (c.buyer_id IS NOT NULL OR EXISTS (SELECT 1 FROM buyer_endpoints e WHERE e.buyer_id = b.id))
    ORDER BY b.name, b.id`)) as unknown as { rows: Record<string, unknown>[] };
  return result.rows.map((r) => {
    const posts = n(r.posts);
    const accepted = n(r.accepted);
    return {
      buyerId: String(r.buyer_id),
      name: String(r.name),
      pings: n(r.pings),
      bids: n(r.bids),
      avgBid: r.avg_bid === null || r.avg_bid === undefined ? null : Math.round(Number(r.avg_bid) * 100) / 100,
      posts,
      postsAccepted: accepted,
      postAcceptanceRate: posts > 0 ? Math.round((accepted / posts) * 10_000) / 10_000 : null,
      postsUnknown: n(r.unknown),
      timeouts: n(r.timeouts),
    };
  });
}

// ─── exports ────────────────────────────────────────────────────────────────

/**
 * CSV exports read in keyset batches: each batch is one query for the next
 * BATCH rows after the last (created_at, id) seen, oldest first, so an export
 * of a million rows holds one batch in memory at a time and never a long
 * transaction or a server-side cursor. Every reader takes its scope (agency,
 * buyer or source) like the JSON routes, and the same date range.
 */

const EXPORT_BATCH = 1000;

export interface Export {
  header: string[];
  rows: AsyncIterable<CsvValue[]>;
}

type Row = Record<string, unknown>;

/** Runs `query(after)` batch after batch until one comes back short. `after` is the last row's (at, id). */
async function* batches(
  db: DbOrTx,
  query: (after: SQL) => SQL,
  atCol: string,
  idCol: string,
  batch = EXPORT_BATCH,
): AsyncGenerator<Row> {
  let last: { at: string; id: string } | null = null;
  for (;;) {
    const after = last
      ? sql`(${sql.raw(atCol)}, ${sql.raw(idCol)}) > (${last.at}::timestamptz, ${last.id}::uuid)`
      : sql`TRUE`;
    const result = (await db.execute(
      sql`${query(after)} ORDER BY ${sql.raw(atCol)}, ${sql.raw(idCol)} LIMIT ${batch}`,
    )) as unknown as { rows: Row[] };
    for (const r of result.rows) yield r;
    if (result.rows.length < batch) return;
    const tail = result.rows.at(-1)!;
    last = { at: String(tail.sort_at), id: String(tail.id) };
  }
}

const SORT_AT = (col: string) =>
  sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS sort_at`);

async function* map(rows: AsyncIterable<Row>, f: (r: Row) => CsvValue[]): AsyncGenerator<CsvValue[]> {
  for await (const r of rows) yield f(r);
}

const iso = (v: unknown) =>
  v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : new Date(String(v)).toISOString();

const fieldsOf = (r: Row) =>
  (typeof r.fields === 'string' ? JSON.parse(r.fields) : r.fields) as Record<string, CsvValue> & {
    answers?: Record<string, unknown>;
  };

const LEAD_COLUMNS = [
  'id',
  'createdAt',
  'campaignId',
  'sourceId',
  'subId',
  'clickId',
  'status',
  'firstName',
  'lastName',
  'phone',
  'email',
  'address',
  'city',
  'state',
  'zip',
  'answers',
];

/** The agency's leads, every field. */
export function agencyLeadsExport(db: DbOrTx, agencyId: string, range: DateRange): Export {
  const rows = batches(
    db,
    (
      after,
    ) => sql`SELECT l.id, l.created_at, ${SORT_AT('l.created_at')}, l.campaign_id, l.source_id, l.sub_id, l.click_id, l.status, l.fields
      FROM leads l WHERE l.agency_id = ${agencyId} AND ${inRange(sql`l.created_at`, range)} AND ${after}`,
    'l.created_at',
    'l.id',
  );
  return {
    header: LEAD_COLUMNS,
    rows: map(rows, (r) => {
      const f = fieldsOf(r);
      return [
        r.id as string,
        iso(r.created_at),
        r.campaign_id as string,
        r.source_id as string,
        r.sub_id as string,
        r.click_id as string,
        r.status as string,
        f.firstName,
        f.lastName,
        e164Phone(f.phone),
        f.email,
        f.address,
        f.city,
        f.state,
        f.zip,
        f.answers ?? null,
      ];
    }),
  };
}

/** A source's own leads: its ids, the outcome and the net payout; never the buyer. */
export function sourceLeadsExport(db: DbOrTx, sourceId: string, range: DateRange): Export {
  const rows = batches(
    db,
    (after) => sql`SELECT l.id, l.created_at, ${SORT_AT('l.created_at')}, l.campaign_id, l.sub_id, l.click_id, l.status,
        (SELECT count(*) FROM assignments a WHERE a.lead_id = l.id AND a.status = 'active')::int AS active,
        (SELECT count(*) FROM assignments a WHERE a.lead_id = l.id AND a.status = 'refunded')::int AS refunded,
        (SELECT coalesce(sum(e.amount), 0) FROM source_ledger_entries e WHERE e.lead_id = l.id)::int AS payout
      FROM leads l WHERE l.source_id = ${sourceId} AND ${inRange(sql`l.created_at`, range)} AND ${after}`,
    'l.created_at',
    'l.id',
  );
  return {
    header: ['id', 'createdAt', 'campaignId', 'subId', 'clickId', 'outcome', 'payout'],
    rows: map(rows, (r) => [
      r.id as string,
      iso(r.created_at),
      r.campaign_id as string,
      r.sub_id as string,
      r.click_id as string,
      sourceOutcome({
        status: r.status as LeadStatus,
        activeSales: Number(r.active),
        returnedSales: Number(r.refunded),
      }),
      Number(r.payout),
    ]),
  };
}

/** Sales (assignments) with the lead's contact fields: the agency's, or one buyer's purchases. */
export function salesExport(db: DbOrTx, scope: { agencyId: string; buyerId?: string }, range: DateRange): Export {
  const buyer = scope.buyerId ? sql`AND a.buyer_id = ${scope.buyerId}` : sql``;
  const rows = batches(
    db,
    (
      after,
    ) => sql`SELECT a.id, a.created_at, ${SORT_AT('a.created_at')}, a.lead_id, a.offer_id, a.buyer_id, a.price, a.status, l.fields
      FROM assignments a JOIN leads l ON l.id = a.lead_id
      WHERE a.agency_id = ${scope.agencyId} ${buyer} AND ${inRange(sql`a.created_at`, range)} AND ${after}`,
    'a.created_at',
    'a.id',
  );
  return {
    header: [
      'id',
      'soldAt',
      'leadId',
      'offerId',
      'buyerId',
      'price',
      'status',
      'firstName',
      'lastName',
      'phone',
      'email',
      'city',
      'state',
      'zip',
    ],
    rows: map(rows, (r) => {
      const f = fieldsOf(r);
      return [
        r.id as string,
        iso(r.created_at),
        r.lead_id as string,
        r.offer_id as string,
        r.buyer_id as string,
        Number(r.price),
        r.status as string,
        f.firstName,
        f.lastName,
        e164Phone(f.phone),
        f.email,
        f.city,
        f.state,
        f.zip,
      ];
    }),
  };
}

/** The buyers' ledger: the agency's, or one buyer's. */
export function ledgerExport(db: DbOrTx, scope: { agencyId: string; buyerId?: string }, range: DateRange): Export {
  const buyer = scope.buyerId ? sql`AND e.buyer_id = ${scope.buyerId}` : sql``;
  const rows = batches(
    db,
    (
      after,
    ) => sql`SELECT e.id, e.created_at, ${SORT_AT('e.created_at')}, e.buyer_id, e.kind, e.amount, e.balance_after, e.lead_id, e.offer_id, e.reference
      FROM ledger_entries e WHERE e.agency_id = ${scope.agencyId} ${buyer} AND ${inRange(sql`e.created_at`, range)} AND ${after}`,
    'e.created_at',
    'e.id',
  );
  return {
    header: ['id', 'createdAt', 'buyerId', 'kind', 'amount', 'balanceAfter', 'leadId', 'offerId', 'reference'],
    rows: map(rows, (r) => [
      r.id as string,
      iso(r.created_at),
      r.buyer_id as string,
      r.kind as string,
      Number(r.amount),
      Number(r.balance_after),
      r.lead_id as string,
      r.offer_id as string,
      r.reference as string,
    ]),
  };
}

/** The source ledger: the agency's (every source), or one source's. */
export function sourceLedgerExport(
  db: DbOrTx,
  scope: { agencyId: string; sourceId?: string },
  range: DateRange,
): Export {
  const source = scope.sourceId ? sql`AND e.source_id = ${scope.sourceId}` : sql``;
  const rows = batches(
    db,
    (
      after,
    ) => sql`SELECT e.id, e.created_at, ${SORT_AT('e.created_at')}, e.source_id, e.kind, e.amount, e.balance_after, e.lead_id, e.assignment_id, e.reference
      FROM source_ledger_entries e WHERE e.agency_id = ${scope.agencyId} ${source} AND ${inRange(sql`e.created_at`, range)} AND ${after}`,
    'e.created_at',
    'e.id',
  );
  return {
    header: ['id', 'createdAt', 'sourceId', 'kind', 'amount', 'balanceAfter', 'leadId', 'assignmentId', 'reference'],
    rows: map(rows, (r) => [
      r.id as string,
      iso(r.created_at),
      r.source_id as string,
      r.kind as string,
      Number(r.amount),
      Number(r.balance_after),
      r.lead_id as string,
      r.assignment_id as string,
      r.reference as string,
    ]),
  };
}

// ─── stats ──────────────────────────────────────────────────────────────────

/**
 * Per-buyer engagement over a period: offers targeted, viewed, claimed or bid
 * on, viewed but ignored; claims won, lost (a race or a closed offer) and
 * failed; the latency from an offer opening to the buyer's first claim (or
 * bid); delivery success on the sending channels. Read from the timeline,
 * the offers and the deliveries: nothing is counted twice by retries, since
 * those rows are deduplicated where they are written.
 */

export interface BuyerStats {
  buyerId: string;
  since: string;
  offers: { targeted: number; viewed: number; claimed: number; bid: number; viewedButIgnored: number };
  claims: { attempts: number; won: number; lost: number; failed: number; byReason: Record<string, number> };
  claimLatencyMs: Distribution;
  deliveries: {
    delivered: number;
    failed: number;
    successRate: number | null;
    byChannel: Record<string, { delivered: number; failed: number }>;
  };
}

export async function buyerStats(db: DbOrTx, buyerId: string, since: Date): Promise<BuyerStats> {
  const targeted = await db
    .select({ offerId: offers.id })
    .from(offerTargets)
    .innerJoin(offers, eq(offers.id, offerTargets.offerId))
    .where(
      and(
        eq(offerTargets.buyerId, buyerId),
        eq(offerTargets.eligible, true),
        eq(offers.kind, 'ping_post'),
        gte(offers.openedAt, since),
      ),
    );

  const events = await db
    .select({
      offerId: offerEvents.offerId,
      type: offerEvents.type,
      reason: offerEvents.reason,
      at: offerEvents.at,
      openedAt: offers.openedAt,
    })
    .from(offerEvents)
    .innerJoin(offers, eq(offers.id, offerEvents.offerId))
    .where(and(eq(offerEvents.buyerId, buyerId), eq(offers.kind, 'ping_post'), gte(offers.openedAt, since)));

  const viewed = new Set<string>();
  const acted = new Map<string, number>(); // offer → ms from open to the first claim or bid
  const claimed = new Set<string>();
  const bid = new Set<string>();
  const byReason: Record<string, number> = {};
  let attempts = 0;
  let won = 0;
  let lost = 0;
  let failed = 0;
  for (const e of events) {
    const offerId = e.offerId!;
    if (e.type === 'viewed') viewed.add(offerId);
    if (e.type === 'claim_attempted' || e.type === 'bid_placed') {
      const ms = Math.max(0, e.at.getTime() - e.openedAt.getTime());
      const prev = acted.get(offerId);
      if (prev === undefined || ms < prev) acted.set(offerId, ms);
    }
    if (e.type === 'bid_placed') bid.add(offerId);
    if (e.type === 'claim_attempted') {
      claimed.add(offerId);
      attempts++;
    }
    if (e.type === 'won') won++;
    if (e.type === 'claim_failed') {
      const reason = e.reason ?? 'unknown';
      byReason[reason] = (byReason[reason] ?? 0) + 1;
      if (isLost(reason)) lost++;
      else failed++;
    }
  }
  const viewedButIgnored = [...viewed].filter((o) => !acted.has(o)).length;

  const rows = await db
    .select({ channel: deliveries.channel, status: deliveries.status })
    .from(deliveries)
    .innerJoin(assignments, eq(assignments.id, deliveries.assignmentId))
    .where(
      and(eq(assignments.buyerId, buyerId), gte(assignments.createdAt, since), ne(deliveries.channel, 'dashboard')),
    );
  const byChannel: Record<string, { delivered: number; failed: number }> = {};
  let delivered = 0;
  let deliveryFailed = 0;
  for (const r of rows) {
    const c = (byChannel[r.channel] ??= { delivered: 0, failed: 0 });
    if (r.status === 'delivered') {
      c.delivered++;
      delivered++;
    } else if (r.status === 'failed') {
      c.failed++;
      deliveryFailed++;
    }
  }

  return {
    buyerId,
    since: since.toISOString(),
    offers: {
      targeted: new Set(targeted.map((t) => t.offerId)).size,
      viewed: viewed.size,
      claimed: claimed.size,
      bid: bid.size,
      viewedButIgnored,
    },
    claims: { attempts, won, lost, failed, byReason },
    claimLatencyMs: distribution([...acted.values()]),
    deliveries: {
      delivered,
      failed: deliveryFailed,
      successRate: rate(delivered, delivered + deliveryFailed),
      byChannel,
    },
  };
}
