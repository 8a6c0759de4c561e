/**
 * Offer lifecycle I/O: route and open (one transaction: the offer, every
 * candidate's verdict, the timeline, then the feed), close (timeline, feed),
 * and the lead's status. Every write is idempotent, because Temporal retries
 * an activity (or re-runs a local one) whose worker died after the commit.
 */
import { offerSales } from '../db/assignments';
import { evaluateEligibility } from '../db/eligibility';
import { recordReoffer, setLeadStatus } from '../db/leads';
import type { OfferBus } from '../db/offer-bus';
import {
  appendEvents,
  closeOffer,
  type CloseOutcome,
  getOffer,
  saveOffer,
  type TargetVerdict,
  targetVerdicts,
  type TimelineEventInput,
} from '../db/offers';
import type { AuditBy } from '../domain/audit';
import { buyerOfferOf } from '../domain/offer-view';
import type { AuctionKind, AuctionPricing, LeadStatus, OfferKind } from '../domain/types';
import type { ActivityDeps } from './deps';
import { loadLeadAndCampaign, resolveEligibility, type Route, routeOf } from './routing';

export type { CloseOutcome };

/** What closing found: whether this call closed it, and every sale of the offer (the workflow's record may lack some). */
export interface ClosedAnswer {
  closedNow: boolean;
  assignments: { id: string; buyerId: string }[];
}

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

export interface RouteAndOpenInput {
  offerId: string;
  leadId: string;
  campaignId: string;
  /** The workflow that owns the offer: claims go there. */
  workflowId: string;
  depth: number;
  /** ISO time, from the workflow's clock; the offer closes a claim window later. */
  openedAt: string;
}

/** At most this many eligible buyer ids travel back to the workflow (its claim validator); past it the sale checks alone. */
const MAX_TARGETS_IN_HISTORY = 500;

/** The campaign's settings as read once, and the offer opened under them (null: the campaign is not active). */
export interface RoutedOffer {
  route: Route;
  offer: (OpenedOffer & { closesAt: string; eligibleBuyerIds: string[] | null }) | null;
}

/**
 * Tells the targeted buyers' feeds, with everything a gateway needs (ping post only: nobody claims a push offer, and
 * a ping tree's offer is decided by the buyers' own systems, #22).
 */
async function publishOpened(
  bus: OfferBus,
  offer: Parameters<typeof buyerOfferOf>[0] & { agencyId: string; kind: OfferKind },
  targets: Pick<TargetVerdict, 'buyerId' | 'eligible' | 'price'>[],
) {
  const eligible = targets.filter((t) => t.eligible).map((t) => t.buyerId);
  if (offer.kind !== 'ping_post' || offer.auction === 'ping_tree' || !eligible.length) return;
  // Buyers with their own price (#12) see it.
  const own = targets.filter((t) => t.eligible && t.price !== null && t.price !== undefined);
  const prices = own.length ? { prices: Object.fromEntries(own.map((t) => [t.buyerId, t.price!])) } : {};
  await bus.publish({
    type: 'offer.opened',
    offerId: offer.id,
    agencyId: offer.agencyId,
    offer: buyerOfferOf(offer),
    targets: eligible,
    ...prices,
  });
}

