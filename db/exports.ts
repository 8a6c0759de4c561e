/**
 * CSV exports read in keyset batches: each batch is one query for the next
 * BATCH rows after the last (created_at, id) seen, oldest first, so an export
 * of a million rows holds one batch in memory at a time and never a long
 * transaction or a server-side cursor. Every reader takes its scope (agency,
 * buyer or source) like the JSON routes, and the same date range.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { CsvValue } from '../domain/csv';
import { sourceOutcome } from '../domain/payout';
import type { LeadStatus } from '../domain/types';
import type { DbOrTx } from './connection';
import { inRange, type DateRange } from './reports';

export const EXPORT_BATCH = 1000;

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
        f.phone,
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
        f.phone,
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
