/**
 * The zod schemas of the HTTP API: the single source for request validation,
 * the TypeScript types of handlers and the OpenAPI document. Request objects
 * are `.strict()` (an unknown field is a 400 that names it); every string is
 * bounded and free of NUL characters and lone surrogates, which Postgres
 * would refuse (turning bad input into a 500).
 */
import { z } from 'zod';
import type { WonClaim } from '../claims/vocabulary';
import { isValidTimeZone } from '../domain/caps';
import { isPreviewableField } from '../domain/preview';
import { FILTER_MATCHES } from '../domain/filters';
import { scheduleProblems, WEEKDAYS } from '../domain/schedule';
import {
  ALERT_CHANNELS,
  ALERT_KINDS,
  ALERT_STATUSES,
  BUYER_PRICE_KINDS,
  PIPELINE_STATUSES,
  ASSIGNMENT_STATUSES,
  AUCTION_KINDS,
  AUCTION_PRICINGS,
  BID_REFUSAL_REASONS,
  BUYER_STATUSES,
  CHANGE_ACTORS,
  CAMPAIGN_STATUSES,
  CLAIM_FAILURE_REASONS,
  DELIVERY_ATTEMPT_OUTCOMES,
  DELIVERY_CHANNELS,
  DELIVERY_MODES,
  DELIVERY_STATUSES,
  DISPUTE_STATUSES,
  SENDING_CHANNELS,
  EXCLUSION_REASONS,
  LEAD_STATUSES,
  LEDGER_ENTRY_KINDS,
  OFFER_KINDS,
  OFFER_STATUSES,
  PUSH_STRATEGIES,
  PING_DECISIONS,
  PING_REJECTIONS,
  SOURCE_LEDGER_KINDS,
  SOURCE_OUTCOMES,
  SOURCE_STATUSES,
  TIMELINE_EVENT_TYPES,
} from '../domain/types';

// ─── building blocks ─────────────────────────────────────────────────────────

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;
const storable = (s: string) => !NUL.test(s) && !LONE_SURROGATE.test(s);
const STORABLE = { message: 'must not contain NUL characters or unpaired surrogates' };

/** A trimmed, bounded, storable string. */
export const text = (max: number, min = 1) => z.string().trim().min(min).max(max).refine(storable, STORABLE);

/** Object keys that must never become property names of a plain object. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const recordKey = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(storable, STORABLE)
    .refine((k) => !RESERVED_KEYS.has(k), { message: 'is a reserved name' });

export const Id = z.uuid();
const int = (min: number, max: number) => z.number().int().min(min).max(max);
/** Money: integer credits. */
const Credits = int(0, 1_000_000);
export const ServiceLineKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, "_" or "-", at most 64');
const Zip = z.string().regex(/^(\d{3,5}|\d{5}-?\d{4})$/, 'a US ZIP code (5 digits, or ZIP+4)');
const ZipPrefix = z.string().regex(/^\d{1,5}$/, 'a ZIP code or ZIP prefix (1 to 5 digits)');
const State = z.string().regex(/^[A-Za-z]{2}$/, 'a two-letter state code');
const Email = z.email().max(254).refine(storable, STORABLE);
const HttpUrl = z
  .url({ protocol: /^https?$/, hostname: z.regexes.hostname })
  .max(2000)
  .refine(storable, STORABLE);
const IsoTime = z.string().describe('ISO-8601 UTC time');

// ─── the vocabularies (domain/types), each one named schema ───────────────────

export const AlertChannelSchema = z.enum(ALERT_CHANNELS);
export const AlertKindSchema = z.enum(ALERT_KINDS);
export const AlertStatusSchema = z.enum(ALERT_STATUSES);
export const AssignmentStatusSchema = z.enum(ASSIGNMENT_STATUSES);
export const AuctionKindSchema = z.enum(AUCTION_KINDS);
export const AuctionPricingSchema = z.enum(AUCTION_PRICINGS);
export const BidRefusalReasonSchema = z.enum(BID_REFUSAL_REASONS);
export const BuyerPriceKindSchema = z.enum(BUYER_PRICE_KINDS);
export const BuyerStatusSchema = z.enum(BUYER_STATUSES);
export const CampaignStatusSchema = z.enum(CAMPAIGN_STATUSES);
export const ChangeActorSchema = z.enum(CHANGE_ACTORS);
export const ClaimFailureReasonSchema = z.enum(CLAIM_FAILURE_REASONS);
export const DeliveryAttemptOutcomeSchema = z.enum(DELIVERY_ATTEMPT_OUTCOMES);
export const DeliveryChannelSchema = z.enum(DELIVERY_CHANNELS);
export const DeliveryModeSchema = z.enum(DELIVERY_MODES);
export const DeliveryStatusSchema = z.enum(DELIVERY_STATUSES);
export const DisputeStatusSchema = z.enum(DISPUTE_STATUSES);
export const ExclusionReasonSchema = z.enum(EXCLUSION_REASONS);
export const FilterMatchSchema = z.enum(FILTER_MATCHES);
export const LeadStatusSchema = z.enum(LEAD_STATUSES);
export const LedgerEntryKindSchema = z.enum(LEDGER_ENTRY_KINDS);
export const OfferKindSchema = z.enum(OFFER_KINDS);
export const OfferStatusSchema = z.enum(OFFER_STATUSES);
export const PingDecisionSchema = z.enum(PING_DECISIONS);
export const PingRejectionSchema = z.enum(PING_REJECTIONS);
export const PipelineStatusSchema = z.enum(PIPELINE_STATUSES);
export const PushStrategySchema = z.enum(PUSH_STRATEGIES);
export const SendingChannelSchema = z.enum(SENDING_CHANNELS);
export const SourceLedgerKindSchema = z.enum(SOURCE_LEDGER_KINDS);
export const SourceOutcomeSchema = z.enum(SOURCE_OUTCOMES);
export const SourceStatusSchema = z.enum(SOURCE_STATUSES);
export const TimelineEventTypeSchema = z.enum(TIMELINE_EVENT_TYPES);

