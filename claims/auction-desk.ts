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
 * replay therefore decides the same winner at the same price. Workflow code
 * (the workflow lint rules hold it).
 */
import { condition, patched } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';

import type { LeadActivities } from '../activities';
import type { DeliveryPlan } from '../activities/delivery';
import { type Bid, checkBid, rankBids } from '../domain/auction';
import { type AuctionPricing, type BidRefusalReason, SUPPRESSED } from '../domain/types';
import { type BidRequest, type BidResult, SUPPRESSION_PATCH } from './messages';

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

  async bid(req: BidRequest): Promise<BidResult> {
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
      });
      if (!placed.ok) return refused(placed.reason);
      this.seq = seq;
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

  private latest(buyerId: string): Bid | undefined {
    let found: Bid | undefined;
    for (const b of this.bids) if (b.buyerId === buyerId && (!found || b.seq > found.seq)) found = b;
    return found;
  }
}

const refused = (reason: BidRefusalReason): BidResult => ({ result: 'refused', reason });
