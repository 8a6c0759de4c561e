/**
 * The agency's reports, computed in SQL (db/reports.ts): grouped by day (in
 * the agency time zone), campaign, source or buyer, filtered by a date range,
 * paginated by group key; per buyer endpoint (pings, bids, posts, timeouts)
 * and the refusals at intake and of pings, by reason and by source.
 */
import { refusalReport } from '../../db/refusals';
import { agencyTimeZone, type DateRange, endpointReport, rangeOf, runReport } from '../../db/reports';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, route } from '../route';
import { RangeQuery } from '../schemas';
import type { ApiServices } from '../services';
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

/** A query's date range in the agency's time zone (refused when `to` is before `from`). */
export async function queryRange(
  services: ApiServices,
  agencyId: string,
  query: { from?: string; to?: string },
): Promise<DateRange> {
  if (query.from && query.to && query.from > query.to) throw invalidField('to', 'must not be before from', 'query');
  return rangeOf(query, await agencyTimeZone(services.db, agencyId));
}

/** The range as an answer repeats it. */
export const rangeEcho = (range: DateRange) => ({ from: range.from, to: range.to, timeZone: range.timeZone });

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
      const range = await queryRange(services, principal.agencyId, query);
      const { rows, nextKey } = await runReport(services.db, {
        agencyId: principal.agencyId,
        groupBy: query.groupBy,
        range,
        limit: query.limit,
        after: decodeKey(query.cursor),
      });
      return {
        status: 200,
        body: {
          groupBy: query.groupBy,
          from: query.from ?? null,
          to: query.to ?? null,
          timeZone: range.timeZone,
          rows,
          nextCursor: encodeKey(nextKey),
        },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/reports/endpoints',
    operationId: 'endpointReport',
    tag: 'Reports',
    summary:
      'Per buyer with an endpoint: pings sent, bids received, average bid, posts, post acceptance rate and timeouts',
    description:
      "Counted from every ping and post call of the buyers' endpoints in the range (days in the agency time zone), kept for the reports when the endpoint log keeps only its last 100; test calls never count. A post resent with the same `Idempotency-Key` is one post.",
    query: RangeQuery,
    responses: {
      200: { description: 'one row per buyer', schema: Responses.EndpointReport },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, query, services }) {
      const range = await queryRange(services, principal.agencyId, query);
      return {
        status: 200,
        body: { ...rangeEcho(range), rows: await endpointReport(services.db, principal.agencyId, range) },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/reports/refusals',
    operationId: 'refusalReport',
    tag: 'Reports',
    summary: 'Leads refused at intake and pings rejected, by reason and by source',
    description:
      'Leads: every refusal of POST /v1/leads and /v1/posts (`invalid_phone`, `invalid_email`, `disposable_email`, `consent_required`, `duplicate_lead`, `campaign_paused`, `post_contradicts_ping`) and every lead held in review as `suppressed`. Pings: every ping rejected, with its reason. Days in the agency time zone.',
    query: RangeQuery,
    responses: { 200: { description: 'the counts', schema: Responses.RefusalReport }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const range = await queryRange(services, principal.agencyId, query);
      return {
        status: 200,
        body: { ...rangeEcho(range), ...(await refusalReport(services.db, principal.agencyId, range)) },
      };
    },
  }),
];
