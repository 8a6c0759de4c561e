/**
 * Offer lifecycle I/O: route and open (the offer and its target ids, then
 * the feed, then every candidate's verdict and the timeline), close (timeline, feed),
 * and the lead's status. Every write is idempotent, because Temporal retries
 * an activity (or re-runs a local one) whose worker died after the commit.
 */
import { offerSales } from '../db/assignments';
import { evaluateEligibility } from '../db/eligibility';
import { recordReoffer, setLeadStatus } from '../db/leads';
import { fitsNotify, type OfferBus, targetListOf } from '../db/offer-bus';
import {
  appendEvents,
  closeOffer,
  type CloseOutcome,
  committedTargets,
  finishPaperwork,
  getOffer,
  type NewOffer,
  type OfferRow,
  openOfferRow,
  saveTargetList,
  type TargetVerdict,
  targetVerdicts,
  type TimelineEventInput,
} from '../db/offers';
import type { AuditBy } from '../domain/audit';
import { buyerOfferOf, buyersSee } from '../domain/offer-view';
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

/**
 * At most this many eligible buyer ids of a first-claim offer travel back to the workflow (its claim validator refuses
 * the others without a history event); past it the relay's read and the sale check alone, and the history stays small.
 */
export const MAX_TARGETS_IN_HISTORY = 20;

/** The settings of the route the workflow decides on; the whole route stays on the offer row (`offers.route`). */
export type OfferRoute = Pick<
  Route,
  | 'campaignId'
  | 'mode'
  | 'pushStrategy'
  | 'maxWinners'
  | 'fallbackCampaignId'
  | 'auction'
  | 'pricing'
  | 'pingTree'
  | 'endpointBidders'
>;

/**
 * The campaign's settings as read once, and the offer opened under them (null: the campaign is not active): what the
 * workflow keeps in its history, so ids and the values it decides on, not rows (`routedForWorkflow`). Results
 * recorded before small histories hold the whole `Route` and every eligible id up to 500; the workflow reads the same
 * fields of both.
 */
export interface RoutedOffer {
  route: OfferRoute;
  offer: (OpenedOffer & { closesAt: string; eligibleBuyerIds: string[] | null }) | null;
}

/** An offer as its `offer.opened` event needs it. */
type PublishedOffer = Parameters<typeof buyerOfferOf>[0] & { agencyId: string; kind: OfferKind };

/**
 * The route's part the workflow decides on: its mode and auction, places, fallback, and a ping tree's tiers or the
 * endpoint bidders (not the campaign's name, status or window: the offer row has them).
 */
function offerRouteOf(route: Route): OfferRoute {
  return {
    campaignId: route.campaignId,
    mode: route.mode,
    pushStrategy: route.pushStrategy,
    maxWinners: route.maxWinners,
    fallbackCampaignId: route.fallbackCampaignId,
    ...(route.auction ? { auction: route.auction } : {}),
    ...(route.pricing ? { pricing: route.pricing } : {}),
    ...(route.pingTree ? { pingTree: route.pingTree } : {}),
    ...(route.endpointBidders ? { endpointBidders: route.endpointBidders } : {}),
  };
}

/**
 * The eligible buyer ids the workflow uses, and only those: a ping tree's and the endpoint bidders' eligible ones (it
 * pings them), a first-claim offer's when there are at most MAX_TARGETS_IN_HISTORY (its claim validator); none
 * otherwise (null: a push or a feed-only auction never asks, and past the bound the database decides).
 */
function idsForWorkflow(route: OfferRoute, eligible: string[]): string[] | null {
  if (route.mode !== 'ping_post') return null;
  const among = (ids: readonly string[]) => eligible.filter((b) => ids.includes(b));
  if (route.auction === 'ping_tree' && route.pingTree) return among(route.pingTree.tiers.flatMap((t) => t.buyerIds));
  if (route.auction === 'highest_bid') return route.endpointBidders?.length ? among(route.endpointBidders) : null;
  return eligible.length <= MAX_TARGETS_IN_HISTORY ? eligible : null;
}

/**
 * The `offer.opened` event that tells the targeted buyers' feeds, with everything a gateway needs (only of an offer
 * buyers see, `buyersSee`: nobody claims a push offer, and a ping tree's offer is decided by the buyers' own systems,
 * #22); null when no feed is told. A target list too large for NOTIFY goes by reference (`targetList`, stored with the offer row).
 */
function openedEvent(
  offer: PublishedOffer,
  committed: { targetIds: string[] | null; targetPrices: Record<string, number> | null },
) {
  const eligible = committed.targetIds ?? [];
  if (!buyersSee(offer) || !eligible.length) return null;
  // Buyers with their own price (#12) see it.
  const prices = committed.targetPrices ? { prices: committed.targetPrices } : {};
  const whole = {
    type: 'offer.opened' as const,
    offerId: offer.id,
    agencyId: offer.agencyId,
    offer: buyerOfferOf(offer),
    targets: eligible,
    ...prices,
  };
  if (fitsNotify(whole)) return { event: whole, targetList: undefined };
  const targetList = targetListOf(eligible, committed.targetPrices);
  const { targets: _targets, prices: _prices, ...rest } = whole;
  return { event: { ...rest, targetsRef: targetList.id }, targetList };
}

