/**
 * Routing reads: which campaign runs the lead, and who may buy it at what price.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/connection';
import type { TargetVerdict } from '../db/offers';
import { buyersWhoBought } from '../db/already-bought';
import { buyerPriceRules } from '../db/buyer-prices';
import { buyerPrice, buyerSideProfile } from '../domain/buyer-side';
import { buyerPeriodCounts, campaignPeriodCounts, ZERO_COUNTS } from '../db/counts';
import { duplicateWindowMs } from '../db/settings';
import { agencies, buyers, campaignBuyers, campaigns, leads, wallets } from '../db/schema';
import { capReached, periodStarts } from '../domain/caps';
import { checkEligibility } from '../domain/eligibility';
import { previewOf } from '../domain/preview';
import { priceLead } from '../domain/pricing';
import type { AuctionKind, AuctionPricing, CampaignStatus, Caps, DeliveryMode, PriceRules, PushStrategy } from '../domain/types';
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
}

export type { TargetVerdict };

export interface EligibilityResult {
  price: number;
  preview: Record<string, unknown>;
  targets: TargetVerdict[];
}

/** The campaign settings a lead runs under, as read at routing. */
export function routeOf(lead: { id: string; agencyId: string }, campaign: typeof campaigns.$inferSelect): Route {
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
  };
}

/** The lead and the campaign it runs under (of the same agency), read once; a missing one is not retried. */
export async function loadLeadAndCampaign(db: Db, input: { leadId: string; campaignId: string }) {
  const [lead] = await db.select().from(leads).where(eq(leads.id, input.leadId));
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, input.campaignId));
  if (!lead || !campaign || campaign.agencyId !== lead.agencyId) {
    throw ApplicationFailure.nonRetryable(`lead ${input.leadId} or campaign ${input.campaignId} not found`, 'RouteNotFound');
  }
  return { lead, campaign };
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

/** The campaign settings eligibility needs: a stored campaign, or a draft (dry run). */
export interface CampaignRules {
  /** A stored campaign's id (its caps count its own sales); null for a draft. */
  id: string | null;
  serviceLine: string;
  price: PriceRules;
  previewFields: string[];
  caps: Caps;
  /** The buyer pool; null or empty: every buyer of the agency. */
  pool: string[] | null;
  auction?: AuctionKind;
  floorPrice?: number | null;
}

type LeadRow = typeof leads.$inferSelect;

/**
 * Prices the lead and judges every buyer of the agency against the campaign's
 * rules. Read-only: `openOffer` persists the result, a dry run only shows it.
 */
export async function resolveEligibility(
  db: Db,
  input: { leadId: string; campaignId: string; auction?: AuctionKind; floorPrice?: number | null },
): Promise<EligibilityResult> {
  const [lead] = await db.select().from(leads).where(eq(leads.id, input.leadId));
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, input.campaignId));
  if (!lead || !campaign) throw ApplicationFailure.nonRetryable('lead or campaign not found', 'RouteNotFound');
  const pool = await db.select({ buyerId: campaignBuyers.buyerId }).from(campaignBuyers).where(eq(campaignBuyers.campaignId, campaign.id));
  // The auction as the workflow read it (the route), so a later edit of the campaign does not move this lead's floor.
  const auction = input.auction ?? campaign.auction;
  const floorPrice = input.floorPrice !== undefined ? input.floorPrice : campaign.floorPrice;
  return evaluateEligibility(db, lead, { ...campaign, auction, floorPrice, pool: pool.map((p) => p.buyerId) });
}

/**
 * The rules of one campaign (stored or draft) applied to one stored lead, as of
 * now: price (the floor for a highest-bid auction), preview, and every buyer
 * of the lead's agency eligible or excluded with the reason. Reads only.
 */
export async function evaluateEligibility(db: Db, lead: LeadRow, campaign: CampaignRules): Promise<EligibilityResult> {
  const [agency] = await db.select().from(agencies).where(eq(agencies.id, lead.agencyId));
  const starts = periodStarts(new Date(), agency?.timeZone ?? 'UTC');

  const computed = priceLead(campaign.price, lead.fields, campaign.serviceLine);
  const price = campaign.auction === 'highest_bid' && campaign.floorPrice !== null && campaign.floorPrice !== undefined ? campaign.floorPrice : computed;
  const candidates = await db.select().from(buyers).where(eq(buyers.agencyId, lead.agencyId));
  const ids = candidates.map((b) => b.id);
  const balances = new Map(
    (ids.length ? await db.select().from(wallets).where(inArray(wallets.buyerId, ids)) : []).map((w) => [w.buyerId, w.balance]),
  );
  const counts = await buyerPeriodCounts(db, ids, starts);
  const campaignPool = campaign.pool?.length ? campaign.pool : null;
  const campaignCap =
    campaign.id && Object.keys(campaign.caps).length ? capReached(campaign.caps, await campaignPeriodCounts(db, campaign.id, starts)) : null;
  const bought = await buyersWhoBought(db, { leadId: lead.id, dedupeKeys: lead.dedupeKeys }, ids, duplicateWindowMs(agency?.settings ?? {}));
  // Per-buyer prices (#12): not for highest-bid auctions, whose price is the floor every bidder sees.
  const priceRules = campaign.id && campaign.auction !== 'highest_bid' ? await buyerPriceRules(db, campaign.id) : new Map();
  const now = new Date();

  const targets = candidates.map((buyer): TargetVerdict => {
    const priceRule = priceRules.get(buyer.id) ?? null;
    const ownPrice = buyerPrice(price, priceRule);
    const input = {
      buyer: { id: buyer.id, status: buyer.status, serviceLines: buyer.serviceLines, zipCodes: buyer.zipCodes, states: buyer.states, caps: buyer.caps, ...buyerSideProfile(buyer, agency?.timeZone) },
      balance: balances.get(buyer.id) ?? 0,
      counts: counts.get(buyer.id) ?? ZERO_COUNTS,
      lead: lead.fields,
      now,
      serviceLine: campaign.serviceLine,
      price: ownPrice,
      campaignPool,
      campaignCapReached: campaignCap,
      alreadyBought: bought.has(buyer.id),
    };
    const verdict = checkEligibility(input);
    return {
      buyerId: buyer.id,
      eligible: verdict.eligible,
      reason: verdict.eligible ? null : verdict.reason,
      detail: verdict.eligible ? null : verdict.detail,
      price: priceRule ? ownPrice : null,
      snapshot: {
        status: buyer.status,
        balance: input.balance,
        price: ownPrice,
        ...(priceRule ? { priceRule, campaignPrice: price } : {}),
        ...(!verdict.eligible && verdict.opensAt !== undefined ? { opensAt: verdict.opensAt } : {}),
        ...(!verdict.eligible && verdict.failedRules ? { failedRules: verdict.failedRules } : {}),
        counts: input.counts,
        caps: buyer.caps,
        serviceLines: buyer.serviceLines,
        zipCodes: buyer.zipCodes,
        states: buyer.states,
        inCampaignPool: campaignPool ? campaignPool.includes(buyer.id) : true,
        campaignCapReached: campaignCap,
        alreadyBought: input.alreadyBought,
      },
    };
  });
  return { price, preview: previewOf(lead.fields, campaign.previewFields), targets };
}