// ─── shared request parts ────────────────────────────────────────────────────

export const IdParams = z.object({ id: Id }).strict();
export const NoQuery = z.object({}).strict();
export const PageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('page size (1–200, default 50)'),
    cursor: z.string().max(512).optional().describe('opaque: the nextCursor of the previous page'),
  })
  .strict();

export const CapsSchema = z
  .object({
    daily: int(0, 1_000_000).optional(),
    weekly: int(0, 1_000_000).optional(),
    monthly: int(0, 1_000_000).optional(),
  })
  .strict()
  .describe('leads per day / ISO week / month, in the agency time zone; absent = unlimited');

const MappingPath = z
  .string()
  .regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/, 'a dotted path of the payload, e.g. "lead.phone"')
  .max(200)
  .refine((p) => !p.split('.').some((k) => RESERVED_KEYS.has(k)), { message: 'is a reserved name' });

export const FieldMappingSchema = z
  .object({
    rename: z
      .record(MappingPath, recordKey(100))
      .refine((r) => Object.keys(r).length <= 100, { message: 'at most 100 renames' })
      .optional(),
    static: z
      .record(recordKey(100), z.union([text(1000, 0), z.number().finite(), z.boolean()]))
      .refine((r) => Object.keys(r).length <= 100, { message: 'at most 100 static values' })
      .optional(),
    omit: z.array(MappingPath).max(100).optional(),
  })
  .strict()
  .describe(
    'how the webhook JSON is shaped: rename payload paths (e.g. {"lead.phone": "phone_number"}), add static values, omit paths',
  );

const PhoneTo = z.string().regex(/^\+?[1-9]\d{6,14}$/, 'a phone number in E.164 form, e.g. +15125550100');

export const DeliverySchema = z
  .object({
    webhookUrl: HttpUrl.optional(),
    email: Email.optional(),
    fieldMapping: FieldMappingSchema.optional(),
    smsTo: PhoneTo.optional().describe('SMS channel: the number the provider texts'),
    voiceTo: PhoneTo.optional().describe('voice channel: the number the provider calls'),
  })
  .strict();

// ─── agencies, service lines, buyers ─────────────────────────────────────────

export const AgencyCreate = z
  .object({
    name: text(200),
    timeZone: text(64)
      .refine((tz) => isValidTimeZone(tz), { message: 'not a known IANA time zone' })
      .optional()
      .describe('IANA zone for caps and reports, default UTC'),
  })
  .strict();

const Percentage = z.number().min(0).max(1);

export const AgencySettingsSchema = z
  .object({
    duplicateWindowDays: int(0, 3650).describe(
      'duplicate window in days (intake and "never the same person twice"); default 30, 0 = off',
    ),
    requireConsent: z.boolean().describe('refuse leads without consent evidence; default false'),
    autoPauseAfterFailures: int(0, 1000).describe(
      'pause a buyer after this many consecutive failed deliveries; default 5, 0 = never',
    ),
    returns: z
      .object({
        windowDays: int(0, 3650).optional(),
        allowedReasons: z
          .array(z.string().regex(/^[a-z0-9_]{1,64}$/, 'a reason code: a-z, 0-9, _'))
          .max(50)
          .optional(),
        maxReturnRate: Percentage.optional().describe('returns ÷ purchases over the last 30 days, 0..1'),
      })
      .strict(),
    selfService: z
      .object({
        enabled: z.boolean().optional(),
        maxCaps: z
          .object({
            daily: int(0, 1_000_000).optional(),
            weekly: int(0, 1_000_000).optional(),
            monthly: int(0, 1_000_000).optional(),
          })
          .strict()
          .optional(),
        allowedStates: z.array(State).max(60).optional(),
        allowedZipPrefixes: z.array(ZipPrefix).max(10_000).optional(),
        allowFilters: z.boolean().optional().describe('buyers may set their own lead filters (default off)'),
      })
      .strict(),
  })
  .partial()
  .strict();

/** A PATCH of the settings: a key set to null goes back to its default. */
export const AgencySettingsPatch = z
  .object({
    duplicateWindowDays: AgencySettingsSchema.shape.duplicateWindowDays.nullable(),
    requireConsent: AgencySettingsSchema.shape.requireConsent.nullable(),
    autoPauseAfterFailures: AgencySettingsSchema.shape.autoPauseAfterFailures.nullable(),
    returns: AgencySettingsSchema.shape.returns.nullable(),
    selfService: AgencySettingsSchema.shape.selfService.nullable(),
  })
  .partial()
  .strict();

export const ServiceLineCreate = z.object({ key: ServiceLineKey, name: text(200) }).strict();

// ─── the buyer's side: hours, pauses, filters, alerts (#12) ──────────────────

const TimeZone = text(64).refine((tz) => isValidTimeZone(tz), { message: 'not a known IANA time zone' });
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time "HH:MM" (24-hour; "24:00" ends the day)');
const TimeRangeSchema = z.object({ from: HHMM, to: HHMM }).strict();

export const WeeklyScheduleSchema = z
  .object(
    Object.fromEntries(WEEKDAYS.map((d) => [d, z.array(TimeRangeSchema).max(12).optional()])) as Record<
      (typeof WEEKDAYS)[number],
      z.ZodOptional<z.ZodArray<typeof TimeRangeSchema>>
    >,
  )
  .strict()
  .superRefine((s, ctx) => {
    for (const [path, message] of scheduleProblems(s))
      ctx.addIssue({ code: 'custom', path: path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)), message });
  })
  .describe(
    'hours of operation per weekday (mon…sun) on the buyer\'s wall clock, e.g. {"mon":[{"from":"08:00","to":"17:00"}]}; a day absent is closed',
  );

