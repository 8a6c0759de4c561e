/**
 * The claim relay, the API side of the claim: one function behind
 * `POST /v1/offers/:id/claim` and the feed's `claim` message. A loser's
 * claim on an offer this process heard decided on the bus is answered from
 * memory (claims/decided-offers.ts). What the
 * database can answer alone (one query and `decided`: unknown offer, a
 * repeated win, a buyer that was never targeted, every place sold, an offer
 * already closed) it answers without bothering the workflow;
 * everything else goes to the offer's workflow as the `claim` Update, which
 * decides races (`claimThroughWorkflow`).
 *
 * The Update id is derived from (offer, buyer, requestId), so a client that
 * retries with the same requestId after a timeout joins the same attempt in
 * Temporal instead of making a second one.
 */
import crypto from 'node:crypto';

import type { Client } from '@temporalio/client';
import {
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';

// The relay is the API side of the claim: it answers with the API's problems and limits.
import { type BuyerPrincipal, rateLimited } from '../api/auth';
import { notFound, Problem } from '../api/problem';
import { quotaHeaders, QUOTAS, type RateLimiter } from '../api/rate-limit';
import { refuseAttempt } from '../db/claim-attempts';
import type { Db } from '../db/connection';
import {
  appendEvents,
  batchedAppender,
  buyerStanding,
  getOffer,
  getPlacedBid,
  type OfferRow,
  type TimelineEventInput,
} from '../db/offers';
import { claimContext, wonClaimOf } from '../db/sales';
import { buyersSee } from '../domain/offer-view';
import type { BidRefusalReason, ClaimFailureReason } from '../domain/types';
import { DeadlineExceeded, executeBid, executeClaim } from '../temporal/calls';
import type { DecidedOffers } from './decided-offers';
import { type BidResult, claimRefusalOf, type ClaimResult } from './messages';
import {
  attemptEvents,
  bidRefusalOf,
  type ClaimChannel,
  claimOutcomeOf,
  decided,
  noPlaceLeft,
  type SoldClaim,
  type WonClaim,
  wonClaim,
} from './vocabulary';

/** Where refused claims are written: `appendEvents`, or a batched appender on the hot path. */
type TimelineWriter = (events: TimelineEventInput[]) => Promise<void>;

export type BidAnswer =
  | { status: 200; body: BidResult & { result: 'accepted' } }
  | { status: 402 | 403 | 409 | 422; body: { result: 'refused'; reason: BidRefusalReason; message: string } };

/** A refused bid's answer: its status, and its reason with the words a buyer is shown. */
function bidRefusal(reason: BidRefusalReason): BidAnswer {
  const { httpStatus, message } = bidRefusalOf(reason);
  return { status: httpStatus, body: { result: 'refused', reason, message } };
}

export type ClaimRefusalAnswer = {
  status: 402 | 403 | 409;
  body: { result: 'lost' | 'failed'; reason: ClaimFailureReason; message: string };
};
export type ClaimAnswer = { status: 200; body: WonClaim } | ClaimRefusalAnswer;

/** A claim's outcome as the API answers it: a win with the lead's fields (the workflow's answer has none). */
export type RelayedClaim = WonClaim | Exclude<ClaimResult, { result: 'won' }>;

/**
 * The won claim the buyer receives: the workflow's answer carries the sale's ids and amounts but not the lead's
 * fields (they stay out of its history), so they are read here from the sale's records – the same answer a retry
 * gets. Answers recorded before small histories carry the lead already.
 */
export async function withLead(db: Db, sold: SoldClaim, buyerId: string): Promise<WonClaim> {
  if (sold.lead) return wonClaim({ ...sold, lead: sold.lead });
  const won = await wonClaimOf(db, sold.offerId, buyerId);
  if (!won) throw new Error(`sale ${sold.assignmentId} of offer ${sold.offerId} to ${buyerId}: no record of it`);
  return won;
}

/** An answer over HTTP carries the key's quota (RateLimit and RateLimit-Policy); the feed ignores it. */
export type WithQuota<T> = T & { headers: Record<string, string> };

/** A problem answered after the key's token was taken (404, 503) carries its quota too. */
function withQuota(err: unknown, headers: Record<string, string>): unknown {
  if (err instanceof Problem) err.extra.headers = { ...headers, ...err.extra.headers };
  return err;
}

export interface ClaimRelayDeps {
  db: Db;
  temporal: Client;
  /** How long a claim may wait for the workflow before answering 503 `claim_pending`. */
  timeoutMs: number;
  /** Claims per buyer key. */
  limiter: RateLimiter;
  /** Told every answer and how long it took (metrics). */
  observe?: (via: ClaimChannel, outcome: string, seconds: number) => void;
  /**
   * This process's memo of decided offers (claims/decided-offers.ts), filled from the bus: a loser's claim on one is
   * answered from it. `hit` is told each claim answered so (metrics). Absent: every claim takes the slow path.
   */
  decidedOffers?: { offers: DecidedOffers; hit?: (reason: ClaimFailureReason) => void };
  logger?: { warn(message: string, meta?: unknown): void };
}

export const newRequestId = () => crypto.randomUUID();

export class ClaimRelay {
  /** Per offer, the last claim of this process in line (see `inTurn`). */
  private readonly lines = new Map<string, Promise<unknown>>();
  /** Per offer with claims in line, the wins this process saw (kept while the line lasts). */
  private readonly sold = new Map<string, { winners: Map<string, WonClaim> }>();
  /** Refused claims go to the timeline in one insert per turn of the event loop. */
  private readonly write: TimelineWriter;

  constructor(private readonly deps: ClaimRelayDeps) {
    this.write = batchedAppender(deps.db);
  }

  /**
   * Claims on one offer from this process go one after another: each waits
   * for the claim ahead of it to be decided, then looks at what the claims
   * ahead won. In a storm, the first claim reaches the workflow and wins; the
   * others then find the offer sold out and are answered `lost_race` at once,
   * instead of each queueing an Update on the workflow. The workflow still
   * decides between claims from different processes, and a claim that could
   * still win (the one ahead failed, or a shared offer has places left) goes
   * to it. A claim never waits for the one ahead longer than half its own
   * deadline.
   */
  private async inTurn<T>(offerId: string, decide: () => Promise<T>): Promise<T> {
    const ahead = this.lines.get(offerId);
    const mine = (async () => {
      if (ahead) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([ahead, new Promise((r) => (timer = setTimeout(r, this.deps.timeoutMs / 2)))]);
        clearTimeout(timer);
      }
      return decide();
    })();
    const done = mine.then(
      () => undefined,
      () => undefined,
    );
    this.lines.set(offerId, done);
    void done.then(() => {
      if (this.lines.get(offerId) !== done) return;
      this.lines.delete(offerId);
      this.sold.delete(offerId);
    });
    return mine;
  }

  /** Claims an offer for the buyer. Throws a Problem for 404 (unknown offer), 429 and 503. */
  async claim(
    buyer: BuyerPrincipal,
    offerId: string,
    requestId: string,
    channel: ClaimChannel,
  ): Promise<WithQuota<ClaimAnswer>> {
    const started = performance.now();
    const took = () => (performance.now() - started) / 1000;
    let headers: Record<string, string> = {};
    try {
      headers = await this.admit(buyer, 'Too many claims with this key.');
      const answer = await this.decide(buyer, offerId, requestId, channel);
      this.deps.observe?.(channel, answer.status === 200 ? 'won' : answer.body.reason, took());
      return { ...answer, headers };
    } catch (err) {
      this.deps.observe?.(channel, err instanceof Problem ? err.code : 'error', took());
      throw withQuota(err, headers);
    }
  }

  /** Takes the key's token for a claim or a bid: its quota headers, or 429 `rate_limited` (with them too). */
  private async admit(buyer: BuyerPrincipal, detail: string): Promise<Record<string, string>> {
    const { limiter } = this.deps;
    const admission = await limiter.admit(buyer.credentialId);
    const headers = quotaHeaders(QUOTAS.claims, limiter.options, admission);
    if (admission.retryAfter > 0) throw rateLimited(admission.retryAfter, detail, headers);
    return headers;
  }

  private async decide(
    buyer: BuyerPrincipal,
    offerId: string,
    requestId: string,
    channel: ClaimChannel,
  ): Promise<ClaimAnswer> {
    const { db } = this.deps;
    // A loser's claim on an offer this process heard decided: answered from memory, no read and no Update (see
    // claims/decided-offers.ts for why the answer is true and why it needs no claim attempt row). Its attempt still
    // goes on the timeline before the answer, as every refusal's does (the audit trail, and what a client reads
    // next): a write, in the insert that batches every refusal of this turn of the event loop.
    const remembered = this.deps.decidedOffers?.offers.refusal({
      agencyId: buyer.agencyId,
      buyerId: buyer.buyerId,
      offerId,
    });
    if (remembered) {
      this.deps.decidedOffers?.hit?.(remembered.reason);
      const offer = { id: offerId, leadId: remembered.leadId };
      await recordClaimRefusal(this.write, offer, buyer.buyerId, requestId, channel, remembered.reason);
      return claimRefusal(remembered.reason);
    }
    const context = await claimContext(db, offerId, buyer.buyerId);
    if (!context || context.offer.agencyId !== buyer.agencyId) throw notFound('offer');
    const { offer } = context;
    // An offer buyers do not take part in (push, manual, a ping tree's: `buyersSee`) is not one to claim, and not one
    // they were shown: not found, as in the offer list. Its buyer's own sale (a push, an accepted post) still
    // answers as a win, below.
    if (!buyersSee(offer) && !context.prior) throw notFound('offer');
    const refuse = async (reason: ClaimFailureReason): Promise<ClaimAnswer> => {
      await recordClaimRefusal(this.write, offer, buyer.buyerId, requestId, channel, reason);
      return claimRefusal(reason);
    };
    // This buyer's earlier win is its answer again. Every place sold (committed sales count in offers.winners) and
    // none this buyer's: the race is lost for good, so a claim storm does not queue on the workflow after the win.
    // Closed in the database is final too: a sale decided in time commits before its workflow closes the offer.
    // Past its window but not yet closed, a claim decided in time may still be charging (this very request, retried
    // after a 503): only the workflow knows, and it refuses claims that came too late.
    const known = decided({
      prior: context.prior && wonClaim(context.prior),
      targeted: context.targeted,
      winners: offer.winners,
      maxWinners: offer.maxWinners,
      open: offer.status === 'open',
    });
    if (known) return 'won' in known ? { status: 200, body: known.won } : refuse(known.refused);
    if (offer.auction === 'highest_bid') {
      throw new Problem(
        409,
        'bid_required',
        'This offer is a highest-bid auction: send a sealed bid with POST /v1/offers/:id/bids {amount}.',
        { offerId: offer.id },
      );
    }

    // The line holds a claim only until it is decided; its timeline write happens outside, so the losers behind a
    // win are answered at once and their refusals go to the database in one batched insert, not one at a time.
    const turn = await this.inTurn(offer.id, async (): Promise<{ answer: Promise<ClaimAnswer> }> => {
      // What the claims ahead in this process won: the same buyer again gets its answer, anyone else lost the race.
      const sold = this.sold.get(offer.id);
      const seen = decided({
        prior: sold?.winners.get(buyer.buyerId),
        targeted: true,
        winners: sold?.winners.size ?? 0,
        maxWinners: offer.maxWinners,
        open: true,
      });
      if (seen)
        return { answer: 'won' in seen ? Promise.resolve({ status: 200, body: seen.won }) : refuse(seen.refused) };
      let result: RelayedClaim;
      try {
        result = await claimThroughWorkflow(
          { ...this.deps, write: this.write },
          offer,
          buyer.buyerId,
          requestId,
          channel,
        );
      } catch (err) {
        if (
          err instanceof DeadlineExceeded ||
          err instanceof SaleInFlight ||
          err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
          err instanceof ServiceError ||
          err instanceof WorkflowUpdateFailedError
        ) {
          if (!(err instanceof DeadlineExceeded) && !(err instanceof SaleInFlight))
            this.deps.logger?.warn(`[claims] claim ${requestId} on offer ${offer.id} is pending`, err);
          throw pending(requestId);
        }
        throw err;
      }
      if (result.result !== 'won') return { answer: Promise.resolve(claimRefusal(result.reason)) };
      const won = wonClaim(result);
      const entry = sold ?? { winners: new Map() };
      entry.winners.set(buyer.buyerId, won);
      this.sold.set(offer.id, entry);
      return { answer: Promise.resolve({ status: 200, body: won }) };
    });
    return turn.answer;
  }

  /**
   * A sealed bid on a highest-bid offer. The database answers what it can
   * (unknown offer 404, not an auction, not targeted, closed); the rest is
   * the offer's workflow's `bid` Update (update id from offer, buyer and
   * requestId, so a retry joins the same attempt).
   */
  async bid(
    buyer: BuyerPrincipal,
    offerId: string,
    amount: number,
    requestId: string,
    channel: ClaimChannel,
  ): Promise<WithQuota<BidAnswer>> {
    const started = Date.now();
    const headers = await this.admit(buyer, 'Too many bids with this key.');
    try {
      return { ...(await this.placeBid(buyer, offerId, amount, requestId, channel, started)), headers };
    } catch (err) {
      throw withQuota(err, headers);
    }
  }

  private async placeBid(
    buyer: BuyerPrincipal,
    offerId: string,
    amount: number,
    requestId: string,
    channel: ClaimChannel,
    started: number,
  ): Promise<BidAnswer> {
    const { db } = this.deps;
    const offer = await getOffer(db, offerId);
    if (!offer || offer.agencyId !== buyer.agencyId || !buyersSee(offer)) throw notFound('offer');
    const target = await buyerStanding(db, offer, buyer.buyerId);
    if (!target?.eligible) return bidRefusal('not_targeted');
    if (offer.kind !== 'ping_post' || offer.auction !== 'highest_bid') return bidRefusal('not_an_auction');
    // As with claims: closed in the database is final, but a bid this very request placed in time (its answer
    // lost to a 503) stands. Past its window but still open, only the workflow knows, and it refuses late bids.
    const closed = async (): Promise<BidAnswer> => {
      const placed = await getPlacedBid(db, offer.id, buyer.buyerId, requestId);
      return placed
        ? { status: 200, body: { result: 'accepted', offerId: offer.id, amount: placed.amount, raised: false } }
        : bidRefusal('offer_closed');
    };
    if (offer.status !== 'open') return closed();
    let result: BidResult;
    try {
      result = await executeBid(
        this.deps.temporal,
        offer.workflowId,
        { offerId: offer.id, buyerId: buyer.buyerId, amount, requestId },
        this.deps.timeoutMs,
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError) return closed();
      if (
        err instanceof DeadlineExceeded ||
        err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
        err instanceof ServiceError
      ) {
        if (!(err instanceof DeadlineExceeded))
          this.deps.logger?.warn(`[bids] bid ${requestId} on offer ${offer.id} is pending`, err);
        throw new Problem(
          503,
          'bid_pending',
          'The bid is still being decided. Retry with the same requestId to get its outcome.',
          { requestId, headers: { 'Retry-After': '1' } },
        );
      }
      throw err;
    }
    this.deps.observe?.(
      channel,
      result.result === 'accepted' ? 'bid_accepted' : `bid_${result.reason}`,
      (Date.now() - started) / 1000,
    );
    return result.result === 'accepted' ? { status: 200, body: result } : bidRefusal(result.reason);
  }
}

