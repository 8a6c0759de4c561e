/**
 * Deterministic identifiers. Temporal workflow ids and ledger idempotency keys
 * are derived from domain ids (never random) so that a retried activity or a
 * re-delivered signal lands on the same workflow / the same ledger row instead
 * of creating a duplicate.
 */
import { DELIVERY_CHANNELS, type DeliveryChannel } from './types';

/** One routing workflow per lead: starting it twice is rejected by Temporal, which dedupes intake retries. */
export function leadWorkflowId(leadId: string): string {
  return `lead-${leadId}`;
}

/** Child workflow of a lead for its seq-th offer (fallbacks, re-offers); seq keeps them distinct. */
export function offerWorkflowId(leadId: string, seq: number): string {
  return `lead-${leadId}-offer-${seq}`;
}

/** A buyer is charged at most once per offer, however many times the charge is retried. */
export function ledgerChargeKey(offerId: string, buyerId: string): string {
  return `offer:${offerId}:buyer:${buyerId}`;
}

/** An assignment is refunded at most once. */
export function ledgerRefundKey(assignmentId: string): string {
  return `refund:${assignmentId}`;
}

/** The new auction of a returned lead (an approved dispute with re-offer): one per dispute. */
export function returnReofferWorkflowId(leadId: string, disputeId: string): string {
  return `lead-${leadId}-return-${disputeId}`;
}

/** An admin's "send it again" of one sale on one channel: a new workflow each time (`nonce`). */
export function redeliveryWorkflowId(assignmentId: string, channel: DeliveryChannel, nonce: string): string {
  return `redeliver-${assignmentId}-${channel}-${nonce}`;
}

/** What a workflow id built above names: the lead's own workflow, one of its offer children, or a returned lead's re-offer. */
export type ParsedWorkflowId =
  | { kind: 'lead'; leadId: string }
  | { kind: 'offer'; leadId: string; seq: number }
  | { kind: 'return'; leadId: string; disputeId: string }
  | { kind: 'redelivery'; assignmentId: string; channel: DeliveryChannel; nonce: string };

const REDELIVERY_ID = new RegExp(`^redeliver-(.+?)-(${DELIVERY_CHANNELS.join('|')})-(.+)$`, 's');

/** The inverse of the builders above (each form they build, and nothing else); null for any other id. */
export function parseWorkflowId(workflowId: string): ParsedWorkflowId | null {
  const r = REDELIVERY_ID.exec(workflowId);
  if (r) return { kind: 'redelivery', assignmentId: r[1]!, channel: r[2] as DeliveryChannel, nonce: r[3]! };
  const m = /^lead-(.+?)(?:-offer-(\d+)|-return-(.+))?$/s.exec(workflowId);
  if (!m) return null;
  const leadId = m[1]!;
  if (m[2] !== undefined) return { kind: 'offer', leadId, seq: Number(m[2]) };
  if (m[3] !== undefined) return { kind: 'return', leadId, disputeId: m[3] };
  return { kind: 'lead', leadId };
}
