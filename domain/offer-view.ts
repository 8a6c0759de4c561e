/**
 * What a buyer sees of an open offer, before winning it: the campaign's
 * preview fields, the price, how it is decided and when it closes. One shape
 * for `GET /v1/offers`, the feed's snapshot and `offer.opened`, and the bus
 * event that carries it to every gateway.
 */
import type { AuctionKind } from './types';

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
