/**
 * What a buyer sees of an open offer, before winning it: the campaign's
 * preview fields, the price, how it is decided and when it closes. One shape
 * for `GET /v1/offers`, the feed's snapshot and `offer.opened`, and the bus
 * event that carries it to every gateway. And which offers buyers see at all
 * (`buyersSee`).
 */
import { AUCTION_KINDS, type AuctionKind, type OfferKind } from './types';

/**
 * Whether buyers take part in an auction through Leadwire (the feed, the API, the offer alerts): every one but a ping
 * tree (#22), which the buyers' own systems decide through outbound pings and posts. Typed so that a new auction kind
 * does not compile until it says.
 */
const BUYERS_TAKE_PART: Record<AuctionKind, boolean> = {
  first_claim: true,
  highest_bid: true,
  ping_tree: false,
};

/** The auctions buyers take part in (`BUYERS_TAKE_PART`), for the database's form of `buyersSee` (db/offers.ts). */
export const BUYER_AUCTIONS: readonly AuctionKind[] = AUCTION_KINDS.filter((a) => BUYERS_TAKE_PART[a]);

/**
 * An offer buyers see and claim (or bid on): a ping-post offer of an auction they take part in. Not a push or manual
 * offer (nobody claims them), nor a ping tree's. Only these are on the feed (`offer.opened`, the snapshot, the
 * catch-up of closes), in the open-offer list and in the offer alerts; db/offers.ts `seenByBuyers` is the same rule
 * in SQL.
 */
export function buyersSee(offer: { kind: OfferKind; auction: AuctionKind }): boolean {
  return offer.kind === 'ping_post' && BUYERS_TAKE_PART[offer.auction];
}

export interface BuyerOffer {
  id: string;
  leadId: string;
  preview: Record<string, unknown>;
  price: number;
  auction: AuctionKind;
  closesAt: string;
}

export function buyerOfferOf(o: {
  id: string;
  leadId: string;
  preview: Record<string, unknown>;
  price: number;
  auction: AuctionKind;
  closesAt: Date;
}): BuyerOffer {
  return {
    id: o.id,
    leadId: o.leadId,
    preview: o.preview,
    price: o.price,
    auction: o.auction,
    closesAt: o.closesAt.toISOString(),
  };
}
