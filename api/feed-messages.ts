/**
 * The live feed's messages (`/v1/feed`), both directions, as zod schemas: the
 * one definition that the gateway (api/feed/) parses client frames with and
 * types its `send` by, that the AsyncAPI document (api/asyncapi.ts) is
 * generated from, and that the pages (web/src/shared/types.ts) infer their
 * types from with a type-only import. A message the gateway may send that is
 * not in `FeedServerMessage` does not compile.
 *
 * Every offer message carries `seq` (milliseconds): a client that reconnects
 * with `?since=<seq>` hears the closes it missed after the snapshot.
 */
import { z } from 'zod';

import { FEED_CLOSE_OUTCOMES } from '../domain/types';
import { Id } from './schema-blocks';
import { BidAccepted, BidRefused, BuyerOfferView, ClaimRefused, ClaimWon, RequestId } from './schemas';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const Seq = z
  .number()
  .int()
  .nonnegative()
  .describe('the position of this message (ms): reconnect with `?since=<seq>` to resume after it');

// ─── client → server ─────────────────────────────────────────────────────────

export const ViewedMessage = z
  .object({ type: z.literal('viewed'), offerId: Id })
  .strict()
  .describe('the buyer looked at an offer: recorded once per buyer and offer as `viewed` on its timeline');
export const ClaimMessage = z
  .object({ type: z.literal('claim'), offerId: Id, requestId: RequestId })
  .strict()
  .describe(
    'claim a first-claim offer (the REST claim over the socket): answered with `claim.result` or an `error` with the requestId',
  );
export const BidMessage = z
  .object({ type: z.literal('bid'), offerId: Id, amount: int(0, 1_000_000), requestId: RequestId })
  .strict()
  .describe(
    'a sealed bid on a highest-bid offer (the REST bid over the socket): answered with `bid.result` or an `error` with the requestId',
  );

export const FeedClientMessage = z.discriminatedUnion('type', [ViewedMessage, ClaimMessage, BidMessage]);
export type FeedClientMessage = z.infer<typeof FeedClientMessage>;

// ─── server → client ─────────────────────────────────────────────────────────

const SnapshotMessage = z
  .object({
    type: z.literal('snapshot'),
    offers: z.array(BuyerOfferView).describe('the open offers that target this buyer (the newest 200)'),
    seq: Seq,
    resync: z
      .literal(true)
      .optional()
      .describe('sent again after the gateway lost its event bus: replace the board with it'),
  })
  .describe('on connect, and again on a resync: then the closes missed since `?since` (or the last seq) follow');
const OfferOpenedMessage = z
  .object({ type: z.literal('offer.opened'), offer: BuyerOfferView, seq: Seq })
  .describe('a new offer targets this buyer (its price is this buyer’s own where a campaign rule gives one)');
const OfferClosedMessage = z
  .object({ type: z.literal('offer.closed'), offerId: Id, outcome: z.enum(FEED_CLOSE_OUTCOMES), seq: Seq })
  .describe('an offer this socket was shown has closed (a cancelled offer counts as expired)');

const answerTo = { requestId: RequestId.describe('the requestId of the claim or bid this answers') };
export const ClaimResultMessage = z
  .discriminatedUnion('result', [
    ClaimWon.extend({ type: z.literal('claim.result'), ...answerTo }),
    ClaimRefused.extend({ type: z.literal('claim.result'), ...answerTo }),
  ])
  .describe('the answer to a `claim`: the same bodies as POST /v1/offers/{id}/claim');
export const BidResultMessage = z
  .discriminatedUnion('result', [
    BidAccepted.extend({ type: z.literal('bid.result'), ...answerTo }),
    BidRefused.extend({ type: z.literal('bid.result'), ...answerTo }),
  ])
  .describe('the answer to a `bid`: the same bodies as POST /v1/offers/{id}/bids');

export const FeedErrorMessage = z
  .object({
    type: z.literal('error'),
    code: z
      .string()
      .describe(
        'stable: malformed_json, unsupported_frame, unknown_type, validation_failed, not_found, access_revoked (the socket closes with 4403), ' +
          'internal_error, or a claim/bid problem code (claim_pending, bid_pending, rate_limited…: retry with the same requestId)',
      ),
    message: z.string(),
    requestId: RequestId.optional().describe('the claim or bid this is about'),
    offerId: Id.optional(),
    retryAfter: z.number().int().optional().describe('rate_limited: seconds to wait'),
    errors: z
      .array(
        z.object({
          path: z.string(),
          message: z.string(),
          in: z.enum(['body', 'query', 'params', 'header']).optional(),
        }),
      )
      .optional(),
  })
  .describe('a client message that could not be handled, or access withdrawn');

export const FeedServerMessage = z.discriminatedUnion('type', [
  SnapshotMessage,
  OfferOpenedMessage,
  OfferClosedMessage,
  ClaimResultMessage,
  BidResultMessage,
  FeedErrorMessage,
]);
export type FeedServerMessage = z.infer<typeof FeedServerMessage>;
export type FeedServerMessageType = FeedServerMessage['type'];

/** The `type` values a schema (an object, or a union of objects) admits: how the document names its messages. */
export function messageTypes(schema: z.ZodType): string[] {
  const values = schema._zod.propValues?.type;
  return values ? [...values].map(String) : [];
}