const Instant = z.iso.datetime({ offset: true });
export const PauseSchema = z
  .object({
    from: Instant.optional().describe('default: now'),
    until: Instant.describe('back at this instant'),
    note: text(200).optional(),
  })
  .strict()
  .refine((p) => !p.from || Date.parse(p.from) < Date.parse(p.until), {
    message: '"until" must be after "from"',
    path: ['until'],
  });

const FilterField = text(120).refine((f) => f !== 'answers' && isPreviewableField(f), {
  message: 'not a lead field (a field name, or "answers.<question>")',
});
const FilterScalar = z.union([text(1000, 0), z.number().finite(), z.boolean()]);
const FilterRuleSchema = z.discriminatedUnion('op', [
  z.object({ field: FilterField, op: z.literal('equals'), value: FilterScalar }).strict(),
  z.object({ field: FilterField, op: z.literal('in'), values: z.array(FilterScalar).min(1).max(1000) }).strict(),
  z.object({ field: FilterField, op: z.literal('not_in'), values: z.array(FilterScalar).min(1).max(1000) }).strict(),
  z
    .object({
      field: FilterField,
      op: z.literal('range'),
      min: z.number().finite().optional(),
      max: z.number().finite().optional(),
    })
    .strict()
    .refine((r) => r.min !== undefined || r.max !== undefined, {
      message: 'a range needs min, max or both',
      path: ['min'],
    })
    .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
      message: 'min must not exceed max',
      path: ['max'],
    }),
  z.object({ field: FilterField, op: z.literal('present') }).strict(),
  z.object({ field: FilterField, op: z.literal('absent') }).strict(),
]);
export const LeadFiltersSchema = z
  .object({
    match: FilterMatchSchema.describe('all: every rule must pass; any: one suffices'),
    rules: z.array(FilterRuleSchema).max(50),
  })
  .strict()
  .describe('lead filters: rules on lead fields or qualification answers (equals, in, not_in, range, present, absent)');

export const AlertSettingsSchema = z
  .object({
    channels: z
      .array(AlertChannelSchema)
      .max(4)
      .optional()
      .describe('channels alerts go out on (offer alerts and the low-balance alert); none: no alerts'),
    minPrice: Credits.optional().describe('offer alerts only for leads at this price or more'),
    quietHours: z
      .object({ from: HHMM, to: HHMM })
      .strict()
      .optional()
      .describe("no offer alerts between these wall-clock times (buyer's zone); may span midnight"),
  })
  .strict();

/** The buyer-side settings, the same for the agency (PATCH /v1/buyers/:id) and the buyer itself (PATCH /v1/me). */
const buyerSideFields = {
  timeZone: TimeZone.nullable().optional().describe("zone of the schedule and quiet hours; null: the agency's"),
  schedule: WeeklyScheduleSchema.nullable().optional().describe('null: always open'),
  pauses: z
    .array(PauseSchema)
    .max(50)
    .optional()
    .describe('pauses with an end ("back Monday 8:00"); replaces the list'),
  filters: LeadFiltersSchema.nullable().optional().describe('null: every lead'),
  alerts: AlertSettingsSchema.optional(),
  lowBalanceThreshold: Credits.nullable()
    .optional()
    .describe('one alert when the balance drops below this; null: none'),
};

const buyerFields = {
  name: text(200),
  serviceLines: z.array(ServiceLineKey).max(100),
  zipCodes: z.array(Zip).max(10_000),
  states: z.array(State).max(60),
  caps: CapsSchema,
  delivery: DeliverySchema,
  status: BuyerStatusSchema,
};

export const BuyerCreate = z
  .object({
    name: buyerFields.name,
    serviceLines: buyerFields.serviceLines,
    zipCodes: buyerFields.zipCodes.optional(),
    states: buyerFields.states.optional(),
    caps: buyerFields.caps.optional(),
    delivery: buyerFields.delivery.optional(),
    status: buyerFields.status.optional(),
    ...buyerSideFields,
  })
  .strict();

export const BuyerPatch = z
  .object({
    name: buyerFields.name.optional(),
    status: buyerFields.status.optional(),
    pauseReason: text(500).nullable().optional(),
    serviceLines: buyerFields.serviceLines.optional(),
    zipCodes: buyerFields.zipCodes.optional(),
    states: buyerFields.states.optional(),
    caps: buyerFields.caps.optional(),
    delivery: buyerFields.delivery.optional(),
    ...buyerSideFields,
  })
  .strict();

/** What a buyer may change about itself, within the agency's limits. */
export const MePatch = z
  .object({
    caps: CapsSchema.optional(),
    zipCodes: buyerFields.zipCodes.optional(),
    states: buyerFields.states.optional(),
    status: buyerFields.status
      .optional()
      .describe('pause or resume myself (a pause by the agency or the system is theirs to lift)'),
    pauseReason: text(500).nullable().optional(),
    ...buyerSideFields,
  })
  .strict();

/** A buyer's own price on a campaign: `{buyerId, rule}`; rule null removes it. */
export const BuyerPriceBody = z
  .object({
    buyerId: Id,
    rule: z
      .discriminatedUnion('kind', [
        z
          .object({
            kind: z.literal('fixed'),
            value: Credits.describe('the buyer pays this, whatever the campaign price'),
          })
          .strict(),
        z
          .object({
            kind: z.literal('percent'),
            value: int(-100, 1000).describe('percent on the campaign price: 20 = 20 % more, -10 = 10 % less'),
          })
          .strict(),
      ])
      .nullable()
      .describe('null: the buyer pays the campaign price again'),
  })
  .strict();

