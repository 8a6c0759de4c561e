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

import { FEED_CLOSE_OUTCOMES, LEDGER_ENTRY_KINDS } from '../domain/types';
import { Id } from './schema-blocks';
import { BidAccepted, BidRefused, BuyerOfferView, ClaimRefused, ClaimWon, RequestId } from './schemas';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const Seq = z
  .number()
  .int()
  .nonnegative()
  .describe('the position of this message (ms): reconnect with `?since=<seq>` to resume after it');

// ─── limits and close codes ──────────────────────────────────────────────────

/**
 * What one socket may send (api/feed/frame-limit.ts): a token bucket of `burst` frames refilled `perSecond`. A
 * frame over it is dropped unhandled (the first of a run is answered with a `rate_limited` error); the
 * `closeAfter`-th dropped frame closes the socket with `frame_rate_exceeded`. The count starts again once the bucket
 * is full (the client was quiet). After such a close the key's upgrades to that gateway are refused (429
 * `rate_limited`, Retry-After) for `cooldownSeconds`: a flooder cannot start over at once on a new socket.
 */
export const FEED_FRAME_LIMIT = { burst: 100, perSecond: 20, closeAfter: 50, cooldownSeconds: 15 } as const;

/**
 * The codes the gateway closes a socket with (4000–4999: the application's), the one definition: the gateway
 * closes with them, the AsyncAPI document declares them (`x-close-codes` of the channel) and the generated client
 * (packages/client) exports them to the pages. `description`: what it means and what a client should do.
 */
export const FEED_CLOSE_CODES = {
  /** The key was revoked or its buyer paused (after an `access_revoked` error). */
  access_revoked: {
    code: 4403,
    reason: 'access revoked',
    description:
      'The key was revoked or its buyer paused (an `access_revoked` error comes first). Reconnecting with the same key is refused (401/403) until the buyer is resumed; use a new key.',
  },
  /** The socket sent too many frames (api/feed/frame-limit.ts). */
  frame_rate_exceeded: {
    code: 4429,
    reason: 'too many frames',
    description:
      `The socket kept sending frames over its limit (a token bucket per socket: ${FEED_FRAME_LIMIT.burst} at once, then ${FEED_FRAME_LIMIT.perSecond} a second; ` +
      `frames over it are dropped, the first answered with a \`rate_limited\` error, and the ${FEED_FRAME_LIMIT.closeAfter}th closes the socket). ` +
      `The key's upgrades are refused (429 \`rate_limited\` with Retry-After) for ${FEED_FRAME_LIMIT.cooldownSeconds} s after; reconnect then, sending fewer frames.`,
  },
} as const;
export type FeedCloseReason = keyof typeof FEED_CLOSE_CODES;

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

const WalletChangedMessage = z
  .object({
    type: z.literal('wallet.changed'),
    balance: z.number().int().describe('the balance after the entry'),
    entry: z.object({
      id: Id,
      kind: z.enum(LEDGER_ENTRY_KINDS),
      amount: z.number().int().describe('credits in (positive) or out (negative)'),
      at: z.string().describe('ISO-8601 UTC time the entry was made'),
    }),
  })
  .describe(
    "an entry changed this buyer's wallet (a top-up, a card payment, a charge, a refund, a card refund, a dispute): its new balance",
  );

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
        'stable: malformed_json, unsupported_frame, unknown_type, validation_failed, not_found, ' +
          `access_revoked (the socket closes with ${FEED_CLOSE_CODES.access_revoked.code}), ` +
          `rate_limited (without a requestId: frames over the socket's limit are dropped; more close it with ${FEED_CLOSE_CODES.frame_rate_exceeded.code}), ` +
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
  WalletChangedMessage,
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
