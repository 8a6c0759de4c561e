/**
 * The bid desk of one open highest-bid offer: sealed bids during the window,
 * the winner decided at close.
 *
 * Bids arrive as Updates and are served one at a time (a mutex). Each bid is
 * checked against the floor and the buyer's previous bid here (pure rules,
 * domain/auction.ts), then against the database (targeted, balance ≥ amount)
 * by the `placeBid` activity, which records it. The desk keeps the accepted
 * bids in acceptance order, which the workflow's history fixes; at close
 * `rankBids` orders them and the desk sells down that order until the offer is
 * full: a winner that can no longer pay is passed over for the next bid. A
 * replay therefore decides the same winner at the same price.
 *
 * Endpoint bidders (#22): the campaign may name buyers whose own systems bid.
 * `takeEndpointBids` pings them together (one activity, beside the window:
 * feed bids keep flowing) and places each accepted answer through the same
 * path as a feed bid – same checks, same `placeBid` record, a seq of its own
 * where the pings' completion falls in the history, so a tie against a feed
 * bid goes to whichever the history holds first. At close an endpoint winner
 * is sold by `sellToEndpoint` (reserve, post with the sale's Idempotency-Key,
 * then sale or release) at the price the rule gives it; a refused post passes
 * to the next bid, a post whose fate is unknown stops the auction for a
 * person (`post_unknown`). Workflow code (the workflow lint rules hold it).
 */
import { condition, patched } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';

import type { LeadActivities } from '../activities';
import type { DeliveryPlan } from '../activities/delivery';
import { type Bid, checkBid, rankBids, type RankedBid } from '../domain/auction';
import { endpointBidRequestId } from '../domain/ids';
import { type AuctionPricing, type BidRefusalReason, SUPPRESSED } from '../domain/types';
import { PING_TIER_DEADLINE_MS } from '../workflows/options';
import { type BidRequest, type BidResult, SUPPRESSION_PATCH } from './messages';
import { pingForBids, sellToEndpoint } from './ping-tree-desk';

/** The desk's I/O: activities (the first lifecycle) or local activities (the lean one). */
export type AuctionIo = Pick<LeadActivities, 'placeBid' | 'postAndCharge'>;

export interface AuctionOffer {
  offerId: string;
  leadId: string;
  maxWinners: number;
  closesAtMs: number;
  pricing: AuctionPricing;
}

export class AuctionDesk {
  readonly winners = new Map<string, { assignmentId: string; delivery?: DeliveryPlan }>();
  private readonly bids: Bid[] = [];
  /** The bids an endpoint bidder's ping placed, by buyer: the bid's seq (a later feed raise replaces it) and its ping id. */
  private readonly fromEndpoints = new Map<string, { seq: number; pingId: string | null }>();
  private seq = 0;
  private open = true;
  private floor: number | null = null;
  private cancelled: string | null = null;
  private readonly mutex = new Mutex();

  constructor(
    readonly offer: AuctionOffer,
    private readonly io: AuctionIo,
  ) {}

  get cancelReason(): string | null {
    return this.cancelled;
  }

  /** The floor is the offer's price, known once the offer is stored; a bid that comes first waits for it. */
  setFloor(floor: number): void {
    this.floor = floor;
  }

  cancel(reason: string): void {
    this.cancelled ??= reason;
  }

  /** A feed buyer's bid (the bid Update). */
  bid(req: BidRequest): Promise<BidResult> {
    return this.place(req);
  }

  /**
   * Pings the endpoint bidders together (one activity) with a deadline at the window's end, and places each accepted
   * answer, in answer order, like a feed bid. An answer after the window – the pings' activity completing after the
   * close – is no bid; a failed activity is no bid from any of them.
   */
  async takeEndpointBids(buyerIds: readonly string[], eligible: readonly string[] | null): Promise<void> {
    const deadlineMs = Math.min(PING_TIER_DEADLINE_MS, this.offer.closesAtMs - Date.now());
    if (deadlineMs <= 0) return;
    // A failed round answers no bids (pingForBids).
    for (const b of await pingForBids(this.offer, buyerIds, eligible, deadlineMs)) {
      const requestId = endpointBidRequestId(this.offer.offerId, b.buyerId);
      await this.place({ offerId: this.offer.offerId, buyerId: b.buyerId, amount: b.amount, requestId }, b.pingId);
    }
  }