export function offerActivities({ db, bus }: ActivityDeps) {
  const counts = async (offerId: string) => {
    const rows = await targetVerdicts(db, offerId);
    const eligible = rows.filter((t) => t.eligible).map((t) => t.buyerId);
    return { eligible, excluded: rows.length - eligible.length, targets: rows.filter((t) => t.eligible) };
  };
  /**
   * Publish first, then the paperwork (#26): the offer row and its target ids commit (step one), the feeds hear
   * `offer.opened`, and only then are the verdict rows, the timeline and the alerts written (step two). A crash
   * between the two is repaired by this activity's retry or the routing sweep (worker/lead-starter.ts).
   */
  const open = async (offer: NewOffer & PublishedOffer, targets: TargetVerdict[]) => {
    const opened = openedEvent(offer, committedTargets(targets));
    await openOfferRow(db, offer, targets, opened?.targetList);
    if (opened) await bus.publish(opened.event);
    await finishPaperwork(db, offer.id);
  };
  /** Again for an offer already open (a retried open): the paperwork if the first run died before it, and the feed. */
  const reopen = async (offer: OfferRow) => {
    await finishPaperwork(db, offer.id);
    const { eligible, excluded, targets } = await counts(offer.id);
    if (offer.status === 'open') {
      const opened = openedEvent(offer, offer.targetIds ? offer : committedTargets(targets));
      if (opened?.targetList) await saveTargetList(db, opened.targetList);
      if (opened) await bus.publish(opened.event);
    }
    return { eligible, excluded };
  };
  const opened = (
    route: Route,
    offer: { id: string; price: number; closesAt: Date },
    eligible: string[],
    excluded: number,
  ): RoutedOffer => {
    const small = offerRouteOf(route);
    return {
      route: small,
      offer: {
        offerId: offer.id,
        price: offer.price,
        closesAt: offer.closesAt.toISOString(),
        eligible: eligible.length,
        excluded,
        eligibleBuyerIds: idsForWorkflow(small, eligible),
      },
    };
  };

  return {
    /**
     * Route and open, one local activity: reads the lead and its campaign
     * once (later campaign edits affect new leads only), judges every buyer
     * of the agency, and commits the offer with its targets' ids; the feeds
     * then hear `offer.opened` with the preview and the targets, and only then
     * are every verdict and the timeline written (`open`). A paused campaign
     * opens nothing. Run again for the same offer id, it answers from the
     * stored offer (and finishes what the first run left undone).
     */
    async routeAndOpen(input: RouteAndOpenInput): Promise<RoutedOffer> {
      const existing = await getOffer(db, input.offerId);
      if (existing?.route) {
        // The first run may have died between its commit and the feed, or before the paperwork.
        const { eligible, excluded } = await reopen(existing);
        return opened(existing.route as unknown as Route, existing, eligible, excluded);
      }
      const { lead, campaign } = await loadLeadAndCampaign(db, input);
      const route = routeOf(lead, campaign);
      if (route.campaignStatus !== 'active') return { route: offerRouteOf(route), offer: null };

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
      await open(offer, targets);
      const eligible = targets.filter((t) => t.eligible).map((t) => t.buyerId);
      return opened(route, offer, eligible, targets.length - eligible.length);
    },

    /**
     * The first lifecycle's open (after `loadRoute`): still run by leads that
     * version started. Resolves eligibility, then persists the offer like
     * `routeAndOpen` does.
     */
    async openOffer(input: OpenOfferInput): Promise<OpenedOffer> {
      const existing = await getOffer(db, input.offerId);
      const retried = existing ? await reopen(existing) : null;
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
        await open({ ...offer, route: null }, targets);
      }
      const offer = existing ?? (await getOffer(db, input.offerId))!;
      const { eligible, excluded } = retried ?? (await counts(input.offerId));
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

/**
 * The feeds hear that an auction offer closed, who won it and how many places it had. Called after the closing
 * commit (the sale's, or closeOffer's), never inside it: the API processes' memo of decided offers
 * (claims/decided-offers.ts) answers claims from this event, so it must not be heard before the commit.
 */
export async function publishClosed(
  bus: OfferBus,
  closed: { offerId: string; agencyId: string; kind: OfferKind; winners: string[]; maxWinners: number },
): Promise<void> {
  if (closed.kind === 'ping_post')
    await bus.publish({
      type: 'offer.closed',
      offerId: closed.offerId,
      agencyId: closed.agencyId,
      winners: closed.winners,
      maxWinners: closed.maxWinners,
    });
}
