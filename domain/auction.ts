/**
 * The highest-bid auction, as pure rules: whether a bid is acceptable and who
 * wins at close at what price. The workflow keeps the bids (in the order it
 * accepted them, which its history fixes) and calls these, so a replay decides
 * the same winner.
 */
import type { AuctionPricing, BidRefusalReason } from './types';

export interface Bid {
  buyerId: string;
  amount: number;
  /** The order in which the workflow accepted it (a raise takes a new one): earlier wins a tie. */
  seq: number;
  requestId: string;
}

export interface RankedBid extends Bid {
  /** What this bidder pays if it wins. */
  price: number;
}

/**
 * Whether a new bid may stand: at least the floor, and a buyer's new bid must
 * raise its previous one (a sealed bid cannot be lowered or withdrawn).
 */
export function checkBid(amount: number, floor: number, previous: Bid | undefined): BidRefusalReason | null {
  if (!Number.isInteger(amount) || amount < floor) return 'below_floor';
  if (previous && amount <= previous.amount) return 'not_a_raise';
  return null;
}

/** Highest amount first; a tie goes to the bid accepted first. */
function byRank(a: Bid, b: Bid): number {
  return b.amount - a.amount || a.seq - b.seq;
}

/**
 * Every valid bid (one per buyer: its latest) in winning order, each with the
 * price it pays if it wins: its own bid (first price), or the next bid in the
 * order, never below the floor nor above its own bid (second price). When a
 * winner cannot pay at close, the next in this list takes its place at its own
 * price, so the list is the whole decision.
 */
export function rankBids(bids: readonly Bid[], floor: number, pricing: AuctionPricing): RankedBid[] {
  const latest = new Map<string, Bid>();
  for (const b of bids) {
    const prev = latest.get(b.buyerId);
    if (!prev || b.seq > prev.seq) latest.set(b.buyerId, b);
  }
  const order = [...latest.values()].filter((b) => b.amount >= floor).sort(byRank);
  return order.map((b, i) => {
    if (pricing === 'first_price') return { ...b, price: b.amount };
    const next = order[i + 1]?.amount ?? floor;
    return { ...b, price: Math.min(b.amount, Math.max(floor, next)) };
  });
}