  /** One bid, feed or endpoint (`pingId` given), through the same checks and the same record. */
  private async place(req: BidRequest, pingId?: string | null): Promise<BidResult> {
    await condition(() => this.floor !== null || !this.open);
    return this.mutex.runExclusive(async (): Promise<BidResult> => {
      if (!this.open || this.cancelled !== null || Date.now() >= this.offer.closesAtMs || this.floor === null)
        return refused('offer_closed');
      const previous = this.latest(req.buyerId);
      // The same request again (a client retry): the same answer.
      if (previous && previous.requestId === req.requestId && previous.amount === req.amount) {
        return {
          result: 'accepted',
          offerId: this.offer.offerId,
          amount: previous.amount,
          raised: this.bids.filter((b) => b.buyerId === req.buyerId).length > 1,
        };
      }
      const problem = checkBid(req.amount, this.floor, previous);
      if (problem) return refused(problem);
      const seq = this.seq + 1;
      const placed = await this.io.placeBid({
        offerId: this.offer.offerId,
        buyerId: req.buyerId,
        amount: req.amount,
        requestId: req.requestId,
        seq,
        raised: previous !== undefined,
        at: new Date(Date.now()).toISOString(),
        ...(pingId !== undefined ? { via: 'endpoint' as const } : {}),
      });
      if (!placed.ok) return refused(placed.reason);
      this.seq = seq;
      if (pingId !== undefined) this.fromEndpoints.set(req.buyerId, { seq, pingId });
      this.bids.push({ buyerId: req.buyerId, amount: req.amount, seq, requestId: req.requestId });
      return { result: 'accepted', offerId: this.offer.offerId, amount: req.amount, raised: previous !== undefined };
    });
  }

  /** Stops taking bids (waiting for one in progress), then sells down the ranking. */
  async closeAndDecide(): Promise<string[]> {
    await this.mutex.runExclusive(() => {
      this.open = false;
    });
    if (this.cancelled !== null || this.floor === null) return [];
    for (const ranked of rankBids(this.bids, this.floor, this.offer.pricing)) {
      if (this.winners.size >= this.offer.maxWinners) break;
      const endpoint = this.endpointOf(ranked);
      if (endpoint) {
        const sale = await sellToEndpoint(this.offer, { buyerId: ranked.buyerId, amount: ranked.price, ...endpoint });
        if (sale.result === 'won')
          this.winners.set(ranked.buyerId, { assignmentId: sale.assignmentId, delivery: sale.delivery });
        else if (sale.result === 'stop') {
          // The post's fate is unknown (or the sale was refused after an accepted post): a person decides; no
          // second buyer is posted meanwhile.
          this.cancel(sale.reason);
          break;
        }
        continue;
      }
      const sale = await this.io.postAndCharge({
        offerId: this.offer.offerId,
        buyerId: ranked.buyerId,
        requestId: ranked.requestId,
        price: ranked.price,
        sale: 'auction',
      });
      if (sale.result === 'won')
        this.winners.set(ranked.buyerId, { assignmentId: sale.assignmentId, delivery: sale.delivery });
      else if (sale.reason === SUPPRESSED && patched(SUPPRESSION_PATCH)) {
        // The person is suppressed (#23): no bidder may have the lead; it goes to review.
        this.cancel(SUPPRESSED);
        break;
      }
    }
    return [...this.winners.values()].map((w) => w.assignmentId);
  }

  /** The sales `closeAndDecide` made, with the delivery plan each returned. */
  sales(): { assignmentId: string; delivery: DeliveryPlan }[] {
    return [...this.winners.values()].flatMap((w) =>
      w.delivery ? [{ assignmentId: w.assignmentId, delivery: w.delivery }] : [],
    );
  }

  /** The endpoint bid behind this ranked bid, when its buyer's latest bid came from its ping. */
  private endpointOf(ranked: RankedBid): { pingId: string | null } | undefined {
    const placed = this.fromEndpoints.get(ranked.buyerId);
    return placed?.seq === ranked.seq ? { pingId: placed.pingId } : undefined;
  }

  private latest(buyerId: string): Bid | undefined {
    let found: Bid | undefined;
    for (const b of this.bids) if (b.buyerId === buyerId && (!found || b.seq > found.seq)) found = b;
    return found;
  }
}

const refused = (reason: BidRefusalReason): BidResult => ({ result: 'refused', reason });
