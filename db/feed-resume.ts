/**
 * What a Live Leads client missed while it (or its gateway's bus) was away:
 * the buyer's targeted offers that closed since a moment, with the outcome
 * for that buyer. Sent after the snapshot on a resumed connection
 * (`/v1/feed?since=<seq>`) and on a gateway's resync, so a client that had an
 * offer on screen hears how it ended. Open offers need no catching up: the
 * snapshot holds them.
 */
import { and, asc, eq, gte, ne, sql } from 'drizzle-orm';
import type { FeedCloseOutcome } from '../domain/types';
import type { DbOrTx } from './connection';
import { offers, offerTargets } from './schema';

export interface MissedClose {
  offerId: string;
  outcome: FeedCloseOutcome;
}

/** At most this many closes are replayed (the newest are what a returning client still has on screen). */
const MAX_MISSED = 500;

export async function closedSince(db: DbOrTx, buyerId: string, since: Date): Promise<MissedClose[]> {
  const rows = await db
    .select({
      offerId: offers.id,
      mine: sql<boolean>`exists (select 1 from assignments a where a.offer_id = ${offers.id} and a.buyer_id = ${buyerId})`,
      taken: sql<boolean>`exists (select 1 from assignments a where a.offer_id = ${offers.id})`,
    })
    .from(offerTargets)
    .innerJoin(offers, eq(offers.id, offerTargets.offerId))
    .where(
      and(
        eq(offerTargets.buyerId, buyerId),
        eq(offerTargets.eligible, true),
        eq(offers.kind, 'ping_post'),
        ne(offers.status, 'open'),
        gte(offers.closedAt, since),
      ),
    )
    .orderBy(asc(offers.closedAt))
    .limit(MAX_MISSED);
  return rows.map((r) => ({ offerId: r.offerId, outcome: r.mine ? 'won_by_you' : r.taken ? 'taken' : 'expired' }));
}
