/**
 * The zod schemas of api/routes/reports.ts, kept beside it (reports). Shapes
 * several route modules share are in api/schemas.ts, the building blocks in
 * api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Id, Nullable } from '../schema-blocks';
import { PageQuery, RangeQuery, RefusalCount } from '../schemas';

export const REPORT_GROUPS = ['day', 'campaign', 'source', 'buyer'] as const;
export const ReportGroupSchema = z.enum(REPORT_GROUPS);
export const ReportQuery = RangeQuery.extend({
  groupBy: ReportGroupSchema.default('day'),
  limit: PageQuery.shape.limit,
  cursor: PageQuery.shape.cursor,
}).strict();
export const ReportRow = z.object({
  key: z.string().describe('the day (YYYY-MM-DD), or the campaign, source or buyer id ("none": no source)'),
  name: Nullable(z.string()),
  leads: z.number().int().describe('leads in (buyer grouping: leads offered to the buyer)'),
  offered: z.number().int(),
  sold: z.number().int(),
  unsold: z.number().int(),
  returned: z.number().int(),
  revenue: z.number().int().describe('charges less refunds'),
  payouts: z.number().int().describe('source payouts less reversals'),
  margin: z.number().int(),
  avgSecondsToClaim: Nullable(z.number()),
  fillRate: Nullable(z.number()).describe('sold ÷ leads'),
  pings: z.number().int().describe('source and day groupings: pings received'),
  pingsAccepted: z.number().int(),
});

/** A buyer's endpoint over the range (db/reports.ts `endpointReport`; test calls never count). */
export const EndpointReportRow = z.object({
  buyerId: Id,
  name: z.string(),
  pings: z
    .number()
    .int()
    .describe('pings sent (a ping refused by the address guard or over the concurrency limit never left)'),
  bids: z.number().int().describe('pings answered with a bid'),
  avgBid: Nullable(z.number()).describe('the mean of those bids, in credits'),
  posts: z.number().int().describe('posts, one per sale: a resend with the same Idempotency-Key is the same post'),
  postsAccepted: z.number().int(),
  postAcceptanceRate: Nullable(z.number()).describe('posts accepted ÷ posts'),
  postsUnknown: z.number().int().describe('posts sent and not yet answered on any send (`post_unknown`)'),
  timeouts: z.number().int().describe('pings and posts unanswered within the timeout or the tier deadline'),
});

/** Refusals of one source over the range; `sourceId` `none`: the agency's own intake. */
export const SourceRefusalRow = z.object({
  sourceId: z.string(),
  name: Nullable(z.string()),
  leads: z.number().int(),
  pings: z.number().int(),
  reasons: z.array(RefusalCount),
});

const Range = {
  from: Nullable(z.string()),
  to: Nullable(z.string()),
  timeZone: z.string(),
};

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  Report: z.object({
    groupBy: ReportGroupSchema,
    from: Nullable(z.string()),
    to: Nullable(z.string()),
    timeZone: z.string(),
    rows: z.array(ReportRow),
    nextCursor: Nullable(z.string()),
  }),
  EndpointReport: z.object({ ...Range, rows: z.array(EndpointReportRow) }),
  RefusalReport: z.object({
    ...Range,
    byReason: z.array(RefusalCount),
    bySource: z.array(SourceRefusalRow),
  }),
};
