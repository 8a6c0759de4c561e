/**
 * Routing reads: which campaign runs the lead, and who may buy it at what
 * price. Thin wrappers: the reads are db/eligibility.ts's, the rules
 * domain/eligibility.ts's; here only the activity's own failure (a missing
 * lead or campaign is not retried).
 */
import { ApplicationFailure } from '@temporalio/activity';

import type { CampaignRow } from '../db/campaigns';
import type { Db } from '../db/connection';
import { type EligibilityResult, evaluateEligibility, leadAndCampaign } from '../db/eligibility';
import type {
  AuctionKind,
  AuctionPricing,
  CampaignStatus,
  DeliveryMode,
  PingTree,
  PushStrategy,
} from '../domain/types';
import type { ActivityDeps } from './deps';

export interface Route {
  leadId: string;
  agencyId: string;
  campaignId: string;
  campaignName: string;
  campaignStatus: CampaignStatus;
  mode: DeliveryMode;
  pushStrategy: PushStrategy;
  claimWindowSeconds: number;
  maxWinners: number;
  fallbackCampaignId: string | null;
  /** Absent in histories recorded before highest-bid auctions: first claim. */
  auction?: AuctionKind;
  pricing?: AuctionPricing;
  floorPrice?: number | null;
  /** Auction `ping_tree` only (#22): the tiers as read at routing. */
  pingTree?: PingTree;
  /** Auction `highest_bid` only (#22): the endpoint bidders pinged when the offer opens (absent: none). */
  endpointBidders?: string[];
}

export type { EligibilityResult };

/** The campaign settings a lead runs under, as read at routing. */
export function routeOf(lead: { id: string; agencyId: string }, campaign: CampaignRow): Route {
  return {
    leadId: lead.id,
    agencyId: lead.agencyId,
    campaignId: campaign.id,
    campaignName: campaign.name,
    campaignStatus: campaign.status,
    mode: campaign.mode,
    pushStrategy: campaign.pushStrategy,
    claimWindowSeconds: campaign.claimWindowSeconds,
    maxWinners: campaign.maxWinners,
    fallbackCampaignId: campaign.fallbackCampaignId,
    auction: campaign.auction,
    pricing: campaign.pricing,
    floorPrice: campaign.floorPrice,
    ...(campaign.auction === 'ping_tree' && campaign.pingTree ? { pingTree: campaign.pingTree } : {}),
    ...(campaign.auction === 'highest_bid' && campaign.endpointBidders?.length
      ? { endpointBidders: campaign.endpointBidders }
      : {}),
  };
}

/** The lead and the campaign it runs under (of the same agency), read once; a missing one is not retried. */
export async function loadLeadAndCampaign(db: Db, input: { leadId: string; campaignId: string }) {
  const found = await leadAndCampaign(db, input);
  if (!found)
    throw ApplicationFailure.nonRetryable(
      `lead ${input.leadId} or campaign ${input.campaignId} not found`,
      'RouteNotFound',
    );
  return found;
}

export function routingActivities({ db }: ActivityDeps) {
  return {
    /** The campaign settings this lead runs under, read once: later edits affect new leads only. */
    async loadRoute(input: { leadId: string; campaignId: string }): Promise<Route> {
      const { lead, campaign } = await loadLeadAndCampaign(db, input);
      return routeOf(lead, campaign);
    },
  };
}

/**
 * Prices the lead and judges every buyer of the agency against the campaign's
 * rules (db/eligibility.ts). Read-only: `openOffer` persists the result.
 */
export async function resolveEligibility(
  db: Db,
  input: { leadId: string; campaignId: string; auction?: AuctionKind; floorPrice?: number | null },
): Promise<EligibilityResult> {
  const { lead, campaign } = await loadLeadAndCampaign(db, input);
  // The auction as the workflow read it (the route), so a later edit of the campaign does not move this lead's floor.
  const auction = input.auction ?? campaign.auction;
  const floorPrice = input.floorPrice !== undefined ? input.floorPrice : campaign.floorPrice;
  return evaluateEligibility(db, lead, { ...campaign, auction, floorPrice });
}
