/**
 * Buyers' own systems in the auction (#22), as workflow code: a ping tree's
 * tiers, and the two pieces both the tree and a highest-bid auction with
 * endpoint bidders (claims/auction-desk.ts) use – `pingForBids` (one activity
 * pings a group of endpoint buyers; their accepted bids in answer order) and
 * `sellToEndpoint` (the sale to one endpoint buyer).
 *
 * A tier: ONE `pingEndpoints` activity pings its eligible endpoint buyers
 * together (routing's verdicts decide who is eligible; the answers land on the
 * timeline as `pinged`, with the tier's number); the accepted bids at or above the tier's floor are
 * ranked (domain/auction.ts; a tie goes to the earlier answer); the best is
 * sold by `sellToEndpoint`; a refused or failed post falls to the next bid,
 * then to the next tier.
 *
 * `sellToEndpoint`: the bid is reserved on the buyer's wallet (a ledger
 * `reserve`, under the overdraft rule: an accepted post can always be paid),
 * then posted with the sale's `Idempotency-Key` (`sale:<offer>:<buyer>`, the
 * same on every resend). Accepted: one transaction releases the reserve,
 * charges the bid and records the assignment and `post_accepted`. Rejected or
 * failed: the reserve is released and the next bid is tried. Unknown (sent,
 * never answered, even after the activity's resends): the lead goes to review
 * as `post_unknown` with the reserve held – never charged, never posted to a
 * second buyer. Workflow code: deterministic (the workflow lint rules hold it).
 */
