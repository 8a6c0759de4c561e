/**
 * The claim's and the bid's messages: the Updates a buyer's claim and sealed
 * bid arrive as, with their requests and results. Shared by the desks (workflow
 * side) and the relay (API side), which imports only these definitions, never
 * workflow code.
 */
import { defineUpdate } from '@temporalio/workflow';

import type { BidRefusalReason, ClaimFailureReason } from '../domain/types';
import type { ClaimChannel, SoldClaim } from './vocabulary';

export interface ClaimRequest {
  offerId: string;
  buyerId: string;
  /** The client's id for this attempt; a retry with the same id is the same attempt. */
  requestId: string;
  /** Where the claim came from (the timeline records it); absent in claims sent before it existed. */
  channel?: ClaimChannel;
}

/** The claim Update's answer: a win carries no lead fields (`SoldClaim`; the API adds them for the buyer). */
export type ClaimResult =
  | SoldClaim
  | {
      result: 'lost' | 'failed';
      reason: ClaimFailureReason;
      /**
       * False when the workflow refused the claim without a sale (the offer is
       * full or over): the caller writes the attempt to the timeline. The sale
       * transaction writes its own refusals; the first lifecycle wrote all of
       * them (absent).
       */
      recorded?: boolean;
    };

/**
 * A buyer claims an open offer: first valid claim wins (an Update, so the
 * buyer gets the answer). The validator refuses what cannot win (not
 * targeted, every place sold, the window over) without a history event: the
 * Update fails with an ApplicationFailure of type `CLAIM_REFUSED` whose
 * details hold the reason (`claimRefusalOf` reads it back).
 */
export const claimUpdate = defineUpdate<ClaimResult, [ClaimRequest]>('claim');

export const CLAIM_REFUSED = 'ClaimRefused';

/**
 * #23: a sale refused as `suppressed` (the person was put on a list after intake) stops the offer for every buyer
 * and sends the lead to manual review; intake's suppressed lead goes there without an offer. The branches are only
 * taken by leads of this code (no earlier history holds a `suppressed` refusal), and marked for replay all the same.
 */
export const SUPPRESSION_PATCH = 'suppression';

/**
 * A claim is judged as of its arrival. Its offer's row commits and `offer.opened` reaches the feeds before the open
 * (a local activity) returns (#26, publish first); an open held up past its workflow task (a stalled database: the
 * worker heartbeats the task after about 8 s) lets a buyer's claim reach the workflow while the offer is still being
 * opened: it waits for the offer's desk instead of being told `offer_closed` (a bid waits the same way). A claim that
 * arrived inside the window and waited past its end (for the opening, or behind another buyer's sale) is still inside
 * it. Before this both were answered `offer_closed`; only those paths reach the marker, so other histories replay as
 * before.
 */
export const CLAIM_ARRIVAL_PATCH = 'claim-arrival';

/** The reason of a claim the validator refused, from the Update's failure; null for any other failure. */
export function claimRefusalOf(err: unknown): ClaimFailureReason | null {
  const cause = (err as { cause?: { type?: unknown; details?: unknown } } | null)?.cause;
  if (!cause || cause.type !== CLAIM_REFUSED || !Array.isArray(cause.details)) return null;
  return (cause.details[0] as ClaimFailureReason) ?? null;
}

export interface BidRequest {
  offerId: string;
  buyerId: string;
  /** Whole credits, at least the floor; a buyer's later bid must raise its earlier one. */
  amount: number;
  /** The client's id for this bid; a retry with the same id is the same bid. */
  requestId: string;
}

export type BidResult =
  | { result: 'accepted'; offerId: string; amount: number; raised: boolean }
  | { result: 'refused'; reason: BidRefusalReason };

/** A buyer's sealed bid on an open highest-bid offer (an Update: the buyer hears whether it stands). */
export const bidUpdate = defineUpdate<BidResult, [BidRequest]>('bid');
