/**
 * The zod schemas of api/routes/reports.ts, kept beside it (reports). Shapes
 * several route modules share are in api/schemas.ts, the building blocks in
 * api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Nullable } from '../schema-blocks';
import { PageQuery, RangeQuery } from '../schemas';

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
};
