/**
 * The vocabulary of the product, defined once: the database, the API schemas,
 * the workflows and the web pages all use these unions.
 */
import type { LeadFilters } from './filters';
import type { Pause, WeeklySchedule } from './schedule';

export const DELIVERY_MODES = ['ping_post', 'push'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

export const PUSH_STRATEGIES = ['round_robin', 'priority', 'weighted'] as const;
export type PushStrategy = (typeof PUSH_STRATEGIES)[number];

export const BUYER_STATUSES = ['active', 'paused'] as const;
export type BuyerStatus = (typeof BUYER_STATUSES)[number];

export const CAMPAIGN_STATUSES = ['active', 'paused'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const LEAD_STATUSES = ['routing', 'offered', 'sold', 'manual_review', 'rejected'] as const;
export type LeadStatus = (typeof LEAD_STATUSES)[number];

/** A lead in one of these states needs nothing more from the system. */
export const FINAL_LEAD_STATUSES: readonly LeadStatus[] = ['sold', 'manual_review', 'rejected'];

export const OFFER_STATUSES = ['open', 'won', 'expired', 'cancelled'] as const;
export type OfferStatus = (typeof OFFER_STATUSES)[number];

/** How an offer came to be: a campaign auction, a push assignment, or an admin's direct sale. */
export const OFFER_KINDS = ['ping_post', 'push', 'manual'] as const;
export type OfferKind = (typeof OFFER_KINDS)[number];

/** Why a candidate buyer was not targeted by an offer. */
export const EXCLUSION_REASONS = [
  'not_subscribed',
  'outside_service_area',
  'insufficient_credits',
  'cap_reached',
  'paused',
  'not_in_campaign_pool',
  /** The buyer already bought this person (same lead, or same phone/email for the service line) inside the agency's window. */
  'already_bought',
  /** Outside the buyer's hours of operation, or inside one of its pauses (the snapshot says when it opens again). */
  'outside_hours',
  /** The buyer's lead filters refuse the lead (the snapshot names the failing rule). */
  'filter_mismatch',
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

/**
 * The one reason code of a suppressed contact (#23 item 3): a lead whose phone or email is on one of the
 * agency's suppression lists or (unless its campaign lets written consent pass) a Do-Not-Call list. Intake
 * sends it to manual review with it, a ping is rejected with it, a claim fails with it.
 */
export const SUPPRESSED = 'suppressed';

/** Why a claim did not win. Mapped to HTTP statuses by the API (see API.md). */
export const CLAIM_FAILURE_REASONS = [
  'lost_race',
  'offer_closed',
  'insufficient_credits',
  'cap_reached',
  'not_targeted',
  'eligibility_changed',
  'already_bought',
  SUPPRESSED,
] as const;
export type ClaimFailureReason = (typeof CLAIM_FAILURE_REASONS)[number];

/**
 * `refund`: a lead's price given back (a return); `card_refund`, `dispute`: a Stripe refund of a card top-up and a
 * card dispute, debits that may take a wallet below zero (the money has already left); `dispute_reversal`: a
 * dispute the agency won, credited back; `card_refund_reversal`: a card refund Stripe reports failed after it had
 * succeeded, its credits given back.
 */
export const LEDGER_ENTRY_KINDS = [
  'top_up',
  'charge',
  'refund',
  'adjustment',
  'card_refund',
  'dispute',
  'dispute_reversal',
  'card_refund_reversal',
  /** A winning endpoint bid held on the wallet while its post is out (#22): negative, keyed `<sale>:reserve`. */
  'reserve',
  /** A reserve given back (the post rejected or failed, or accepted and charged): exactly its reserve, once. */
  'release',
] as const;
export type LedgerEntryKind = (typeof LEDGER_ENTRY_KINDS)[number];

export const ASSIGNMENT_STATUSES = ['active', 'refunded'] as const;
export type AssignmentStatus = (typeof ASSIGNMENT_STATUSES)[number];

export const DISPUTE_STATUSES = ['open', 'approved', 'rejected'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];

export const DELIVERY_CHANNELS = ['dashboard', 'webhook', 'email', 'sms', 'voice'] as const;
export type DeliveryChannel = (typeof DELIVERY_CHANNELS)[number];
/** The channels that send (the dashboard needs no sending), in the order they are listed. */
export const SENDING_CHANNELS = ['webhook', 'email', 'sms', 'voice'] as const satisfies readonly DeliveryChannel[];

/**
 * How a ping-post offer is decided: the first valid claim, the highest sealed bid at close, or a ping tree of buyers'
 * own systems (#22: ordered tiers, each pinged together, the best bid at or above the tier's floor posted).
 */
export const AUCTION_KINDS = ['first_claim', 'highest_bid', 'ping_tree'] as const;
export type AuctionKind = (typeof AUCTION_KINDS)[number];

/** One tier of a ping tree: endpoint buyers pinged together, and the lowest bid it takes. */
interface PingTreeTier {
  buyerIds: string[];
  floor: number;
}

/** A campaign's ping tree (auction `ping_tree`): its tiers, in order. */
export interface PingTree {
  tiers: PingTreeTier[];
}

/** A post to a buyer's endpoint went out and its answer never came (#22): maybe taken, so a person decides. */
export const POST_UNKNOWN = 'post_unknown';

/** What the winner of a highest-bid auction pays: its own bid, or the next bid (never below the floor). */
export const AUCTION_PRICINGS = ['first_price', 'second_price'] as const;
export type AuctionPricing = (typeof AUCTION_PRICINGS)[number];

/** Why a bid was refused. */
export const BID_REFUSAL_REASONS = [
  'below_floor',
  'not_a_raise',
  'insufficient_credits',
  'not_targeted',
  'offer_closed',
  'not_an_auction',
] as const;
export type BidRefusalReason = (typeof BID_REFUSAL_REASONS)[number];

/** How an offer ended for one buyer, as the live feed tells it (a cancelled offer counts as expired). */
export const FEED_CLOSE_OUTCOMES = ['won_by_you', 'taken', 'expired'] as const;
export type FeedCloseOutcome = (typeof FEED_CLOSE_OUTCOMES)[number];

/** Who changed a buyer's settings (the audit trail). */
export const CHANGE_ACTORS = ['admin', 'buyer', 'system'] as const;
export type ChangeActor = (typeof CHANGE_ACTORS)[number];

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * How one delivery attempt ended: `delivered` (2xx), `failed` (retried unless
 * it was the last), `refused` (the SSRF guard: never retried), `gone` (410:
 * the endpoint is paused).
 */
export const DELIVERY_ATTEMPT_OUTCOMES = ['delivered', 'failed', 'refused', 'gone'] as const;
export type DeliveryAttemptOutcome = (typeof DELIVERY_ATTEMPT_OUTCOMES)[number];

/** @public The vocabulary as a list (its type is what the code uses). */
export const API_KEY_KINDS = ['admin', 'buyer', 'source'] as const;
export type ApiKeyKind = (typeof API_KEY_KINDS)[number];

/** Every event an offer's (or a lead's) timeline can hold. */
export const TIMELINE_EVENT_TYPES = [
  'targeted',
  'excluded',
  'viewed',
  'claim_attempted',
  'claim_failed',
  'won',
  'lost',
  'expired',
  'cancelled',
  'fell_through',
  'manual_review',
  'reoffered',
  'assigned',
  'rejected',
  'delivered',
  'delivery_failed',
  'refunded',
  /** Intake stored the lead; data holds its consent evidence. */
  'received',
  /** A sealed bid in a highest-bid auction (data: amount, requestId, raised). */
  'bid_placed',
  /** A buyer was paused by the system (e.g. consecutive delivery failures). */
  'buyer_paused',
  /** One attempt of a sending channel (data: channel, attempt, outcome, status, latencyMs, response, nextRetryMs, messageId, redelivery). */
  'delivery_attempted',
  /** An admin asked for a delivery to be sent again (data: channel, assignmentId, workflowId). */
  'redelivery_requested',
  /** An offer alert went out on one of the buyer's channels (data: channel, outcome, attempts). */
  'notified',
  /** One contact check of intake (data: check, result, latencyMs, and what it found: e164, phoneType, domain, mx). */
  'checked',
  /** A sale's consent certificate was claimed for its buyer (data: assignmentId, provider, attempts, answer). */
  'consent_claimed',
  /** A sale's certificate claim finally failed (data: assignmentId, provider, error, rule: flag | return). */
  'consent_claim_failed',
  /**
   * A buyer's endpoint was pinged (#22; data: domain/endpoints.ts `PingedEventData` – tier (a ping tree's), outcome,
   * latencyMs, bid; a refusal's reason in `reason`; the raw answer is in the endpoint log).
   */
  'pinged',
  /** The lead was posted to the winning endpoint buyer (data: bid, latencyMs, outcome, idempotencyKey). */
  'posted',
  /** The endpoint accepted the post: written by the sale's transaction, with the charge (data: bid, idempotencyKey). */
  'post_accepted',
  /** The endpoint rejected the post or the post failed; the reserve is released (data: outcome, latencyMs). */
  'post_rejected',
] as const;
export type TimelineEventType = (typeof TIMELINE_EVENT_TYPES)[number];

export interface Caps {
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export type CapPeriod = keyof Caps;
export const CAP_PERIODS: readonly CapPeriod[] = ['daily', 'weekly', 'monthly'];

/** Pricing rules of a campaign. All amounts are integer credits. */
export interface PriceRules {
  base: number;
  /** First matching tier wins: an exact ZIP, or a ZIP prefix ("900" matches 90001). */
  zipTiers?: { zips: string[]; price: number }[];
  /** Multipliers keyed by service-line key, e.g. { roofing: 1.5 }. */
  multipliers?: Record<string, number>;
  /** Added when a qualification answer matches, e.g. { question: 'homeowner', equals: 'yes', add: 5 }. */
  adjustments?: { question: string; equals: string | number | boolean; add: number }[];
}

/** The lead's fields as validated at intake. */
export interface LeadFields {
  firstName: string;
  lastName: string;
  phone: string;
  email: string;
  address?: string;
  city?: string;
  state?: string;
  zip: string;
  answers?: Record<string, string | number | boolean>;
}

/** The consent evidence a lead carries (TCPA): what the person agreed to, when, from where. */
export interface ConsentEvidence {
  text: string;
  /** ISO-8601 time of the consent. */
  timestamp: string;
  ip: string;
  userAgent: string;
  /** e.g. a TrustedForm or Jornaya certificate link. */
  certificateUrl?: string;
}

/** A sold lead as its buyer gets it: every field, and the consent evidence when there is some. */
export type WonLeadRecord = LeadFields & { id: string; consent?: ConsentEvidence };

/** Returns (disputes) rules of an agency. Absent fields: no rule. */
export interface ReturnRules {
  /** A lead may be returned this many days after the sale at most. */
  windowDays?: number;
  /** The reason codes a buyer may give; when set, a dispute must name one. */
  allowedReasons?: string[];
  /** Returns ÷ purchases over the last 30 days a buyer may reach (0..1). */
  maxReturnRate?: number;
}

/** What a buyer may change about itself (PATCH /v1/me). */
export interface SelfServiceLimits {
  /** Off: buyers change nothing themselves. Default on. */
  enabled?: boolean;
  /** Highest cap a buyer may set per period; a period with a maximum must have a cap. */
  maxCaps?: Caps;
  /** States a buyer may serve; when set, every state it lists must be one of them. */
  allowedStates?: string[];
  /** ZIP prefixes a buyer may serve; when set, every ZIP it lists must start with one. */
  allowedZipPrefixes?: string[];
  /** Buyers may set their own lead filters. Default off: the agency sets them. */
  allowFilters?: boolean;
}

/** Per-agency settings; every field has a default, so {} is a valid agency. */
export interface AgencySettings {
  /** Duplicate window in days (intake dedupe and "never the same person twice"); default 30, 0 = off. */
  duplicateWindowDays?: number;
  /** Refuse leads without consent evidence. Default false. */
  requireConsent?: boolean;
  /** Pause a buyer after this many consecutive failed deliveries; default 5, 0 = never. */
  autoPauseAfterFailures?: number;
  returns?: ReturnRules;
  selfService?: SelfServiceLimits;
  /** ISO 3166-1 alpha-2 region a phone number without a country code is read in; default US. */
  phoneCountry?: string;
  /**
   * Days a lead's personal fields are kept (#23 item 6): the daily `erase-expired-leads` job erases them from older
   * leads (db/erasure.ts). Absent: kept until erased by request (the default).
   */
  retentionDays?: number;
}

/** The longest retention period an agency may set: ten years. */
export const MAX_RETENTION_DAYS = 3650;

/** What an erasure erased: rows changed, per table (`leads`, `offer_events`, `endpoint_calls`…). */
export type ErasureCounts = Record<string, number>;

export const DEFAULT_DUPLICATE_WINDOW_DAYS = 30;
export const DEFAULT_AUTO_PAUSE_AFTER_FAILURES = 5;

/** A buyer as the eligibility rules see it. */
export interface BuyerProfile {
  id: string;
  status: BuyerStatus;
  serviceLines: string[];
  zipCodes: string[];
  states: string[];
  caps: Caps;
  /** Zone of its schedule (the loaders default it to the agency's). */
  timeZone?: string;
  /** Hours of operation (domain/schedule.ts); null or absent: always open. */
  schedule?: WeeklySchedule | null;
  /** Pauses with an end. */
  pauses?: Pause[];
  /** Lead filters (domain/filters.ts); null or absent: every lead. */
  filters?: LeadFilters | null;
}

/** What a buyer has bought so far in each cap period (in the agency's time zone). */
export type PeriodCounts = Record<CapPeriod, number>;

/** What a buyer marks a lead it bought as; `won_job` and `lost_job` close it. Never touches money. */
export const PIPELINE_STATUSES = ['new', 'contacted', 'appointment', 'quoted', 'won_job', 'lost_job'] as const;
export type PipelineStatus = (typeof PIPELINE_STATUSES)[number];

/** The channels an alert can go out on (the dashboard needs none: the feed and the page show it). */
export const ALERT_CHANNELS = ['webhook', 'email', 'sms', 'voice'] as const;
export type AlertChannel = (typeof ALERT_CHANNELS)[number];

/** What an alert is about. */
export const ALERT_KINDS = ['offer_opened', 'low_balance', 'recharge_failed'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** An alert row's state in the outbox. `skipped`: not sent on purpose (the offer closed first, the channel is not set up). */
export const ALERT_STATUSES = ['pending', 'sent', 'failed', 'skipped'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** How a buyer's own campaign price is set: a fixed price, or a percentage on the campaign's price. */
export const BUYER_PRICE_KINDS = ['fixed', 'percent'] as const;
export type BuyerPriceKind = (typeof BUYER_PRICE_KINDS)[number];
// ─── the supply side ─────────────────────────────────────────────────────────

export const SOURCE_STATUSES = ['active', 'paused'] as const;
export type SourceStatus = (typeof SOURCE_STATUSES)[number];

/** A payout rule: a fixed amount per sold lead, or a share (basis points) of the sale price. */
/** @public The vocabulary as a list (its type is what the code uses). */
export const PAYOUT_KINDS = ['fixed', 'share'] as const;
export type PayoutKind = (typeof PAYOUT_KINDS)[number];

/** Source ledger entries: payout at a sale, its reversal on an approved return, the agency paying the source, corrections. */
export const SOURCE_LEDGER_KINDS = ['payout', 'reversal', 'settlement', 'adjustment'] as const;
export type SourceLedgerKind = (typeof SOURCE_LEDGER_KINDS)[number];

/** What became of a source's lead, as the source may see it. */
export const SOURCE_OUTCOMES = ['pending', 'sold', 'unsold', 'returned'] as const;
export type SourceOutcome = (typeof SOURCE_OUTCOMES)[number];

// ─── contact checks (#23): phone numbers and email addresses ─────────────────

/**
 * Why intake (and a ping) refuses a lead's contact fields: the same codes in the
 * problem document of POST /v1/leads and /v1/posts and in a ping's answer.
 * @public The vocabulary as a list (its type is what the code uses).
 */
export const CONTACT_REFUSALS = ['invalid_phone', 'invalid_email', 'disposable_email'] as const;
export type ContactRefusal = (typeof CONTACT_REFUSALS)[number];

/** A phone number's type as libphonenumber's metadata knows it (`fixed_line_or_mobile`: the region does not tell). */
export const PHONE_TYPES = [
  'mobile',
  'fixed_line',
  'fixed_line_or_mobile',
  'voip',
  'toll_free',
  'premium_rate',
  'shared_cost',
  'personal_number',
  'pager',
  'uan',
  'voicemail',
  'unknown',
] as const;
export type PhoneType = (typeof PHONE_TYPES)[number];

/** How a buyer's deliveries carry the phone number: as the source sent it (default), or normalised to E.164. */
/** The shape of a buyer's webhook bodies: 1, the first (kept until it switches); 2, `{type, timestamp, data}` (domain/webhook-events.ts). */
export const WEBHOOK_PAYLOAD_VERSIONS = [1, 2] as const;
export type WebhookPayloadVersion = (typeof WEBHOOK_PAYLOAD_VERSIONS)[number];

export const PHONE_FORMATS = ['as_sent', 'e164'] as const;
export type PhoneFormat = (typeof PHONE_FORMATS)[number];

// ─── third-party scrubs (#23 item 5) ─────────────────────────────────────────

/** The third-party scrubs an agency may turn on: a TCPA litigator list, and the line's status (connected or not). */
export const SCRUBS = ['litigator', 'line_status'] as const;
export type Scrub = (typeof SCRUBS)[number];

/**
 * Why a scrub refuses a lead at intake: the number is a known TCPA litigator's (`litigator`, unless the agency's
 * rule sends it to review as `suppressed`), or its line is disconnected (`phone_disconnected`).
 * @public The vocabulary as a list (its type is what the code uses).
 */
export const SCRUB_REFUSALS = ['litigator', 'phone_disconnected'] as const;
export type ScrubRefusal = (typeof SCRUB_REFUSALS)[number];

/** What an agency's litigator scrub does with a hit: refuse the lead (422 `litigator`), or store it in review as `suppressed`. */
export const LITIGATOR_RULES = ['refuse', 'review'] as const;
export type LitigatorRule = (typeof LITIGATOR_RULES)[number];

/** Why a scrub did not run on a lead (the lead goes on, recorded `not_checked`). */
export const SCRUB_NOT_CHECKED = ['budget_exhausted', 'circuit_open', 'provider_failed', 'in_flight'] as const;
export type ScrubNotChecked = (typeof SCRUB_NOT_CHECKED)[number];

/** The checks intake runs, each on the timeline with its result and latency. */
export const CONTACT_CHECKS = ['phone', 'email', 'email_mx', 'suppression', 'consent_certificate', ...SCRUBS] as const;
type ContactCheck = (typeof CONTACT_CHECKS)[number];

/**
 * A check's result: `passed`; refused with a reason code (never stored: the lead is
 * refused); for the MX look-up also `unverified` (DNS did not answer in time or
 * failed: never blocks intake) and `skipped` (the look-up is off); for the
 * suppression lists `suppressed` (stored, sent to manual review) and `consented`
 * (on a Do-Not-Call list, passed on the lead's written consent by the campaign's rule); for a scrub `litigator`
 * and `phone_disconnected` (refused, or for a litigator in review by the agency's rule), `unverified` (the provider
 * could not tell), `skipped` (not a number it covers) and `not_checked` (over budget, circuit open, provider down:
 * the lead goes on).
 */
export const CONTACT_CHECK_RESULTS = [
  'passed',
  ...CONTACT_REFUSALS,
  'unverified',
  'skipped',
  SUPPRESSED,
  'consented',
  ...SCRUB_REFUSALS,
  'not_checked',
] as const;
type ContactCheckResult = (typeof CONTACT_CHECK_RESULTS)[number];

export interface ContactCheckRecord {
  check: ContactCheck;
  result: ContactCheckResult;
  /** Time the check took, in milliseconds (fractions kept to 0.001). */
  latencyMs: number;
  detail?: string;
  /** phone */
  e164?: string;
  phoneType?: PhoneType;
  /** email, email_mx */
  domain?: string;
  /** email_mx: the mail exchangers found (at most 5). */
  mx?: string[];
  /** suppression: the lists that hold the phone or the email (`state_dnc:TX` for a state's list). */
  lists?: string[];
  /** consent_certificate: the certificate's provider (`trustedform`, `jornaya`); litigator, line_status: the provider's adapter (`tcpa_litigator_list`, `real_phone_validation`). */
  provider?: ConsentProvider | string;
  /** consent_certificate: the certificate's age at intake, in seconds. */
  ageSeconds?: number;
  /** litigator, line_status: answered from today's cache (no call made). */
  cached?: boolean;
  /** litigator, line_status: the provider's own status word (`TCPA`, `connected-75`…). */
  status?: string;
  /** not_checked: why the scrub did not run. */
  notChecked?: ScrubNotChecked;
}

export const PING_DECISIONS = ['accepted', 'rejected'] as const;
export type PingDecision = (typeof PING_DECISIONS)[number];

/** Why a ping was rejected: the campaign refuses it, a contact check refuses what it carried, or no buyer would take it now. */
export const PING_REJECTIONS = [
  'campaign_paused',
  'source_paused',
  'no_eligible_buyer',
  ...CONTACT_REFUSALS,
  SUPPRESSED,
] as const;
export type PingRejection = (typeof PING_REJECTIONS)[number];

/**
 * Why intake refused a lead (POST /v1/leads, POST /v1/posts): the problem's code, or `suppressed` for a lead
 * stored only to be held in review, offered to nobody. Each is recorded (db/refusals.ts) and counted by the
 * reports with the pings' rejections (#23 item 7).
 */
export const INTAKE_REFUSALS = [
  'campaign_paused',
  ...CONTACT_REFUSALS,
  'consent_required',
  'duplicate_lead',
  SUPPRESSED,
  'post_contradicts_ping',
] as const;
export type IntakeRefusal = (typeof INTAKE_REFUSALS)[number];
/** A refusal the reports count: a lead's at intake or a ping's. */
export type RefusalReason = IntakeRefusal | PingRejection;

export interface PayoutRule {
  kind: PayoutKind;
  /** fixed: credits per sold lead. */
  amount?: number;
  /** share: basis points of the sale price (2500 = 25 %), rounded down to whole credits. */
  shareBps?: number;
}

// ─── suppression and Do-Not-Call lists (#23 item 3) ──────────────────────────

/** An agency's own lists: its opt-outs, known litigators, and the people of leads returned as fraud. */
export const AGENCY_SUPPRESSION_LISTS = ['do_not_contact', 'litigator', 'returned_fraud'] as const;
export type AgencySuppressionList = (typeof AGENCY_SUPPRESSION_LISTS)[number];

/** The platform's lists, kept once for every agency: the national registry and the states' own. */
export const DNC_LISTS = ['national_dnc', 'state_dnc'] as const;
export type DncList = (typeof DNC_LISTS)[number];

/** What a suppression entry holds the HMAC of. */
export const SUPPRESSION_KINDS = ['phone', 'email'] as const;
export type SuppressionKind = (typeof SUPPRESSION_KINDS)[number];

/** How an entry got on an agency's list: the API, a CSV upload, an approved fraud return. */
export const SUPPRESSION_SOURCES = ['api', 'csv', 'return'] as const;
export type SuppressionSource = (typeof SUPPRESSION_SOURCES)[number];

/**
 * A campaign's rule for a lead on a Do-Not-Call list: `suppress` it (the default), or let it pass when it
 * carries express written consent (`consent_passes`). The agency's own lists are never passed.
 */
export const DNC_RULES = ['suppress', 'consent_passes'] as const;
export type DncRule = (typeof DNC_RULES)[number];

// ─── consent certificates (#23 item 4) ───────────────────────────────────────

/** The consent-certificate providers: ActiveProspect TrustedForm and Verisk Jornaya (LeadiD). */
export const CONSENT_PROVIDERS = ['trustedform', 'jornaya'] as const;
export type ConsentProvider = (typeof CONSENT_PROVIDERS)[number];

/**
 * Why intake refuses a lead of a campaign that requires a certificate (a 422 with the code, nothing stored): none
 * sent, not the provider's shape, or older than the campaign allows.
 * @public The vocabulary as a list (its type is what the code uses).
 */
export const CONSENT_REFUSALS = ['consent_missing', 'consent_invalid', 'consent_expired'] as const;
export type ConsentRefusal = (typeof CONSENT_REFUSALS)[number];

/** What a certificate claim that finally failed does to the sale: keep it with a flag, or return it (one refund). */
export const CONSENT_CLAIM_FAILURE_RULES = ['flag', 'return'] as const;
type ConsentClaimFailureRule = (typeof CONSENT_CLAIM_FAILURE_RULES)[number];

/** A campaign's certificate rule: the provider, the oldest certificate intake takes, what a failed claim does. */
export interface ConsentCertificateRule {
  provider: ConsentProvider;
  maxAgeSeconds: number;
  onClaimFailure: ConsentClaimFailureRule;
}

/** A claim's state: under way (an attempt is out), claimed, or failed after its last attempt. */
export const CONSENT_CLAIM_STATUSES = ['pending', 'claimed', 'failed'] as const;
export type ConsentClaimStatus = (typeof CONSENT_CLAIM_STATUSES)[number];

/** The reason code of the automatic return a failed claim opens (rule `return`). */
export const CONSENT_CLAIM_FAILED = 'consent_claim_failed';

/** A sale's certificate claim as its buyer sees it (webhook payload `consentClaim`, the dashboard lead). */
export interface ConsentClaimRecord {
  provider: ConsentProvider;
  status: ConsentClaimStatus;
  /** The provider's answer (its JSON), kept as it came. */
  answer: unknown;
  error: string | null;
  /** `flag`: the claim failed and the sale stands, flagged. */
  flagged: boolean;
  claimedAt: string | null;
}
