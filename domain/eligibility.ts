/**
 * Eligibility as pure rules: whether one buyer may be offered one lead (and,
 * re-run at the sale, may still buy it), and the verdicts of every candidate
 * of a campaign from the inputs db/eligibility.ts loads.
 */
import { buyerPrice, type BuyerPriceRule } from './buyer-side';
import { capReached } from './caps';
import { evaluateFilters, type FilterableLead } from './filters';
import { priceLead } from './pricing';
import { availability, wallLabel } from './schedule';
import type {
  AuctionKind,
  BuyerProfile,
  CapPeriod,
  ClaimFailureReason,
  ExclusionReason,
  LeadFields,
  PeriodCounts,
  PriceRules,
} from './types';

export interface EligibilityInput {
  buyer: BuyerProfile;
  balance: number; // wallet balance in credits
  counts: PeriodCounts; // leads this buyer bought in the current day/week/month
  /** The lead's fields (filters may look at any of them, at `answers`, and at intake's `phoneType`). */
  lead: FilterableLead & { zip: string };
  serviceLine: string; // the campaign's service line key
  price: number; // this lead's price
  campaignPool: string[] | null; // the campaign's buyer list, null = every buyer of the agency
  campaignCapReached: CapPeriod | null; // the campaign's own cap, already evaluated
  alreadyBought?: boolean; // the buyer already bought this person inside the agency's duplicate window
  /** The instant judged (hours of operation and pauses); required when the buyer has a schedule or pauses. */
  now?: Date;
}

export type EligibilityVerdict =
  | { eligible: true }
  | {
      eligible: false;
      reason: ExclusionReason;
      detail: string;
      /** outside_hours: when it opens again (null: never) */ opensAt?: string | null;
      /** filter_mismatch: the failing rule(s) */ failedRules?: { index: number; rule: string }[];
    };

const PERIOD_WORD: Record<CapPeriod, string> = { daily: 'daily', weekly: 'weekly', monthly: 'monthly' };

/**
 * ZIPs as 5-digit strings: ZIP+4 keeps its first 5 digits, and a short all-digit
 * ZIP gets its leading zeros back (spreadsheets turn 02134 into 2134).
 */
export function normalizeZip(zip: string): string {
  const z = String(zip ?? '').trim();
  const five = z.match(/^(\d{5})(?:-?\d{4})?$/);
  if (five) return five[1];
  if (/^\d{3,4}$/.test(z)) return z.padStart(5, '0');
  return z;
}

const normalizeState = (s: string | undefined): string =>
  String(s ?? '')
    .trim()
    .toUpperCase();

/** A buyer with no ZIPs and no states serves everywhere; otherwise either a ZIP or a state match suffices. */
export function inServiceArea(
  buyer: Pick<BuyerProfile, 'zipCodes' | 'states'>,
  lead: { zip: string; state?: string },
): boolean {
  const zips = buyer.zipCodes ?? [];
  const states = buyer.states ?? [];
  if (zips.length === 0 && states.length === 0) return true;
  const zip = normalizeZip(lead.zip);
  if (zip && zips.some((z) => normalizeZip(z) === zip)) return true;
  const state = normalizeState(lead.state);
  return state !== '' && states.some((s) => normalizeState(s) === state);
}

type Exclusion = Extract<EligibilityVerdict, { eligible: false }>;
const no = (reason: ExclusionReason, detail: string): Exclusion => ({ eligible: false, reason, detail });

/**
 * Whether a buyer may be offered this lead. The order is fixed (first failing
 * wins) so the audit trail names the most fundamental reason: membership and
 * status before targeting, targeting before capacity, and money last because it
 * is the only thing the buyer can fix right now.
 */