export function offerActivities({ db, bus }: ActivityDeps) {
  const counts = async (offerId: string) => {
    const rows = await targetVerdicts(db, offerId);
    const eligible = rows.filter((t) => t.eligible).map((t) => t.buyerId);
    return { eligible, excluded: rows.length - eligible.length, targets: rows.filter((t) => t.eligible) };
  };
  const opened = (
    offer: { id: string; price: number; closesAt: Date },
    eligible: string[],
    excluded: number,
  ): RoutedOffer['offer'] => ({
    offerId: offer.id,
    price: offer.price,
    closesAt: offer.closesAt.toISOString(),
    eligible: eligible.length,
    excluded,
    eligibleBuyerIds: eligible.length <= MAX_TARGETS_IN_HISTORY ? eligible : null,
  });

  return {
    /**
     * Route and open, one local activity: reads the lead and its campaign
     * once (later campaign edits affect new leads only), judges every buyer
     * of the agency, and stores the offer, every verdict and the timeline in
     * one transaction; then the feeds hear `offer.opened` with the preview and
     * the targets. A paused campaign opens nothing. Run again for the same
     * offer id, it answers from the stored offer.
     */
    async routeAndOpen(input: RouteAndOpenInput): Promise<RoutedOffer> {
      const existing = await getOffer(db, input.offerId);
      if (existing?.route) {
        const { eligible, excluded, targets } = await counts(existing.id);
        // The first run may have died between its commit and the feed.
        if (existing.status === 'open') await publishOpened(bus, existing, targets);
        return { route: existing.route as unknown as Route, offer: opened(existing, eligible, excluded) };
      }
      const { lead, campaign } = await loadLeadAndCampaign(db, input);
      const route = routeOf(lead, campaign);
      if (route.campaignStatus !== 'active') return { route, offer: null };

      const { price, preview, targets } = await evaluateEligibility(db, lead, campaign);
      const openedAt = new Date(input.openedAt);
      const offer = {
        id: input.offerId,
        leadId: lead.id,
        agencyId: lead.agencyId,
        campaignId: campaign.id,
        kind: route.mode,
        workflowId: input.workflowId,
        price,
        preview,
        maxWinners: route.maxWinners,
        depth: input.depth,
        auction: route.mode === 'ping_post' ? (route.auction ?? 'first_claim') : 'first_claim',
        pricing: route.pricing ?? 'first_price',
        openedAt,
        closesAt: new Date(openedAt.getTime() + (route.mode === 'ping_post' ? route.claimWindowSeconds * 1000 : 0)),
        route: route as unknown as Record<string, unknown>,
      } as const;
      await saveOffer(db, offer, targets);
      await publishOpened(bus, offer, targets);
      const eligible = targets.filter((t) => t.eligible).map((t) => t.buyerId);
      return { route, offer: opened(offer, eligible, targets.length - eligible.length) };
    },

    /**
     * The first lifecycle's open (after `loadRoute`): still run by leads that
     * version started. Resolves eligibility, then persists the offer like
     * `routeAndOpen` does.
     */
    async openOffer(input: OpenOfferInput): Promise<OpenedOffer> {
      const existing = await getOffer(db, input.offerId);
      if (!existing) {
        const auction = input.auction ?? 'first_claim';
        const { price, preview, targets } = await resolveEligibility(db, {
          ...input,
          auction,
          floorPrice: input.floorPrice ?? null,
        });
        const offer = {
          ...input,
          price,
          preview,
          auction,
          pricing: input.pricing ?? 'first_price',
          openedAt: new Date(input.openedAt),
          closesAt: new Date(input.closesAt),
          id: input.offerId,
        } as const;
        await saveOffer(db, { ...offer, route: null }, targets);
        await publishOpened(bus, offer, targets);
      }
      const offer = existing ?? (await getOffer(db, input.offerId))!;
      const { eligible, excluded, targets } = await counts(input.offerId);
      if (existing?.status === 'open') await publishOpened(bus, existing, targets);
      return { offerId: input.offerId, price: offer.price, eligible: eligible.length, excluded };
    },

    /**
     * Closes the offer with its outcome and writes who lost it (db/offers.ts),
     * then the feeds hear `offer.closed`. A no-op on an offer already closed
     * (a retry, or the sale of its last place closed it).
     */
    async closeOffer(input: {
      offerId: string;
      outcome: CloseOutcome;
      reason?: string;
      at: string;
    }): Promise<ClosedAnswer> {
      const closed = await closeOffer(db, input.offerId, {
        outcome: input.outcome,
        reason: input.reason,
        at: new Date(input.at),
      });
      if (closed) await publishClosed(bus, closed);
      // Already closed: by the sale that filled it – possibly one the workflow has no record of (a crash between the
      // sale's commit and its record in history). The workflow learns of those sales here.
      const sold = await offerSales(db, input.offerId);
      return { closedNow: closed !== null, assignments: sold };
    },

    /**
     * Timeline events decided inside the workflow (fall-through…); keys make retries harmless. With `reofferBy`, the
     * one event is a re-offer decided in manual review: it names the actor and the decision enters the audit log.
     */
    async recordEvents(events: TimelineEventInput[], reofferBy?: AuditBy): Promise<void> {
      if (reofferBy && events.length === 1) await recordReoffer(db, events[0]!, reofferBy);
      else await appendEvents(db, events);
    },

    async setLeadStatus(input: {
      leadId: string;
      status: LeadStatus;
      reason?: string | null;
      event?: TimelineEventInput;
      by?: AuditBy;
    }): Promise<void> {
      await setLeadStatus(db, input);
    },
  };
}

/** The feeds hear that an auction offer closed, and who won it. */
export async function publishClosed(
  bus: OfferBus,
  closed: { offerId: string; agencyId: string; kind: OfferKind; winners: string[] },
): Promise<void> {
  if (closed.kind === 'ping_post')
    await bus.publish({
      type: 'offer.closed',
      offerId: closed.offerId,
      agencyId: closed.agencyId,
      winners: closed.winners,
    });
}