export const PipelineBody = z
  .object({
    status: PipelineStatusSchema,
    note: text(2000).optional(),
    jobValue: int(0, 100_000_000)
      .optional()
      .describe("the job's value (whole units of the buyer's money), e.g. with won_job"),
  })
  .strict();

export const BuyerStatsQuery = z
  .object({
    days: z.coerce.number().int().min(1).max(365).default(30).describe('the period: the last N days (default 30)'),
  })
  .strict();

export const BuyersQuery = PageQuery.extend({ status: BuyerStatusSchema.optional() }).strict();

export const CreditsCreate = z
  .object({
    amount: int(1, 100_000_000).describe('credits to add'),
    reference: text(200).optional().describe('e.g. an invoice number'),
  })
  .strict();

export const KeyCreate = z
  .object({ revokeExisting: z.boolean().optional().describe("revoke the buyer's other keys (rotation)") })
  .strict();

export const WebhookSecretRotate = z
  .object({
    overlapSeconds: int(0, 7 * 86_400)
      .optional()
      .describe(
        'how long the previous secret keeps signing beside the new one (a second v1 signature); default 86400, 0 = stops at once',
      ),
  })
  .strict();

export const RedeliverCreate = z
  .object({ channel: SendingChannelSchema.describe('the channel to send the sale on again') })
  .strict();

// ─── campaigns ───────────────────────────────────────────────────────────────

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
    'ping post: the first valid claim wins (default), or the highest sealed bid at close',
  ),
  floorPrice: Credits.nullable().describe("highest bid: the lowest acceptable bid (null: the lead's computed price)"),
  pricing: AuctionPricingSchema.describe(
    'highest bid: the winner pays its bid, or the next bid (never below the floor)',
  ),
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

// ─── leads ───────────────────────────────────────────────────────────────────

const Phone = text(40).refine(
  (p) => /^[\d\s()+.-]+$/.test(p) && (p.match(/\d/g)?.length ?? 0) >= 7 && (p.match(/\d/g)?.length ?? 0) <= 15,
  {
    message: 'a phone number: 7 to 15 digits, with optional spaces ( ) + . -',
  },
);

export const LeadFieldsSchema = z
  .object({
    firstName: text(100),
    lastName: text(100),
    phone: Phone,
    email: Email,
    address: text(300).optional(),
    city: text(100).optional(),
    state: State.optional(),
    zip: Zip,
    answers: z
      .record(recordKey(100), z.union([text(1000, 0), z.number().finite(), z.boolean()]))
      .refine((a) => Object.keys(a).length <= 50, { message: 'at most 50 answers' })
      .optional()
      .describe('qualification answers, e.g. {"homeowner": "yes"}'),
  })
  .strict();

export const ConsentSchema = z
  .object({
    text: text(5000).describe('the consent language the person agreed to'),
    timestamp: z.iso.datetime({ offset: true }).describe('when they agreed (ISO-8601)'),
    ip: z.union([z.ipv4(), z.ipv6()]).describe('the IP address they agreed from'),
    userAgent: text(1000),
    certificateUrl: HttpUrl.optional().describe('e.g. a TrustedForm or Jornaya certificate'),
  })
  .strict()
  .describe('consent evidence (TCPA): stored with the lead, sent with it to the buyer');

/** The seller's own tracking ids: kept with the lead, reported back, never interpreted. */
export const TrackingId = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, '1 to 200 printable ASCII characters without spaces');

export const LeadCreate = z
  .object({
    campaignId: Id,
    fields: LeadFieldsSchema,
    consent: ConsentSchema.optional(),
    subId: TrackingId.optional().describe("the seller's sub id (affiliate, placement)"),
    clickId: TrackingId.optional().describe("the seller's click id"),
  })
  .strict();

export const LeadsQuery = PageQuery.extend({
  status: LeadStatusSchema.optional(),
  campaignId: Id.optional(),
}).strict();

export const ReofferBody = z.object({ campaignId: Id.optional().describe("default: the lead's campaign") }).strict();
export const AssignBody = z.object({ buyerId: Id }).strict();
export const RejectBody = z.object({ reason: text(500) }).strict();

// ─── offers, claims, disputes ────────────────────────────────────────────────

export const RequestId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, '1 to 128 of A-Z a-z 0-9 . _ : -')
  .describe('the client id of this claim attempt: a retry with the same id is the same attempt');

export const ClaimBody = z.object({ requestId: RequestId.optional() }).strict();
export const BidBody = z
  .object({
    amount: int(0, 1_000_000).describe('whole credits, at least the floor; a later bid must raise my earlier one'),
    requestId: RequestId.optional(),
  })
  .strict();
export const CancelOfferBody = z.object({ reason: text(500) }).strict();
export const OffersQuery = PageQuery.extend({ status: OfferStatusSchema.default('open') }).strict();
export const EligibilityQuery = z.object({ buyerId: Id.optional() }).strict();

export const DisputeCreate = z
  .object({
    reason: text(2000),
    code: z
      .string()
      .regex(/^[a-z0-9_]{1,64}$/)
      .optional()
      .describe("one of the agency's return reason codes (required when it has a list)"),
  })
  .strict();
export const DisputeResolve = z
  .object({
    approve: z.boolean(),
    note: text(2000).optional(),
    reoffer: z
      .boolean()
      .optional()
      .describe('with approve: offer the lead again as a new auction (the returning buyer excluded)'),
    campaignId: Id.optional().describe("the re-offer's campaign (default: the lead's)"),
  })
  .strict();
export const DisputesQuery = PageQuery.extend({ status: DisputeStatusSchema.optional() }).strict();

