/**
 * What a source earns for a sold lead: a fixed amount, or a share of the sale
 * price in basis points rounded down to whole credits (never more than the
 * sale). Pure, so the ping's quote and the sale's payout are the same rule.
 */
import type { PayoutRule } from './types';

export function payoutFor(rule: PayoutRule, salePrice: number): number {
  if (rule.kind === 'fixed') return Math.max(0, Math.trunc(rule.amount ?? 0));
  const bps = Math.min(10_000, Math.max(0, Math.trunc(rule.shareBps ?? 0)));
  return Math.floor((Math.max(0, salePrice) * bps) / 10_000);
}

/** Idempotency keys of the source ledger: one payout and at most one reversal per assignment. */
export const sourcePayoutKey = (assignmentId: string) => `source-payout:${assignmentId}`;
export const sourceReversalKey = (assignmentId: string) => `source-reversal:${assignmentId}`;
