/**
 * `rechargeWorkflow` (id `recharge-<buyerId>`, domain/recharge.ts): one buyer's auto-recharge (#21), started by the
 * worker's drain of the recharge outbox (worker/recharge-starter.ts); a request while one runs joins it.
 *
 * Each attempt: `chargeRecharge` (payment row + off-session PaymentIntent under the attempt's idempotency key),
 * then `awaitRechargeSettled` until the webhook settled the payment – credits land only from the verified webhook
 * (`settleSucceededPayment`), never from the API call's answer. The wait is an activity reading the payment row
 * and heartbeating rather than a signal from the webhook receiver: the receiver needs no Temporal client and no
 * knowledge of workflows, a signal lost between the receiver's commit and the signal cannot strand a recharge, and
 * the happy path's history is a fixed handful of events however long Stripe takes. A failure (decline,
 * `authentication_required`, the `payment_intent.payment_failed` webhook) is counted and alerted; the next attempt
 * waits on a durable timer (`retryDelaysMs`), and after the agency's maximum of failures in a row (or at once for
 * `authentication_required`) recharge is paused with a reason. Deterministic: it only schedules activities and
 * timers.
 */
import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';

import type { LeadActivities } from '../activities';
import { rechargeIdempotencyKey } from '../domain/recharge';

const { chargeRecharge, recordRechargeFailed } = proxyActivities<LeadActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export interface RechargeInput {
  buyerId: string;
  /** The outbox row that started this run: part of every attempt's idempotency key. */
  requestId: string;
  /** Waits before the 2nd, 3rd… attempt, the last one repeating (domain/recharge.ts has the default); empty: one attempt. */
  retryDelaysMs: number[];
  /** How long one wait for the webhook lasts before it is asked again (default 10 min), and its poll (default 1 s). */
  settleWaitMs?: number;
  settlePollMs?: number;
}

export type RechargeResult =
  | { outcome: 'succeeded'; attempts: number; paymentId: string }
  | { outcome: 'skipped'; attempts: number; reason: string }
  | { outcome: 'failed'; attempts: number; paused: boolean; paymentId: string };

/** How many ten-minute waits a payment may stay pending (no webhook) before the run leaves it to reconciliation. */
const MAX_WAITS = 36;

export async function rechargeWorkflow(input: RechargeInput): Promise<RechargeResult> {
  const waitMs = input.settleWaitMs ?? 600_000;
  const pollMs = input.settlePollMs ?? 1000;
  const { awaitRechargeSettled } = proxyActivities<LeadActivities>({
    startToCloseTimeout: waitMs + 60_000,
    heartbeatTimeout: Math.max(10_000, pollMs * 10),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  const workflowId = workflowInfo().workflowId;
  for (let attempt = 1; ; attempt++) {
    const idempotencyKey = rechargeIdempotencyKey(workflowId, input.requestId, attempt);
    const charged = await chargeRecharge({ buyerId: input.buyerId, idempotencyKey, attempt });
    if (charged.status === 'skipped') return { outcome: 'skipped', attempts: attempt, reason: charged.reason };
    let failure: { code: string | null; message: string | null } | null =
      charged.status === 'failed' ? { code: charged.code, message: charged.message } : null;
    if (charged.status === 'pending') {
      for (let wait = 1; ; wait++) {
        const settled = await awaitRechargeSettled({
          buyerId: input.buyerId,
          paymentId: charged.paymentId,
          waitMs,
          pollMs,
        });
        if (settled.status === 'succeeded')
          return { outcome: 'succeeded', attempts: attempt, paymentId: charged.paymentId };
        if (settled.status === 'failed') {
          failure = { code: settled.code, message: settled.message };
          break;
        }
        // No webhook for hours: the payment stays pending for the reconciliation job; no second charge.
        if (wait >= MAX_WAITS) return { outcome: 'skipped', attempts: attempt, reason: 'no_webhook' };
      }
    }
    const recorded = await recordRechargeFailed({
      buyerId: input.buyerId,
      paymentId: charged.paymentId,
      code: failure?.code ?? null,
      message: failure?.message ?? null,
    });
    // Until paused (every failed attempt counts one failure, and the agency's maximum is at most 20), the last
    // delay repeats; the next attempt charges nothing if the balance is back above the threshold meanwhile.
    const delay = input.retryDelaysMs[Math.min(attempt, input.retryDelaysMs.length) - 1];
    if (recorded.paused || delay === undefined)
      return { outcome: 'failed', attempts: attempt, paused: recorded.paused, paymentId: charged.paymentId };
    await sleep(delay);
  }
}
