/**
 * Rows to response objects. Built field by field (allow-listing), so a column
 * added to a table later does not leak into an answer until someone adds it here.
 */
import type { AgencyRow, ServiceLineRow } from '../db/agencies';
import type { AssignmentRow, WonLead } from '../db/assignments';
import type { AuditRow } from '../db/audit';
import type { BuyerRow } from '../db/buyers';
import type { CampaignRow, PoolEntry } from '../db/campaigns';
import type { DeliveryAttemptRow } from '../db/deliveries';
import type { DisputeRow } from '../db/disputes';
import type { EndpointCallRow, EndpointRow } from '../db/endpoints';
import type { ErasureRequestRow } from '../db/erasure';
import type { LeadRow } from '../db/leads';
import type { LedgerRow } from '../db/ledger';
import type { OfferRow, TargetRow, TimelineEvent } from '../db/offers';
import type { ListedPayment } from '../db/payments';
import {
  type PingRow,
  ruleOf,
  type SourceCampaignRow,
  type SourceLead,
  type SourceLedgerEntry,
  type SourceRow,
} from '../db/sources';
import { suppressionEntryId, type SuppressionEntryRow } from '../db/suppression';
import { buyerOfferOf } from '../domain/offer-view';
import { formatMoney } from '../domain/payments';
import { availability } from '../domain/schedule';
import type { ConsentClaimRecord, ExclusionReason, PingRejection } from '../domain/types';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function agencyView(a: AgencyRow) {
  return { id: a.id, name: a.name, timeZone: a.timeZone, createdAt: iso(a.createdAt) };
}

export function serviceLineView(s: ServiceLineRow) {
  return { id: s.id, key: s.key, name: s.name, createdAt: iso(s.createdAt) };
}

/** A buyer as the API shows it; `agencyTimeZone` (when known) is the default zone of its hours. */
export function buyerView(b: BuyerRow & { agencyTimeZone?: string }, balance: number, now = new Date()) {
  const zone = b.timeZone ?? b.agencyTimeZone ?? 'UTC';
  const a = availability({ schedule: b.schedule, pauses: b.pauses, timeZone: zone, now });
  return {
    id: b.id,
    name: b.name,
    status: b.status,
    pauseReason: b.pauseReason,
    serviceLines: b.serviceLines,
    zipCodes: b.zipCodes,
    states: b.states,
    caps: b.caps,
    delivery: b.delivery,
    balance,
    pausedBy: b.pausedBy,
    consecutiveDeliveryFailures: b.consecutiveDeliveryFailures,
    webhookPausedAt: iso(b.webhookPausedAt),
    webhookPauseReason: b.webhookPauseReason,
    timeZone: b.timeZone,
    schedule: b.schedule,
    pauses: b.pauses,
    filters: b.filters,
    alerts: b.alerts,
    lowBalanceThreshold: b.lowBalanceThreshold,
    lowBalance: b.lowBalanceThreshold !== null && balance < b.lowBalanceThreshold,
    availability: a.open
      ? { open: true, opensAt: null, why: null }
      : { open: false, opensAt: iso(a.opensAt), why: a.why },
    createdAt: iso(b.createdAt),
    updatedAt: iso(b.updatedAt),
  };
}

export function ledgerEntryView(e: LedgerRow) {
  return {
    id: e.id,
    kind: e.kind,
    amount: e.amount,
    balanceAfter: e.balanceAfter,
    reference: e.reference,
    leadId: e.leadId,
    offerId: e.offerId,
    createdAt: iso(e.createdAt),
  };
}

