/**
 * Buyers' own systems in the auction (#22), as workflow code: a ping tree's
 * tiers, and the sale to one endpoint buyer that both the tree and a
 * highest-bid auction with endpoint bidders use.
 *
 * A tier: ONE `pingEndpoints` activity pings its eligible endpoint buyers
 * together (routing's verdicts decide who is eligible; the answers land on the
 * timeline as `pinged`); the accepted bids at or above the tier's floor are
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
import { ActivityFailure, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

import type { LeadActivities } from '../activities';
import type { DeliveryPlan } from '../activities/delivery';
import type { PingAnswer } from '../activities/endpoints';
import { type Bid, rankBids } from '../domain/auction';
import { endpointPostKey } from '../domain/ids';
import { type PingTree, POST_UNKNOWN, SUPPRESSED } from '../domain/types';
import {
  LOCAL_SALE_OPTIONS,
  PING_ACTIVITY_OPTIONS,
  PING_TIER_DEADLINE_MS,
  POST_ACTIVITY_OPTIONS,
} from '../workflows/options';

const { pingEndpoints } = proxyActivities<LeadActivities>(PING_ACTIVITY_OPTIONS);
const { postToEndpoint } = proxyActivities<LeadActivities>(POST_ACTIVITY_OPTIONS);
const { reserveBid, releaseBid, sellAcceptedPost } = proxyLocalActivities<LeadActivities>(LOCAL_SALE_OPTIONS);

/** An endpoint buyer's bid, as its ping answered it. */
interface EndpointBid {
  buyerId: string;
  amount: number;
  pingId: string | null;
}

/** How selling to one endpoint buyer ended. */
type EndpointSale =
  | { result: 'won'; assignmentId: string; delivery: DeliveryPlan; closedOffer: boolean }
  /** Not sold to this buyer: the next bid may be tried. */
  | { result: 'passed'; reason: string }
  /** Stop: the post's fate is unknown (`post_unknown`), or the sale was refused after an accepted post. */
  | { result: 'stop'; reason: string };

/** Reserve, post, then sell or release: the one path of a sale to an endpoint buyer. */
async function sellToEndpoint(offer: { offerId: string; leadId: string }, bid: EndpointBid): Promise<EndpointSale> {
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

/** A tier's accepted bids in answer order (a tie goes to the earlier answer). */
function bidsOf(answers: PingAnswer[]): Bid[] {
  return answers
    .filter((a) => a.outcome === 'accepted' && a.bid !== null)
    .sort((a, b) => a.latencyMs - b.latencyMs)
    .map((a, i) => ({ buyerId: a.buyerId, amount: a.bid!, seq: i + 1, requestId: a.pingId ?? '' }));
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
  for (const tier of tree.tiers) {
    const buyerIds = eligible ? tier.buyerIds.filter((b) => eligible.includes(b)) : tier.buyerIds;
    if (!buyerIds.length) continue;
    const answers = await pingEndpoints({
      leadId: offer.leadId,
      offerId: offer.offerId,
      buyerIds,
      deadlineMs: PING_TIER_DEADLINE_MS,
    });
    const pingIds = new Map(answers.map((a) => [a.buyerId, a.pingId]));
    for (const ranked of rankBids(bidsOf(answers), tier.floor, 'first_price')) {
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
