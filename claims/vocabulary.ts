/**
 * The claim vocabulary, defined once: where a claim came from, how a lead was
 * sold, what every refusal means (lost or failed, its HTTP status and its
 * words for the buyer), the one shape of a won claim, whether a claim is
 * already decided, and the key that makes a claim's timeline events happen
 * once per attempt. The relay, the desks, the sale transaction, the stats and
 * the API's schemas all read it from here; and the timeline event every
 * writer gives, shared by the workflows that decide events and the database
 * that stores them. Pure: plain data in, plain data out.
 */
import type { BidRefusalReason, ClaimFailureReason, TimelineEventType, WonLeadRecord } from '../domain/types';

/** Where a claim came from: the REST API or the Live Leads feed. */
/** @public The vocabulary as a list (its type is what the code uses). */
export const CLAIM_CHANNELS = ['api', 'feed'] as const;
export type ClaimChannel = (typeof CLAIM_CHANNELS)[number];

/** How a lead was sold: a ping-post claim, a push assignment, a person in manual review, a highest-bid auction. */
/** @public The vocabulary as a list (its type is what the code uses). */
export const SALE_KINDS = ['claim', 'push', 'manual', 'auction'] as const;
export type SaleKind = (typeof SALE_KINDS)[number];

export interface ClaimOutcome {
  result: 'lost' | 'failed';
  httpStatus: 409 | 402 | 403;
  /** What it means, in the words a buyer needs (the Live Leads card shows it). */
  message: string;
}

/**
 * lost: someone else got the lead or the offer is over – a normal race, 409 Conflict.
 * failed: this buyer could not have had it – 402 when topping up would help,
 * 403 when the buyer is not (or no longer) allowed to buy it.
 * A Record (not a switch) so that adding a ClaimFailureReason fails to compile until mapped.
 */
const OUTCOMES: Record<ClaimFailureReason, ClaimOutcome> = {
  lost_race: { result: 'lost', httpStatus: 409, message: 'Taken by another buyer' },
  offer_closed: { result: 'lost', httpStatus: 409, message: 'Closed – the claim window ended' },
  insufficient_credits: {
    result: 'failed',
    httpStatus: 402,
    message: 'Insufficient credits – ask your agency to top up your wallet to claim',
  },
  not_targeted: { result: 'failed', httpStatus: 403, message: 'No longer eligible for this lead' },
  eligibility_changed: { result: 'failed', httpStatus: 403, message: 'No longer eligible for this lead' },
  cap_reached: {
    result: 'failed',
    httpStatus: 403,
    message: 'Cap reached – you have bought your limit for this period',
  },
  // The buyer already has this person: not a race, and topping up would not help.
  already_bought: { result: 'failed', httpStatus: 403, message: 'You already bought this person’s lead' },
  // The person asked not to be contacted (a suppression or Do-Not-Call list, #23): nobody may buy it, which list is not said.
  suppressed: {
    result: 'failed',
    httpStatus: 403,
    message: 'This lead may not be sold – the person is on a suppression list',
  },
};

export function claimOutcomeOf(reason: ClaimFailureReason): ClaimOutcome {
  const outcome = OUTCOMES[reason];
  if (!outcome) throw new RangeError(`unknown claim failure reason: ${String(reason)}`);
  return { ...outcome };
}

/**
 * A refusal that is a lost race or a finished offer (final for that buyer), as opposed to a buyer's own failure.
 * Takes any stored reason: one this vocabulary does not know is not lost.
 */
export function isLost(reason: string): boolean {
  return Object.hasOwn(OUTCOMES, reason) && OUTCOMES[reason as ClaimFailureReason].result === 'lost';
}

/**
 * Why no claim can win an offer now, or null while a place is left: every
 * place sold is `lost_race` (another buyer won, as the feed's `taken` says),
 * whatever the clock says; an offer over without that (expired, cancelled) is
 * `offer_closed`. `decided` asks it for the relay and the claim desk; the
 * sale transaction re-checks it under the offer's lock.
 */
export function noPlaceLeft(offer: {
  winners: number;
  maxWinners: number;
  open: boolean;
}): 'lost_race' | 'offer_closed' | null {
  if (offer.winners >= offer.maxWinners) return 'lost_race';
  if (!offer.open) return 'offer_closed';
  return null;
}

/**
 * Is this claim already decided, before anything is sold? The buyer's own
 * earlier win is its answer again (charged once); an offer that does not target
 * the buyer refuses it (`not_targeted`); then `noPlaceLeft`. Null: it may still
 * win, and only the sale decides. The one question of the relay (from the
 * database, then from the wins its line saw) and of the claim desk (from its
 * own record); the sale transaction re-checks under its locks, the database's
 * guarantee.
 */
export function decided<W>(claim: {
  /** This buyer's earlier win of the offer, if any. */
  prior: W | null | undefined;
  targeted: boolean;
  winners: number;
  maxWinners: number;
  open: boolean;
}): { won: W } | { refused: ClaimFailureReason } | null {
  if (claim.prior) return { won: claim.prior };
  if (!claim.targeted) return { refused: 'not_targeted' };
  const over = noPlaceLeft(claim);
  return over ? { refused: over } : null;
}