export function checkEligibility(i: EligibilityInput): EligibilityVerdict {
  const { buyer } = i;
  if (i.campaignPool !== null && i.campaignPool !== undefined && !i.campaignPool.includes(buyer.id))
    return no('not_in_campaign_pool', "not in the campaign's buyer pool");
  if (buyer.status !== 'active') return no('paused', 'buyer is paused');
  const hours = hoursVerdict(buyer, i.now);
  if (hours) return hours;
  if (!(buyer.serviceLines ?? []).includes(i.serviceLine))
    return no('not_subscribed', `not subscribed to ${i.serviceLine}`);
  if (!inServiceArea(buyer, i.lead)) {
    const state = normalizeState(i.lead.state);
    const where = state ? `ZIP ${normalizeZip(i.lead.zip)} and state ${state}` : `ZIP ${normalizeZip(i.lead.zip)}`;
    return no('outside_service_area', `${where} outside the service area`);
  }
  const filtered = evaluateFilters(buyer.filters, i.lead);
  if (!filtered.pass) return { ...no('filter_mismatch', filtered.detail), failedRules: filtered.failed };
  if (i.alreadyBought) return no('already_bought', 'already bought this person inside the duplicate window');
  const buyerCap = capReached(buyer.caps ?? {}, i.counts);
  if (buyerCap) return no('cap_reached', `${PERIOD_WORD[buyerCap]} cap of ${buyer.caps[buyerCap]} reached`);
  if (i.campaignCapReached) return no('cap_reached', `campaign ${PERIOD_WORD[i.campaignCapReached]} cap reached`);
  if (!(i.balance >= i.price)) return no('insufficient_credits', `balance ${i.balance} < price ${i.price}`);
  return { eligible: true };
}

/** Outside the buyer's hours or inside a pause: the verdict, with when it opens again; null when it takes leads now. */
function hoursVerdict(buyer: BuyerProfile, now: Date | undefined): EligibilityVerdict | null {
  if (!buyer.schedule && !buyer.pauses?.length) return null;
  if (!now) throw new Error(`eligibility of buyer ${buyer.id}: it has hours or pauses, and no instant was given`);
  const timeZone = buyer.timeZone ?? 'UTC';
  const a = availability({ schedule: buyer.schedule, pauses: buyer.pauses, timeZone, now });
  if (a.open) return null;
  const when = a.opensAt ? `opens again ${wallLabel(a.opensAt, timeZone)}` : 'no opening hours';
  const why = a.why === 'pause' ? `paused${a.note ? ` (${a.note})` : ''}` : 'outside hours of operation';
  return { ...no('outside_hours', `${why}; ${when}`), opensAt: a.opensAt ? a.opensAt.toISOString() : null };
}

/** Splits the candidates of an offer into the targeted buyers and the excluded ones with their reasons (input order kept). */
export function resolvePool(inputs: EligibilityInput[]): {
  eligible: string[];
  excluded: { buyerId: string; reason: ExclusionReason; detail: string }[];
} {
  const eligible: string[] = [];
  const excluded: { buyerId: string; reason: ExclusionReason; detail: string }[] = [];
  for (const input of inputs) {
    const v = checkEligibility(input);
    if (v.eligible) eligible.push(input.buyer.id);
    else excluded.push({ buyerId: input.buyer.id, reason: v.reason, detail: v.detail });
  }
  return { eligible, excluded };
}

type ClaimTimeFailureReason = Extract<
  ClaimFailureReason,
  'eligibility_changed' | 'cap_reached' | 'insufficient_credits' | 'already_bought'
>;

export type ClaimTimeVerdict =
  { eligible: true } | { eligible: false; reason: ClaimTimeFailureReason; exclusion: ExclusionReason; detail: string };

/**
 * The same rules, re-run when a buyer claims: things may have changed since the
 * offer went out. Targeting changes (paused, unsubscribed, area, pool) are all
 * "eligibility_changed" to the buyer; caps and credits keep their own reasons
 * because the buyer can act on them, and "already_bought" keeps its own because
 * it is final. `exclusion` keeps the precise rule for the audit trail.
 */
