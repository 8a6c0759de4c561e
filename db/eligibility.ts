/**
 * The one eligibility loader: every input the rules of domain/eligibility.ts
 * need to judge the candidate buyers of one lead (a stored lead, or a ping's
 * fields) under one campaign (stored, or a dry run's draft), read with two
 * queries: the agency (its zone sets the cap periods), then one bulk query of
 * every candidate with its filters and hours, wallet balance, cap usage (its
 * current periods' counter rows, db/cap-counters.ts), own
 * price on the campaign, pool membership and whether it already bought this
 * person, with the campaign's own cap usage beside it.
 *
 * Routing (`routeAndOpen`, `openOffer`), the sale's re-check (inside the
 * sale's transaction, after its locks: see db/sales.ts), the campaign dry run
 * and the ping answer all load through here; none re-reads the inputs itself.
 */
import { and, eq, type SQL, sql } from 'drizzle-orm';

import { buyerSideProfile } from '../domain/buyer-side';
import { capReached, periodStarts } from '../domain/caps';
import {
  campaignPriceOf,
  type CandidateInputs,
  type EligibilityInputs,
  judgeCandidates,
  type TargetVerdict,
} from '../domain/eligibility';
import { filterableLead } from '../domain/filters';
import { previewOf } from '../domain/preview';
import type { AgencySettings, AuctionKind, Caps, LeadFields, PhoneType, PriceRules } from '../domain/types';
import { duplicateWindowMs } from './agencies';
import { currentCountsSql } from './cap-counters';
import type { DbOrTx } from './connection';
import { agencies, buyers, campaignBuyerPrices, campaigns, leads, wallets } from './schema';

export type { EligibilityInputs };

/** The lead judged: a stored one (its id and dedupe keys count), or a ping's fields (`id` null: never stored, no person). */
export interface EligibilityLead {
  id: string | null;
  agencyId: string;
  fields: LeadFields;
  dedupeKeys: string[];
  /** The phone number's type from intake's check (filters may use it); absent for a ping or an older lead. */
  phoneType?: PhoneType | null;
}

/** The campaign settings eligibility needs: a stored campaign, or a draft (dry run). */
export interface CampaignRules {
  /** A stored campaign's id (its caps count its own sales, its buyers' own prices apply); null for a draft. */
  id: string | null;
  serviceLine: string;
  price: PriceRules;
  previewFields: string[];
  caps: Caps;
  /** The buyer pool: ids (null or empty: every buyer of the agency), or undefined to read the stored campaign's pool. */
  pool?: string[] | null;
  auction?: AuctionKind;
  floorPrice?: number | null;
}

export interface EligibilityResult {
  price: number;
  preview: Record<string, unknown>;
  targets: TargetVerdict[];
}

export interface LoadOptions {
  /** Only these buyers (the sale's re-check: one buyer); default every buyer of the lead's agency. */
  buyerIds?: string[];
  /** The instant judged; default now. */
  now?: Date;
}

const uuidArray = (ids: string[]): SQL =>
  sql`ARRAY[${sql.join(
    ids.map((i) => sql`${i}`),
    sql`, `,
  )}]::uuid[]`;
const textArray = (xs: string[]): SQL =>
  sql`ARRAY[${sql.join(
    xs.map((x) => sql`${x}`),
    sql`, `,
  )}]::text[]`;

const countsOf = (a: number[] | null) => ({
  daily: Number(a?.[0] ?? 0),
  weekly: Number(a?.[1] ?? 0),
  monthly: Number(a?.[2] ?? 0),
});

/**
 * Every eligibility input of `lead` under `campaign`, for every candidate
 * buyer (or the `buyerIds` given), as plain data. Reads only; inside a
 * transaction it reads what the transaction's locks hold still.
 */