import { ActivityFailure, log, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

import type { LeadActivities } from '../activities';
import type { DeliveryPlan } from '../activities/delivery';
import type { PingAnswer } from '../activities/endpoints';
import { type Bid, rankBids } from '../domain/auction';
import { endpointPostKey } from '../domain/ids';
import { type PingTree, POST_UNKNOWN, SUPPRESSED } from '../domain/types';
import {
  LOCAL_SALE_OPTIONS,
  PING_ACTIVITY_OPTIONS,
  PING_ROUND_FAILURE_PATCH,
  PING_TIER_DEADLINE_MS,
  POST_ACTIVITY_OPTIONS,
} from '../workflows/options';

const { pingEndpoints } = proxyActivities<LeadActivities>(PING_ACTIVITY_OPTIONS);
const { postToEndpoint } = proxyActivities<LeadActivities>(POST_ACTIVITY_OPTIONS);
const { reserveBid, releaseBid, sellAcceptedPost } = proxyLocalActivities<LeadActivities>(LOCAL_SALE_OPTIONS);

/** An endpoint buyer's bid, as its ping answered it. */
export interface EndpointBid {
  buyerId: string;
  amount: number;
  pingId: string | null;
}

/** How selling to one endpoint buyer ended. */
export type EndpointSale =
  | { result: 'won'; assignmentId: string; delivery: DeliveryPlan; closedOffer: boolean }
  /** Not sold to this buyer: the next bid may be tried. */
  | { result: 'passed'; reason: string }
  /** Stop: the post's fate is unknown (`post_unknown`), or the sale was refused after an accepted post. */
  | { result: 'stop'; reason: string };

/**
 * Reserve, post, then sell or release: the one path of a sale to an endpoint buyer. `bid.amount` is what the buyer
 * pays if its post is accepted (its bid, or the auction rule's price): reserved, posted as the bid, charged.
 */
export async function sellToEndpoint(
  offer: { offerId: string; leadId: string },
  bid: EndpointBid,
): Promise<EndpointSale> {
  const { offerId, leadId } = offer;
  const held = await reserveBid({ offerId, buyerId: bid.buyerId, amount: bid.amount });
  if (!held.ok) return { result: 'passed', reason: held.reason };
  let result: 'accepted' | 'rejected' | 'failed' | 'unknown';
  try {
    ({ result } = await postToEndpoint({
      leadId,
      offerId,
      buyerId: bid.buyerId,
      pingId: bid.pingId,
      bid: bid.amount,
      idempotencyKey: endpointPostKey(offerId, bid.buyerId),
    }));
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    // Out of resends (the worker died each time, say): maybe sent, maybe taken – a person decides.
    result = 'unknown';
  }
  if (result === 'unknown') return { result: 'stop', reason: POST_UNKNOWN };
  if (result !== 'accepted') {
    await releaseBid({ offerId, buyerId: bid.buyerId });
    return { result: 'passed', reason: `post_${result}` };
  }
  const sale = await sellAcceptedPost({ offerId, buyerId: bid.buyerId, price: bid.amount });
  if (sale.result === 'won')
    return { result: 'won', assignmentId: sale.assignmentId, delivery: sale.delivery, closedOffer: sale.closedOffer };
  // The buyer took the lead and the sale's re-check refused it (suppressed since, a cap reached meanwhile): the
  // reserve is back and nothing is charged; a person decides rather than a second buyer being posted.
  return { result: 'stop', reason: sale.reason === SUPPRESSED ? SUPPRESSED : `sale_refused: ${sale.reason}` };
}

/** The accepted bids of one round of pings, in answer order (a tie goes to the earlier answer). */
function bidsOf(answers: PingAnswer[]): EndpointBid[] {
  return answers
    .filter((a) => a.outcome === 'accepted' && a.bid !== null)
    .sort((a, b) => a.latencyMs - b.latencyMs)
    .map((a) => ({ buyerId: a.buyerId, amount: a.bid!, pingId: a.pingId }));
}

/**
 * Pings the eligible ones of these endpoint buyers together, by ONE `pingEndpoints` activity under one deadline (each
 * call its own timeout; an answer after the deadline is no bid), and answers their accepted bids in answer order.
 * `eligible`: routing's eligible buyers (null: too many to carry – the activity checks the offer's verdicts itself).
 * `tier`: a ping tree's tier (1 = the first), written on each `pinged` event; none for a highest-bid auction's bidders.
 * (Only the activity's input carries it – the command is the same activity – so histories from before it replay.)
 */
export async function pingForBids(
  offer: { offerId: string; leadId: string },
  buyerIds: readonly string[],
  eligible: readonly string[] | null,
  deadlineMs: number,
  tier?: number,
): Promise<EndpointBid[]> {
  const targets = eligible ? buyerIds.filter((b) => eligible.includes(b)) : [...buyerIds];
  if (!targets.length) return [];
  let answers: PingAnswer[];
  try {
    answers = await pingEndpoints({
      leadId: offer.leadId,
      offerId: offer.offerId,
      buyerIds: targets,
      deadlineMs,
      ...(tier !== undefined ? { tier } : {}),
    });
  } catch (err) {
    // The round failed as a whole (its worker died, the activity timed out): no bids from it – the pings that landed
    // are on the timeline, their answers are lost, and nobody is posted on a bid the workflow never saw.
    if (!(err instanceof ActivityFailure) || !patched(PING_ROUND_FAILURE_PATCH)) throw err;
    log.warn('a round of endpoint pings failed: no bids from it', { offerId: offer.offerId, error: err.message });
    return [];
  }
  return bidsOf(answers);
}

/** How a ping tree ended: a sale, a stop for a person (`post_unknown`…), or nothing sold. */
type TreeOutcome =
  Extract<EndpointSale, { result: 'won' }> | Extract<EndpointSale, { result: 'stop' }> | { result: 'unsold' };

/** Runs the tree's tiers in order until a sale or a stop. `eligible`: routing's eligible buyers (null: too many to carry). */
export async function runPingTree(
  offer: { offerId: string; leadId: string },
  tree: PingTree,
  eligible: readonly string[] | null,
): Promise<TreeOutcome> {
  for (const [index, tier] of tree.tiers.entries()) {
    const bids = await pingForBids(offer, tier.buyerIds, eligible, PING_TIER_DEADLINE_MS, index + 1);
    const pingIds = new Map(bids.map((b) => [b.buyerId, b.pingId]));
    const ranks: Bid[] = bids.map((b, i) => ({
      buyerId: b.buyerId,
      amount: b.amount,
      seq: i + 1,
      requestId: b.pingId ?? '',
    }));
    for (const ranked of rankBids(ranks, tier.floor, 'first_price')) {
      const sale = await sellToEndpoint(offer, {
        buyerId: ranked.buyerId,
        amount: ranked.price,
        pingId: pingIds.get(ranked.buyerId) ?? null,
      });
      if (sale.result !== 'passed') return sale;
    }
  }
  return { result: 'unsold' };
}
