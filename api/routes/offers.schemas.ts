/**
 * The zod schemas of api/routes/offers.ts, kept beside it (offers, claims,
 * bids, eligibility). Shapes several route modules share are in
 * api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Id, int, list, Nullable, text } from '../schema-blocks';
import {
  BidAccepted,
  BuyerOfferView,
  ExclusionReasonSchema,
  OfferStatusSchema,
  PageQuery,
  RequestId,
  TimelineEventView,
} from '../schemas';

export const ClaimBody = z.object({ requestId: RequestId.optional() }).strict();
export const BidBody = z
  .object({
    amount: int(0, 1_000_000).describe('whole credits, at least the floor; a later bid must raise my earlier one'),
    requestId: RequestId.optional(),
  })
  .strict();
export const CancelOfferBody = z.object({ reason: text(500) }).strict();
export const OffersQuery = PageQuery.extend({ status: OfferStatusSchema.default('open') }).strict();
export const EligibilityQuery = z.object({ buyerId: Id.optional() }).strict();
export const CandidateView = z.object({
  buyerId: Id,
  buyerName: z.string(),
  eligible: z.boolean(),
  reason: Nullable(ExclusionReasonSchema),
  detail: Nullable(z.string()),
  snapshot: z
    .object({
      failedRules: z
        .array(
          z.object({
            index: z.number().int().describe("the rule's position in the buyer's rules, from 0"),
            rule: z.string(),
          }),
        )
        .optional()
        .describe(
          "filter_mismatch: every rule of the buyer's filters the lead failed, in the order of the rules (for `all`, the first one is the one that excluded the buyer)",
        ),
    })
    .catchall(z.unknown())
    .describe('what the rules saw when they decided (balance, caps, price, …)'),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  BidAccepted,
  Offers: list('offers', BuyerOfferView),
  OfferCancelling: z.object({ offer: z.object({ id: Id, status: z.literal('cancelling') }) }),
  Timeline: z.object({ events: z.array(TimelineEventView) }),
  Eligibility: z.object({ offerId: Id, leadId: Id, price: z.number().int(), candidates: z.array(CandidateView) }),
};