export async function loadEligibilityInputs(
  db: DbOrTx,
  // Not its fields: the inputs are the same whatever the lead says (the rules judge the fields afterwards).
  lead: Omit<EligibilityLead, 'fields'>,
  campaign: Pick<CampaignRules, 'id' | 'caps' | 'pool' | 'auction'>,
  opts: LoadOptions = {},
): Promise<EligibilityInputs> {
  const now = opts.now ?? new Date();
  const [agency] = await db
    .select({ timeZone: agencies.timeZone, settings: agencies.settings })
    .from(agencies)
    .where(eq(agencies.id, lead.agencyId));
  const timeZone = agency?.timeZone ?? 'UTC';
  const starts = periodStarts(now, timeZone);
  if (opts.buyerIds && !opts.buyerIds.length)
    return { now, campaignPool: null, campaignCapReached: null, candidates: [] };

  // The same lead is never sold twice to a buyer; a shared dedupe key inside the agency's window counts too.
  const windowMs = duplicateWindowMs((agency?.settings ?? {}) as AgencySettings);
  const samePerson =
    windowMs > 0 && lead.dedupeKeys.length
      ? sql` OR (l.dedupe_keys && ${textArray(lead.dedupeKeys)} AND a.created_at > ${new Date(now.getTime() - windowMs).toISOString()}::timestamptz)`
      : sql``;
  const bought = lead.id
    ? sql<boolean>`EXISTS (SELECT 1 FROM assignments a JOIN leads l ON l.id = a.lead_id
        WHERE a.buyer_id = ${buyers.id} AND (a.lead_id = ${lead.id}${samePerson}))`
    : sql<boolean>`false`;

  const storedPool = campaign.pool === undefined && campaign.id !== null;
  const inPool = storedPool
    ? sql<boolean>`EXISTS (SELECT 1 FROM campaign_buyers cb WHERE cb.campaign_id = ${campaign.id} AND cb.buyer_id = ${buyers.id})`
    : sql<boolean>`false`;
  const poolSize = storedPool
    ? sql<number>`(SELECT count(*) FROM campaign_buyers cb WHERE cb.campaign_id = ${campaign.id})::int`
    : sql<number>`0`;
  const capped = campaign.id !== null && Object.keys(campaign.caps).length > 0;
  // Cap usage is read from the counters the sales keep (db/cap-counters.ts), not counted from the assignments.
  const campaignCounts = capped
    ? currentCountsSql(starts, sql`${campaign.id}::uuid`)
    : sql<number[] | null>`NULL::int[]`;
  // Per-buyer prices (#12): not for highest-bid auctions, whose price is the floor every bidder sees.
  const ownPrices = campaign.id !== null && campaign.auction !== 'highest_bid';

  const rows = await db
    .select({
      id: buyers.id,
      status: buyers.status,
      serviceLines: buyers.serviceLines,
      zipCodes: buyers.zipCodes,
      states: buyers.states,
      caps: buyers.caps,
      timeZone: buyers.timeZone,
      schedule: buyers.schedule,
      pauses: buyers.pauses,
      filters: buyers.filters,
      balance: wallets.balance,
      counts: currentCountsSql(starts, sql`${buyers.id}`),
      bought,
      inPool,
      poolSize,
      campaignCounts,
      priceKind: campaignBuyerPrices.kind,
      priceValue: campaignBuyerPrices.value,
    })
    .from(buyers)
    .leftJoin(wallets, eq(wallets.buyerId, buyers.id))
    .leftJoin(
      campaignBuyerPrices,
      ownPrices
        ? and(eq(campaignBuyerPrices.campaignId, campaign.id!), eq(campaignBuyerPrices.buyerId, buyers.id))
        : sql`false`,
    )
    .where(
      and(
        eq(buyers.agencyId, lead.agencyId),
        opts.buyerIds ? sql`${buyers.id} = ANY (${uuidArray(opts.buyerIds)})` : undefined,
      ),
    )
    .orderBy(buyers.createdAt, buyers.id);

  const candidates = rows.map((r): CandidateInputs => ({
    buyer: {
      id: r.id,
      status: r.status,
      serviceLines: r.serviceLines,
      zipCodes: r.zipCodes,
      states: r.states,
      caps: r.caps,
      ...buyerSideProfile(r, timeZone),
    },
    balance: r.balance ?? 0,
    counts: countsOf(r.counts),
    alreadyBought: Boolean(r.bought),
    priceRule: r.priceKind !== null && r.priceValue !== null ? { kind: r.priceKind, value: r.priceValue } : null,
  }));
  const campaignPool = storedPool
    ? rows.some((r) => Number(r.poolSize) > 0)
      ? rows.filter((r) => r.inPool).map((r) => r.id)
      : null
    : campaign.pool?.length
      ? campaign.pool
      : null;
  const usage = rows[0]?.campaignCounts;
  const campaignCapReached = capped && usage ? capReached(campaign.caps, countsOf(usage)) : null;
  return { now, campaignPool, campaignCapReached, candidates };
}

/**
 * The rules of one campaign (stored or draft) applied to one lead, as of now:
 * price (the floor for a highest-bid auction), preview, and every buyer of
 * the lead's agency eligible or excluded with the reason. Reads only:
 * `routeAndOpen` persists the result, a dry run shows it, a ping answers it.
 */
export async function evaluateEligibility(
  db: DbOrTx,
  lead: EligibilityLead,
  campaign: CampaignRules,
): Promise<EligibilityResult> {
  // Priced first: rules that cannot price the lead throw before anything is read.
  campaignPriceOf(campaign, lead.fields);
  const fields = filterableLead(lead.fields, lead.phoneType);
  return judgeLoaded(campaign, fields, await loadEligibilityInputs(db, lead, campaign));
}

/**
 * `evaluateEligibility` on inputs already loaded: a burst of pings of one
 * campaign judges its own fields on one shared load (api/pings.ts), which
 * serves a lead with no identity because such a lead's inputs do not depend
 * on its fields.
 */
export function judgeLoaded(campaign: CampaignRules, fields: LeadFields, inputs: EligibilityInputs): EligibilityResult {
  const price = campaignPriceOf(campaign, fields);
  return {
    price,
    preview: previewOf(fields, campaign.previewFields),
    targets: judgeCandidates(inputs, fields, { serviceLine: campaign.serviceLine, price }),
  };
}

/** A stored lead and the stored campaign it runs under (of the same agency), or null when either is missing. */
export async function leadAndCampaign(db: DbOrTx, input: { leadId: string; campaignId: string }) {
  const [row] = await db
    .select({ lead: leads, campaign: campaigns })
    .from(leads)
    .innerJoin(campaigns, and(eq(campaigns.id, input.campaignId), eq(campaigns.agencyId, leads.agencyId)))
    .where(eq(leads.id, input.leadId));
  return row ?? null;
}
