/**
 * The data model. Money rules live in the database as well as in the code:
 * a balance never goes negative (but for a Stripe refund or dispute of money
 * already spent), every ledger entry moves the balance in the
 * same statement (trigger in the migration), an idempotency key charges once,
 * an exclusive lead has one active assignment, an offer never has more
 * winners than it allows.
 */
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

import type { MembershipRole, OneTimePurpose, OrgKind, SignInMethod } from '../domain/accounts';
import type { AuditAction, AuditActorType, AuditChanges, AuditObjectType } from '../domain/audit';
import type { AlertSettings } from '../domain/buyer-side';
import type { FieldMapping } from '../domain/delivery';
import type { TargetVerdict } from '../domain/eligibility';
import type { EndpointTemplate, ResponseRules } from '../domain/endpoint-mapping';
import type {
  EndpointAuthKind,
  EndpointCallKind,
  EndpointCallOutcome,
  EndpointFormat,
  EndpointMethod,
  EndpointStatus,
  EndpointStatusMethod,
  EndpointStep,
  LoggedRequest,
  LoggedResponse,
} from '../domain/endpoints';
import type { LeadFilters } from '../domain/filters';
import type {
  PaymentKind,
  PaymentStatus,
  ReconcileFinding,
  RefundStatus,
  StripeEventOutcome,
} from '../domain/payments';
import type { Pause, WeeklySchedule } from '../domain/schedule';
import type {
  AgencySettings,
  AgencySuppressionList,
  AlertChannel,
  AlertKind,
  AlertStatus,
  ApiKeyKind,
  AssignmentStatus,
  AuctionKind,
  AuctionPricing,
  BuyerPriceKind,
  BuyerStatus,
  CampaignStatus,
  CapPeriod,
  Caps,
  ChangeActor,
  ClaimFailureReason,
  ConsentCertificateRule,
  ConsentClaimStatus,
  ConsentEvidence,
  ConsentProvider,
  ContactCheckRecord,
  DeliveryAttemptOutcome,
  DeliveryChannel,
  DeliveryMode,
  DeliveryStatus,
  DisputeStatus,
  DncList,
  DncRule,
  ErasureCounts,
  ExclusionReason,
  IntakeRefusal,
  LeadFields,
  LeadStatus,
  LedgerEntryKind,
  LitigatorRule,
  OfferKind,
  OfferStatus,
  PayoutKind,
  PhoneFormat,
  PhoneType,
  PingDecision,
  PingTree,
  PipelineStatus,
  PriceRules,
  PushStrategy,
  Scrub,
  SourceLedgerKind,
  SourceStatus,
  SuppressionKind,
  SuppressionSource,
  TimelineEventType,
  WebhookPayloadVersion,
} from '../domain/types';

const id = () => uuid('id').primaryKey().defaultRandom();
const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const updatedAt = () =>
  timestamp('updated_at', { withTimezone: true, mode: 'date' })
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date());
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const agencies = pgTable('agencies', {
  id: id(),
  name: text('name').notNull(),
  /** IANA zone: caps and reports count days, weeks and months here. */
  timeZone: text('time_zone').notNull().default('UTC'),
  /** Dedupe window, consent, auto-pause, returns and self-service rules (domain/types.ts AgencySettings). */
  settings: jsonb('settings').$type<AgencySettings>().notNull().default({}),
  /** Owners and admins must sign in with a second factor (#20). */
  requireTwoFactor: boolean('require_two_factor').notNull().default(false),
  createdAt: createdAt(),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    kind: text('kind').$type<ApiKeyKind>().notNull(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    buyerId: uuid('buyer_id').references(() => buyers.id),
    /** Set exactly for `source` keys (CHECK api_keys_source_owner). */
    sourceId: uuid('source_id').references(() => sources.id),
    /** SHA-256 of the key; the key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull(),
    /** The first characters, so staff can tell keys apart. */
    prefix: text('prefix').notNull(),
    /** What people call it. */
    name: text('name').notNull(),
    /** The role the key acts as (CHECK api_keys_role_fits_kind): never above its creator's. */
    role: text('role').$type<MembershipRole>().notNull(),
    /** The person who made it; null for keys made before accounts until the first owner adopts them. */
    createdByUserId: uuid('created_by_user_id').references((): AnyPgColumn => users.id),
    expiresAt: ts('expires_at'),
    lastUsedAt: ts('last_used_at'),
    createdAt: createdAt(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_uq').on(t.keyHash)],
);

export const serviceLines = pgTable(
  'service_lines',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    key: text('key').notNull(),
    name: text('name').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('service_lines_agency_key_uq').on(t.agencyId, t.key)],
);

export interface DeliverySettings {
  webhookUrl?: string;
  email?: string;
  /** How the webhook's JSON is shaped for this buyer's system. */
  fieldMapping?: FieldMapping;
  /** A phone number for the SMS channel (sent through the configured provider). */
  smsTo?: string;
  /** A phone number for the voice channel (a call announcing the lead, through the configured provider). */
  voiceTo?: string;
  /** The lead's phone number as the source sent it (default) or in E.164 (#23). */
  phoneFormat?: PhoneFormat;
  /** The shape of its webhook bodies (domain/webhook-events.ts); absent: 1. */
  payloadVersion?: WebhookPayloadVersion;
}

export const buyers = pgTable(
  'buyers',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    name: text('name').notNull(),
    status: text('status').$type<BuyerStatus>().notNull().default('active'),
    pauseReason: text('pause_reason'),
    /** Who paused the buyer: a buyer may resume only its own pause. */
    pausedBy: text('paused_by').$type<ChangeActor>(),
    /**
     * HMAC-SHA256 key of its webhook signatures, sealed by the key store (lib/key-store.ts, purpose
     * `buyer.webhook_secret`, context the buyer's id); shown once (creation, rotation), never in a buyer view.
     */
    webhookSecretSealed: text('webhook_secret_sealed'),
    /** After a rotation, the replaced secret (sealed) still signs (a second `v1,` signature) until `webhookSecretPreviousUntil`. */
    webhookSecretPreviousSealed: text('webhook_secret_previous_sealed'),
    webhookSecretPreviousUntil: ts('webhook_secret_previous_until'),
    /** Before migration 0008 secrets were stored in clear: what is left here is sealed (and cleared) at every start. */
    webhookSecretPlaintext: text('webhook_secret_plaintext'),
    webhookSecretPreviousPlaintext: text('webhook_secret_previous_plaintext'),
    /** Buyers from before Standard Webhooks also get `X-Leadwire-Signature` until then (null: never, or rotated since). */
    legacySignatureUntil: ts('legacy_signature_until'),
    /** The webhook endpoint answered 410 Gone: no webhook is sent until its URL is changed or it is resumed. */
    webhookPausedAt: ts('webhook_paused_at'),
    webhookPauseReason: text('webhook_pause_reason'),
    /** Failed deliveries in a row (after retries); reset by a successful one. Pauses the buyer at the agency's limit. */
    consecutiveDeliveryFailures: integer('consecutive_delivery_failures').notNull().default(0),
    serviceLines: text('service_lines')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    zipCodes: text('zip_codes')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    states: text('states')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    caps: jsonb('caps').$type<Caps>().notNull().default({}),
    delivery: jsonb('delivery').$type<DeliverySettings>().notNull().default({}),
    /** IANA zone of its schedule; null: the agency's. */
    timeZone: text('time_zone'),
    /** Hours of operation per weekday; null: always open. */
    schedule: jsonb('schedule').$type<WeeklySchedule>(),
    /** Pauses with an end ("back Monday 8:00"); past ones are ignored. */
    pauses: jsonb('pauses').$type<Pause[]>().notNull().default([]),
    /** Lead filters (all/any of rules on fields and answers); null: every lead. */
    filters: jsonb('filters').$type<LeadFilters>(),
    /** Offer and balance alerts: channels, minimum price, quiet hours. */
    alerts: jsonb('alerts').$type<AlertSettings>().notNull().default({}),
    /** Below this balance one alert goes out (re-armed by a balance back at or above it); null: none. */
    lowBalanceThreshold: integer('low_balance_threshold'),
    /** Set by the wallet trigger (migration 0005): false between an alert and the next time the balance is back. */
    lowBalanceArmed: boolean('low_balance_armed').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('buyers_agency_idx').on(t.agencyId),
    check(
      'buyers_previous_secret_window',
      sql`(${t.webhookSecretPreviousSealed} IS NULL AND ${t.webhookSecretPreviousPlaintext} IS NULL) = (${t.webhookSecretPreviousUntil} IS NULL)`,
    ),
    check(
      'buyers_webhook_secret_sealed',
      sql`${t.webhookSecretSealed} IS NULL OR ${t.webhookSecretSealed} LIKE 'lwk1.%'`,
    ),
    check(
      'buyers_webhook_secret_previous_sealed',
      sql`${t.webhookSecretPreviousSealed} IS NULL OR ${t.webhookSecretPreviousSealed} LIKE 'lwk1.%'`,
    ),
    check(
      'buyers_low_balance_threshold_non_negative',
      sql`${t.lowBalanceThreshold} IS NULL OR ${t.lowBalanceThreshold} >= 0`,
    ),
  ],
);

export const wallets = pgTable(
  'wallets',
  {
    buyerId: uuid('buyer_id')
      .primaryKey()
      .references(() => buyers.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    /** Moved only by the ledger trigger; equals the sum of the buyer's entries. */
    balance: integer('balance').notNull().default(0),
    updatedAt: updatedAt(),
  },
  // The overdraft rule is in the ledger trigger (migration 0016): a debit may not take the balance below zero,
  // except a Stripe refund or dispute (money that has already left).
);

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: id(),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => wallets.buyerId),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    kind: text('kind').$type<LedgerEntryKind>().notNull(),
    /** Signed: top-ups and refunds positive, charges negative. */
    amount: integer('amount').notNull(),
    /** Set by the trigger: the wallet balance right after this entry. */
    balanceAfter: integer('balance_after').notNull().default(0),
    idempotencyKey: text('idempotency_key').notNull(),
    leadId: uuid('lead_id'),
    offerId: uuid('offer_id'),
    reference: text('reference'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('ledger_idempotency_uq').on(t.idempotencyKey),
    index('ledger_buyer_idx').on(t.buyerId, t.createdAt),
    index('ledger_lead_idx')
      .on(t.leadId)
      .where(sql`${t.leadId} IS NOT NULL`),
    check(
      'ledger_amount_sign',
      sql`(${t.kind} IN ('charge','card_refund','dispute','reserve') AND ${t.amount} < 0) OR (${t.kind} IN ('top_up','refund','dispute_reversal','card_refund_reversal','release') AND ${t.amount} > 0) OR ${t.kind} = 'adjustment'`,
    ),
  ],
);

