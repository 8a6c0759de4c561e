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

/**
 * The seq-th offer child (a fallback, a manual re-offer) of one run of a lead: `<run>-offer-<seq>`, where the run is
 * the lead's own workflow (`lead-<id>`, no `disputeId`) or a returned lead's re-offer (`lead-<id>-return-<dispute>`).
 * seq keeps one run's children distinct and the run keeps different runs' children apart, so a re-offer never names
 * a child that the lead's first run may still have open. Runs before `UNIQUE_OFFER_CHILDREN_PATCH` named a re-offer's
 * children like the first run's (no `disputeId`).
 */
export function offerWorkflowId(leadId: string, seq: number, disputeId?: string): string {
  const run = disputeId === undefined ? leadWorkflowId(leadId) : returnReofferWorkflowId(leadId, disputeId);
  return `${run}-offer-${seq}`;
}

/** A buyer is charged at most once per offer, however many times the charge is retried. */
export function ledgerChargeKey(offerId: string, buyerId: string): string {
  return `offer:${offerId}:buyer:${buyerId}`;
}

/** A winning endpoint bid held on the wallet while its post is out (#22): at most once per offer and buyer. */
export function ledgerReserveKey(offerId: string, buyerId: string): string {
  return `${ledgerChargeKey(offerId, buyerId)}:reserve`;
}

/** The reserve given back: once (the database checks it gives back exactly its reserve). */
export function ledgerReleaseKey(offerId: string, buyerId: string): string {
  return `${ledgerChargeKey(offerId, buyerId)}:release`;
}

/** The `Idempotency-Key` of the post of one sale to an endpoint buyer: the same on every resend (#22). */
export function endpointPostKey(offerId: string, buyerId: string): string {
  return `sale:${offerId}:${buyerId}`;
}

/** The request id of the bid an endpoint bidder's ping placed in a highest-bid auction (#22): one per offer and buyer. */
export function endpointBidRequestId(offerId: string, buyerId: string): string {
  return `ping:${offerId}:${buyerId}`;
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

/** What a workflow id built above names: the lead's own workflow, an offer child of it or of a re-offer (with its `disputeId`), or a returned lead's re-offer. */
export type ParsedWorkflowId =
  | { kind: 'lead'; leadId: string }
  | { kind: 'offer'; leadId: string; seq: number; disputeId?: string }
  | { kind: 'return'; leadId: string; disputeId: string }
  | { kind: 'redelivery'; assignmentId: string; channel: DeliveryChannel; nonce: string };

const REDELIVERY_ID = new RegExp(`^redeliver-(.+?)-(${DELIVERY_CHANNELS.join('|')})-(.+)$`, 's');

/** The inverse of the builders above (each form they build, and nothing else); null for any other id. */
export function parseWorkflowId(workflowId: string): ParsedWorkflowId | null {
  const r = REDELIVERY_ID.exec(workflowId);
  if (r) return { kind: 'redelivery', assignmentId: r[1]!, channel: r[2] as DeliveryChannel, nonce: r[3]! };
  const m = /^lead-(.+?)(?:-return-(.+?))?(?:-offer-(\d+))?$/s.exec(workflowId);
  if (!m) return null;
  const [, leadId, disputeId, seq] = m as unknown as [string, string, string | undefined, string | undefined];
  if (seq !== undefined)
    return { kind: 'offer', leadId, seq: Number(seq), ...(disputeId === undefined ? {} : { disputeId }) };
  if (disputeId !== undefined) return { kind: 'return', leadId, disputeId };
  return { kind: 'lead', leadId };
}
