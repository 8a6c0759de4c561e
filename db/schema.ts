/**
 * The data model. Money rules live in the database as well as in the code:
 * a balance can never go negative, every ledger entry moves the balance in the
 * same statement (trigger in the migration), an idempotency key charges once,
 * an exclusive lead has one active assignment, an offer never has more
 * winners than it allows.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { FieldMapping } from '../domain/delivery';
import type {
  AgencySettings,
  ApiKeyKind,
  AuctionKind,
  AuctionPricing,
  ChangeActor,
  ConsentEvidence,
  AssignmentStatus,
  BuyerStatus,
  Caps,
  CampaignStatus,
  DeliveryChannel,
  DeliveryMode,
  DeliveryStatus,
  DisputeStatus,
  ExclusionReason,
  LeadFields,
  LeadStatus,
  LedgerEntryKind,
  OfferKind,
  OfferStatus,
  PriceRules,
  PayoutKind,
  PingDecision,
  PushStrategy,
  SourceLedgerKind,
  SourceStatus,
  TimelineEventType,
} from '../domain/types';

const id = () => uuid('id').primaryKey().defaultRandom();
const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const updatedAt = () =>
  timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow().$onUpdate(() => new Date());
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const agencies = pgTable('agencies', {
  id: id(),
  name: text('name').notNull(),
  /** IANA zone: caps and reports count days, weeks and months here. */
  timeZone: text('time_zone').notNull().default('UTC'),
  /** Dedupe window, consent, auto-pause, returns and self-service rules (domain/types.ts AgencySettings). */
  settings: jsonb('settings').$type<AgencySettings>().notNull().default({}),
  createdAt: createdAt(),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    kind: text('kind').$type<ApiKeyKind>().notNull(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
    buyerId: uuid('buyer_id').references(() => buyers.id),
    /** Set exactly for `source` keys (CHECK api_keys_source_owner). */
    sourceId: uuid('source_id').references(() => sources.id),
    /** SHA-256 of the key; the key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull(),
    /** The first characters, so staff can tell keys apart. */
    prefix: text('prefix').notNull(),
    createdAt: createdAt(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_uq').on(t.keyHash)],
);

export const serviceLines = pgTable(
  'service_lines',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
}

export const buyers = pgTable(
  'buyers',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
    name: text('name').notNull(),
    status: text('status').$type<BuyerStatus>().notNull().default('active'),
    pauseReason: text('pause_reason'),
    /** Who paused the buyer: a buyer may resume only its own pause. */
    pausedBy: text('paused_by').$type<ChangeActor>(),
    /** HMAC-SHA256 key of its webhook signatures; shown once (creation, rotation), never in a buyer view. */
    webhookSecret: text('webhook_secret'),
    /** Failed deliveries in a row (after retries); reset by a successful one. Pauses the buyer at the agency's limit. */
    consecutiveDeliveryFailures: integer('consecutive_delivery_failures').notNull().default(0),
    serviceLines: text('service_lines').array().notNull().default(sql`'{}'::text[]`),
    zipCodes: text('zip_codes').array().notNull().default(sql`'{}'::text[]`),
    states: text('states').array().notNull().default(sql`'{}'::text[]`),
    caps: jsonb('caps').$type<Caps>().notNull().default({}),
    delivery: jsonb('delivery').$type<DeliverySettings>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('buyers_agency_idx').on(t.agencyId)],
);

export const wallets = pgTable(
  'wallets',
  {
    buyerId: uuid('buyer_id').primaryKey().references(() => buyers.id),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
    /** Moved only by the ledger trigger; equals the sum of the buyer's entries. */
    balance: integer('balance').notNull().default(0),
    updatedAt: updatedAt(),
  },
  (t) => [check('wallets_balance_non_negative', sql`${t.balance} >= 0`)],
);

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: id(),
    buyerId: uuid('buyer_id').notNull().references(() => wallets.buyerId),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
    index('ledger_lead_idx').on(t.leadId).where(sql`${t.leadId} IS NOT NULL`),
    check('ledger_amount_sign', sql`(${t.kind} = 'charge' AND ${t.amount} < 0) OR (${t.kind} IN ('top_up','refund') AND ${t.amount} > 0) OR ${t.kind} = 'adjustment'`),
  ],
);

