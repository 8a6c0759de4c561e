/**
 * The zod schemas that several route modules share: the vocabularies
 * (domain/types, each one named schema), paging and ranges, the problem
 * document, caps, and the lead and offer shapes that leads, offers, the buyer's
 * own pages and the live feed all show (the claim and bid answers among them).
 * Each route module's own schemas are beside it (api/routes/<name>.schemas.ts);
 * the building blocks are in api/schema-blocks.ts.
 *
 * The schemas are the single source for request validation, the TypeScript
 * types of handlers and the OpenAPI document: every exported zod schema here
 * and in api/routes/*.schemas.ts is a named component (api/openapi-schemas.ts).
 * Request objects are `.strict()` (an unknown field is a 400 that names it).
 */
import { z } from 'zod';

import type { WonClaim } from '../claims/vocabulary';
import { ENDPOINT_CALL_OUTCOMES, type PingedEventData as PingedEventDataShape } from '../domain/endpoints';
import { FILTER_MATCHES } from '../domain/filters';
import {
  ALERT_CHANNELS,
  ALERT_KINDS,
  ALERT_STATUSES,
  ASSIGNMENT_STATUSES,
  AUCTION_KINDS,
  AUCTION_PRICINGS,
  BID_REFUSAL_REASONS,
  BUYER_PRICE_KINDS,
  BUYER_STATUSES,
  CAMPAIGN_STATUSES,
  CHANGE_ACTORS,
  CLAIM_FAILURE_REASONS,
  CONSENT_PROVIDERS,
  CONTACT_CHECK_RESULTS,
  CONTACT_CHECKS,
  type ContactCheckRecord,
  DELIVERY_ATTEMPT_OUTCOMES,
  DELIVERY_CHANNELS,
  DELIVERY_MODES,
  DELIVERY_STATUSES,
  DISPUTE_STATUSES,
  DNC_RULES,
  EXCLUSION_REASONS,
  INTAKE_REFUSALS,
  LEAD_STATUSES,
  LEDGER_ENTRY_KINDS,
  OFFER_KINDS,
  OFFER_STATUSES,
  PHONE_FORMATS,
  PHONE_TYPES,
  PING_DECISIONS,
  PING_REJECTIONS,
  PIPELINE_STATUSES,
  PUSH_STRATEGIES,
  type RefusalReason,
  SCRUB_NOT_CHECKED,
  SENDING_CHANNELS,
  SOURCE_LEDGER_KINDS,
  SOURCE_OUTCOMES,
  SOURCE_STATUSES,
  SUPPRESSED,
  TIMELINE_EVENT_TYPES,
} from '../domain/types';
import { HttpUrl, Id, int, IsoTime, recordKey, State, text, Zip } from './schema-blocks';

// ─── the vocabularies (domain/types), each one named schema ──────────────────
export const AlertChannelSchema = z.enum(ALERT_CHANNELS);
export const AlertKindSchema = z.enum(ALERT_KINDS);
export const AlertStatusSchema = z.enum(ALERT_STATUSES);
export const AssignmentStatusSchema = z.enum(ASSIGNMENT_STATUSES);
export const AuctionKindSchema = z.enum(AUCTION_KINDS);
export const AuctionPricingSchema = z.enum(AUCTION_PRICINGS);
export const ConsentProviderSchema = z
  .enum(CONSENT_PROVIDERS)
  .describe('a consent-certificate provider: ActiveProspect TrustedForm, or Verisk Jornaya (LeadiD)');
export const DncRuleSchema = z
  .enum(DNC_RULES)
  .describe(
    "a lead on a Do-Not-Call list: `suppress` it (default), or let it pass when it carries express written consent (`consent_passes`); the agency's own suppression lists always suppress",
  );