/**
 * Sends a claim to its offer's workflow (the `claim` Update, its id derived
 * from offer, buyer and requestId so a retry joins the same attempt) and turns
 * every way that can end into the claim's answer:
 *
 * - refused by the Update's validator (no history event), or decided in the
 *   workflow without a sale: the attempt is written to the timeline here;
 * - the workflow completed before taking it: a sale this request made was
 *   committed first (its answer), else the offer's state says why it lost –
 *   `lost_race` when every place was sold, `offer_closed` when it expired or
 *   was cancelled.
 *
 * Every refusal from here takes the attempt's row in the database before it is
 * answered (db/claim-attempts.ts): a sale of this very attempt still in flight
 * (a stale worker's) either committed first – the buyer gets the win – or finds
 * the attempt refused and charges nothing. "Refused and charged" cannot both
 * be true. (The relay's own refusals before the workflow need no row: they read
 * a sold-out or closed offer from the database, and every sale re-checks that
 * under the offer row's lock, so none can commit after them.)
 *
 * Timeouts, server errors and a sale of this attempt that holds its row past
 * the deadline are thrown (the caller answers `claim_pending`).
 * The claim relay and the lifecycle tests both claim through here.
 */
export async function claimThroughWorkflow(
  deps: Pick<ClaimRelayDeps, 'db' | 'temporal' | 'timeoutMs'> & { write?: TimelineWriter },
  offer: Pick<OfferRow, 'id' | 'leadId' | 'workflowId'>,
  buyerId: string,
  requestId: string,
  channel: ClaimChannel,
): Promise<RelayedClaim> {
  const { db } = deps;
  /**
   * A refusal, once the attempt's row says so: the win when this attempt's sale committed first, the reason an
   * earlier refusal of it gave, else this one (written to the timeline unless the sale already wrote it).
   */
  const refused = async (reason: ClaimFailureReason, recorded = false): Promise<RelayedClaim> => {
    const decision = await refuseAttempt(db, { offerId: offer.id, buyerId, requestId }, reason, deps.timeoutMs);
    if (decision.state === 'undecided') throw new SaleInFlight(requestId);
    if (decision.state === 'sold') {
      const now = await claimContext(db, offer.id, buyerId);
      if (!now?.prior) throw new Error(`claim ${requestId} on offer ${offer.id}: attempt sold without its sale`);
      return wonClaim(now.prior);
    }
    if (!recorded)
      await recordClaimRefusal(
        deps.write ?? ((events) => appendEvents(db, events)),
        offer,
        buyerId,
        requestId,
        channel,
        decision.reason,
        'workflow',
      );
    return { result: claimOutcomeOf(decision.reason).result, reason: decision.reason };
  };
  // The workflow refuses from its own record, which a crash can leave without a sale this very attempt made (its
  // task lost after the sale committed, the Update retried into the replayed workflow): the database is the
  // arbiter, so a sale of this buyer's is its answer, never a refusal (found by the cluster fault suite: a buyer
  // charged and told `offer_closed`).
  const refusedByWorkflow = async (reason: ClaimFailureReason): Promise<RelayedClaim> => {
    const now = await claimContext(db, offer.id, buyerId);
    return now?.prior ? wonClaim(now.prior) : refused(reason);
  };
  let result: ClaimResult;
  try {
    result = await executeClaim(
      deps.temporal,
      offer.workflowId,
      { offerId: offer.id, buyerId, requestId, channel },
      deps.timeoutMs,
    );
  } catch (err) {
    const reason = claimRefusalOf(err);
    if (reason) return refusedByWorkflow(reason);
    if (err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError) {
      const now = await claimContext(db, offer.id, buyerId);
      if (now?.prior) return wonClaim(now.prior);
      // The Update failed while the offer is still open and its workflow still exists (a Temporal history process
      // restarted under it): this attempt's sale may still commit, so its outcome is not known yet – the caller
      // answers claim_pending and the retry (same requestId) finds the sale, or the offer closed.
      if (
        err instanceof WorkflowUpdateFailedError &&
        now &&
        now.offer.status === 'open' &&
        now.offer.winners < now.offer.maxWinners
      )
        throw err;
      return refused(
        (now && noPlaceLeft({ winners: now.offer.winners, maxWinners: now.offer.maxWinners, open: false })) ??
          'offer_closed',
      );
    }
    throw err;
  }
  if (result.result === 'won') return withLead(db, result, buyerId);
  // Refused by the workflow's record, or by the sale transaction (which wrote the timeline; so did the first lifecycle).
  return result.recorded === false ? refusedByWorkflow(result.reason) : refused(result.reason, true);
}

