/**
 * The messages a lead's workflows accept. Shared by the workflows and by the
 * API (which imports only these definitions, never workflow code).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ClaimChannel } from '../domain/claims';
import type { BidRefusalReason, ClaimFailureReason, WonLeadRecord } from '../domain/types';

export type { LeadOutcome, LeadWorkflowInput, OfferRunResult, OfferWorkflowInput } from './types';

export interface ClaimRequest {
  offerId: string;
  buyerId: string;
  /** The client's id for this attempt; a retry with the same id is the same attempt. */
  requestId: string;
  /** Where the claim came from (the timeline records it); absent in claims sent before it existed. */
  channel?: ClaimChannel;
}

export type WonClaim = {
  result: 'won';
  offerId: string;
  assignmentId: string;
  lead: WonLeadRecord;
  charged: number;
  balance: number;
};

export type ClaimResult =
  | WonClaim
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

/** The one place a won claim's answer is built, from the sale that won it. */
export function wonClaim(sale: WonClaim): WonClaim {
  return {
    result: 'won',
    offerId: sale.offerId,
    assignmentId: sale.assignmentId,
    lead: sale.lead,
    charged: sale.charged,
    balance: sale.balance,
  };
}

/**
 * A buyer claims an open offer: first valid claim wins (an Update, so the
 * buyer gets the answer). The validator refuses what cannot win (not
 * targeted, every place sold, the window over) without a history event: the
 * Update fails with an ApplicationFailure of type `CLAIM_REFUSED` whose
 * details hold the reason (`claimRefusalOf` reads it back).
 */
export const claimUpdate = defineUpdate<ClaimResult, [ClaimRequest]>('claim');

export const CLAIM_REFUSED = 'ClaimRefused';

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

/** An admin stops an open offer; the lead goes to manual review. */
export const cancelOfferSignal = defineSignal<[{ offerId: string; reason: string }]>('cancelOffer');

export type ManualAction =
  | { action: 'reoffer'; campaignId?: string }
  | { action: 'assign'; buyerId: string }
  | { action: 'reject'; reason: string };

export type ManualActionResult =
  | { action: 'reoffer'; accepted: true; campaignId: string }
  | { action: 'assign'; sale: ClaimResult }
  | { action: 'reject'; accepted: true };

/** An admin's decision on a lead in manual review. Refused (validator) when the lead is not in review. */
export const manualActionUpdate = defineUpdate<ManualActionResult, [ManualAction]>('manualAction');

export interface LeadWorkflowState {
  phase: 'routing' | 'offering' | 'sold' | 'manual_review' | 'rejected';
  currentOfferId: string | null;
  offers: string[];
}
export const stateQuery = defineQuery<LeadWorkflowState>('state');