export function checkClaimTimeEligibility(i: EligibilityInput): ClaimTimeVerdict {
  const v = checkEligibility(i);
  if (v.eligible) return v;
  const reason: ClaimTimeFailureReason =
    v.reason === 'cap_reached' || v.reason === 'insufficient_credits' || v.reason === 'already_bought'
      ? v.reason
      : 'eligibility_changed';
  return { eligible: false, reason, exclusion: v.reason, detail: v.detail };
}

// ─── a campaign's verdicts on every candidate ───────────────────────────────

/** One buyer judged for one lead: eligible or excluded with the reason, and what the rules saw. */
export interface TargetVerdict {
  buyerId: string;
  eligible: boolean;
  reason: ExclusionReason | null;
  detail: string | null;
  /** What the rules saw. */
  snapshot: Record<string, unknown>;
  /** This buyer's own price (#12: a per-buyer campaign rule); null or absent: the offer's price. */
  price?: number | null;
}

/** What the database knows of one candidate buyer (db/eligibility.ts loads it for every candidate at once). */
export interface CandidateInputs {
  /** The buyer's profile, its hours in its zone (or the agency's). */
  buyer: BuyerProfile;
  balance: number;
  counts: PeriodCounts;
  alreadyBought: boolean;
  /** Its own price on the campaign (#12); null: the campaign's price. */
  priceRule: BuyerPriceRule | null;
}

/** Every eligibility input of one lead under one campaign, as of `now`: plain data for `judgeCandidates`. */
export interface EligibilityInputs {
  now: Date;
  /** The campaign's buyer pool among the loaded candidates; null: every buyer of the agency. */
  campaignPool: string[] | null;
  campaignCapReached: CapPeriod | null;
  candidates: CandidateInputs[];
}

/** A lead's price under a campaign: the floor of a highest-bid auction, else its price rules. */
export function campaignPriceOf(
  campaign: { price: PriceRules; serviceLine: string; auction?: AuctionKind; floorPrice?: number | null },
  lead: LeadFields,
): number {
  const computed = priceLead(campaign.price, lead, campaign.serviceLine);
  return campaign.auction === 'highest_bid' && campaign.floorPrice !== null && campaign.floorPrice !== undefined
    ? campaign.floorPrice
    : computed;
}

/**
 * Every candidate judged at the campaign's price (each at its own price when it
 * has a rule), with the snapshot of what the rules saw (stored on the offer's
 * targets and the timeline).
 */
export function judgeCandidates(
  inputs: EligibilityInputs,
  lead: LeadFields,
  campaign: { serviceLine: string; price: number },
): TargetVerdict[] {
  const { campaignPool, campaignCapReached } = inputs;
  return inputs.candidates.map((c): TargetVerdict => {
    const { buyer, priceRule } = c;
    const ownPrice = buyerPrice(campaign.price, priceRule);
    const verdict = checkEligibility({
      buyer,
      balance: c.balance,
      counts: c.counts,
      lead,
      now: inputs.now,
      serviceLine: campaign.serviceLine,
      price: ownPrice,
      campaignPool,
      campaignCapReached,
      alreadyBought: c.alreadyBought,
    });
    return {
      buyerId: buyer.id,
      eligible: verdict.eligible,
      reason: verdict.eligible ? null : verdict.reason,
      detail: verdict.eligible ? null : verdict.detail,
      price: priceRule ? ownPrice : null,
      snapshot: {
        status: buyer.status,
        balance: c.balance,
        price: ownPrice,
        ...(priceRule ? { priceRule, campaignPrice: campaign.price } : {}),
        ...(!verdict.eligible && verdict.opensAt !== undefined ? { opensAt: verdict.opensAt } : {}),
        ...(!verdict.eligible && verdict.failedRules ? { failedRules: verdict.failedRules } : {}),
        counts: c.counts,
        caps: buyer.caps,
        serviceLines: buyer.serviceLines,
        zipCodes: buyer.zipCodes,
        states: buyer.states,
        inCampaignPool: campaignPool ? campaignPool.includes(buyer.id) : true,
        campaignCapReached,
        alreadyBought: c.alreadyBought,
      },
    };
  });
}
