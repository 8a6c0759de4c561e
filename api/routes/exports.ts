/**
 * CSV exports (RFC 4180), streamed: rows are read in keyset batches
 * (db/reports.ts) and written as the socket takes them, so memory stays
 * constant however many rows there are. Same date filters and the same
 * authorization as the JSON routes: an agency exports everything of its own,
 * a buyer its purchases and its ledger, a source its leads and its ledger.
 */
import { allAuditEntries } from '../../db/audit';
import {
  agencyLeadsExport,
  agencyTimeZone,
  type Export,
  ledgerExport,
  rangeOf,
  type ReportRowData,
  runReport,
  salesExport,
  sourceLeadsExport,
  sourceLedgerExport,
} from '../../db/reports';
import { getSource } from '../../db/sources';
import { csvRecord, type CsvValue } from '../../domain/csv';
import { notFound } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, route, type StreamReply } from '../route';
import { RangeQuery } from '../schemas';
import type { ApiServices } from '../services';
import { auditFilterOf } from './audit';
import { AuditFilterQuery } from './audit.schemas';
import { ReportExportQuery, SourceLedgerExportQuery } from './exports.schemas';

/** Records are gathered into chunks of about this many characters before a write. */
const CHUNK = 64 * 1024;

async function* csvChunks(e: Export): AsyncGenerator<string> {
  let buf = csvRecord(e.header);
  for await (const row of e.rows) {
    buf += csvRecord(row);
    if (buf.length >= CHUNK) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

function csvReply(name: string, e: Export): StreamReply {
  return {
    status: 200,
    contentType: 'text/csv; charset=utf-8; header=present',
    headers: { 'Content-Disposition': `attachment; filename="${name}.csv"` },
    stream: csvChunks(e),
  };
}

const CSV_OK = {
  200: {
    description:
      "RFC 4180 CSV with a header row, streamed. A text cell beginning with =, +, -, @, a tab or a carriage return is written with a ' before it, in double quotes (formula injection); numbers and E.164 phone numbers are written as they are",
    contentType: 'text/csv',
    example: 'id,createdAt,status,price\r\n7c9e6679-7425-40de-944b-e07fc1f90ae7,2026-03-14T09:26:53.000Z,sold,25\r\n',
  },
};

async function rangeFor(services: ApiServices, agencyId: string, query: { from?: string; to?: string }) {
  return rangeOf(query, await agencyTimeZone(services.db, agencyId));
}

const REPORT_COLUMNS: (keyof ReportRowData)[] = [
  'key',
  'name',
  'leads',
  'offered',
  'sold',
  'unsold',
  'returned',
  'revenue',
  'payouts',
  'margin',
  'avgSecondsToClaim',
  'fillRate',
  'pings',
  'pingsAccepted',
];

const AUDIT_COLUMNS = [
  'at',
  'actorType',
  'actorLabel',
  'actorUserId',
  'actorKeyId',
  'side',
  'objectType',
  'objectId',
  'action',
  'buyerId',
  'changes',
  'note',
];

export const exportRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/exports/audit-log.csv',
    operationId: 'exportAuditLog',
    tag: 'Exports',
    summary: 'The audit log (GET /v1/audit-log) as CSV, every entry the filters match, newest first',
    description:
      'The same filters as GET /v1/audit-log. `changes` is the JSON of before → after (secrets "[redacted]").',
    query: AuditFilterQuery,
    responses: { ...CSV_OK, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      async function* rows(): AsyncGenerator<CsvValue[]> {
        for await (const e of allAuditEntries(services.db, auditFilterOf(principal, query)))
          yield [
            e.createdAt,
            e.actorType,
            e.actorLabel,
            e.actorUserId,
            e.actorKeyId,
            e.side,
            e.objectType,
            e.objectId,
            e.action,
            e.buyerId,
            e.changes,
            e.note,
          ];
      }
      return csvReply('audit-log', { header: AUDIT_COLUMNS, rows: rows() });
    },
  }),

  route({
    method: 'get',
    path: '/v1/exports/leads.csv',
    operationId: 'exportLeads',
    tag: 'Exports',
    summary: "Leads as CSV: an agency's with every field; a source's own with outcome and payout",
    query: RangeQuery,
    responses: { ...CSV_OK, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const range = await rangeFor(services, principal.agencyId, query);
      return principal.kind === 'source'
        ? csvReply('leads', sourceLeadsExport(services.db, principal.sourceId, range))
        : csvReply('leads', agencyLeadsExport(services.db, principal.agencyId, range));
    },
  }),

  route({
    method: 'get',
    path: '/v1/exports/sales.csv',
    operationId: 'exportSales',
    tag: 'Exports',
    summary: "Sales as CSV: the agency's, or a buyer's own purchases (with the lead's contact fields)",
    query: RangeQuery,
    responses: { ...CSV_OK, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const range = await rangeFor(services, principal.agencyId, query);
      return csvReply(
        'sales',
        salesExport(
          services.db,
          { agencyId: principal.agencyId, buyerId: principal.kind === 'buyer' ? principal.buyerId : undefined },
          range,
        ),
      );
    },
  }),

  route({
    method: 'get',
    path: '/v1/exports/ledger.csv',
    operationId: 'exportLedger',
    tag: 'Exports',
    summary: "The buyers' ledger as CSV: the agency's, or a buyer's own",
    query: RangeQuery,
    responses: { ...CSV_OK, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const range = await rangeFor(services, principal.agencyId, query);
      return csvReply(
        'ledger',
        ledgerExport(
          services.db,
          { agencyId: principal.agencyId, buyerId: principal.kind === 'buyer' ? principal.buyerId : undefined },
          range,
        ),
      );
    },
  }),

  route({
    method: 'get',
    path: '/v1/exports/source-ledger.csv',
    operationId: 'exportSourceLedger',
    tag: 'Exports',
    summary: "The source ledger as CSV: the agency's (one source or all), or a source's own",
    query: SourceLedgerExportQuery,
    responses: { ...CSV_OK, ...BAD_INPUT, ...AUTH_ERRORS, 404: { description: 'unknown source (`not_found`)' } },
    async handler({ principal, query, services }) {
      const range = await rangeFor(services, principal.agencyId, query);
      // A source names no other source than itself; an admin only its own agency's.
      if (principal.kind === 'source' && query.sourceId && query.sourceId !== principal.sourceId)
        throw notFound('source');
      const sourceId = principal.kind === 'source' ? principal.sourceId : query.sourceId;
      if (principal.kind === 'admin' && sourceId && !(await getSource(services.db, principal.agencyId, sourceId)))
        throw notFound('source');
      return csvReply(
        'source-ledger',
        sourceLedgerExport(services.db, { agencyId: principal.agencyId, sourceId }, range),
      );
    },
  }),

  route({
    method: 'get',
    path: '/v1/exports/report.csv',
    operationId: 'exportReport',
    tag: 'Exports',
    summary: 'A report (GET /v1/reports) as CSV, every group',
    query: ReportExportQuery,
    responses: { ...CSV_OK, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const range = await rangeFor(services, principal.agencyId, query);
      async function* rows(): AsyncGenerator<CsvValue[]> {
        let after: string | null = null;
        do {
          const page = await runReport(services.db, {
            agencyId: principal.agencyId,
            groupBy: query.groupBy,
            range,
            limit: 500,
            after,
          });
          for (const r of page.rows) yield REPORT_COLUMNS.map((c) => r[c]);
          after = page.nextKey;
        } while (after);
      }
      return csvReply(`report-${query.groupBy}`, { header: REPORT_COLUMNS, rows: rows() });
    },
  }),
];