export const campaigns = pgTable(
  'campaigns',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('campaigns_agency_idx').on(t.agencyId),
    check('campaigns_max_winners_positive', sql`${t.maxWinners} >= 1`),
    check('campaigns_window_positive', sql`${t.claimWindowSeconds} >= 1`),
  ],
);

/** The campaign's optional buyer pool; priority and weight steer push delivery. */
export const campaignBuyers = pgTable(
  'campaign_buyers',
  {
    campaignId: uuid('campaign_id').notNull().references(() => campaigns.id, { onDelete: 'cascade' }),
    buyerId: uuid('buyer_id').notNull().references(() => buyers.id),
    priority: integer('priority').notNull().default(0),
    weight: integer('weight').notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.buyerId] })],
);

/** Round-robin rotation: the last buyer served, per campaign, so it survives restarts. */
export const pushRotation = pgTable('push_rotation', {
  campaignId: uuid('campaign_id').primaryKey().references(() => campaigns.id, { onDelete: 'cascade' }),
  lastBuyerId: uuid('last_buyer_id'),
  updatedAt: updatedAt(),
});

export const leads = pgTable(
  'leads',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
    campaignId: uuid('campaign_id').notNull().references(() => campaigns.id),
    fields: jsonb('fields').$type<LeadFields>().notNull(),
    status: text('status').$type<LeadStatus>().notNull().default('routing'),
    statusReason: text('status_reason'),
    dedupeKeys: text('dedupe_keys').array().notNull().default(sql`'{}'::text[]`),
    /** Consent evidence captured with the lead (null: none was sent). */
    consent: jsonb('consent').$type<ConsentEvidence>(),
    workflowId: text('workflow_id').notNull(),
    /** The source that posted it (null: the agency itself), with the seller's sub id and click id. */
    sourceId: uuid('source_id').references(() => sources.id),
    subId: text('sub_id'),
    clickId: text('click_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('leads_agency_status_idx').on(t.agencyId, t.status, t.createdAt),
    index('leads_source_idx').on(t.sourceId, t.createdAt, t.id).where(sql`${t.sourceId} IS NOT NULL`),
    index('leads_agency_created_idx').on(t.agencyId, t.createdAt),
  ],
);