/**
 * A won claim, the one shape of a win: the buyer's answer (REST, feed, the
 * claim Update, a manual sale), which the API's `ClaimWon` schema satisfies.
 * The sale's own records (db/sales.ts `SaleResult`, claims/sale.ts
 * `SaleOutcome`) are this and more.
 */
export type WonClaim = {
  result: 'won';
  offerId: string;
  assignmentId: string;
  lead: WonLeadRecord;
  charged: number;
  balance: number;
};

/**
 * A won claim as the lead's workflow answers it (the claim Update, a manual sale): the won claim without the lead's
 * fields, which stay in the database and out of the workflow's history; the API reads them for the winner
 * (claims/relay.ts `withLead`). Answers recorded before small histories carry `lead`.
 */
export type SoldClaim = Omit<WonClaim, 'lead'> & { lead?: WonLeadRecord };

/** The workflow's answer for a won sale: its ids and amounts, never the lead's fields. */
export function soldClaim(sale: SoldClaim): SoldClaim {
  return {
    result: 'won',
    offerId: sale.offerId,
    assignmentId: sale.assignmentId,
    charged: sale.charged,
    balance: sale.balance,
  };
}

/** The one place a won claim's answer is built, from any record of the sale that won it: its fields, no more. */
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
 * The one key of a claim attempt (offer, buyer, the client's requestId): the
 * claim Update's id, so a retry joins the same attempt in Temporal, and the
 * prefix of its timeline events' dedupe keys, so it is written once.
 */
export function claimAttemptKey(offerId: string, buyerId: string, requestId: string): string {
  return `claim:${offerId}:${buyerId}:${requestId}`;
}

export interface BidRefusalOutcome {
  /** Money 402, not allowed 403, too low 422, the offer's state 409. */
  httpStatus: 402 | 403 | 409 | 422;
  message: string;
}

/** A refused sealed bid: its HTTP status and its words for the buyer (a Record: a new reason fails to compile until mapped). */
const BID_REFUSALS: Record<BidRefusalReason, BidRefusalOutcome> = {
  below_floor: { httpStatus: 422, message: 'Below the floor – bid at least the floor price' },
  not_a_raise: { httpStatus: 422, message: 'A new bid must raise your standing bid' },
  insufficient_credits: { httpStatus: 402, message: 'Insufficient credits – top up to bid' },
  not_targeted: { httpStatus: 403, message: 'No longer eligible for this lead' },
  offer_closed: { httpStatus: 409, message: 'Closed – bidding has ended' },
  not_an_auction: { httpStatus: 409, message: 'This offer takes claims, not bids' },
};

export function bidRefusalOf(reason: BidRefusalReason): BidRefusalOutcome {
  const outcome = BID_REFUSALS[reason];
  if (!outcome) throw new RangeError(`unknown bid refusal reason: ${String(reason)}`);
  return { ...outcome };
}

/** One event of a lead's timeline as its writers give it (workflows decide some; db/offers.ts appends them). */
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

/** One claim attempt, or one sale no client asked for, as the timeline records it. */
export interface ClaimAttempt {
  leadId: string;
  offerId: string;
  buyerId: string;
  /** How the lead is being sold (`claim` for a buyer's claim). */
  sale: SaleKind;
  /** Where a buyer's claim came from, when known. */
  channel?: ClaimChannel | null;
  /** The client's id for the attempt: it keys the events, so a retry writes none twice. Absent for push and manual sales. */
  requestId?: string | null;
}

/** How an attempt ended: refused (with the reason, who decided it and any detail), or won (with the charge). */
export type AttemptEnd =
  | { refused: ClaimFailureReason; detail?: string | null; decidedBy?: 'api' | 'workflow' }
  | { won: { charged: number; assignmentId: string; ledgerEntryId: string; balanceAfter: number } };

/**
 * The timeline events of one attempt: `claim_attempted`, then `claim_failed`
 * with its reason or `won` with the charge. The one builder for every writer
 * (the relay's refusals, the sale transaction's refusals and wins), so the
 * events have one shape and one key scheme: `<attempt key>:attempted`,
 * `:failed`, `:won`.
 */
export function attemptEvents(attempt: ClaimAttempt, end: AttemptEnd): TimelineEventInput[] {
  const key = attempt.requestId ? claimAttemptKey(attempt.offerId, attempt.buyerId, attempt.requestId) : null;
  const base = { leadId: attempt.leadId, offerId: attempt.offerId, buyerId: attempt.buyerId };
  const who = {
    sale: attempt.sale,
    ...(attempt.channel ? { channel: attempt.channel } : {}),
    ...(attempt.requestId ? { requestId: attempt.requestId } : {}),
  };
  const attempted: TimelineEventInput = {
    ...base,
    type: 'claim_attempted',
    data: who,
    dedupeKey: key && `${key}:attempted`,
  };
  if ('won' in end)
    return [attempted, { ...base, type: 'won', data: { ...who, ...end.won }, dedupeKey: key && `${key}:won` }];
  const data = {
    ...who,
    ...(end.detail ? { detail: end.detail } : {}),
    ...(end.decidedBy ? { decidedBy: end.decidedBy } : {}),
  };
  return [attempted, { ...base, type: 'claim_failed', reason: end.refused, data, dedupeKey: key && `${key}:failed` }];
}