export const campaigns = pgTable(
  'campaigns',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    name: text('name').notNull(),
    serviceLine: text('service_line').notNull(),
    mode: text('mode').$type<DeliveryMode>().notNull(),
    pushStrategy: text('push_strategy').$type<PushStrategy>().notNull().default('round_robin'),
    claimWindowSeconds: integer('claim_window_seconds').notNull().default(60),
    previewFields: text('preview_fields').array().notNull(),
    price: jsonb('price').$type<PriceRules>().notNull(),
    maxWinners: integer('max_winners').notNull().default(1),
    fallbackCampaignId: uuid('fallback_campaign_id'),
    caps: jsonb('caps').$type<Caps>().notNull().default({}),
    status: text('status').$type<CampaignStatus>().notNull().default('active'),
    /** Ping post only: first valid claim wins, or the highest sealed bid at close. */
    auction: text('auction').$type<AuctionKind>().notNull().default('first_claim'),
    /** Highest bid: the lowest acceptable bid (null: the lead's computed price). */
    floorPrice: integer('floor_price'),
    pricing: text('pricing').$type<AuctionPricing>().notNull().default('first_price'),
    /** Auction `ping_tree` (#22): the ordered tiers of endpoint buyers and their floors (CHECK campaigns_ping_tree_set). */
    pingTree: jsonb('ping_tree').$type<PingTree>(),
    /**
     * Auction `highest_bid` only, exclusive leads (#22): buyers whose endpoints are pinged when the offer opens and bid in
     * its window beside the feed's buyers (CHECK campaigns_endpoint_bidders_highest_bid); null: none.
     */
    endpointBidders: jsonb('endpoint_bidders').$type<string[]>(),
    /** A lead on a Do-Not-Call list: suppressed, or passed when it carries express written consent (#23). */
    dncRule: text('dnc_rule').$type<DncRule>().notNull().default('suppress'),
    /** A consent certificate required at intake and claimed at the sale (#23 item 4); null: none required. */
    consentCertificate: jsonb('consent_certificate').$type<ConsentCertificateRule>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('campaigns_agency_idx').on(t.agencyId),
    check('campaigns_max_winners_positive', sql`${t.maxWinners} >= 1`),
    check('campaigns_window_positive', sql`${t.claimWindowSeconds} >= 1`),
    check('campaigns_ping_tree_set', sql`${t.auction} <> 'ping_tree' OR ${t.pingTree} IS NOT NULL`),
    check(
      'campaigns_endpoint_bidders_highest_bid',
      sql`${t.endpointBidders} IS NULL OR (${t.auction} = 'highest_bid' AND ${t.maxWinners} = 1)`,
    ),
  ],
);

/** The campaign's optional buyer pool; priority and weight steer push delivery. */
export const campaignBuyers = pgTable(
  'campaign_buyers',
  {
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    priority: integer('priority').notNull().default(0),
    weight: integer('weight').notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.buyerId] })],
);

/** Round-robin rotation: the last buyer served, per campaign, so it survives restarts. */
export const pushRotation = pgTable('push_rotation', {
  campaignId: uuid('campaign_id')
    .primaryKey()
    .references(() => campaigns.id, { onDelete: 'cascade' }),
  lastBuyerId: uuid('last_buyer_id'),
  updatedAt: updatedAt(),
});

export const leads = pgTable(
  'leads',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id),
    fields: jsonb('fields').$type<LeadFields>().notNull(),
    status: text('status').$type<LeadStatus>().notNull().default('routing'),
    statusReason: text('status_reason'),
    dedupeKeys: text('dedupe_keys')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** Consent evidence captured with the lead (null: none was sent). */
    consent: jsonb('consent').$type<ConsentEvidence>(),
    workflowId: text('workflow_id').notNull(),
    /** The source that posted it (null: the agency itself), with the seller's sub id and click id. */
    sourceId: uuid('source_id').references(() => sources.id),
    subId: text('sub_id'),
    clickId: text('click_id'),
    /** The phone number normalised to E.164 (the source's text stays in fields.phone); null before #23. */
    phoneE164: text('phone_e164'),
    /** Its type from libphonenumber's metadata; buyer filters can use it (`phoneType`). */
    phoneType: text('phone_type').$type<PhoneType>(),
    /** Intake's contact checks with their results and latencies (also on the timeline). */
    contactChecks: jsonb('contact_checks').$type<ContactCheckRecord[]>(),
    /** When its personal fields were erased (retention or an erasure request, db/erasure.ts); null: kept. */
    erasedAt: ts('erased_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('leads_phone_e164_shape', sql`${t.phoneE164} IS NULL OR ${t.phoneE164} ~ '^\\+[1-9][0-9]{6,14}$'`),
    index('leads_agency_status_idx').on(t.agencyId, t.status, t.createdAt),
    index('leads_source_idx')
      .on(t.sourceId, t.createdAt, t.id)
      .where(sql`${t.sourceId} IS NOT NULL`),
    index('leads_agency_created_idx').on(t.agencyId, t.createdAt),
    index('leads_unerased_idx')
      .on(t.agencyId, t.createdAt)
      .where(sql`${t.erasedAt} IS NULL`),
  ],
);

export const offers = pgTable(
  'offers',
  {
    id: id(),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    campaignId: uuid('campaign_id').references(() => campaigns.id),
    kind: text('kind').$type<OfferKind>().notNull(),
    /** The workflow that owns this offer: claims are sent there as Updates. */
    workflowId: text('workflow_id').notNull(),
    price: integer('price').notNull(),
    preview: jsonb('preview').$type<Record<string, unknown>>().notNull(),
    maxWinners: integer('max_winners').notNull().default(1),
    winners: integer('winners').notNull().default(0),
    /** How a ping-post offer is decided; for highest_bid, `price` is the floor. */
    auction: text('auction').$type<AuctionKind>().notNull().default('first_claim'),
    pricing: text('pricing').$type<AuctionPricing>().notNull().default('first_price'),
    /** Position in the fallback chain: 0 for the lead's own campaign. */
    depth: integer('depth').notNull().default(0),
    status: text('status').$type<OfferStatus>().notNull().default('open'),
    openedAt: ts('opened_at').notNull().defaultNow(),
    closesAt: ts('closes_at').notNull(),
    closedAt: ts('closed_at'),
    closeReason: text('close_reason'),
    /** The campaign settings this offer runs under, as route-and-open read them (a retried open reuses them). */
    route: jsonb('route').$type<Record<string, unknown>>(),
    /**
     * The eligible buyers, committed with the offer (migration 0033): a claim whose buyer has no verdict row yet
     * (the paperwork follows the feed) is judged from them. Null on offers opened before it.
     */
    targetIds: uuid('target_ids').array(),
    /** The eligible buyers' own prices (#12), buyer id → price; null when none has one. */
    targetPrices: jsonb('target_prices').$type<Record<string, number>>(),
  },
  (t) => [
    index('offers_lead_idx').on(t.leadId),
    index('offers_agency_status_idx').on(t.agencyId, t.status),
    check('offers_winners_within_max', sql`${t.winners} >= 0 AND ${t.winners} <= ${t.maxWinners}`),
  ],
);

