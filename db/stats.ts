/**
 * Per-buyer engagement over a period: offers targeted, viewed, claimed or bid
 * on, viewed but ignored; claims won, lost (a race or a closed offer) and
 * failed; the latency from an offer opening to the buyer's first claim (or
 * bid); delivery success on the sending channels. Read from the timeline,
 * the offers and the deliveries: nothing is counted twice by retries, since
 * those rows are deduplicated where they are written.
 */
import { and, eq, gte, ne } from 'drizzle-orm';
import { isLost } from '../claims/vocabulary';
import { distribution, rate, type Distribution } from '../domain/stats';
import type { DbOrTx } from './connection';
import { assignments, deliveries, offerEvents, offers, offerTargets } from './schema';

export interface BuyerStats {
  buyerId: string;
  since: string;
  offers: { targeted: number; viewed: number; claimed: number; bid: number; viewedButIgnored: number };
  claims: { attempts: number; won: number; lost: number; failed: number; byReason: Record<string, number> };
  claimLatencyMs: Distribution;
  deliveries: {
    delivered: number;
    failed: number;
    successRate: number | null;
    byChannel: Record<string, { delivered: number; failed: number }>;
  };
}

export async function buyerStats(db: DbOrTx, buyerId: string, since: Date): Promise<BuyerStats> {
  const targeted = await db
    .select({ offerId: offers.id })
    .from(offerTargets)
    .innerJoin(offers, eq(offers.id, offerTargets.offerId))
    .where(
      and(
        eq(offerTargets.buyerId, buyerId),
        eq(offerTargets.eligible, true),
        eq(offers.kind, 'ping_post'),
        gte(offers.openedAt, since),
      ),
    );

  const events = await db
    .select({
      offerId: offerEvents.offerId,
      type: offerEvents.type,
      reason: offerEvents.reason,
      at: offerEvents.at,
      openedAt: offers.openedAt,
    })
    .from(offerEvents)
    .innerJoin(offers, eq(offers.id, offerEvents.offerId))
    .where(and(eq(offerEvents.buyerId, buyerId), eq(offers.kind, 'ping_post'), gte(offers.openedAt, since)));

  const viewed = new Set<string>();
  const acted = new Map<string, number>(); // offer → ms from open to the first claim or bid
  const claimed = new Set<string>();
  const bid = new Set<string>();
  const byReason: Record<string, number> = {};
  let attempts = 0;
  let won = 0;
  let lost = 0;
  let failed = 0;
  for (const e of events) {
    const offerId = e.offerId!;
    if (e.type === 'viewed') viewed.add(offerId);
    if (e.type === 'claim_attempted' || e.type === 'bid_placed') {
      const ms = Math.max(0, e.at.getTime() - e.openedAt.getTime());
      const prev = acted.get(offerId);
      if (prev === undefined || ms < prev) acted.set(offerId, ms);
    }
    if (e.type === 'bid_placed') bid.add(offerId);
    if (e.type === 'claim_attempted') {
      claimed.add(offerId);
      attempts++;
    }
    if (e.type === 'won') won++;
    if (e.type === 'claim_failed') {
      const reason = e.reason ?? 'unknown';
      byReason[reason] = (byReason[reason] ?? 0) + 1;
      if (isLost(reason)) lost++;
      else failed++;
    }
  }
  const viewedButIgnored = [...viewed].filter((o) => !acted.has(o)).length;

  const rows = await db
    .select({ channel: deliveries.channel, status: deliveries.status })
    .from(deliveries)
    .innerJoin(assignments, eq(assignments.id, deliveries.assignmentId))
    .where(
      and(eq(assignments.buyerId, buyerId), gte(assignments.createdAt, since), ne(deliveries.channel, 'dashboard')),
    );
  const byChannel: Record<string, { delivered: number; failed: number }> = {};
  let delivered = 0;
  let deliveryFailed = 0;
  for (const r of rows) {
    const c = (byChannel[r.channel] ??= { delivered: 0, failed: 0 });
    if (r.status === 'delivered') {
      c.delivered++;
      delivered++;
    } else if (r.status === 'failed') {
      c.failed++;
      deliveryFailed++;
    }
  }

  return {
    buyerId,
    since: since.toISOString(),
    offers: {
      targeted: new Set(targeted.map((t) => t.offerId)).size,
      viewed: viewed.size,
      claimed: claimed.size,
      bid: bid.size,
      viewedButIgnored,
    },
    claims: { attempts, won, lost, failed, byReason },
    claimLatencyMs: distribution([...acted.values()]),
    deliveries: {
      delivered,
      failed: deliveryFailed,
      successRate: rate(delivered, delivered + deliveryFailed),
      byChannel,
    },
  };
}
