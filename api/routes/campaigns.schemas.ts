/**
 * The zod schemas of api/routes/campaigns.ts, kept beside it (campaigns, their
 * price rules and the dry run). Shapes several route modules share are in
 * api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { isPreviewableField } from '../../domain/preview';
import {
  Credits,
  Id,
  int,
  IsoTime,
  list,
  Nullable,
  recordKey,
  ServiceLineKey,
  text,
  ZipPrefix,
} from '../schema-blocks';
import {
  AuctionKindSchema,
  AuctionPricingSchema,
  CampaignStatusSchema,
  CapsSchema,
  DeliveryModeSchema,
  DncRuleSchema,
  ExclusionReasonSchema,
  PageQuery,
  PushStrategySchema,
} from '../schemas';
import { ConsentCertificateRuleSchema } from './consent.schemas';

export const PriceRulesSchema = z
  .object({
    base: Credits,
    zipTiers: z
      .array(z.object({ zips: z.array(ZipPrefix).min(1).max(10_000), price: Credits }).strict())
      .max(100)
      .optional(),
    multipliers: z
      .record(recordKey(64), z.number().positive().max(100))
      .optional()
      .describe('by service-line key, e.g. {"roofing": 1.5}'),
    adjustments: z
      .array(
        z
          .object({
            question: text(100),
            equals: z.union([text(1000, 0), z.number().finite(), z.boolean()]),
            add: int(-1_000_000, 1_000_000),
          })
          .strict(),
      )
      .max(100)
      .optional(),
  })
  .strict();
const PreviewField = text(120).refine(isPreviewableField, {
  message: 'not a lead field (use a field name, "answers" or "answers.<question>")',
});
const PingTreeTierSchema = z
  .object({
    buyerIds: z.array(Id).min(1).max(100).describe('endpoint buyers of the agency, pinged together'),
    floor: Credits.describe('the lowest bid this tier takes'),
  })
  .strict();
const PingTreeSchema = z.object({ tiers: z.array(PingTreeTierSchema).min(1).max(10) }).strict();
const EndpointBiddersSchema = z
  .array(Id)
  .min(1)
  .max(100)
  .describe(
    "auction highest_bid: buyers of the agency with an endpoint, pinged when the offer opens; their bids join the feed's in the same window",
  );
const PoolMember = z
  .object({ buyerId: Id, priority: int(-1_000_000, 1_000_000).optional(), weight: int(1, 1_000_000).optional() })
  .strict();
const campaignFields = {
  name: text(200),
  serviceLine: ServiceLineKey,
  mode: DeliveryModeSchema,
  claimWindowSeconds: int(1, 86_400),
  previewFields: z.array(PreviewField).max(60),
  price: PriceRulesSchema,
  maxWinners: int(1, 100).describe('1 = exclusive; N > 1 = a shared lead sold up to N times'),
  fallbackCampaignId: Id.nullable(),
  pushStrategy: PushStrategySchema,
  caps: CapsSchema,
  status: CampaignStatusSchema,
  buyerIds: z.array(Id).max(10_000).describe('the buyer pool (empty: every buyer of the agency)'),
  buyers: z.array(PoolMember).max(10_000).describe('the buyer pool with push priority and weight'),
  auction: AuctionKindSchema.describe(
    "ping post: the first valid claim wins (default), the highest sealed bid at close, or a ping tree of buyers' own systems (pingTree)",
  ),
  floorPrice: Credits.nullable().describe("highest bid: the lowest acceptable bid (null: the lead's computed price)"),
  pricing: AuctionPricingSchema.describe(
    'highest bid: the winner pays its bid, or the next bid (never below the floor)',
  ),
  dncRule: DncRuleSchema,
  consentCertificate: ConsentCertificateRuleSchema.nullable(),
  pingTree: PingTreeSchema.nullable().describe(
    "auction ping_tree: the tiers in order; each tier's endpoint buyers are pinged together and the best bid at or above its floor is posted",
  ),
  endpointBidders: EndpointBiddersSchema.nullable(),
};
export const CampaignCreate = z
  .object({
    name: campaignFields.name,
    serviceLine: campaignFields.serviceLine,
    mode: campaignFields.mode,
    claimWindowSeconds: campaignFields.claimWindowSeconds.optional(),
    previewFields: campaignFields.previewFields.optional(),
    price: campaignFields.price,
    maxWinners: campaignFields.maxWinners.optional(),
    fallbackCampaignId: campaignFields.fallbackCampaignId.optional(),
    pushStrategy: campaignFields.pushStrategy.optional(),
    caps: campaignFields.caps.optional(),
    status: campaignFields.status.optional(),
    buyerIds: campaignFields.buyerIds.optional(),
    buyers: campaignFields.buyers.optional(),
    auction: campaignFields.auction.optional(),
    floorPrice: campaignFields.floorPrice.optional(),
    pricing: campaignFields.pricing.optional(),
    dncRule: campaignFields.dncRule.optional(),
    consentCertificate: campaignFields.consentCertificate.optional(),
    pingTree: campaignFields.pingTree.optional(),
    endpointBidders: campaignFields.endpointBidders.optional(),
  })
  .strict();
/** Any field of a campaign, each optional (still strict: an unknown field is a 400). */
export const CampaignPatch = CampaignCreate.partial();
/** A campaign configuration to try (dry run): a stored campaign, or a draft, optionally over a stored one. */
export const DryRunBody = z
  .object({
    campaignId: Id.optional().describe('a stored campaign; with `campaign`, the draft fields override it'),
    campaign: CampaignPatch.optional().describe(
      'a draft: the fields of a campaign (serviceLine and price are required without campaignId)',
    ),
    lastN: int(1, 500).default(50).describe("how many of the agency's latest leads to run it against (default 50)"),
  })
  .strict();