/** The eligibility snapshot: every candidate buyer of an offer, targeted or excluded and why. */
export const offerTargets = pgTable(
  'offer_targets',
  {
    offerId: uuid('offer_id')
      .notNull()
      .references(() => offers.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    eligible: boolean('eligible').notNull(),
    reason: text('reason').$type<ExclusionReason>(),
    detail: text('detail'),
    /** What the rules saw: balance, period counts, status, service area. */
    snapshot: jsonb('snapshot').$type<Record<string, unknown>>().notNull().default({}),
    /** This buyer's own price (a per-buyer campaign rule); null: the offer's price. */
    price: integer('price'),
  },
  (t) => [
    primaryKey({ columns: [t.offerId, t.buyerId] }),
    index('offer_targets_buyer_idx').on(t.buyerId, t.eligible),
    check('offer_targets_price_non_negative', sql`${t.price} IS NULL OR ${t.price} >= 0`),
  ],
);

/**
 * The verdicts of an offer whose row is committed and whose paperwork (verdict rows, timeline, alerts) is not yet:
 * deleted by the transaction that writes them (db/offers.ts finishPaperwork), or by the routing sweep after a crash.
 */
export const offerPaperwork = pgTable(
  'offer_paperwork',
  {
    offerId: uuid('offer_id')
      .primaryKey()
      .references(() => offers.id),
    verdicts: jsonb('verdicts').$type<TargetVerdict[]>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('offer_paperwork_created_idx').on(t.createdAt)],
);

/** A target list too large for NOTIFY, stored once under its content's hash: `offer.opened` carries the hash. */
export const targetLists = pgTable('target_lists', {
  id: text('id').primaryKey(),
  buyerIds: uuid('buyer_ids').array().notNull(),
  prices: jsonb('prices').$type<Record<string, number>>(),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const offerEvents = pgTable(
  'offer_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id),
    offerId: uuid('offer_id').references(() => offers.id),
    type: text('type').$type<TimelineEventType>().notNull(),
    buyerId: uuid('buyer_id'),
    reason: text('reason'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    at: ts('at').notNull().defaultNow(),
    /** Makes a retried write a no-op (e.g. `viewed` once per buyer and offer). */
    dedupeKey: text('dedupe_key'),
  },
  (t) => [
    index('offer_events_offer_idx').on(t.offerId, t.id),
    index('offer_events_lead_idx').on(t.leadId, t.id),
    uniqueIndex('offer_events_dedupe_uq').on(t.dedupeKey),
  ],
);

export const assignments = pgTable(
  'assignments',
  {
    id: id(),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id),
    offerId: uuid('offer_id')
      .notNull()
      .references(() => offers.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    price: integer('price').notNull(),
    /** Exclusive unless the offer allowed several winners. */
    exclusive: boolean('exclusive').notNull(),
    chargeEntryId: uuid('charge_entry_id')
      .notNull()
      .references(() => ledgerEntries.id),
    status: text('status').$type<AssignmentStatus>().notNull().default('active'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('assignments_offer_buyer_uq').on(t.offerId, t.buyerId),
    uniqueIndex('assignments_charge_uq').on(t.chargeEntryId),
    // A buyer never holds the same lead twice, and an exclusive lead has one owner.
    uniqueIndex('assignments_lead_buyer_active_uq')
      .on(t.leadId, t.buyerId)
      .where(sql`${t.status} = 'active'`),
    uniqueIndex('assignments_exclusive_lead_uq')
      .on(t.leadId)
      .where(sql`${t.exclusive} AND ${t.status} = 'active'`),
    index('assignments_buyer_idx').on(t.buyerId, t.createdAt),
    index('assignments_lead_idx').on(t.leadId),
  ],
);

/**
 * One row per claim attempt (offer, buyer, requestId), taken by whichever decides it first: the sale (`sold`, in
 * the charge's transaction) or the claim relay's refusal (`refused`, before it answers). Migration 0009;
 * db/claim-attempts.ts owns it.
 */
export const claimAttempts = pgTable(
  'claim_attempts',
  {
    offerId: uuid('offer_id').notNull(),
    buyerId: uuid('buyer_id').notNull(),
    requestId: text('request_id').notNull(),
    state: text('state').$type<'sold' | 'refused'>().notNull(),
    /** Refused: the reason the buyer was given. */
    reason: text('reason').$type<ClaimFailureReason>(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'claim_attempts_pk', columns: [t.offerId, t.buyerId, t.requestId] }),
    check('claim_attempts_state_known', sql`${t.state} IN ('sold', 'refused')`),
    check('claim_attempts_reason_when_refused', sql`(${t.state} = 'refused') = (${t.reason} IS NOT NULL)`),
  ],
);

export const deliveries = pgTable(
  'deliveries',
  {
    id: id(),
    assignmentId: uuid('assignment_id')
      .notNull()
      .references(() => assignments.id),
    channel: text('channel').$type<DeliveryChannel>().notNull(),
    status: text('status').$type<DeliveryStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: createdAt(),
    deliveredAt: ts('delivered_at'),
  },
  (t) => [uniqueIndex('deliveries_assignment_channel_uq').on(t.assignmentId, t.channel)],
);

/** Every attempt of every sending channel (retries and redeliveries): what went out and what came back. */
export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: id(),
    assignmentId: uuid('assignment_id')
      .notNull()
      .references(() => assignments.id),
    channel: text('channel').$type<DeliveryChannel>().notNull(),
    attempt: integer('attempt').notNull(),
    redelivery: boolean('redelivery').notNull().default(false),
    /** The Standard Webhooks `webhook-id` (the same on every retry and redelivery of one sale). */
    messageId: text('message_id'),
    outcome: text('outcome').$type<DeliveryAttemptOutcome>().notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    /** The first bytes of the answer. */
    response: text('response'),
    error: text('error'),
    /** When the next attempt is due, if one follows (the schedule with jitter, or the receiver's Retry-After). */
    nextRetryMs: integer('next_retry_ms'),
    createdAt: createdAt(),
  },
  (t) => [
    index('delivery_attempts_assignment_idx').on(t.assignmentId, t.createdAt),
    check('delivery_attempts_outcome', sql`${t.outcome} IN ('delivered', 'failed', 'refused', 'gone')`),
    check('delivery_attempts_attempt_positive', sql`${t.attempt} >= 1`),
    check('delivery_attempts_latency_non_negative', sql`${t.latencyMs} >= 0`),
  ],
);

export const disputes = pgTable(
  'disputes',
  {
    id: id(),
    assignmentId: uuid('assignment_id')
      .notNull()
      .references(() => assignments.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    reason: text('reason').notNull(),
    /** One of the agency's allowed return reasons, when it has a list. */
    reasonCode: text('reason_code'),
    status: text('status').$type<DisputeStatus>().notNull().default('open'),
    refundEntryId: uuid('refund_entry_id').references(() => ledgerEntries.id),
    createdAt: createdAt(),
    resolvedAt: ts('resolved_at'),
  },
  (t) => [
    index('disputes_agency_status_idx').on(t.agencyId, t.status),
    // One open or approved dispute per assignment: a lead is refunded at most once.
    uniqueIndex('disputes_assignment_active_uq')
      .on(t.assignmentId)
      .where(sql`${t.status} <> 'rejected'`),
  ],
);

/** Sealed bids of highest-bid auctions (the workflow decides; this is the record). One row per buyer: a raise replaces it. */
export const bids = pgTable(
  'bids',
  {
    offerId: uuid('offer_id')
      .notNull()
      .references(() => offers.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    amount: integer('amount').notNull(),
    requestId: text('request_id').notNull(),
    /** The workflow's acceptance order: ties go to the earlier. */
    seq: integer('seq').notNull(),
    placedAt: ts('placed_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.offerId, t.buyerId] }), check('bids_amount_positive', sql`${t.amount} >= 0`)],
);

/** Remembered answers for `Idempotency-Key` on creating POSTs. */
export const idempotencyRecords = pgTable(
  'idempotency_records',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    body: jsonb('body').notNull(),
    /** The running request's lease on its reservation (status 0), renewed while it runs. */
    leaseId: uuid('lease_id'),
    leaseExpiresAt: ts('lease_expires_at'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_records_created_idx').on(t.createdAt)],
);

/** Token buckets shared by every API process (api/shared-rate-limit.ts): each process leases small batches. */
export const rateLimitBuckets = pgTable(
  'rate_limit_buckets',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    tokens: doublePrecision('tokens').notNull(),
    /** What the last lease took out (so one statement both refills and grants). */
    lastGrant: integer('last_grant').notNull().default(0),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.scope, t.key] }),
    check('rate_limit_buckets_tokens_non_negative', sql`${t.tokens} >= 0`),
    check('rate_limit_buckets_grant_non_negative', sql`${t.lastGrant} >= 0`),
  ],
);

/** A buyer's own price on a campaign: a fixed price, or a percentage added to (or taken off) the campaign's price. */
export const campaignBuyerPrices = pgTable(
  'campaign_buyer_prices',
  {
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    kind: text('kind').$type<BuyerPriceKind>().notNull(),
    /** fixed: credits; percent: -100..1000 (+20 = 20 % more). */
    value: integer('value').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: 'campaign_buyer_prices_pk', columns: [t.campaignId, t.buyerId] }),
    check(
      'campaign_buyer_prices_rule',
      sql`(${t.kind} = 'fixed' AND ${t.value} >= 0 AND ${t.value} <= 1000000) OR (${t.kind} = 'percent' AND ${t.value} >= -100 AND ${t.value} <= 1000)`,
    ),
  ],
);

