/**
 * The zod schemas of api/routes/disputes.ts, kept beside it (disputes
 * (returns)). Shapes several route modules share are in api/schemas.ts, the
 * building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Id, IsoTime, list, Nullable, text } from '../schema-blocks';
import { DisputeStatusSchema, PageQuery } from '../schemas';
import { LedgerEntryView } from './buyers.schemas';

export const DisputeCreate = z
  .object({
    reason: text(2000),
    code: z
      .string()
      .regex(/^[a-z0-9_]{1,64}$/)
      .optional()
      .describe("one of the agency's return reason codes (required when it has a list)"),
  })
  .strict();
export const DisputeResolve = z
  .object({
    approve: z.boolean(),
    note: text(2000).optional(),
    reoffer: z
      .boolean()
      .optional()
      .describe('with approve: offer the lead again as a new auction (the returning buyer excluded)'),
    campaignId: Id.optional().describe("the re-offer's campaign (default: the lead's)"),
  })
  .strict();
export const DisputesQuery = PageQuery.extend({ status: DisputeStatusSchema.optional() }).strict();
export const DisputeView = z.object({
  id: Id,
  assignmentId: Id,
  buyerId: Id,
  reason: z.string(),
  code: Nullable(z.string()),
  status: DisputeStatusSchema,
  refundEntryId: Nullable(Id),
  createdAt: IsoTime,
  resolvedAt: Nullable(IsoTime),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  Dispute: z.object({ dispute: DisputeView }),
  Disputes: list('disputes', DisputeView),
  DisputeResolved: z.object({
    dispute: DisputeView,
    refund: Nullable(z.object({ entry: LedgerEntryView, balance: z.number().int() })),
    reoffer: Nullable(z.object({ leadId: Id, workflowId: z.string(), campaignId: Id })).optional(),
  }),
};
