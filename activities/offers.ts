/**
 * Offer lifecycle I/O: open (eligibility snapshot, preview, feed), close
 * (timeline, feed), and the lead's status. Every write is idempotent, because
 * Temporal retries an activity whose worker died after the commit.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { queueOfferAlerts } from '../db/alerts';
import { appendEvents, type TimelineEventInput } from '../db/timeline';
import { assignments, leads, offers, offerTargets } from '../db/schema';
import type { AuctionKind, AuctionPricing, LeadStatus, OfferKind, TimelineEventType } from '../domain/types';
import type { ActivityDeps } from './deps';
import { resolveEligibility } from './routing';

export interface OpenOfferInput {
  offerId: string;
  leadId: string;
  agencyId: string;
  campaignId: string;
  kind: Exclude<OfferKind, 'manual'>;
  /** The workflow that owns the offer: claims go there. */
  workflowId: string;
  maxWinners: number;
  depth: number;
  /** ISO time, from the workflow's clock. */
  openedAt: string;
  closesAt: string;
  /** Highest-bid offers: the floor is the offer's price (from the route, so later campaign edits do not move it). */
  auction?: AuctionKind;
  pricing?: AuctionPricing;
  floorPrice?: number | null;
}

export interface OpenedOffer {
  offerId: string;
  price: number;
  eligible: number;
  excluded: number;
}

export type CloseOutcome = 'won' | 'expired' | 'cancelled';

export function offerActivities({ db, bus }: ActivityDeps) {
  return {
    /**
     * Resolves eligibility, then persists the offer, its targets (eligible or
     * excluded with the reason) and the matching timeline events in one
     * transaction, and tells the targeted buyers' feeds (ping post only: a
     * push offer is never shown to buyers to claim).
     */
    async openOffer(input: OpenOfferInput): Promise<OpenedOffer> {
      const existing = await db.select().from(offers).where(eq(offers.id, input.offerId));
      if (!existing[0]) {
        const auction = input.auction ?? 'first_claim';
        const { price, preview, targets } = await resolveEligibility(db, { ...input, auction, floorPrice: input.floorPrice ?? null });
        await db.transaction(async (tx) => {
          await tx.insert(offers).values({
            id: input.offerId,
            leadId: input.leadId,
            agencyId: input.agencyId,
            campaignId: input.campaignId,
            kind: input.kind,
            workflowId: input.workflowId,
            price,
            preview,
            maxWinners: input.maxWinners,
            depth: input.depth,
            auction,
            pricing: input.pricing ?? 'first_price',
            status: 'open',
            openedAt: new Date(input.openedAt),
            closesAt: new Date(input.closesAt),
          });
          if (targets.length) {
            await tx.insert(offerTargets).values(
              targets.map((t) => ({ offerId: input.offerId, buyerId: t.buyerId, eligible: t.eligible, reason: t.reason, detail: t.detail, snapshot: t.snapshot, price: t.price })),
            );
          }
          await appendEvents(
            tx,
            targets.map((t) => ({
              leadId: input.leadId,
              offerId: input.offerId,
              type: (t.eligible ? 'targeted' : 'excluded') as TimelineEventType,
              buyerId: t.buyerId,
              reason: t.reason,
              data: { ...(t.detail ? { detail: t.detail } : {}), snapshot: t.snapshot },
              at: input.openedAt,
            })),
          );
          // Offer alerts on the buyers' channels (#12): outbox rows, sent by the worker's dispatcher, off the workflow.
          if (input.kind === 'ping_post') await queueOfferAlerts(tx, { ...input, price, preview, targets });
          await tx.update(leads).set({ status: 'offered' }).where(and(eq(leads.id, input.leadId), inArray(leads.status, ['routing', 'offered', 'manual_review'])));
        });
      }
      const [offer] = await db.select().from(offers).where(eq(offers.id, input.offerId));
      const targets = await db.select({ eligible: offerTargets.eligible }).from(offerTargets).where(eq(offerTargets.offerId, input.offerId));
      const eligible = targets.filter((t) => t.eligible).length;
      if (input.kind === 'ping_post' && eligible > 0 && offer!.status === 'open') {
        await bus.publish({ type: 'offer.opened', offerId: input.offerId, agencyId: input.agencyId });
      }
      return { offerId: input.offerId, price: offer!.price, eligible, excluded: targets.length - eligible };
    },

    /**
     * Closes the offer with its outcome and writes who lost it: `lost` for
     * every targeted buyer that did not win, `expired` or `cancelled` for the
     * offer itself. Then the feeds hear `offer.closed`.
     */
    async closeOffer(input: { offerId: string; outcome: CloseOutcome; reason?: string; at: string }): Promise<void> {
      const [offer] = await db.select().from(offers).where(eq(offers.id, input.offerId));
      if (!offer) throw new Error(`offer ${input.offerId} not found`);
      await db.transaction(async (tx) => {
        const closed = await tx
          .update(offers)
          .set({ status: input.outcome, closedAt: new Date(input.at), closeReason: input.reason ?? null })
          .where(and(eq(offers.id, offer.id), eq(offers.status, 'open')))
          .returning({ id: offers.id });
        if (!closed.length) return; // closed by an earlier attempt of this activity
        const winners = new Set(
          (await tx.select({ buyerId: assignments.buyerId }).from(assignments).where(eq(assignments.offerId, offer.id))).map((a) => a.buyerId),
        );
        const targeted = await tx.select({ buyerId: offerTargets.buyerId }).from(offerTargets).where(and(eq(offerTargets.offerId, offer.id), eq(offerTargets.eligible, true)));
        const lostReason = input.outcome === 'won' ? 'taken' : input.outcome;
        const events: TimelineEventInput[] = targeted
          .filter((t) => !winners.has(t.buyerId))
          .map((t) => ({ leadId: offer.leadId, offerId: offer.id, type: 'lost', buyerId: t.buyerId, reason: lostReason, at: input.at }));
        if (input.outcome !== 'won') {
          events.unshift({ leadId: offer.leadId, offerId: offer.id, type: input.outcome, reason: input.reason ?? null, at: input.at });
        }
        await appendEvents(tx, events);
      });
      if (offer.kind === 'ping_post') await bus.publish({ type: 'offer.closed', offerId: offer.id, agencyId: offer.agencyId });
    },

    /** Timeline events decided inside the workflow (refused claims, fall-through…); keys make retries harmless. */
    async recordEvents(events: TimelineEventInput[]): Promise<void> {
      await appendEvents(db, events);
    },

    async setLeadStatus(input: { leadId: string; status: LeadStatus; reason?: string | null; event?: TimelineEventInput }): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.update(leads).set({ status: input.status, statusReason: input.reason ?? null }).where(eq(leads.id, input.leadId));
        if (input.event) await appendEvents(tx, [input.event]);
      });
    },
  };
}