/** The pipeline status history of bought leads: each change with its time and author. Never touches money. */
export const pipelineChanges = pgTable(
  'pipeline_changes',
  {
    id: id(),
    assignmentId: uuid('assignment_id')
      .notNull()
      .references(() => assignments.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    agencyId: uuid('agency_id').notNull(),
    status: text('status').$type<PipelineStatus>().notNull(),
    note: text('note'),
    /** The job's value in the buyer's money (whole units), when it says. */
    jobValue: integer('job_value'),
    /** The API key that made the change. */
    authorKeyId: uuid('author_key_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('pipeline_changes_assignment_idx').on(t.assignmentId, t.createdAt),
    index('pipeline_changes_buyer_idx').on(t.buyerId, t.createdAt),
    check(
      'pipeline_changes_status',
      sql`${t.status} IN ('new','contacted','appointment','quoted','won_job','lost_job')`,
    ),
    check('pipeline_changes_job_value', sql`${t.jobValue} IS NULL OR ${t.jobValue} >= 0`),
  ],
);

/**
 * The alert outbox: rows written in the transaction that opens an offer (or by
 * the wallet trigger for low balance), sent by the worker's dispatcher with
 * retries, never by the workflow.
 */
export const buyerAlerts = pgTable(
  'buyer_alerts',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull(),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    kind: text('kind').$type<AlertKind>().notNull(),
    channel: text('channel').$type<AlertChannel>().notNull(),
    offerId: uuid('offer_id'),
    leadId: uuid('lead_id'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull().default({}),
    status: text('status').$type<AlertStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    lastError: text('last_error'),
    createdAt: createdAt(),
    sentAt: ts('sent_at'),
  },
  (t) => [
    uniqueIndex('buyer_alerts_offer_uq')
      .on(t.offerId, t.buyerId, t.channel)
      .where(sql`${t.kind} = 'offer_opened'`),
    index('buyer_alerts_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.status} = 'pending'`),
    index('buyer_alerts_buyer_idx').on(t.buyerId, t.createdAt),
    check('buyer_alerts_kind', sql`${t.kind} IN ('offer_opened','low_balance','recharge_failed')`),
    check('buyer_alerts_channel', sql`${t.channel} IN ('webhook','email','sms','voice')`),
    check('buyer_alerts_status', sql`${t.status} IN ('pending','sent','failed','skipped')`),
  ],
);

// ─── the supply side (migration 0006) ────────────────────────────────────────

/** A lead source (supplier): the agency's own forms, an affiliate, another seller. */
export const sources = pgTable(
  'sources',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    name: text('name').notNull(),
    status: text('status').$type<SourceStatus>().notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('sources_agency_idx').on(t.agencyId, t.createdAt)],
);

/** The campaigns a source may post into, with the payout rule of each. */
export const sourceCampaigns = pgTable(
  'source_campaigns',
  {
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sources.id),
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    allowed: boolean('allowed').notNull().default(true),
    payoutKind: text('payout_kind').$type<PayoutKind>().notNull(),
    payoutAmount: integer('payout_amount'),
    payoutShareBps: integer('payout_share_bps'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ name: 'source_campaigns_pk', columns: [t.sourceId, t.campaignId] })],
);

/** What the agency owes each source; moved only by the source ledger's trigger. */
export const sourceWallets = pgTable('source_wallets', {
  sourceId: uuid('source_id')
    .primaryKey()
    .references(() => sources.id),
  agencyId: uuid('agency_id')
    .notNull()
    .references(() => agencies.id),
  balance: integer('balance').notNull().default(0),
  updatedAt: updatedAt(),
});

export const sourceLedgerEntries = pgTable(
  'source_ledger_entries',
  {
    id: id(),
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sourceWallets.sourceId),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    kind: text('kind').$type<SourceLedgerKind>().notNull(),
    /** Signed: payouts positive (owed to the source), reversals and settlements negative. */
    amount: integer('amount').notNull(),
    balanceAfter: integer('balance_after').notNull().default(0),
    idempotencyKey: text('idempotency_key').notNull(),
    leadId: uuid('lead_id').references(() => leads.id),
    assignmentId: uuid('assignment_id').references(() => assignments.id),
    reference: text('reference'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('source_ledger_idempotency_uq').on(t.idempotencyKey),
    uniqueIndex('source_ledger_assignment_kind_uq')
      .on(t.assignmentId, t.kind)
      .where(sql`${t.kind} IN ('payout', 'reversal')`),
    index('source_ledger_source_idx').on(t.sourceId, t.createdAt),
    index('source_ledger_lead_idx').on(t.leadId),
  ],
);

/** Inbound pings: a decision with a payout, valid until expiresAt, posted at most once. */
export const pings = pgTable(
  'pings',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sources.id),
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id),
    /** The non-identifying fields the ping carried (zip, state, city, answers). */
    fields: jsonb('fields').$type<PingFields>().notNull(),
    subId: text('sub_id'),
    clickId: text('click_id'),
    decision: text('decision').$type<PingDecision>().notNull(),
    reason: text('reason'),
    price: integer('price'),
    payout: integer('payout'),
    expiresAt: ts('expires_at').notNull(),
    postedAt: ts('posted_at'),
    leadId: uuid('lead_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('pings_source_idx').on(t.sourceId, t.createdAt),
    index('pings_agency_created_idx').on(t.agencyId, t.createdAt),
  ],
);

export interface PingFields {
  zip: string;
  state?: string;
  city?: string;
  answers?: Record<string, string | number | boolean>;
}

/*
 * The reports' roll-ups (migration 0007; db/reports.ts). Written only by the
 * database: the triggers keep the facts and append the deltas, report_fold()
 * moves the deltas into the day tables, report_rebuild() recomputes an
 * agency. Declared here for typed reads; the migration is the definition.
 */
const reportMeasures = () => ({
  offered: integer('offered').notNull().default(0),
  sold: integer('sold').notNull().default(0),
  returned: integer('returned').notNull().default(0),
  revenue: bigint('revenue', { mode: 'number' }).notNull().default(0),
  payouts: bigint('payouts', { mode: 'number' }).notNull().default(0),
  /** Seconds from the offer opening to each sale, summed (the average is claimSecs / sales). */
  claimSecs: numeric('claim_secs').notNull().default('0'),
  sales: integer('sales').notNull().default(0),
});
const leadMeasures = () => ({
  leads: integer('leads').notNull().default(0),
  unsold: integer('unsold').notNull().default(0),
  ...reportMeasures(),
});
const buyerMeasures = () => ({
  ...reportMeasures(),
  /** Charges and refunds on the buyer's leads of the day. */
  entries: integer('entries').notNull().default(0),
});

/** Each lead's current contribution to the lead roll-up (day: created_at in the agency's zone). */
export const reportLeadFacts = pgTable(
  'report_lead_facts',
  {
    leadId: uuid('lead_id').primaryKey(),
    agencyId: uuid('agency_id').notNull(),
    day: date('day').notNull(),
    campaignId: uuid('campaign_id').notNull(),
    sourceId: uuid('source_id'),
    ...leadMeasures(),
  },
  (t) => [index('report_lead_facts_agency_idx').on(t.agencyId, t.leadId)],
);

/** Each lead's current contribution to each buyer's roll-up. */
export const reportBuyerFacts = pgTable(
  'report_buyer_facts',
  {
    leadId: uuid('lead_id').notNull(),
    buyerId: uuid('buyer_id').notNull(),
    agencyId: uuid('agency_id').notNull(),
    day: date('day').notNull(),
    ...buyerMeasures(),
  },
  (t) => [
    primaryKey({ name: 'report_buyer_facts_pk', columns: [t.leadId, t.buyerId] }),
    index('report_buyer_facts_agency_idx').on(t.agencyId),
  ],
);

