/**
 * Sealed bids of highest-bid auctions. The workflow decides (order, floor,
 * raises); this activity checks what only the database knows at bid time
 * (the buyer is targeted, its balance covers the bid), records the bid and
 * puts `bid_placed` on the timeline. A retry after the commit changes nothing.
 */
import { and, eq, lte, sql } from 'drizzle-orm';
import { walletBalance } from '../db/ledger';
import { bids, offers, offerTargets } from '../db/schema';
import { appendEvents } from '../db/offers';
import type { BidRefusalReason } from '../domain/types';
import type { ActivityDeps } from './deps';

export interface PlaceBidInput {
  offerId: string;
  buyerId: string;
  amount: number;
  requestId: string;
  seq: number;
  raised: boolean;
  at: string;
}

export function bidActivities({ db }: ActivityDeps) {
  return {
    async placeBid(input: PlaceBidInput): Promise<{ ok: true } | { ok: false; reason: BidRefusalReason }> {
      const [offer] = await db.select().from(offers).where(eq(offers.id, input.offerId));
      if (!offer || offer.status !== 'open') return { ok: false, reason: 'offer_closed' };
      const [target] = await db
        .select()
        .from(offerTargets)
        .where(and(eq(offerTargets.offerId, offer.id), eq(offerTargets.buyerId, input.buyerId)));
      if (!target?.eligible) return { ok: false, reason: 'not_targeted' };
      const [already] = await db
        .select()
        .from(bids)
        .where(and(eq(bids.offerId, offer.id), eq(bids.buyerId, input.buyerId), eq(bids.seq, input.seq)));
      if (!already && (await walletBalance(db, input.buyerId)) < input.amount)
        return { ok: false, reason: 'insufficient_credits' };
      await db.transaction(async (tx) => {
        await tx
          .insert(bids)
          .values({
            offerId: offer.id,
            buyerId: input.buyerId,
            amount: input.amount,
            requestId: input.requestId,
            seq: input.seq,
            placedAt: new Date(input.at),
          })
          .onConflictDoUpdate({
            target: [bids.offerId, bids.buyerId],
            set: { amount: input.amount, requestId: input.requestId, seq: input.seq, placedAt: new Date(input.at) },
            setWhere: lte(bids.seq, sql`excluded.seq`),
          });
        await appendEvents(tx, [
          {
            leadId: offer.leadId,
            offerId: offer.id,
            type: 'bid_placed',
            buyerId: input.buyerId,
            data: { amount: input.amount, requestId: input.requestId, raised: input.raised, seq: input.seq },
            at: input.at,
            dedupeKey: `bid:${offer.id}:${input.seq}`,
          },
        ]);
      });
      return { ok: true };
    },
  };
}