export function campaignView(c: CampaignRow, pool: PoolEntry[]) {
  return {
    id: c.id,
    name: c.name,
    serviceLine: c.serviceLine,
    mode: c.mode,
    claimWindowSeconds: c.claimWindowSeconds,
    previewFields: c.previewFields,
    price: c.price,
    maxWinners: c.maxWinners,
    fallbackCampaignId: c.fallbackCampaignId,
    pushStrategy: c.pushStrategy,
    caps: c.caps,
    status: c.status,
    buyers: pool,
    auction: c.auction,
    floorPrice: c.floorPrice,
    pricing: c.pricing,
    dncRule: c.dncRule,
    consentCertificate: c.consentCertificate ?? null,
    pingTree: c.pingTree,
    endpointBidders: c.endpointBidders,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

export function leadView(l: LeadRow) {
  return {
    id: l.id,
    campaignId: l.campaignId,
    status: l.status,
    statusReason: l.statusReason,
    fields: l.fields,
    consent: l.consent ?? null,
    sourceId: l.sourceId ?? null,
    subId: l.subId ?? null,
    clickId: l.clickId ?? null,
    phoneE164: l.phoneE164 ?? null,
    phoneType: l.phoneType ?? null,
    contactChecks: l.contactChecks ?? [],
    workflowId: l.workflowId,
    createdAt: iso(l.createdAt),
    updatedAt: iso(l.updatedAt),
  };
}

export function offerAdminView(o: OfferRow) {
  return {
    id: o.id,
    leadId: o.leadId,
    campaignId: o.campaignId,
    kind: o.kind,
    status: o.status,
    price: o.price,
    preview: o.preview,
    maxWinners: o.maxWinners,
    winners: o.winners,
    auction: o.auction,
    pricing: o.pricing,
    depth: o.depth,
    workflowId: o.workflowId,
    openedAt: iso(o.openedAt),
    closesAt: iso(o.closesAt),
    closedAt: iso(o.closedAt),
    closeReason: o.closeReason,
  };
}

/** The buyer's view of an offer, on REST and on the feed alike: the preview and nothing else of the lead. */
/** The buyer-facing offer (domain/offer-view.ts): the same shape on every route, frame and bus event. */
export const buyerOfferView = (o: OfferRow) => buyerOfferOf(o);

export function assignmentView(a: AssignmentRow) {
  return {
    id: a.id,
    leadId: a.leadId,
    offerId: a.offerId,
    buyerId: a.buyerId,
    price: a.price,
    exclusive: a.exclusive,
    status: a.status,
    createdAt: iso(a.createdAt),
  };
}

export function wonLeadView(w: WonLead, consentClaim?: ConsentClaimRecord) {
  return {
    assignmentId: w.id,
    offerId: w.offerId,
    price: w.price,
    status: w.status,
    wonAt: iso(w.createdAt),
    lead: { id: w.lead.id, ...w.lead.fields, ...(w.lead.consent ? { consent: w.lead.consent } : {}) },
    ...(consentClaim ? { consentClaim } : {}),
  };
}

/** Timeline events without their empty parts. */
export function timelineEventView(e: TimelineEvent) {
  return {
    type: e.type,
    at: e.at,
    ...(e.offerId ? { offerId: e.offerId } : {}),
    ...(e.buyerId ? { buyerId: e.buyerId } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.data ? { data: e.data } : {}),
  };
}

export function candidateView(t: TargetRow & { buyerName: string }) {
  return {
    buyerId: t.buyerId,
    buyerName: t.buyerName,
    eligible: t.eligible,
    reason: t.reason,
    detail: t.detail,
    snapshot: t.snapshot,
  };
}

/** Why a buyer was excluded, in words that quote nothing of the lead (the admin's `detail` may name its ZIP and state). */
const BUYER_REASON_TEXT: Record<ExclusionReason, string> = {
  not_subscribed: "you are not subscribed to this lead's service line",
  outside_service_area: 'the lead is outside your service area',
  insufficient_credits: 'your balance was below the price',
  cap_reached: 'you had reached a cap (yours or the campaign’s)',
  paused: 'your account was paused',
  not_in_campaign_pool: "you are not in this campaign's buyer pool",
  already_bought: 'you already bought this person recently',
  outside_hours: 'it was outside your hours of operation (or you were paused)',
  filter_mismatch: 'your lead filters refuse this lead',
};

/** What of the eligibility snapshot is the buyer's own (allow-listed: a field added later stays admin-only). */
const BUYER_SNAPSHOT_KEYS = [
  'status',
  'balance',
  'price',
  'counts',
  'caps',
  'serviceLines',
  'zipCodes',
  'states',
  'inCampaignPool',
  'campaignCapReached',
  'opensAt',
  'priceRule',
];

/** A buyer's own eligibility row: its own numbers and the reason, never the lead's data. */
export function buyerCandidateView(t: TargetRow & { buyerName: string }) {
  const snapshot: Record<string, unknown> = {};
  for (const k of BUYER_SNAPSHOT_KEYS)
    if (Object.prototype.hasOwnProperty.call(t.snapshot ?? {}, k)) snapshot[k] = t.snapshot[k];
  return { ...candidateView(t), detail: t.reason ? BUYER_REASON_TEXT[t.reason] : null, snapshot };
}

export function disputeView(d: DisputeRow) {
  return {
    id: d.id,
    assignmentId: d.assignmentId,
    buyerId: d.buyerId,
    reason: d.reason,
    code: d.reasonCode,
    status: d.status,
    refundEntryId: d.refundEntryId,
    createdAt: iso(d.createdAt),
    resolvedAt: iso(d.resolvedAt),
  };
}

/** Who made an entry of the audit log: the kind of actor, the person and the key, and how they were shown then. */
function auditActorView(e: AuditRow) {
  return { type: e.actorType, userId: e.actorUserId, keyId: e.actorKeyId, label: e.actorLabel };
}

/** An entry of the audit log (GET /v1/audit-log). */
export function auditEntryView(e: AuditRow) {
  return {
    id: e.id,
    at: e.createdAt.toISOString(),
    actor: auditActorView(e),
    side: e.side,
    objectType: e.objectType,
    objectId: e.objectId,
    action: e.action,
    buyerId: e.buyerId,
    changes: e.changes,
    note: e.note,
  };
}

/** An entry of a buyer's change history (GET /v1/buyers/:id/changes): `actor` is the side; `by` the person or key. */
export function buyerChangeView(e: AuditRow) {
  return {
    id: e.id,
    buyerId: e.objectId,
    actor: e.side,
    by: auditActorView(e),
    action: e.action,
    changes: e.changes,
    note: e.note,
    createdAt: e.createdAt.toISOString(),
  };
}

export function deliveryAttemptView(r: DeliveryAttemptRow) {
  return {
    id: r.id,
    channel: r.channel,
    attempt: r.attempt,
    redelivery: r.redelivery,
    messageId: r.messageId,
    outcome: r.outcome,
    status: r.statusCode,
    latencyMs: r.latencyMs,
    response: r.response,
    error: r.error,
    nextRetryMs: r.nextRetryMs,
    at: iso(r.createdAt),
  };
}
// ─── the supply side ─────────────────────────────────────────────────────────

export function sourceView(s: SourceRow, balance: number) {
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    balance,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}

export function sourceCampaignView(r: { rule: SourceCampaignRow; campaignName: string }) {
  return {
    campaignId: r.rule.campaignId,
    campaignName: r.campaignName,
    allowed: r.rule.allowed,
    payout: ruleOf(r.rule),
  };
}

export function sourceLedgerEntryView(e: SourceLedgerEntry) {
  return {
    id: e.id,
    kind: e.kind,
    amount: e.amount,
    balanceAfter: e.balanceAfter,
    leadId: e.leadId,
    assignmentId: e.assignmentId,
    reference: e.reference,
    createdAt: iso(e.createdAt),
  };
}

/** A lead as its source sees it: its own ids and the outcome, never the buyer. */
export function sourceLeadView(l: SourceLead) {
  return {
    id: l.id,
    campaignId: l.campaignId,
    subId: l.subId,
    clickId: l.clickId,
    outcome: l.outcome,
    payout: l.payout,
    createdAt: iso(l.createdAt),
  };
}

export function pingView(p: PingRow) {
  return {
    pingId: p.id,
    decision: p.decision,
    reason: p.reason as PingRejection | null,
    payout: p.payout,
    expiresAt: iso(p.expiresAt),
  };
}

/**
 * A card payment (the console's payments and the buyer's own, api/routes/refunds.ts and checkout.ts), with the
 * credits of its refunds still pending at Stripe (db/payments.ts `ListedPayment`).
 */
export function paymentView(p: ListedPayment) {
  return {
    id: p.id,
    buyerId: p.buyerId,
    kind: p.kind,
    status: p.status,
    credits: p.credits,
    creditPrice: p.creditPrice,
    amount: p.amount,
    currency: p.currency,
    amountDisplay: formatMoney(p.amount, p.currency),
    refundedCredits: p.refundedCredits,
    pendingRefundCredits: p.pendingRefundCredits,
    disputedCredits: p.disputedCredits,
    cardBrand: p.cardBrand,
    cardLast4: p.cardLast4,
    receiptUrl: p.receiptUrl,
    stripePaymentIntentId: p.stripePaymentIntentId,
    failureCode: p.failureCode,
    failureMessage: p.failureMessage,
    createdAt: p.createdAt.toISOString(),
    succeededAt: p.succeededAt?.toISOString() ?? null,
  };
}

/** A buyer's endpoint: its secret never, only whether one is stored. */
export function endpointView(e: EndpointRow) {
  return {
    id: e.id,
    buyerId: e.buyerId,
    pingUrl: e.pingUrl,
    postUrl: e.postUrl,
    method: e.method,
    format: e.format,
    auth: { kind: e.authKind, header: e.authHeader, username: e.authUsername, secretSet: e.secretSealed !== null },
    timeoutMs: e.timeoutMs,
    maxConcurrentPings: e.maxConcurrentPings,
    pingTemplate: e.pingTemplate,
    pingRules: e.pingRules as Record<string, unknown> | null,
    postTemplate: e.postTemplate,
    postRules: e.postRules as Record<string, unknown>,
    statusUrl: e.statusUrl,
    statusMethod: e.statusMethod,
    statusTemplate: e.statusTemplate,
    statusRules: e.statusRules as Record<string, unknown> | null,
    status: e.status,
    pauseReason: e.pauseReason,
    pausedBy: e.pausedBy,
    pausedAt: iso(e.pausedAt),
    consecutiveFailures: e.consecutiveFailures,
    updatedAt: iso(e.updatedAt)!,
  };
}

/** One call of an endpoint's log (secrets were masked when it was recorded). */
export function endpointCallView(c: EndpointCallRow) {
  return {
    id: c.id,
    leadId: c.leadId,
    kind: c.kind,
    step: c.step,
    outcome: c.outcome,
    bid: c.bid,
    pingId: c.pingId,
    reason: c.reason,
    latencyMs: c.latencyMs,
    idempotencyKey: c.idempotencyKey,
    request: c.request,
    response: c.response,
    at: iso(c.createdAt)!,
  };
}

/** An entry of an agency's suppression list: never its value (there is none to show, only its HMAC, which is not shown either). */
export function suppressionEntryView(e: SuppressionEntryRow) {
  return {
    id: suppressionEntryId(e),
    list: e.list,
    kind: e.kind,
    source: e.source,
    note: e.note,
    addedAt: iso(e.addedAt),
  };
}

/** An erasure request as listed: what it erased and who asked, never the person (db/erasure.ts). */
export function erasureRequestView(r: ErasureRequestRow) {
  return {
    id: r.id,
    kind: r.kind,
    leads: r.leads,
    counts: r.counts,
    suppressed: r.suppressed,
    requestedBy: r.actorLabel,
    requestedByUserId: r.actorUserId,
    at: iso(r.createdAt)!,
  };
}