/** By agency, local day, campaign and source (null: the agency's own leads; nulls not distinct in the key). */
export const reportLeadDays = pgTable(
  'report_lead_days',
  {
    agencyId: uuid('agency_id').notNull(),
    day: date('day').notNull(),
    campaignId: uuid('campaign_id').notNull(),
    sourceId: uuid('source_id'),
    ...leadMeasures(),
  },
  (t) => [uniqueIndex('report_lead_days_key').on(t.agencyId, t.day, t.campaignId, t.sourceId)],
);

export const reportBuyerDays = pgTable(
  'report_buyer_days',
  {
    agencyId: uuid('agency_id').notNull(),
    day: date('day').notNull(),
    buyerId: uuid('buyer_id').notNull(),
    ...buyerMeasures(),
  },
  (t) => [primaryKey({ name: 'report_buyer_days_pk', columns: [t.agencyId, t.day, t.buyerId] })],
);

/** Appended by the triggers, folded into report_lead_days; no key (many rows per group until the fold). */
export const reportLeadDeltas = pgTable(
  'report_lead_deltas',
  {
    agencyId: uuid('agency_id').notNull(),
    day: date('day').notNull(),
    campaignId: uuid('campaign_id').notNull(),
    sourceId: uuid('source_id'),
    ...leadMeasures(),
  },
  (t) => [index('report_lead_deltas_agency_idx').on(t.agencyId, t.day)],
);

export const reportBuyerDeltas = pgTable(
  'report_buyer_deltas',
  {
    agencyId: uuid('agency_id').notNull(),
    day: date('day').notNull(),
    buyerId: uuid('buyer_id').notNull(),
    ...buyerMeasures(),
  },
  (t) => [index('report_buyer_deltas_agency_idx').on(t.agencyId, t.day)],
);

/** The key store's own keys, sealed like any secret (db/key-store.ts): `hmac`, the root of the keyed HMACs. */
export const keyStoreRoots = pgTable(
  'key_store_roots',
  {
    name: text('name').primaryKey(),
    sealed: text('sealed').notNull(),
    createdAt: createdAt(),
  },
  (t) => [check('key_store_roots_sealed', sql`${t.sealed} LIKE 'lwk1.%'`)],
);

// ─── people (#20; migration 0011_accounts) ───────────────────────────────────

/** A person: signs in by password, emailed link, passkey or the agency's SSO. */
export const users = pgTable(
  'users',
  {
    id: id(),
    /** Lower-cased and trimmed (CHECK users_email_normalised); unique. */
    email: text('email').notNull(),
    displayName: text('display_name').notNull(),
    /** argon2id PHC string; null when the person has no password. */
    passwordHash: text('password_hash'),
    emailVerifiedAt: ts('email_verified_at'),
    /** Key-store sealed TOTP seed; used once `totpEnabledAt` is set. */
    totpSeedSealed: text('totp_seed_sealed'),
    totpEnabledAt: ts('totp_enabled_at'),
    /** The last TOTP step accepted: a code never works twice. */
    totpLastStep: bigint('totp_last_step', { mode: 'number' }),
    disabledAt: ts('disabled_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('users_email_uq').on(t.email)],
);

/** A user's role in one organisation (CHECK memberships_org_shape says which roles each kind has). */
export const memberships = pgTable(
  'memberships',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    orgKind: text('org_kind').$type<OrgKind>().notNull(),
    /** Null only for the platform. */
    agencyId: uuid('agency_id').references(() => agencies.id),
    buyerId: uuid('buyer_id').references(() => buyers.id),
    sourceId: uuid('source_id').references(() => sources.id),
    role: text('role').$type<MembershipRole>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('memberships_agency_idx').on(t.agencyId)],
);

/** A signed-in browser: the cookie holds an opaque id whose SHA-256 is `tokenHash`. */
export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    tokenHash: text('token_hash').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    /** The organisation the session acts in. */
    membershipId: uuid('membership_id').references(() => memberships.id, { onDelete: 'set null' }),
    stage: text('stage').$type<'full' | 'second_factor'>().notNull().default('full'),
    method: text('method').$type<SignInMethod>().notNull(),
    csrfToken: text('csrf_token').notNull(),
    userAgent: text('user_agent'),
    ip: text('ip'),
    createdAt: createdAt(),
    lastUsedAt: ts('last_used_at').notNull().defaultNow(),
    /** Absolute expiry; the idle expiry is `lastUsedAt` + the idle timeout. */
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('sessions_token_uq').on(t.tokenHash)],
);

