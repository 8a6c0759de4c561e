/**
 * The agency's reports, computed in SQL (db/reports.ts): grouped by day (in
 * the agency time zone), campaign, source or buyer, filtered by a date range,
 * paginated by group key.
 */
import { agencyTimeZone, rangeOf, runReport } from '../../db/reports';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, route } from '../route';
import { invalidField } from '../validate';
import { ReportQuery, Responses } from './reports.schemas';

/** Report cursors are the last group key, opaque to clients. */
const encodeKey = (key: string | null) =>
  key === null ? null : Buffer.from(JSON.stringify([key]), 'utf8').toString('base64url');
function decodeKey(cursor: string | undefined): string | null {
  if (!cursor) return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string' && v[0].length <= 100) return v[0];
  } catch {
    // fall through
  }
  throw invalidField('cursor', 'not a cursor this API gave out', 'query');
}

export const reportRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/reports',
    operationId: 'report',
    tag: 'Reports',
    summary:
      'Leads in, offered, sold, unsold, returned, revenue, payouts, margin, time to claim, fill rate and pings, grouped by day, campaign, source or buyer',
    description:
      'Days are whole days in the agency time zone (`from` and `to` inclusive). Money comes from the ledgers: revenue is charges less refunds, payouts are source payouts less reversals.',
    query: ReportQuery,
    responses: { 200: { description: 'a page of groups', schema: Responses.Report }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const timeZone = await agencyTimeZone(services.db, principal.agencyId);
      if (query.from && query.to && query.from > query.to) throw invalidField('to', 'must not be before from', 'query');
      const { rows, nextKey } = await runReport(services.db, {
        agencyId: principal.agencyId,
        groupBy: query.groupBy,
        range: rangeOf(query, timeZone),
        limit: query.limit,
        after: decodeKey(query.cursor),
      });
      return {
        status: 200,
        body: {
          groupBy: query.groupBy,
          from: query.from ?? null,
          to: query.to ?? null,
          timeZone,
          rows,
          nextCursor: encodeKey(nextKey),
        },
      };
    },
  }),
];