export const BidRefusalReasonSchema = z.enum(BID_REFUSAL_REASONS);
export const BuyerPriceKindSchema = z.enum(BUYER_PRICE_KINDS);
export const BuyerStatusSchema = z.enum(BUYER_STATUSES);
export const CampaignStatusSchema = z.enum(CAMPAIGN_STATUSES);
export const ChangeActorSchema = z.enum(CHANGE_ACTORS);
export const ClaimFailureReasonSchema = z.enum(CLAIM_FAILURE_REASONS);
export const ContactCheckSchema = z.enum(CONTACT_CHECKS);
export const ContactCheckResultSchema = z.enum(CONTACT_CHECK_RESULTS);
export const DeliveryAttemptOutcomeSchema = z.enum(DELIVERY_ATTEMPT_OUTCOMES);
export const DeliveryChannelSchema = z.enum(DELIVERY_CHANNELS);
export const DeliveryModeSchema = z.enum(DELIVERY_MODES);
export const DeliveryStatusSchema = z.enum(DELIVERY_STATUSES);
export const DisputeStatusSchema = z.enum(DISPUTE_STATUSES);
export const ExclusionReasonSchema = z.enum(EXCLUSION_REASONS);
export const FilterMatchSchema = z.enum(FILTER_MATCHES);
export const LeadStatusSchema = z.enum(LEAD_STATUSES);
/** A lead as intake and a post answer it: its id and status, and `suppressed` when it went to review for that (#23). */
export const AcceptedLead = z.object({
  id: Id,
  status: LeadStatusSchema,
  reason: z
    .literal(SUPPRESSED)
    .optional()
    .describe(
      'the phone or email is on a suppression or Do-Not-Call list: stored, offered to no buyer, in manual review',
    ),
});
export const LedgerEntryKindSchema = z.enum(LEDGER_ENTRY_KINDS);
export const OfferKindSchema = z.enum(OFFER_KINDS);
export const OfferStatusSchema = z.enum(OFFER_STATUSES);
export const PingDecisionSchema = z.enum(PING_DECISIONS);
export const PhoneFormatSchema = z.enum(PHONE_FORMATS);
export const PhoneTypeSchema = z.enum(PHONE_TYPES);
export const PingRejectionSchema = z.enum(PING_REJECTIONS);
/** A refusal the reports count: a lead's at intake (INTAKE_REFUSALS) or a ping's (PING_REJECTIONS), each code once. */
export const RefusalReasonSchema = z.enum([...new Set<RefusalReason>([...INTAKE_REFUSALS, ...PING_REJECTIONS])] as [
  RefusalReason,
  ...RefusalReason[],
]);
/** One reason's count over a range: leads refused at intake, pings rejected (db/refusals.ts). */
export const RefusalCount = z.object({
  reason: RefusalReasonSchema,
  leads: z.number().int().describe('leads refused at intake (`suppressed`: stored, held in review)'),
  pings: z.number().int().describe('pings rejected'),
});
export const PipelineStatusSchema = z.enum(PIPELINE_STATUSES);
export const PushStrategySchema = z.enum(PUSH_STRATEGIES);
export const SendingChannelSchema = z.enum(SENDING_CHANNELS);
export const SourceLedgerKindSchema = z.enum(SOURCE_LEDGER_KINDS);
export const SourceOutcomeSchema = z.enum(SOURCE_OUTCOMES);
export const SourceStatusSchema = z.enum(SOURCE_STATUSES);
export const TimelineEventTypeSchema = z.enum(TIMELINE_EVENT_TYPES);

// ─── request parts: ids, pages, day ranges, caps ─────────────────────────────
export const IdParams = z.object({ id: Id }).strict();
export const NoQuery = z.object({}).strict();
export const PageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('page size (1–200, default 50)'),
    cursor: z.string().max(512).optional().describe('opaque: the nextCursor of the previous page'),
  })
  .strict();
/** `YYYY-MM-DD`, a day in the agency's time zone. */
const Day = z.iso.date().describe('a day (YYYY-MM-DD) in the agency time zone');
export const RangeQuery = z
  .object({ from: Day.optional().describe('first day, inclusive'), to: Day.optional().describe('last day, inclusive') })
  .strict();
export const RangePageQuery = PageQuery.extend(RangeQuery.shape).strict();
export const CapsSchema = z
  .object({
    daily: int(0, 1_000_000).optional(),
    weekly: int(0, 1_000_000).optional(),
    monthly: int(0, 1_000_000).optional(),
  })
  .strict()
  .describe('leads per day / ISO week / month, in the agency time zone; absent = unlimited');

// ─── the problem document ────────────────────────────────────────────────────
/**
 * The members a problem document carries beyond the standard ones, each with the codes that carry it. One
 * definition: `Problem`'s constructor accepts only these (api/problem.ts), and the document declares them.
 */
const ProblemExtensions = z.object({
  retryAfter: z.number().int().optional().describe('`rate_limited`: seconds to wait (as the Retry-After header)'),
  requestId: z.string().optional().describe('`claim_pending`, `bid_pending`: the attempt to retry with'),
  duplicateOf: Id.optional().describe('`duplicate_lead`: the lead this one duplicates'),
  leadId: Id.optional().describe(
    '`ping_already_posted`: the lead the ping became; `service_unavailable` on intake: the stored lead whose routing did not start',
  ),
  expiredAt: IsoTime.optional().describe('`ping_expired`: when the ping expired'),
  leadStatus: LeadStatusSchema.optional().describe("`not_in_manual_review`: the lead's status now"),
  offerStatus: OfferStatusSchema.optional().describe("`offer_not_open`: the offer's status now"),
  offerId: Id.optional().describe('`bid_required`: the auction to bid on'),
  balance: z
    .number()
    .int()
    .optional()
    .describe(
      "`settlement_exceeds_balance`, `adjustment_exceeds_balance`: what the source is owed; `refund_exceeds_balance`: the buyer's balance",
    ),
  refundable: z
    .number()
    .int()
    .optional()
    .describe('`refund_exceeds_payment`: the credits the payment has left to refund'),
  stripeCode: z.string().nullable().optional().describe("`stripe_unavailable`: Stripe's error code, when it gave one"),
  reason: z.string().optional().describe('`stripe_event_refused`: why the event was not applied'),
  errorId: z.string().optional().describe('`internal_error`: the id under which the error was logged'),
});
export type ProblemExtensionValues = Partial<z.input<typeof ProblemExtensions>>;

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  errors: z
    .array(
      z.object({
        path: z.string(),
        message: z.string(),
        in: z.string().optional(),
        position: z
          .number()
          .int()
          .optional()
          .describe(
            'in text with a syntax (a template, a JSON path, a JSONata expression): the 0-based character of the error',
          ),
      }),
    )
    .optional(),
  ...ProblemExtensions.shape,
});