export const CampaignsQuery = PageQuery.extend({
  status: CampaignStatusSchema.optional(),
  mode: DeliveryModeSchema.optional(),
}).strict();
export const CampaignView = z.object({
  id: Id,
  name: z.string(),
  serviceLine: z.string(),
  mode: DeliveryModeSchema,
  claimWindowSeconds: z.number().int(),
  previewFields: z.array(z.string()),
  price: PriceRulesSchema,
  maxWinners: z.number().int(),
  fallbackCampaignId: Nullable(Id),
  pushStrategy: PushStrategySchema,
  caps: CapsSchema,
  status: CampaignStatusSchema,
  buyers: z.array(z.object({ buyerId: Id, priority: z.number().int(), weight: z.number().int() })),
  auction: AuctionKindSchema,
  floorPrice: Nullable(z.number().int()),
  pricing: AuctionPricingSchema,
  dncRule: DncRuleSchema,
  consentCertificate: ConsentCertificateRuleSchema.nullable(),
  pingTree: Nullable(PingTreeSchema),
  endpointBidders: Nullable(EndpointBiddersSchema),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
const DryRunLead = z.object({
  leadId: Id,
  createdAt: IsoTime,
  price: Nullable(z.number().int()),
  eligible: z.array(z.object({ buyerId: Id, buyerName: z.string() })),
  excluded: z.array(
    z.object({ buyerId: Id, buyerName: z.string(), reason: ExclusionReasonSchema, detail: z.string() }),
  ),
  error: z.string().optional(),
});
export const DryRunView = z.object({
  campaign: z.object({
    id: Nullable(Id),
    serviceLine: z.string(),
    mode: DeliveryModeSchema,
    auction: AuctionKindSchema,
  }),
  leads: z.array(DryRunLead),
  summary: z.object({
    leads: z.number().int(),
    withEligibleBuyers: z.number().int(),
    withoutEligibleBuyers: z.number().int(),
    exclusions: z.record(z.string(), z.number().int()),
    eligibleByBuyer: z.record(z.string(), z.number().int()),
    filterPassesByBuyer: z
      .record(z.string(), z.number().int())
      .describe('buyers with lead filters: how many of these leads their filters would have passed'),
    price: z.object({ min: Nullable(z.number().int()), max: Nullable(z.number().int()), total: z.number().int() }),
  }),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  DryRun: DryRunView,
  Campaign: z.object({ campaign: CampaignView }),
  Campaigns: list('campaigns', CampaignView),
};