// ─── the supply side: sources, pings, posts, reports ─────────────────────────

export const PayoutRuleSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('fixed'), amount: Credits.describe('credits per sold lead') }).strict(),
    z
      .object({
        kind: z.literal('share'),
        shareBps: int(0, 10_000).describe('basis points of the sale price (2500 = 25 %), rounded down'),
      })
      .strict(),
  ])
  .describe('paid when the lead is sold, reversed when the sale is returned');

export const SourceCreate = z.object({ name: text(200), status: SourceStatusSchema.optional() }).strict();
export const SourcePatch = SourceCreate.partial();
export const SourceCampaignSet = z
  .object({
    campaignId: Id,
    allowed: z
      .boolean()
      .default(true)
      .describe('false: the source may no longer post into it (the rule is kept for its leads)'),
    payout: PayoutRuleSchema,
  })
  .strict();
export const SourceKeyCreate = z
  .object({ revokeExisting: z.boolean().optional().describe("revoke the source's other keys (rotation)") })
  .strict();

/** The entries an agency writes to a source's ledger by hand; payouts and reversals come only with sales and returns. */
export const SourceSettlementKindSchema = SourceLedgerKindSchema.extract(['settlement', 'adjustment']);
const SETTLEMENT_MAX = 100_000_000;
export const SourceSettlementCreate = z
  .object({
    kind: SourceSettlementKindSchema.default('settlement').describe(
      'settlement: the agency paid the source (lowers the balance); adjustment: a correction, either way',
    ),
    amount: int(-SETTLEMENT_MAX, SETTLEMENT_MAX).describe(
      'settlement: the credits paid, 1 or more (written as a negative entry); adjustment: signed, not 0 (+ owes the source more, - less)',
    ),
    reference: text(200).describe('what identifies the payment or the correction, e.g. the bank transfer id'),
  })
  .strict()
  .superRefine((b, ctx) => {
    // One bound per kind: a settlement is a payment made, so it is a positive number of credits.
    if (b.kind === 'settlement' && b.amount < 1)
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'a settlement pays 1 credit or more' });
    if (b.kind === 'adjustment' && b.amount === 0)
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'an adjustment is not 0' });
  });

/** The lead's non-identifying fields: what a ping may carry. */
export const PingFieldsSchema = LeadFieldsSchema.pick({ zip: true, state: true, city: true, answers: true }).strict();

export const PingCreate = z
  .object({ campaignId: Id, fields: PingFieldsSchema, subId: TrackingId.optional(), clickId: TrackingId.optional() })
  .strict();
export const PostCreate = z
  .object({
    pingId: Id.describe('the id of an accepted ping, before it expires'),
    fields: LeadFieldsSchema.describe('the full lead; the fields the ping carried must be the same'),
    consent: ConsentSchema.optional(),
    subId: TrackingId.optional(),
    clickId: TrackingId.optional(),
  })
  .strict();

/** `YYYY-MM-DD`, a day in the agency's time zone. */
const Day = z.iso.date().describe('a day (YYYY-MM-DD) in the agency time zone');

export const RangeQuery = z
  .object({ from: Day.optional().describe('first day, inclusive'), to: Day.optional().describe('last day, inclusive') })
  .strict();
export const RangePageQuery = PageQuery.extend(RangeQuery.shape).strict();
export const REPORT_GROUPS = ['day', 'campaign', 'source', 'buyer'] as const;
export const ReportGroupSchema = z.enum(REPORT_GROUPS);
export const SourceLedgerExportQuery = RangeQuery.extend({
  sourceId: Id.optional().describe('admin: one source (default: every source)'),
}).strict();
export const ReportExportQuery = RangeQuery.extend({ groupBy: ReportGroupSchema.default('day') }).strict();
export const ReportQuery = RangeQuery.extend({
  groupBy: ReportGroupSchema.default('day'),
  limit: PageQuery.shape.limit,
  cursor: PageQuery.shape.cursor,
}).strict();

// ─── responses (documented; tests check answers against them) ────────────────

const Nullable = <T extends z.ZodType>(t: T) => t.nullable();

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string(), in: z.string().optional() })).optional(),
});

