/**
 * What a source earns for a sold lead: a fixed amount, or a share of the sale
 * price in basis points rounded down to whole credits (never more than the
 * sale). Pure, so the ping's quote and the sale's payout are the same rule.
 */
import type { LeadStatus, PayoutRule, SourceOutcome } from './types';

export function payoutFor(rule: PayoutRule, salePrice: number): number {
  if (rule.kind === 'fixed') return Math.max(0, Math.trunc(rule.amount ?? 0));
  const bps = Math.min(10_000, Math.max(0, Math.trunc(rule.shareBps ?? 0)));
  return Math.floor((Math.max(0, salePrice) * bps) / 10_000);
}

/** Idempotency keys of the source ledger: one payout and at most one reversal per assignment. */
export const sourcePayoutKey = (assignmentId: string) => `source-payout:${assignmentId}`;
export const sourceReversalKey = (assignmentId: string) => `source-reversal:${assignmentId}`;

/**
 * A lead's outcome as its source sees it: sold while a sale stands, returned
 * when every sale was returned, unsold when it ended without a sale (manual
 * review, rejected), pending while it is still being routed or offered.
 */
export function sourceOutcome(lead: { status: LeadStatus; activeSales: number; returnedSales: number }): SourceOutcome {
  if (lead.activeSales > 0) return 'sold';
  if (lead.returnedSales > 0) return 'returned';
  if (lead.status === 'manual_review' || lead.status === 'rejected') return 'unsold';
  return 'pending';
}
