/**
 * Offer rows and their timeline, written inside the caller's transaction:
 * opening an offer (the offer, every candidate's verdict, `targeted` /
 * `excluded` events, the lead `offered`) and closing it (its outcome, `lost`
 * for every targeted buyer that did not win, `expired` / `cancelled`). The
 * route-and-open activity, the sale transaction (which closes an offer when
 * its last place is sold) and the expiry all call these, so an offer is opened
 * and closed the same way on every path.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { AuctionKind, AuctionPricing, OfferKind, TimelineEventType } from '../domain/types';
import type { Tx } from './connection';
import { assignments, leads, offers, offerTargets } from './schema';
import { queueOfferAlerts } from './alerts';
import { appendEvents, type TimelineEventInput } from './timeline';

/** One candidate buyer's verdict, kept with the offer for "why didn't I get this lead?". */
export type { TargetVerdict } from '../domain/eligibility';
import type { TargetVerdict } from '../domain/eligibility';

export interface NewOffer {
  id: string;
  leadId: string;
  agencyId: string;
  campaignId: string;
  kind: Exclude<OfferKind, 'manual'>;
  workflowId: string;
  price: number;
  preview: Record<string, unknown>;
  maxWinners: number;
  depth: number;
  auction: AuctionKind;
  pricing: AuctionPricing;
  openedAt: Date;
  closesAt: Date;
  /** The campaign settings the lead runs under (route-and-open), for a retried open and for audits. */
  route?: Record<string, unknown> | null;
}

/** Stores a new offer, every candidate's verdict and their timeline events; the lead is `offered`. */
export async function storeOffer(tx: Tx, offer: NewOffer, targets: TargetVerdict[]): Promise<void> {
  await tx.insert(offers).values({ ...offer, route: offer.route ?? null, status: 'open' });
  if (targets.length) {
    await tx.insert(offerTargets).values(
      targets.map((t) => ({
        offerId: offer.id,
        buyerId: t.buyerId,
        eligible: t.eligible,
        reason: t.reason,
        detail: t.detail,
        snapshot: t.snapshot,
        price: t.price ?? null,
      })),
    );
  }
  await appendEvents(
    tx,
    targets.map((t) => ({
      leadId: offer.leadId,
      offerId: offer.id,
      type: (t.eligible ? 'targeted' : 'excluded') as TimelineEventType,
      buyerId: t.buyerId,
      reason: t.reason,
      data: { ...(t.detail ? { detail: t.detail } : {}), snapshot: t.snapshot },
      at: offer.openedAt,
    })),
  );
  // Offer alerts on the buyers' channels (#12): outbox rows in this transaction, sent by the worker's dispatcher, off the workflow.
  if (offer.kind === 'ping_post')
    await queueOfferAlerts(tx, {
      offerId: offer.id,
      leadId: offer.leadId,
      agencyId: offer.agencyId,
      price: offer.price,
      preview: offer.preview,
      openedAt: offer.openedAt.toISOString(),
      closesAt: offer.closesAt.toISOString(),
      targets,
    });
  await tx
    .update(leads)
    .set({ status: 'offered' })
    .where(and(eq(leads.id, offer.leadId), inArray(leads.status, ['routing', 'offered', 'manual_review'])));
}

export type CloseOutcome = 'won' | 'expired' | 'cancelled';

export interface ClosedOffer {
  offerId: string;
  agencyId: string;
  kind: OfferKind;
  outcome: CloseOutcome;
  /** Buyers who bought it: the feed tells them `won_by_you`, the other targets `taken` (or `expired`). */
  winners: string[];
}

/**
 * Closes an open offer with its outcome and writes who lost it: `lost` for
 * every targeted buyer that did not win, and `expired` / `cancelled` for the
 * offer itself. An offer that has a sale closes `won` whatever the caller
 * asked. Null when the offer was closed already (a retry, or the sale that
 * sold its last place closed it).
 */
export async function closeOfferWithin(
  tx: Tx,
  offerId: string,
  input: { outcome: CloseOutcome; reason?: string | null; at: Date },
): Promise<ClosedOffer | null> {
  // Lock the offer first: a sale in flight holds the same lock, so the sales read below are every sale there is.
  const [open] = await tx
    .select({ id: offers.id })
    .from(offers)
    .where(and(eq(offers.id, offerId), eq(offers.status, 'open')))
    .for('update');
  if (!open) return null;
  const winners = (
    await tx.select({ buyerId: assignments.buyerId }).from(assignments).where(eq(assignments.offerId, offerId))
  ).map((a) => a.buyerId);
  // An offer with a sale is won, whatever the caller decided: its workflow may lack the sale's record (a worker
  // crash between the sale's commit and the record in history), and the timer then asks to expire it.
  const outcome: CloseOutcome = winners.length > 0 ? 'won' : input.outcome;
  const [offer] = await tx
    .update(offers)
    .set({ status: outcome, closedAt: input.at, closeReason: outcome === 'won' ? null : (input.reason ?? null) })
    .where(eq(offers.id, offerId))
    .returning();
  const targeted = await tx
    .select({ buyerId: offerTargets.buyerId })
    .from(offerTargets)
    .where(and(eq(offerTargets.offerId, offer.id), eq(offerTargets.eligible, true)));
  const lostReason = outcome === 'won' ? 'taken' : outcome;
  const events: TimelineEventInput[] = targeted
    .filter((t) => !winners.includes(t.buyerId))
    .map((t) => ({
      leadId: offer.leadId,
      offerId: offer.id,
      type: 'lost',
      buyerId: t.buyerId,
      reason: lostReason,
      at: input.at,
    }));
  if (outcome !== 'won')
    events.unshift({
      leadId: offer.leadId,
      offerId: offer.id,
      type: outcome,
      reason: input.reason ?? null,
      at: input.at,
    });
  await appendEvents(tx, events);
  return { offerId: offer.id, agencyId: offer.agencyId, kind: offer.kind, outcome, winners };
}