export const offers = pgTable(
  'offers',
  {
    id: id(),
    leadId: uuid('lead_id').notNull().references(() => leads.id),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
    offerId: uuid('offer_id').notNull().references(() => offers.id),
    buyerId: uuid('buyer_id').notNull().references(() => buyers.id),
    eligible: boolean('eligible').notNull(),
    reason: text('reason').$type<ExclusionReason>(),
    detail: text('detail'),
    /** What the rules saw: balance, period counts, status, service area. */
    snapshot: jsonb('snapshot').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [primaryKey({ columns: [t.offerId, t.buyerId] }), index('offer_targets_buyer_idx').on(t.buyerId, t.eligible)],
);

export const offerEvents = pgTable(
  'offer_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    leadId: uuid('lead_id').notNull().references(() => leads.id),
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
    leadId: uuid('lead_id').notNull().references(() => leads.id),
    offerId: uuid('offer_id').notNull().references(() => offers.id),
    buyerId: uuid('buyer_id').notNull().references(() => buyers.id),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
    price: integer('price').notNull(),
    /** Exclusive unless the offer allowed several winners. */
    exclusive: boolean('exclusive').notNull(),
    chargeEntryId: uuid('charge_entry_id').notNull().references(() => ledgerEntries.id),
    status: text('status').$type<AssignmentStatus>().notNull().default('active'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('assignments_offer_buyer_uq').on(t.offerId, t.buyerId),
    uniqueIndex('assignments_charge_uq').on(t.chargeEntryId),
    // A buyer never holds the same lead twice, and an exclusive lead has one owner.
    uniqueIndex('assignments_lead_buyer_active_uq').on(t.leadId, t.buyerId).where(sql`${t.status} = 'active'`),
    uniqueIndex('assignments_exclusive_lead_uq').on(t.leadId).where(sql`${t.exclusive} AND ${t.status} = 'active'`),
    index('assignments_buyer_idx').on(t.buyerId, t.createdAt),
    index('assignments_lead_idx').on(t.leadId),
  ],
);

export const deliveries = pgTable(
  'deliveries',
  {
    id: id(),
    assignmentId: uuid('assignment_id').notNull().references(() => assignments.id),
    channel: text('channel').$type<DeliveryChannel>().notNull(),
    status: text('status').$type<DeliveryStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: createdAt(),
    deliveredAt: ts('delivered_at'),
  },
  (t) => [uniqueIndex('deliveries_assignment_channel_uq').on(t.assignmentId, t.channel)],
);

export const disputes = pgTable(
  'disputes',
  {
    id: id(),
    assignmentId: uuid('assignment_id').notNull().references(() => assignments.id),
    buyerId: uuid('buyer_id').notNull().references(() => buyers.id),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
    uniqueIndex('disputes_assignment_active_uq').on(t.assignmentId).where(sql`${t.status} <> 'rejected'`),
  ],
);

/** Sealed bids of highest-bid auctions (the workflow decides; this is the record). One row per buyer: a raise replaces it. */
export const bids = pgTable(
  'bids',
  {
    offerId: uuid('offer_id').notNull().references(() => offers.id),
    buyerId: uuid('buyer_id').notNull().references(() => buyers.id),
    amount: integer('amount').notNull(),
    requestId: text('request_id').notNull(),
    /** The workflow's acceptance order: ties go to the earlier. */
    seq: integer('seq').notNull(),
    placedAt: ts('placed_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.offerId, t.buyerId] }), check('bids_amount_positive', sql`${t.amount} >= 0`)],
);

/** Every change to a buyer's settings: who (admin, the buyer itself, the system), what (from → to), when. */
export const buyerChanges = pgTable(
  'buyer_changes',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
    buyerId: uuid('buyer_id').notNull().references(() => buyers.id),
    actor: text('actor').$type<ChangeActor>().notNull(),
    changes: jsonb('changes').$type<Record<string, { from: unknown; to: unknown }>>().notNull(),
    note: text('note'),
    createdAt: createdAt(),
  },
  (t) => [index('buyer_changes_buyer_idx').on(t.buyerId, t.createdAt)],
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
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] })],
);

// ─── the supply side (migration 0006) ────────────────────────────────────────

/** A lead source (supplier): the agency's own forms, an affiliate, another seller. */
export const sources = pgTable(
  'sources',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
    sourceId: uuid('source_id').notNull().references(() => sources.id),
    campaignId: uuid('campaign_id').notNull().references(() => campaigns.id),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
  sourceId: uuid('source_id').primaryKey().references(() => sources.id),
  agencyId: uuid('agency_id').notNull().references(() => agencies.id),
  balance: integer('balance').notNull().default(0),
  updatedAt: updatedAt(),
});

export const sourceLedgerEntries = pgTable(
  'source_ledger_entries',
  {
    id: id(),
    sourceId: uuid('source_id').notNull().references(() => sourceWallets.sourceId),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
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
    uniqueIndex('source_ledger_assignment_kind_uq').on(t.assignmentId, t.kind).where(sql`${t.kind} IN ('payout', 'reversal')`),
    index('source_ledger_source_idx').on(t.sourceId, t.createdAt),
    index('source_ledger_lead_idx').on(t.leadId),
  ],
);

/** Inbound pings: a decision with a payout, valid until expiresAt, posted at most once. */
export const pings = pgTable(
  'pings',
  {
    id: id(),
    agencyId: uuid('agency_id').notNull().references(() => agencies.id),
    sourceId: uuid('source_id').notNull().references(() => sources.id),
    campaignId: uuid('campaign_id').notNull().references(() => campaigns.id),
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
  (t) => [index('pings_source_idx').on(t.sourceId, t.createdAt), index('pings_agency_created_idx').on(t.agencyId, t.createdAt)],
);

export interface PingFields {
  zip: string;
  state?: string;
  city?: string;
  answers?: Record<string, string | number | boolean>;
}
