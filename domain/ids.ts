/**
 * Deterministic identifiers. Temporal workflow ids and ledger idempotency keys
 * are derived from domain ids (never random) so that a retried activity or a
 * re-delivered signal lands on the same workflow / the same ledger row instead
 * of creating a duplicate.
 */

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