/** A sale of this claim attempt holds the attempt past the claim's deadline: its outcome is not known yet. */
class SaleInFlight extends Error {
  constructor(requestId: string) {
    super(`claim ${requestId}: a sale of this attempt is still in flight`);
    this.name = 'SaleInFlight';
  }
}

/** A refused claim on the offer's timeline: `claim_attempted` then `claim_failed` with the reason, once per request. */
async function recordClaimRefusal(
  write: TimelineWriter,
  offer: Pick<OfferRow, 'id' | 'leadId'>,
  buyerId: string,
  requestId: string,
  channel: ClaimChannel,
  reason: ClaimFailureReason,
  decidedBy: 'api' | 'workflow' = 'api',
): Promise<void> {
  await write(
    attemptEvents(
      { leadId: offer.leadId, offerId: offer.id, buyerId, sale: 'claim', channel, requestId },
      { refused: reason, decidedBy },
    ),
  );
}

/** A refused claim's (or manual sale's) answer: its status, and its reason with the words a buyer is shown. */
export function claimRefusal(reason: ClaimFailureReason): ClaimRefusalAnswer {
  const { httpStatus, result, message } = claimOutcomeOf(reason);
  return { status: httpStatus, body: { result, reason, message } };
}

function pending(requestId: string): Problem {
  return new Problem(
    503,
    'claim_pending',
    'The claim is still being decided. Retry with the same requestId to get its outcome.',
    {
      requestId,
      headers: { 'Retry-After': '1' },
    },
  );
}
