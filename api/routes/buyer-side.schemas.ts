/**
 * The zod schemas of api/routes/buyer-side.ts, kept beside it (a buyer's own
 * prices, pipeline and alerts). Shapes several route modules share are in
 * api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Credits, Id, int, IsoTime, Nullable, StatusCounts, text } from '../schema-blocks';
import {
  AlertChannelSchema,
  AlertKindSchema,
  AlertStatusSchema,
  BuyerPriceKindSchema,
  PipelineStatusSchema,
} from '../schemas';

/** A buyer's own price on a campaign: `{buyerId, rule}`; rule null removes it. */
export const BuyerPriceBody = z
  .object({
    buyerId: Id,
    rule: z
      .discriminatedUnion('kind', [
        z
          .object({
            kind: z.literal('fixed'),
            value: Credits.describe('the buyer pays this, whatever the campaign price'),
          })
          .strict(),
        z
          .object({
            kind: z.literal('percent'),
            value: int(-100, 1000).describe('percent on the campaign price: 20 = 20 % more, -10 = 10 % less'),
          })
          .strict(),
      ])
      .nullable()
      .describe('null: the buyer pays the campaign price again'),
  })
  .strict();
export const PipelineBody = z
  .object({
    status: PipelineStatusSchema,
    note: text(2000).optional(),
    jobValue: int(0, 100_000_000)
      .optional()
      .describe("the job's value (whole units of the buyer's money), e.g. with won_job"),
  })
  .strict();
export const BuyerPriceView = z.object({
  campaignId: Id,
  buyerId: Id,
  kind: BuyerPriceKindSchema,
  value: z.number().int(),
  updatedAt: IsoTime,
});
export const PipelineChangeView = z.object({
  id: Id,
  assignmentId: Id,
  status: PipelineStatusSchema,
  note: Nullable(z.string()),
  jobValue: Nullable(z.number().int()),
  authorKeyId: Nullable(Id).describe('the API key that made the change'),
  at: IsoTime,
});
export const PipelineItemView = z.object({
  assignmentId: Id,
  leadId: Id,
  campaignId: Nullable(Id),
  price: z.number().int(),
  boughtAt: IsoTime,
  name: z.string(),
  city: Nullable(z.string()),
  status: PipelineStatusSchema,
  note: Nullable(z.string()),
  jobValue: Nullable(z.number().int()),
  changedAt: Nullable(IsoTime),
});
export const AlertView = z.object({
  id: Id,
  kind: AlertKindSchema,
  channel: AlertChannelSchema,
  offerId: Nullable(Id),
  status: AlertStatusSchema,
  attempts: z.number().int(),
  lastError: Nullable(z.string()),
  createdAt: IsoTime,
  sentAt: Nullable(IsoTime),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  BuyerPrice: z.object({ buyerPrice: Nullable(BuyerPriceView) }),
  BuyerPrices: z.object({ buyerPrices: z.array(BuyerPriceView) }),
  PipelineChange: z.object({ change: PipelineChangeView }),
  PipelineHistory: z.object({ assignmentId: Id, status: PipelineStatusSchema, changes: z.array(PipelineChangeView) }),
  Pipeline: z.object({ counts: StatusCounts, leads: z.array(PipelineItemView) }),
  Alerts: z.object({ alerts: z.array(AlertView) }),
};