export const AgencyView = z.object({ id: Id, name: z.string(), timeZone: z.string(), createdAt: IsoTime });
export const ServiceLineView = z.object({ id: Id, key: z.string(), name: z.string(), createdAt: IsoTime });
export const BuyerView = z.object({
  id: Id,
  name: z.string(),
  status: BuyerStatusSchema,
  pauseReason: Nullable(z.string()),
  serviceLines: z.array(z.string()),
  zipCodes: z.array(z.string()),
  states: z.array(z.string()),
  caps: CapsSchema,
  delivery: DeliverySchema,
  balance: z.number().int(),
  pausedBy: Nullable(ChangeActorSchema),
  consecutiveDeliveryFailures: z.number().int(),
  webhookPausedAt: Nullable(IsoTime).describe(
    'set when the endpoint answered 410 Gone: no webhook is sent until delivery is changed (PATCH)',
  ),
  webhookPauseReason: Nullable(z.string()),
  timeZone: Nullable(z.string()).describe("the zone of its schedule and quiet hours; null: the agency's"),
  schedule: Nullable(WeeklyScheduleSchema),
  pauses: z.array(PauseSchema),
  filters: Nullable(LeadFiltersSchema),
  alerts: AlertSettingsSchema,
  lowBalanceThreshold: Nullable(z.number().int()),
  lowBalance: z.boolean().describe('the balance is below the low-balance threshold'),
  availability: z
    .object({
      open: z.boolean(),
      opensAt: Nullable(IsoTime).describe('when closed: when it opens again (null: never)'),
      why: Nullable(z.enum(['schedule', 'pause'])),
    })
    .describe('whether it takes leads now, by its hours and pauses'),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export const DeliveryAttemptView = z.object({
  id: Id,
  channel: DeliveryChannelSchema,
  attempt: z.number().int(),
  redelivery: z.boolean(),
  messageId: Nullable(z.string()).describe('the Standard Webhooks webhook-id'),
  outcome: DeliveryAttemptOutcomeSchema,
  status: Nullable(z.number().int()).describe('the HTTP status answered'),
  latencyMs: z.number().int(),
  response: Nullable(z.string()).describe('the first 500 bytes of the answer'),
  error: Nullable(z.string()),
  nextRetryMs: Nullable(z.number().int()).describe(
    'the wait before the next attempt (schedule with jitter, or Retry-After)',
  ),
  at: IsoTime,
});
export const DeliveryView = z.object({
  channel: DeliveryChannelSchema,
  status: DeliveryStatusSchema,
  attempts: z.number().int(),
  lastError: Nullable(z.string()),
});
export const LedgerEntryView = z.object({
  id: Id,
  kind: LedgerEntryKindSchema,
  amount: z.number().int(),
  balanceAfter: z.number().int(),
  reference: Nullable(z.string()),
  leadId: Nullable(Id),
  offerId: Nullable(Id),
  createdAt: IsoTime,
});
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
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export const FullLead = LeadFieldsSchema.extend({ id: Id, consent: ConsentSchema.optional() }).describe(
  'every field of the lead, and its consent evidence',
);
export const LeadView = z.object({
  id: Id,
  campaignId: Id,
  status: LeadStatusSchema,
  statusReason: Nullable(z.string()),
  fields: LeadFieldsSchema,
  consent: Nullable(ConsentSchema),
  workflowId: z.string(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export const OfferAdminView = z.object({
  id: Id,
  leadId: Id,
  campaignId: Nullable(Id),
  kind: OfferKindSchema,
  status: OfferStatusSchema,
  price: z.number().int(),
  preview: z.record(z.string(), z.unknown()),
  maxWinners: z.number().int(),
  winners: z.number().int(),
  auction: AuctionKindSchema,
  pricing: AuctionPricingSchema,
  depth: z.number().int(),
  workflowId: z.string(),
  openedAt: IsoTime,
  closesAt: IsoTime,
  closedAt: Nullable(IsoTime),
  closeReason: Nullable(z.string()),
});
export const AssignmentView = z.object({
  id: Id,
  leadId: Id,
  offerId: Id,
  buyerId: Id,
  price: z.number().int(),
  exclusive: z.boolean(),
  status: AssignmentStatusSchema,
  createdAt: IsoTime,
});
export const LeadDetailView = LeadView.extend({
  offers: z.array(OfferAdminView),
  assignments: z.array(AssignmentView),
});
/** What a buyer sees of an offer before it pays: never a field outside the campaign's preview set. */
export const BuyerOfferView = z.object({
  id: Id,
  leadId: Id,
  preview: z.record(z.string(), z.unknown()),
  price: z.number().int().describe('first claim: the price; highest bid: the floor'),
  auction: AuctionKindSchema.describe('first_claim: claim it; highest_bid: bid on it (POST /v1/offers/:id/bids)'),
  closesAt: IsoTime,
});
export const WonLeadView = z.object({
  assignmentId: Id,
  offerId: Id,
  price: z.number().int(),
  status: AssignmentStatusSchema,
  wonAt: IsoTime,
  lead: FullLead,
});
export const TimelineEventView = z.object({
  type: TimelineEventTypeSchema,
  at: IsoTime,
  offerId: Id.optional(),
  buyerId: Id.optional(),
  reason: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export const CandidateView = z.object({
  buyerId: Id,
  buyerName: z.string(),
  eligible: z.boolean(),
  reason: Nullable(ExclusionReasonSchema),
  detail: Nullable(z.string()),
  snapshot: z.record(z.string(), z.unknown()),
});
export const DisputeView = z.object({
  id: Id,
  assignmentId: Id,
  buyerId: Id,
  reason: z.string(),
  code: Nullable(z.string()),
  status: DisputeStatusSchema,
  refundEntryId: Nullable(Id),
  createdAt: IsoTime,
  resolvedAt: Nullable(IsoTime),
});
/** A won claim: the one shape claims/vocabulary.ts `WonClaim` (checked here, so the two cannot drift). */
export const ClaimWon = z.object({
  result: z.literal('won'),
  offerId: Id,
  assignmentId: Id,
  lead: FullLead,
  charged: z.number().int(),
  balance: z.number().int(),
}) satisfies z.ZodType<WonClaim>;
/** …and the other way: WonClaim has every field the schema requires. */
type _WonClaimFitsClaimWon = Fits<WonClaim, z.infer<typeof ClaimWon>>;
type Fits<A extends B, B> = A;
export const ClaimRefused = z.object({
  result: z.enum(['lost', 'failed']),
  reason: ClaimFailureReasonSchema,
  message: z.string().describe('what the reason means, in words a buyer can be shown'),
});
export const BidAccepted = z.object({
  result: z.literal('accepted'),
  offerId: Id,
  amount: z.number().int(),
  raised: z.boolean(),
});
export const BidRefused = z.object({
  result: z.literal('refused'),
  reason: BidRefusalReasonSchema,
  message: z.string().describe('what the reason means, in words a buyer can be shown'),
});
export const BuyerChangeView = z.object({
  id: Id,
  buyerId: Id,
  actor: ChangeActorSchema,
  changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
  note: Nullable(z.string()),
  createdAt: IsoTime,
});
const DistributionView = z.object({
  count: z.number().int(),
  min: Nullable(z.number()),
  p50: Nullable(z.number()),
  p90: Nullable(z.number()),
  p99: Nullable(z.number()),
  max: Nullable(z.number()),
  buckets: z.array(z.object({ le: Nullable(z.number()), count: z.number().int() })),
});
const StatusCounts = z.object(
  Object.fromEntries(PIPELINE_STATUSES.map((s) => [s, z.number().int()])) as Record<
    (typeof PIPELINE_STATUSES)[number],
    z.ZodNumber
  >,
);
export const BuyerStatsView = z.object({
  buyerId: Id,
  since: IsoTime,
  offers: z.object({
    targeted: z.number().int(),
    viewed: z.number().int(),
    claimed: z.number().int(),
    bid: z.number().int(),
    viewedButIgnored: z.number().int(),
  }),
  claims: z.object({
    attempts: z.number().int(),
    won: z.number().int(),
    lost: z.number().int(),
    failed: z.number().int(),
    byReason: z.record(z.string(), z.number().int()),
  }),
  claimLatencyMs: DistributionView.describe('offer opened → first claim attempt (or bid), per offer'),
  deliveries: z.object({
    delivered: z.number().int(),
    failed: z.number().int(),
    successRate: Nullable(z.number()),
    byChannel: z.record(z.string(), z.object({ delivered: z.number().int(), failed: z.number().int() })),
  }),
  pipeline: z
    .object({
      bought: z.number().int(),
      byStatus: StatusCounts,
      closeRate: Nullable(z.number()).describe('won_job ÷ leads bought in the period'),
      jobValue: z.number().int().describe('sum of job values marked won_job'),
      byCampaign: z.record(
        z.string(),
        z.object({
          bought: z.number().int(),
          won: z.number().int(),
          lost: z.number().int(),
          closeRate: Nullable(z.number()),
        }),
      ),
    })
    .describe("what became of the leads it bought (the buyer's pipeline status)"),
});
export const BuyerPriceView = z.object({
  campaignId: Id,
  buyerId: Id,
  kind: BuyerPriceKindSchema,
  value: z.number().int(),
  updatedAt: IsoTime,
});
export const PipelineChangeView = z.object({
  id: Id,
  assignmentId: Id,
  status: PipelineStatusSchema,
  note: Nullable(z.string()),
  jobValue: Nullable(z.number().int()),
  authorKeyId: Nullable(Id).describe('the API key that made the change'),
  at: IsoTime,
});
export const PipelineItemView = z.object({
  assignmentId: Id,
  leadId: Id,
  campaignId: Nullable(Id),
  price: z.number().int(),
  boughtAt: IsoTime,
  name: z.string(),
  city: Nullable(z.string()),
  status: PipelineStatusSchema,
  note: Nullable(z.string()),
  jobValue: Nullable(z.number().int()),
  changedAt: Nullable(IsoTime),
});
export const AlertView = z.object({
  id: Id,
  kind: AlertKindSchema,
  channel: AlertChannelSchema,
  offerId: Nullable(Id),
  status: AlertStatusSchema,
  attempts: z.number().int(),
  lastError: Nullable(z.string()),
  createdAt: IsoTime,
  sentAt: Nullable(IsoTime),
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

export const SourceCampaignView = z.object({
  campaignId: Id,
  campaignName: z.string(),
  allowed: z.boolean(),
  payout: PayoutRuleSchema,
});
export const SourceView = z.object({
  id: Id,
  name: z.string(),
  status: SourceStatusSchema,
  balance: z.number().int().describe('what the agency owes the source: payouts less reversals and settlements'),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export const SourceLedgerEntryView = z.object({
  id: Id,
  kind: SourceLedgerKindSchema,
  amount: z.number().int(),
  balanceAfter: z.number().int(),
  leadId: Nullable(Id),
  assignmentId: Nullable(Id),
  reference: Nullable(z.string()),
  createdAt: IsoTime,
});
export const SourceLeadView = z.object({
  id: Id,
  campaignId: Id,
  subId: Nullable(z.string()),
  clickId: Nullable(z.string()),
  outcome: SourceOutcomeSchema,
  payout: z.number().int().describe('net: payouts less reversals'),
  createdAt: IsoTime,
});
export const PingAnswer = z.object({
  pingId: Id,
  decision: PingDecisionSchema,
  reason: Nullable(PingRejectionSchema),
  payout: Nullable(z.number().int()).describe(
    'accepted: what the source is paid if the lead sells at the price quoted now',
  ),
  expiresAt: IsoTime.describe('post the full lead before this time'),
});
export const ReportRow = z.object({
  key: z.string().describe('the day (YYYY-MM-DD), or the campaign, source or buyer id ("none": no source)'),
  name: Nullable(z.string()),
  leads: z.number().int().describe('leads in (buyer grouping: leads offered to the buyer)'),
  offered: z.number().int(),
  sold: z.number().int(),
  unsold: z.number().int(),
  returned: z.number().int(),
  revenue: z.number().int().describe('charges less refunds'),
  payouts: z.number().int().describe('source payouts less reversals'),
  margin: z.number().int(),
  avgSecondsToClaim: Nullable(z.number()),
  fillRate: Nullable(z.number()).describe('sold ÷ leads'),
  pings: z.number().int().describe('source and day groupings: pings received'),
  pingsAccepted: z.number().int(),
});

const list = <T extends z.ZodType>(key: string, item: T) =>
  z.object({ [key]: z.array(item), nextCursor: Nullable(z.string()) });

export const Responses = {
  AgencyCreated: z.object({ agency: AgencyView, adminKey: z.string().describe('shown once') }),
  Me: z.object({
    kind: z.enum(['root', 'admin', 'buyer', 'source']),
    agency: AgencyView.optional(),
    buyer: BuyerView.optional(),
    source: SourceView.optional(),
  }),
  SourceCreated: z.object({ source: SourceView, apiKey: z.string().describe('shown once') }),
  Source: z.object({ source: SourceView, campaigns: z.array(SourceCampaignView) }),
  Sources: list('sources', SourceView),
  SourceCampaign: z.object({ campaign: SourceCampaignView }),
  SourceKeysRevoked: z.object({ revoked: z.number().int() }),
  SourceLedger: list('entries', SourceLedgerEntryView),
  SourceSettlement: z.object({
    balance: z.number().int().describe('what the agency owes the source after this entry'),
    entry: SourceLedgerEntryView,
  }),
  SourceLeads: list('leads', SourceLeadView),
  SourceBalance: z.object({
    balance: z.number().int(),
    entries: z.array(SourceLedgerEntryView).describe('the latest entries'),
  }),
  PingAnswer,
  PostingSpec: z.object({
    source: z.object({ id: Id, name: z.string() }),
    flow: z.array(z.string()),
    refusals: z.record(z.string(), z.number().int()),
    ping: z.object({ method: z.string(), path: z.string(), body: z.record(z.string(), z.unknown()) }),
    post: z.object({ method: z.string(), path: z.string(), body: z.record(z.string(), z.unknown()) }),
    campaigns: z.array(
      z.object({
        campaignId: Id,
        name: z.string(),
        payout: z.record(z.string(), z.unknown()),
        curl: z.array(z.string()),
      }),
    ),
  }),
  PostAccepted: z.object({ pingId: Id, lead: z.object({ id: Id, status: LeadStatusSchema }), workflowId: z.string() }),
  Report: z.object({
    groupBy: ReportGroupSchema,
    from: Nullable(z.string()),
    to: Nullable(z.string()),
    timeZone: z.string(),
    rows: z.array(ReportRow),
    nextCursor: Nullable(z.string()),
  }),
  ServiceLine: z.object({ serviceLine: ServiceLineView }),
  ServiceLines: list('serviceLines', ServiceLineView),
  BuyerCreated: z.object({
    buyer: BuyerView,
    apiKey: z.string().describe('shown once'),
    webhookSecret: z
      .string()
      .describe('whsec_…: signs its webhooks per Standard Webhooks; shown once, rotate to see a new one'),
  }),
  WebhookSecret: z.object({
    webhookSecret: z.string().describe('shown once'),
    previousSecretUntil: Nullable(IsoTime).describe('until then the previous secret signs too (a second v1 signature)'),
  }),
  Deliveries: z.object({ assignmentId: Id, deliveries: z.array(DeliveryView), attempts: z.array(DeliveryAttemptView) }),
  RedeliveryStarted: z.object({
    assignmentId: Id,
    channel: SendingChannelSchema,
    workflowId: z.string(),
    messageId: z.string(),
  }),
  BuyerChanges: list('changes', BuyerChangeView),
  Settings: z.object({ settings: AgencySettingsSchema }),
  BuyerStats: BuyerStatsView,
  DryRun: DryRunView,
  BidAccepted,
  Buyer: z.object({ buyer: BuyerView }),
  Buyers: list('buyers', BuyerView),
  KeyCreated: z.object({ apiKey: z.string().describe('shown once'), revoked: z.number().int() }),
  Credits: z.object({ balance: z.number().int(), entry: LedgerEntryView }),
  Ledger: list('entries', LedgerEntryView),
  Wallet: z.object({ balance: z.number().int(), entries: z.array(LedgerEntryView).describe('the latest entries') }),
  Campaign: z.object({ campaign: CampaignView }),
  Campaigns: list('campaigns', CampaignView),
  LeadAccepted: z.object({ lead: z.object({ id: Id, status: LeadStatusSchema }), workflowId: z.string() }),
  Lead: z.object({ lead: LeadDetailView }),
  Leads: list('leads', LeadView),
  ManualAccepted: z.object({
    lead: z.object({ id: Id, status: LeadStatusSchema }),
    action: z.string(),
    campaignId: Id.optional(),
  }),
  Offers: list('offers', BuyerOfferView),
  OfferCancelling: z.object({ offer: z.object({ id: Id, status: z.literal('cancelling') }) }),
  Timeline: z.object({ events: z.array(TimelineEventView) }),
  Eligibility: z.object({ offerId: Id, leadId: Id, price: z.number().int(), candidates: z.array(CandidateView) }),
  WonLeads: list('leads', WonLeadView),
  Dispute: z.object({ dispute: DisputeView }),
  Disputes: list('disputes', DisputeView),
  DisputeResolved: z.object({
    dispute: DisputeView,
    refund: Nullable(z.object({ entry: LedgerEntryView, balance: z.number().int() })),
    reoffer: Nullable(z.object({ leadId: Id, workflowId: z.string(), campaignId: Id })).optional(),
  }),
  BuyerPrice: z.object({ buyerPrice: Nullable(BuyerPriceView) }),
  BuyerPrices: z.object({ buyerPrices: z.array(BuyerPriceView) }),
  PipelineChange: z.object({ change: PipelineChangeView }),
  PipelineHistory: z.object({ assignmentId: Id, status: PipelineStatusSchema, changes: z.array(PipelineChangeView) }),
  Pipeline: z.object({ counts: StatusCounts, leads: z.array(PipelineItemView) }),
  Alerts: z.object({ alerts: z.array(AlertView) }),
  Health: z.object({ status: z.string() }),
  Ready: z.object({
    status: z.enum(['ready', 'not_ready']),
    database: z.boolean(),
    temporal: z.boolean(),
    bus: z
      .boolean()
      .describe("the feed's event bus is listening (Postgres LISTEN connection up; always true in one process)"),
  }),
};