// ─── the lead: intake, the sources' posts, the won lead ──────────────────────
/**
 * Shape only (length, text a database stores): whether the number and the address are real is
 * the contact checks' answer (422 `invalid_phone`, `invalid_email`, `disposable_email`), not a
 * regex's (api/contact-gate.ts).
 */
const Phone = text(40).describe(
  'the phone number as the person gave it, e.g. "(512) 555-0100" or "+44 20 7946 0018"; checked and normalised to E.164 at intake',
);
const LeadEmail = text(254).describe('an email address (RFC 5322 addr-spec); checked at intake');
export const LeadFieldsSchema = z
  .object({
    firstName: text(100),
    lastName: text(100),
    phone: Phone,
    email: LeadEmail,
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
/** One contact check of intake as the lead and its timeline show it (domain/types.ts ContactCheckRecord). */
export const ContactCheckView = z
  .object({
    check: ContactCheckSchema,
    result: ContactCheckResultSchema,
    latencyMs: z.number().nonnegative().describe('how long the check took, in milliseconds'),
    detail: z.string().optional(),
    e164: z.string().optional().describe('phone: the number in E.164'),
    phoneType: PhoneTypeSchema.optional().describe("phone: its type from libphonenumber's metadata"),
    domain: z.string().optional().describe('email, email_mx: the domain of the address'),
    mx: z.array(z.string()).optional().describe('email_mx: the mail exchangers found'),
    lists: z
      .array(z.string())
      .optional()
      .describe('suppression: the lists that hold the phone or email (`state_dnc:TX` for a state list)'),
    provider: z
      .string()
      .optional()
      .describe(
        'consent_certificate: the certificate provider (`trustedform`, `jornaya`); litigator, line_status: the provider adapter (`tcpa_litigator_list`, `real_phone_validation`)',
      ),
    ageSeconds: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("consent_certificate: the certificate's age at intake, in seconds"),
    cached: z.boolean().optional().describe("litigator, line_status: answered from today's cache, no call made"),
    status: z.string().optional().describe("litigator, line_status: the provider's own status word"),
    notChecked: z
      .enum(SCRUB_NOT_CHECKED)
      .optional()
      .describe('not_checked: why the scrub did not run (the lead went on)'),
  })
  .strict() satisfies z.ZodType<ContactCheckRecord>;
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
export const FullLead = LeadFieldsSchema.extend({ id: Id, consent: ConsentSchema.optional() }).describe(
  'every field of the lead, and its consent evidence',
);

// ─── offers and their answers, over REST and the feed alike ──────────────────
export const RequestId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, '1 to 128 of A-Z a-z 0-9 . _ : -')
  .describe('the client id of this claim attempt: a retry with the same id is the same attempt');
/** What a buyer sees of an offer before it pays: never a field outside the campaign's preview set. */
export const BuyerOfferView = z.object({
  id: Id,
  leadId: Id,
  preview: z.record(z.string(), z.unknown()),
  price: z.number().int().describe('first claim: the price; highest bid: the floor'),
  auction: AuctionKindSchema.describe('first_claim: claim it; highest_bid: bid on it (POST /v1/offers/:id/bids)'),
  closesAt: IsoTime,
});
export const TimelineEventView = z.object({
  type: TimelineEventTypeSchema,
  at: IsoTime,
  offerId: Id.optional(),
  buyerId: Id.optional(),
  reason: z.string().optional(),
  data: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("the event's details, by its type (a `pinged` event's: PingedEventData)"),
});
/** A `pinged` event's `data`: domain/endpoints.ts `PingedEventData` (checked here, so the two cannot drift). */
export const PingedEventData = z
  .object({
    tier: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        "a ping tree's tier the buyer was pinged in (1 = the first); absent for a highest-bid auction's endpoint bidders",
      ),
    outcome: z.enum(ENDPOINT_CALL_OUTCOMES),
    latencyMs: z.number().int(),
    bid: z.number().int().nullable().describe('the bid of an accepted answer; null otherwise'),
  })
  .describe(
    "a `pinged` event's data (the buyer's reason for a refusal is the event's `reason`)",
  ) satisfies z.ZodType<PingedEventDataShape>;
/** …and the other way: the schema has every field the shape has. */
type _PingedFitsSchema = Fits<PingedEventDataShape, z.infer<typeof PingedEventData>>;
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
