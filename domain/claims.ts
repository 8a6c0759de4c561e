/**
 * The claim vocabulary: how each refusal answers a buyer (lost or failed,
 * and the HTTP status), and the timeline event that records each step of an
 * offer, shared by the workflows that decide events and the database that
 * stores them.
 */
import type { ClaimFailureReason, TimelineEventType } from './types';

export interface ClaimOutcome {
  result: 'lost' | 'failed';
  httpStatus: 409 | 402 | 403;
}

/**
 * lost: someone else got the lead or the offer is over – a normal race, 409 Conflict.
 * failed: this buyer could not have had it – 402 when topping up would help,
 * 403 when the buyer is not (or no longer) allowed to buy it.
 * A Record (not a switch) so that adding a ClaimFailureReason fails to compile until mapped.
 */
const OUTCOMES: Record<ClaimFailureReason, ClaimOutcome> = {
  lost_race: { result: 'lost', httpStatus: 409 },
  offer_closed: { result: 'lost', httpStatus: 409 },
  insufficient_credits: { result: 'failed', httpStatus: 402 },
  not_targeted: { result: 'failed', httpStatus: 403 },
  eligibility_changed: { result: 'failed', httpStatus: 403 },
  cap_reached: { result: 'failed', httpStatus: 403 },
  // The buyer already has this person: not a race, and topping up would not help.
  already_bought: { result: 'failed', httpStatus: 403 },
};

export function claimOutcomeOf(reason: ClaimFailureReason): ClaimOutcome {
  const outcome = OUTCOMES[reason];
  if (!outcome) throw new RangeError(`unknown claim failure reason: ${String(reason)}`);
  return { ...outcome };
}

/** One event of a lead's timeline as its writers give it (workflows decide some; db/timeline.ts appends them). */
export interface TimelineEventInput {
  leadId: string;
  offerId?: string | null;
  type: TimelineEventType;
  buyerId?: string | null;
  reason?: string | null;
  data?: Record<string, unknown> | null;
  /** Defaults to the database's now(). Workflows pass their own (deterministic) time. */
  at?: Date | string | null;
  dedupeKey?: string | null;
}