/** Setup, invitation, sign-in link and password reset tokens: stored hashed, expire, work once. */
export const oneTimeTokens = pgTable(
  'one_time_tokens',
  {
    id: id(),
    purpose: text('purpose').$type<OneTimePurpose>().notNull(),
    tokenHash: text('token_hash').notNull(),
    email: text('email'),
    userId: uuid('user_id').references(() => users.id),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull().default({}),
    createdByUserId: uuid('created_by_user_id').references(() => users.id),
    expiresAt: ts('expires_at').notNull(),
    usedAt: ts('used_at'),
    revokedAt: ts('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('one_time_tokens_hash_uq').on(t.tokenHash)],
);

/** WebAuthn credentials. */
export const passkeys = pgTable(
  'passkeys',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    credentialId: text('credential_id').notNull(),
    publicKey: text('public_key').notNull(),
    counter: bigint('counter', { mode: 'number' }).notNull().default(0),
    transports: jsonb('transports').$type<string[]>().notNull().default([]),
    name: text('name').notNull(),
    createdAt: createdAt(),
    lastUsedAt: ts('last_used_at'),
  },
  (t) => [uniqueIndex('passkeys_credential_uq').on(t.credentialId), index('passkeys_user_idx').on(t.userId)],
);

/** Ten single-use codes for when the authenticator is lost (SHA-256 stored). */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    codeHash: text('code_hash').notNull(),
    usedAt: ts('used_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('recovery_codes_uq').on(t.userId, t.codeHash)],
);

/** An agency's OpenID Connect single sign-on. */
export const agencySso = pgTable('agency_sso', {
  agencyId: uuid('agency_id')
    .primaryKey()
    .references(() => agencies.id),
  issuer: text('issuer').notNull(),
  clientId: text('client_id').notNull(),
  /** Key-store sealed. */
  clientSecretSealed: text('client_secret_sealed').notNull(),
  allowedDomains: jsonb('allowed_domains').$type<string[]>().notNull().default([]),
  defaultRole: text('default_role').$type<'admin' | 'dispatcher' | 'analyst'>().notNull().default('analyst'),
  enabled: boolean('enabled').notNull().default(true),
  updatedAt: updatedAt(),
});

/** An SSO sign-in in flight (migration 0013): used once, by the browser that started it, before it expires. */
export const ssoFlows = pgTable(
  'sso_flows',
  {
    stateHash: text('state_hash').primaryKey(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    /** SHA-256 of the PKCE code verifier held by the browser's cookie. */
    verifierHash: text('verifier_hash').notNull(),
    nonce: text('nonce').notNull(),
    expiresAt: ts('expires_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('sso_flows_expires_at').on(t.expiresAt)],
);

// ─── passkey ceremonies (#20; migration 0015_webauthn_challenges) ────────────

/** A WebAuthn challenge awaiting its answer: expires, and is consumed by the statement that checks it. */
export const webauthnChallenges = pgTable(
  'webauthn_challenges',
  {
    id: id(),
    challenge: text('challenge').notNull(),
    purpose: text('purpose').$type<'registration' | 'authentication' | 'second_factor'>().notNull(),
    sessionId: uuid('session_id').references(() => sessions.id, { onDelete: 'cascade' }),
    expiresAt: ts('expires_at').notNull(),
    usedAt: ts('used_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('webauthn_challenges_uq').on(t.challenge),
    index('webauthn_challenges_expires_idx').on(t.expiresAt),
  ],
);

// ─── the audit log (#20 item 8; migration 0014_audit_log) ────────────────────

/** Every change an agency or buyer makes: who (actor and its label then), what object, which action, before → after. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    /** Set when the change is a buyer's or about one. */
    buyerId: uuid('buyer_id').references(() => buyers.id),
    actorType: text('actor_type').$type<AuditActorType>().notNull(),
    actorUserId: uuid('actor_user_id'),
    actorKeyId: uuid('actor_key_id'),
    actorSessionId: uuid('actor_session_id'),
    /** Who it was, as shown at the time of the change. */
    actorLabel: text('actor_label').notNull(),
    /** admin | buyer | system: the side that acted (the buyer change history's `actor`). */
    side: text('side').$type<ChangeActor>().notNull(),
    objectType: text('object_type').$type<AuditObjectType>().notNull(),
    objectId: uuid('object_id').notNull(),
    action: text('action').$type<AuditAction>().notNull(),
    changes: jsonb('changes').$type<AuditChanges>().notNull().default({}),
    note: text('note'),
    createdAt: createdAt(),
  },
  (t) => [
    index('audit_log_agency_idx').on(t.agencyId, t.createdAt, t.id),
    index('audit_log_object_idx').on(t.objectType, t.objectId, t.createdAt),
  ],
);

// ─── payments (#21, migration 0016) ──────────────────────────────────────────

/** The agency's Stripe account and the price of a credit; secrets sealed by the key store, never returned. */
export const agencyPaymentSettings = pgTable('agency_payment_settings', {
  agencyId: uuid('agency_id')
    .primaryKey()
    .references(() => agencies.id),
  stripeSecretKeySealed: text('stripe_secret_key_sealed').notNull(),
  stripeWebhookSecretSealed: text('stripe_webhook_secret_sealed').notNull(),
  /** `acct_…`, learnt by "test connection"; an event naming another account is refused. */
  stripeAccountId: text('stripe_account_id'),
  currency: text('currency').notNull(),
  /** Minor units of `currency` per credit. */
  creditPrice: integer('credit_price').notNull(),
  minCredits: integer('min_credits').notNull().default(10),
  maxCredits: integer('max_credits').notNull().default(10000),
  /** Failed auto-recharges in a row after which a buyer's auto-recharge pauses. */
  rechargeMaxFailures: integer('recharge_max_failures').notNull().default(3),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** One card payment (a Checkout top-up or an auto-recharge); credited once, by its payment intent's ledger key. */
export const payments = pgTable(
  'payments',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    kind: text('kind').$type<PaymentKind>().notNull(),
    status: text('status').$type<PaymentStatus>().notNull().default('pending'),
    credits: integer('credits').notNull(),
    /** The credit price when the payment was made; amount = credits × creditPrice (a CHECK). */
    creditPrice: integer('credit_price').notNull(),
    amount: integer('amount').notNull(),
    currency: text('currency').notNull(),
    stripeCheckoutSessionId: text('stripe_checkout_session_id'),
    stripePaymentIntentId: text('stripe_payment_intent_id'),
    stripeChargeId: text('stripe_charge_id'),
    /** The `Idempotency-Key` Leadwire sent when it created the PaymentIntent (auto-recharge). */
    stripeIdempotencyKey: text('stripe_idempotency_key'),
    cardBrand: text('card_brand'),
    cardLast4: text('card_last4'),
    receiptUrl: text('receipt_url'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    refundedCredits: integer('refunded_credits').notNull().default(0),
    disputedCredits: integer('disputed_credits').notNull().default(0),
    createdByUserId: uuid('created_by_user_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    succeededAt: ts('succeeded_at'),
  },
  (t) => [
    uniqueIndex('payments_checkout_session_uq')
      .on(t.stripeCheckoutSessionId)
      .where(sql`${t.stripeCheckoutSessionId} IS NOT NULL`),
    uniqueIndex('payments_payment_intent_uq')
      .on(t.stripePaymentIntentId)
      .where(sql`${t.stripePaymentIntentId} IS NOT NULL`),
    uniqueIndex('payments_idempotency_uq')
      .on(t.stripeIdempotencyKey)
      .where(sql`${t.stripeIdempotencyKey} IS NOT NULL`),
    index('payments_buyer_idx').on(t.buyerId, t.createdAt),
    index('payments_agency_idx').on(t.agencyId, t.createdAt),
  ],
);

export const paymentRefunds = pgTable(
  'payment_refunds',
  {
    id: id(),
    paymentId: uuid('payment_id')
      .notNull()
      .references(() => payments.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    credits: integer('credits').notNull(),
    amount: integer('amount').notNull(),
    status: text('status').$type<RefundStatus>().notNull().default('pending'),
    stripeRefundId: text('stripe_refund_id'),
    reason: text('reason'),
    createdByUserId: uuid('created_by_user_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('payment_refunds_stripe_uq')
      .on(t.stripeRefundId)
      .where(sql`${t.stripeRefundId} IS NOT NULL`),
    index('payment_refunds_payment_idx').on(t.paymentId),
  ],
);

export const paymentDisputes = pgTable(
  'payment_disputes',
  {
    id: id(),
    paymentId: uuid('payment_id')
      .notNull()
      .references(() => payments.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    stripeDisputeId: text('stripe_dispute_id').notNull(),
    credits: integer('credits').notNull(),
    amount: integer('amount').notNull(),
    /** Stripe's dispute status (`needs_response`, `won`, `lost`, …). */
    status: text('status').notNull(),
    reason: text('reason'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    resolvedAt: ts('resolved_at'),
  },
  (t) => [uniqueIndex('payment_disputes_stripe_uq').on(t.stripeDisputeId)],
);

/** Every verified Stripe event, once, with what it did. */
export const stripeEvents = pgTable(
  'stripe_events',
  {
    id: text('id').primaryKey(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    type: text('type').notNull(),
    objectId: text('object_id'),
    paymentId: uuid('payment_id'),
    outcome: text('outcome').$type<StripeEventOutcome>().notNull(),
    detail: text('detail'),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('stripe_events_agency_idx').on(t.agencyId, t.receivedAt)],
);

/** One reconciliation of an agency's card payments against Stripe (migration 0022): what it checked and fixed. */
export const paymentReconciliations = pgTable(
  'payment_reconciliations',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    windowStart: ts('window_start').notNull(),
    windowEnd: ts('window_end').notNull(),
    dryRun: boolean('dry_run').notNull().default(false),
    /** `failed`: Stripe could not be listed (nothing was credited); `error` says why. */
    status: text('status').$type<'completed' | 'failed'>().notNull(),
    /** Succeeded PaymentIntents Stripe listed in the window; the four counts below add up to it. */
    checked: integer('checked').notNull().default(0),
    credited: integer('credited').notNull().default(0),
    alreadyCredited: integer('already_credited').notNull().default(0),
    ignored: integer('ignored').notNull().default(0),
    errors: integer('errors').notNull().default(0),
    /** Every intent it did something about (not those found credited already). */
    findings: jsonb('findings').$type<ReconcileFinding[]>().notNull().default([]),
    error: text('error'),
    /** Who ran it: `workflow:<id>` or `cli`. */
    runBy: text('run_by').notNull(),
    startedAt: ts('started_at').notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('payment_reconciliations_agency_idx').on(t.agencyId, t.startedAt)],
);

/** A buyer's card on file and its auto-recharge settings (the wallet trigger reads them). */
export const buyerBilling = pgTable('buyer_billing', {
  buyerId: uuid('buyer_id')
    .primaryKey()
    .references(() => buyers.id),
  agencyId: uuid('agency_id')
    .notNull()
    .references(() => agencies.id),
  stripeCustomerId: text('stripe_customer_id'),
  paymentMethodId: text('payment_method_id'),
  cardBrand: text('card_brand'),
  cardLast4: text('card_last4'),
  cardExp: text('card_exp'),
  rechargeEnabled: boolean('recharge_enabled').notNull().default(false),
  rechargeThreshold: integer('recharge_threshold'),
  rechargeCredits: integer('recharge_credits'),
  /** Set by the wallet trigger: false between a recharge request and the balance back at or above the threshold. */
  rechargeArmed: boolean('recharge_armed').notNull().default(true),
  rechargeFailures: integer('recharge_failures').notNull().default(0),
  /** Set after too many failed recharges (or `authentication_required`); cleared when the buyer saves a card or resumes. */
  rechargePausedReason: text('recharge_paused_reason'),
  rechargePausedAt: ts('recharge_paused_at'),
  /** The last failed recharge payment counted in `rechargeFailures` (a retried activity counts it once). */
  rechargeFailedPaymentId: uuid('recharge_failed_payment_id'),
  updatedAt: updatedAt(),
});

/** The recharge outbox: written by the wallet trigger in the sale's transaction, drained by the worker. */
export const rechargeRequests = pgTable(
  'recharge_requests',
  {
    id: id(),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    /** The balance that crossed the threshold. */
    balance: integer('balance').notNull(),
    createdAt: createdAt(),
    startedAt: ts('started_at'),
  },
  (t) => [
    index('recharge_requests_due_idx')
      .on(t.createdAt)
      .where(sql`${t.startedAt} IS NULL`),
  ],
);

/**
 * A buyer's own system in ping-post (#22): pinged at `ping_url` with the ping
 * template (non-identifying fields only), posted the full lead at `post_url`
 * (without a ping URL: posted directly), answers read by the rules. One per buyer.
 */
export const buyerEndpoints = pgTable(
  'buyer_endpoints',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id, { onDelete: 'cascade' }),
    pingUrl: text('ping_url'),
    postUrl: text('post_url').notNull(),
    method: text('method').$type<EndpointMethod>().notNull().default('POST'),
    format: text('format').$type<EndpointFormat>().notNull().default('json'),
    authKind: text('auth_kind').$type<EndpointAuthKind>().notNull().default('none'),
    /** `header`: the header's name (its value is the secret). */
    authHeader: text('auth_header'),
    /** `basic`: the user name (the password is the secret). */
    authUsername: text('auth_username'),
    /** Key-store sealed (purpose `buyer_endpoint.secret`, context the row's id); null with no authentication. */
    secretSealed: text('secret_sealed'),
    timeoutMs: integer('timeout_ms').notNull().default(1500),
    maxConcurrentPings: integer('max_concurrent_pings').notNull().default(10),
    pingTemplate: jsonb('ping_template').$type<EndpointTemplate>(),
    postTemplate: jsonb('post_template').$type<EndpointTemplate>().notNull(),
    pingRules: jsonb('ping_rules').$type<ResponseRules>(),
    postRules: jsonb('post_rules').$type<ResponseRules>().notNull(),
    /** The optional status query (#22 item 4, migration 0035): asked when a post went unanswered; with its rules. */
    statusUrl: text('status_url'),
    statusMethod: text('status_method').$type<EndpointStatusMethod>().notNull().default('GET'),
    statusTemplate: jsonb('status_template').$type<EndpointTemplate>(),
    statusRules: jsonb('status_rules').$type<ResponseRules>(),
    status: text('status').$type<EndpointStatus>().notNull().default('active'),
    pauseReason: text('pause_reason'),
    /** `agency` (paused in the console) or `system` (a run of failed calls, a 410, a refused address). */
    pausedBy: text('paused_by').$type<'agency' | 'system'>(),
    pausedAt: ts('paused_at'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('buyer_endpoints_buyer_idx').on(t.buyerId),
    check('buyer_endpoints_method', sql`${t.method} IN ('POST', 'PUT')`),
    check('buyer_endpoints_format', sql`${t.format} IN ('json', 'form')`),
    check('buyer_endpoints_auth_kind', sql`${t.authKind} IN ('none', 'header', 'basic', 'hmac')`),
    check('buyer_endpoints_secret_sealed', sql`${t.secretSealed} IS NULL OR ${t.secretSealed} LIKE 'lwk1.%'`),
    check('buyer_endpoints_secret_needed', sql`(${t.authKind} = 'none') = (${t.secretSealed} IS NULL)`),
    check('buyer_endpoints_timeout', sql`${t.timeoutMs} BETWEEN 100 AND 10000`),
    check('buyer_endpoints_max_concurrent_pings', sql`${t.maxConcurrentPings} BETWEEN 1 AND 1000`),
    check(
      'buyer_endpoints_ping_parts',
      sql`(${t.pingUrl} IS NULL) = (${t.pingTemplate} IS NULL) AND (${t.pingUrl} IS NULL) = (${t.pingRules} IS NULL)`,
    ),
    check('buyer_endpoints_status', sql`${t.status} IN ('active', 'paused')`),
    check('buyer_endpoints_status_method', sql`${t.statusMethod} IN ('GET', 'POST')`),
    check(
      'buyer_endpoints_status_parts',
      sql`(${t.statusUrl} IS NULL) = (${t.statusRules} IS NULL) AND (${t.statusTemplate} IS NULL OR ${t.statusUrl} IS NOT NULL)`,
    ),
    check('buyer_endpoints_failures', sql`${t.consecutiveFailures} >= 0`),
  ],
);

/** The endpoint's log: each call as sent (secrets masked) and answered (redacted, truncated); the last 100 kept. */
export const endpointCalls = pgTable(
  'endpoint_calls',
  {
    id: id(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => buyerEndpoints.id, { onDelete: 'cascade' }),
    leadId: uuid('lead_id'),
    kind: text('kind').$type<EndpointCallKind>().notNull(),
    step: text('step').$type<EndpointStep>().notNull(),
    request: jsonb('request').$type<LoggedRequest>().notNull(),
    response: jsonb('response').$type<LoggedResponse>(),
    latencyMs: integer('latency_ms').notNull(),
    outcome: text('outcome').$type<EndpointCallOutcome>().notNull(),
    bid: integer('bid'),
    pingId: text('ping_id'),
    reason: text('reason'),
    /** A post's `Idempotency-Key` (the same on every resend of one sale). */
    idempotencyKey: text('idempotency_key'),
    /** clock_timestamp(): calls recorded in one transaction keep their order. */
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' })
      .notNull()
      .default(sql`clock_timestamp()`),
  },
  (t) => [
    index('endpoint_calls_endpoint_idx').on(t.endpointId, t.createdAt),
    check('endpoint_calls_kind', sql`${t.kind} IN ('ping', 'post', 'test')`),
    check('endpoint_calls_step', sql`${t.step} IN ('ping', 'post', 'status')`),
    check(
      'endpoint_calls_outcome',
      sql`${t.outcome} IN ('accepted', 'rejected', 'timeout', 'late', 'unknown', 'error', 'malformed', 'refused', 'busy')`,
    ),
    check('endpoint_calls_latency', sql`${t.latencyMs} >= 0`),
  ],
);

/**
 * The reports' record of every ping and post call of a buyer endpoint (#22 item 5; migration 0029): written by a
 * trigger on endpoint_calls (test calls apart), kept when the log drops the call, never updated (db/reports.ts).
 */
export const endpointCallFacts = pgTable(
  'endpoint_call_facts',
  {
    /** The call's id in endpoint_calls (while the log still holds it). */
    id: uuid('id').primaryKey(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    buyerId: uuid('buyer_id')
      .notNull()
      .references(() => buyers.id, { onDelete: 'cascade' }),
    step: text('step').$type<EndpointStep>().notNull(),
    outcome: text('outcome').$type<EndpointCallOutcome>().notNull(),
    bid: integer('bid'),
    idempotencyKey: text('idempotency_key'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('endpoint_call_facts_agency_idx').on(t.agencyId, t.createdAt),
    // The sale of an accepted post looks its post up here (db/endpoints.ts acceptedPostAt), not in the trimmed log.
    index('endpoint_call_facts_post_idx')
      .on(t.buyerId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} IS NOT NULL`),
    check('endpoint_call_facts_step', sql`${t.step} IN ('ping', 'post', 'status')`),
  ],
);

/**
 * Every lead refused at intake (#23 item 7; migration 0029): the reason code, the field it names, the source with
 * its sub and click ids, never the person's fields (db/refusals.ts). Ping refusals are the pings' own rows.
 */
export const intakeRefusals = pgTable(
  'intake_refusals',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    sourceId: uuid('source_id').references(() => sources.id),
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id),
    reason: text('reason').$type<IntakeRefusal>().notNull(),
    field: text('field'),
    subId: text('sub_id'),
    clickId: text('click_id'),
    /** The ping a refused post answered. */
    pingId: uuid('ping_id'),
    /** The lead stored in review (`suppressed`), or the one a duplicate repeats. */
    leadId: uuid('lead_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('intake_refusals_agency_idx').on(t.agencyId, t.createdAt),
    index('intake_refusals_source_idx').on(t.sourceId, t.createdAt),
  ],
);

// ─── suppression and Do-Not-Call lists (#23 item 3; migration 0021_suppression) ─

/** The HMAC salt of each scope: an agency's id, or `platform` for the Do-Not-Call lists (db/suppression.ts). */
export const suppressionSalts = pgTable('suppression_salts', {
  scope: text('scope').primaryKey(),
  salt: text('salt').notNull(),
  createdAt: createdAt(),
});

/** A keyed HMAC-SHA256: 32 bytes in the database, its hex form in the code. */
const hmacBytes = customType<{ data: string; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  toDriver: (hex) => Buffer.from(hex, 'hex'),
  fromDriver: (bytes) => Buffer.from(bytes).toString('hex'),
});

/** An agency's suppression lists: keyed HMACs of normalised numbers and addresses, never the values. */
export const suppressionEntries = pgTable(
  'suppression_entries',
  {
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    list: text('list').$type<AgencySuppressionList>().notNull(),
    kind: text('kind').$type<SuppressionKind>().notNull(),
    hmac: hmacBytes('hmac').notNull(),
    source: text('source').$type<SuppressionSource>().notNull(),
    note: text('note'),
    addedAt: ts('added_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'suppression_entries_pk', columns: [t.agencyId, t.list, t.hmac] }),
    check('suppression_entries_list_known', sql`${t.list} IN ('do_not_contact', 'litigator', 'returned_fraud')`),
    check('suppression_entries_kind_known', sql`${t.kind} IN ('phone', 'email')`),
    check('suppression_entries_source_known', sql`${t.source} IN ('api', 'csv', 'return')`),
    check('suppression_entries_hmac_shape', sql`octet_length(${t.hmac}) = 32`),
  ],
);

/** The platform's Do-Not-Call lists (national: state ''; a state's: its code), phone HMACs under the platform salt. */
export const dncEntries = pgTable(
  'dnc_entries',
  {
    list: text('list').$type<DncList>().notNull(),
    state: text('state').notNull().default(''),
    hmac: hmacBytes('hmac').notNull(),
    addedAt: ts('added_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'dnc_entries_pk', columns: [t.hmac, t.list, t.state] }),
    check(
      'dnc_entries_list_state',
      sql`(${t.list} = 'national_dnc' AND ${t.state} = '') OR (${t.list} = 'state_dnc' AND ${t.state} ~ '^[A-Z]{2}$')`,
    ),
    check('dnc_entries_hmac_shape', sql`octet_length(${t.hmac}) = 32`),
  ],
);

// ─── consent certificates (#23 item 4) ───────────────────────────────────────

/** An agency's account with a certificate provider: base URL and credential (key-store sealed). */
export const consentProviderCredentials = pgTable(
  'consent_provider_credentials',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    provider: text('provider').$type<ConsentProvider>().notNull(),
    baseUrl: text('base_url').notNull(),
    /** Key-store sealed (purpose `consent_provider.credential`, context the row's id). */
    credentialSealed: text('credential_sealed').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('consent_provider_credentials_agency_provider_uq').on(t.agencyId, t.provider),
    check('consent_provider_credentials_provider_known', sql`${t.provider} IN ('trustedform', 'jornaya')`),
  ],
);

/** A sale's certificate claim, one per assignment: a retried activity finds it and never claims twice. */
export const consentClaims = pgTable(
  'consent_claims',
  {
    assignmentId: uuid('assignment_id')
      .primaryKey()
      .references(() => assignments.id),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id),
    provider: text('provider').$type<ConsentProvider>().notNull(),
    status: text('status').$type<ConsentClaimStatus>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    answer: jsonb('answer').$type<unknown>(),
    error: text('error'),
    flagged: boolean('flagged').notNull().default(false),
    claimedAt: ts('claimed_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('consent_claims_lead_idx').on(t.leadId),
    check('consent_claims_provider_known', sql`${t.provider} IN ('trustedform', 'jornaya')`),
    check('consent_claims_status_known', sql`${t.status} IN ('pending', 'claimed', 'failed')`),
    check('consent_claims_claimed_at', sql`(${t.status} = 'claimed') = (${t.claimedAt} IS NOT NULL)`),
  ],
);

// ─── third-party scrubs (#23 item 5) ─────────────────────────────────────────

/** An agency's scrub providers: where, with what (sealed), within what budget, and their circuit's shared state. */
export const scrubSettings = pgTable(
  'scrub_settings',
  {
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    scrub: text('scrub').$type<Scrub>().notNull(),
    enabled: boolean('enabled').notNull().default(false),
    baseUrl: text('base_url').notNull(),
    username: text('username'),
    /** Key-store sealed (purpose `scrub.secret`, context `<agency id>:<scrub>`). */
    secretSealed: text('secret_sealed').notNull(),
    /** Calls per UTC month; null: no limit. */
    monthlyBudget: integer('monthly_budget'),
    timeoutMs: integer('timeout_ms').notNull().default(800),
    failureThreshold: integer('failure_threshold').notNull().default(5),
    cooldownMs: integer('cooldown_ms').notNull().default(30_000),
    litigatorRule: text('litigator_rule').$type<LitigatorRule>().notNull().default('refuse'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    circuitOpenedAt: ts('circuit_opened_at'),
    /** Half-open: until when one process's probe call holds the circuit. */
    probeUntil: ts('probe_until'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: 'scrub_settings_pk', columns: [t.agencyId, t.scrub] }),
    check('scrub_settings_scrub_known', sql`${t.scrub} IN ('litigator', 'line_status')`),
    check('scrub_settings_secret_sealed', sql`${t.secretSealed} LIKE 'lwk1.%'`),
    check('scrub_settings_budget', sql`${t.monthlyBudget} IS NULL OR ${t.monthlyBudget} >= 0`),
    check('scrub_settings_timeout', sql`${t.timeoutMs} BETWEEN 50 AND 5000`),
    check('scrub_settings_threshold', sql`${t.failureThreshold} BETWEEN 1 AND 100`),
    check('scrub_settings_cooldown', sql`${t.cooldownMs} BETWEEN 1000 AND 3600000`),
    check('scrub_settings_litigator_rule', sql`${t.litigatorRule} IN ('refuse', 'review')`),
  ],
);

/** Scrub calls made per agency, scrub and UTC month. */
export const scrubUsage = pgTable(
  'scrub_usage',
  {
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    scrub: text('scrub').$type<Scrub>().notNull(),
    month: text('month').notNull(),
    calls: integer('calls').notNull().default(0),
  },
  (t) => [
    primaryKey({ name: 'scrub_usage_pk', columns: [t.agencyId, t.scrub, t.month] }),
    check('scrub_usage_month', sql`${t.month} ~ '^\\d{4}-\\d{2}$'`),
    check('scrub_usage_calls', sql`${t.calls} >= 0`),
  ],
);

/** Today's scrub answers by keyed HMAC of the number (never the number); no verdict yet: a call in flight. */
export const scrubCache = pgTable(
  'scrub_cache',
  {
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    scrub: text('scrub').$type<Scrub>().notNull(),
    hmac: hmacBytes('hmac').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    verdict: text('verdict').$type<'hit' | 'clean' | 'unknown'>(),
    status: text('status'),
    claimedAt: ts('claimed_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'scrub_cache_pk', columns: [t.agencyId, t.scrub, t.hmac, t.day] }),
    check('scrub_cache_verdict', sql`${t.verdict} IS NULL OR ${t.verdict} IN ('hit', 'clean', 'unknown')`),
    check('scrub_cache_hmac_shape', sql`octet_length(${t.hmac}) = 32`),
    index('scrub_cache_day_idx').on(t.day),
  ],
);

// ─── retention and erasure (#23 item 6; migration 0028_retention_erasure) ─

/**
 * One erasure request for one person (db/erasure.ts): when, by whom, how many rows of each table it erased, and a
 * keyed HMAC of the normalised phone or email (the agency's suppression key) – never the identifier itself.
 */
export const erasureRequests = pgTable(
  'erasure_requests',
  {
    id: id(),
    agencyId: uuid('agency_id')
      .notNull()
      .references(() => agencies.id),
    kind: text('kind').$type<SuppressionKind>().notNull(),
    identifierHmac: text('identifier_hmac').notNull(),
    actorLabel: text('actor_label').notNull(),
    actorUserId: uuid('actor_user_id'),
    suppressed: boolean('suppressed').notNull().default(false),
    leads: integer('leads').notNull(),
    counts: jsonb('counts').$type<ErasureCounts>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index('erasure_requests_agency_idx').on(t.agencyId, t.createdAt, t.id),
    check('erasure_requests_kind', sql`${t.kind} IN ('phone', 'email')`),
    check('erasure_requests_hmac_shape', sql`${t.identifierHmac} ~ '^[0-9a-f]{64}$'`),
    check('erasure_requests_leads', sql`${t.leads} >= 0`),
  ],
);

// ─── cap counters (#26 item 1; migration 0031_cap_counters) ─────────────────

/**
 * Active sales per subject (a buyer, or a campaign across its buyers), cap period and period start (the instant the
 * period began in the agency's zone, domain/caps.ts periodStart): written in the sale's transaction and taken back
 * by a refund (db/cap-counters.ts), read by eligibility instead of counting assignments.
 */
export const capCounters = pgTable(
  'cap_counters',
  {
    subjectId: uuid('subject_id').notNull(),
    periodStart: ts('period_start').notNull(),
    sales: integer('sales').notNull(),
    period: text('period').$type<CapPeriod>().notNull(),
  },
  (t) => [
    primaryKey({ name: 'cap_counters_pk', columns: [t.subjectId, t.period, t.periodStart] }),
    check('cap_counters_period', sql`${t.period} IN ('daily', 'weekly', 'monthly')`),
    check('cap_counters_sales', sql`${t.sales} >= 0`),
  ],
);

/** One row while the counters of an upgraded database still have to be filled (migration 0031; db/cap-counters.ts). */
export const capCountersBackfill = pgTable('cap_counters_backfill', {
  pending: boolean('pending').primaryKey(),
});
