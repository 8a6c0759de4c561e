/**
 * Auto-recharge (#21): the one definition of a buyer's recharge workflow id, of
 * the Stripe idempotency key of each attempt, of the retry schedule and of the
 * pause reasons a buyer sees on the wallet page. Pure (workflows import it).
 */

/** One recharge at a time per buyer: a request while one runs joins it. */
export function rechargeWorkflowId(buyerId: string): string {
  return `recharge-${buyerId}`;
}

/**
 * The Stripe `Idempotency-Key` (and the payment row's `stripe_idempotency_key`) of attempt `attempt` (1, 2, …) of
 * the recharge started by outbox row `requestId`: a retried activity, a restarted worker or a replayed workflow asks
 * Stripe with the same key and gets the same PaymentIntent; the next recharge of the same buyer (the same workflow
 * id, a new run) starts from another request and so never meets an earlier answer.
 */
export function rechargeIdempotencyKey(workflowId: string, requestId: string, attempt: number): string {
  return `recharge:${workflowId}:${requestId}:${attempt}`;
}

/** The waits before the 2nd, 3rd, … attempt after a failed one (a durable timer each): 1 min, 10 min, 1 h. */
export const DEFAULT_RECHARGE_RETRY_DELAYS_MS: readonly number[] = [60_000, 600_000, 3_600_000];

/** Why auto-recharge stopped, as stored in `buyer_billing.recharge_paused_reason` and shown on the wallet page. */
export function rechargePauseReason(
  why: 'failures' | 'authentication_required',
  last: { code: string | null; message: string | null; failures: number },
): string {
  const detail = [last.code, last.message].filter(Boolean).join(': ');
  if (why === 'authentication_required')
    return `Auto-recharge paused: your bank asks you to authenticate this card${detail ? ` (${detail})` : ''}. Save a card again to resume.`;
  return `Auto-recharge paused after ${last.failures} failed recharges in a row${detail ? ` (last: ${detail})` : ''}. Save a card again to resume.`;
}
