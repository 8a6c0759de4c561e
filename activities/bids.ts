/**
 * Sealed bids of highest-bid auctions. The workflow decides (order, floor,
 * raises); this activity checks what only the database knows at bid time
 * (the buyer is targeted, its balance covers the bid), records the bid and
 * puts `bid_placed` on the timeline. A retry after the commit changes nothing.
 */
import { walletBalance } from '../db/ledger';
import { bidWithSeq, buyerStanding, getOffer, type PlacedBid, recordBid } from '../db/offers';
import type { BidRefusalReason } from '../domain/types';
import type { ActivityDeps } from './deps';

export type PlaceBidInput = PlacedBid & { offerId: string };

export function bidActivities({ db }: ActivityDeps) {
  return {
    async placeBid(input: PlaceBidInput): Promise<{ ok: true } | { ok: false; reason: BidRefusalReason }> {
      const offer = await getOffer(db, input.offerId);
      if (!offer || offer.status !== 'open') return { ok: false, reason: 'offer_closed' };
      const target = await buyerStanding(db, offer, input.buyerId);
      if (!target?.eligible) return { ok: false, reason: 'not_targeted' };
      const already = await bidWithSeq(db, offer.id, input.buyerId, input.seq);
      if (!already && (await walletBalance(db, input.buyerId)) < input.amount)
        return { ok: false, reason: 'insufficient_credits' };
      await recordBid(db, offer, input);
      return { ok: true };
    },
  };
}
