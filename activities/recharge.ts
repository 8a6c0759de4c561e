/**
 * The auto-recharge's I/O steps (#21), run by workflows/recharge.ts. One attempt is two activities: `chargeRecharge`
 * (the payment row and the off-session PaymentIntent, both under the attempt's idempotency key, so a retried
 * activity or a restarted worker makes one PaymentIntent at Stripe) and `awaitRechargeSettled` (waits for the
 * webhook to settle the payment: credits land only through `settleSucceededPayment`, never on the API call's
 * answer). A failure is recorded by `recordRechargeFailed` (alert, count, pause).
 */
import { Context } from '@temporalio/activity';
import Stripe from 'stripe';

import {
  paymentStatusOf,
  type RechargeFailure,
  rechargePayment,
  type RechargeSkip,
  recordRechargeFailure,
  resetRechargeFailures,
} from '../db/billing';
import { attachStripeIds, markPaymentFailed, stripeSecretsOf } from '../db/payments';
import type { PaymentMetadata } from '../domain/payments';
import { stripeClient } from '../lib/stripe';
import type { ActivityDeps } from './deps';

export type ChargeOutcome =
  | { status: 'skipped'; reason: RechargeSkip }
  | { status: 'pending'; paymentId: string; paymentIntentId: string }
  | { status: 'failed'; paymentId: string; code: string | null; message: string | null };

export type SettledOutcome =
  | { status: 'succeeded' }
  | { status: 'failed'; code: string | null; message: string | null }
  /** Still pending after the wait (no webhook yet): the workflow waits again. */
  | { status: 'pending' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function rechargeActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    /** One attempt's payment row and PaymentIntent (confirm, off_session), both idempotent on `idempotencyKey`. */
    async chargeRecharge(input: { buyerId: string; idempotencyKey: string; attempt: number }): Promise<ChargeOutcome> {
      const made = await rechargePayment(db, input.buyerId, input.idempotencyKey, input.attempt);
      if ('skip' in made) return { status: 'skipped', reason: made.skip };
      const { payment, plan } = made;
      if (payment.status === 'failed')
        return { status: 'failed', paymentId: payment.id, code: payment.failureCode, message: payment.failureMessage };
      // Asked already (a retried activity after the answer was recorded): no second request to Stripe.
      if (payment.stripePaymentIntentId)
        return { status: 'pending', paymentId: payment.id, paymentIntentId: payment.stripePaymentIntentId };
      const secrets = await stripeSecretsOf(db, plan.agencyId);
      if (!secrets) return { status: 'skipped', reason: 'no_payment_settings' };
      const metadata: PaymentMetadata = {
        leadwirePaymentId: payment.id,
        leadwireBuyerId: plan.buyerId,
        leadwireAgencyId: plan.agencyId,
      };
      try {
        const intent = await stripeClient(secrets.secretKey).paymentIntents.create(
          {
            amount: payment.amount,
            currency: payment.currency,
            customer: plan.customerId,
            payment_method: plan.paymentMethodId,
            confirm: true,
            off_session: true,
            metadata,
            description: `Leadwire auto-recharge: ${payment.credits} credits`,
          },
          { idempotencyKey: input.idempotencyKey },
        );
        await attachStripeIds(db, payment.id, { stripePaymentIntentId: intent.id });
        await deps.faults?.afterRechargeIntent?.({ paymentId: payment.id, paymentIntentId: intent.id });
        return { status: 'pending', paymentId: payment.id, paymentIntentId: intent.id };
      } catch (err) {
        // A decline or `authentication_required` (StripeCardError), or a request Stripe refuses for good: the
        // attempt failed. Anything else (network, Stripe's 5xx, rate limits) is thrown for the activity's retry,
        // which asks again under the same idempotency key.
        if (err instanceof Stripe.errors.StripeCardError || err instanceof Stripe.errors.StripeInvalidRequestError) {
          const intentId = (err.payment_intent as { id?: string } | undefined)?.id;
          if (intentId) await attachStripeIds(db, payment.id, { stripePaymentIntentId: intentId });
          const code = err.code ?? err.type;
          await markPaymentFailed(db, payment.id, { code, message: err.message });
          return { status: 'failed', paymentId: payment.id, code, message: err.message };
        }
        throw err;
      }
    },

    /**
     * Waits up to `waitMs` for the payment to leave `pending` (the webhook's work), reading its row every `pollMs`
     * and heartbeating (a worker killed meanwhile: the heartbeat timeout hands the wait to another worker). A
     * success resets the failures in a row.
     */
    async awaitRechargeSettled(input: {
      buyerId: string;
      paymentId: string;
      waitMs: number;
      pollMs: number;
    }): Promise<SettledOutcome> {
      const ctx = Context.current();
      const until = Date.now() + input.waitMs;
      for (;;) {
        const p = await paymentStatusOf(db, input.paymentId);
        if (p?.status === 'succeeded') {
          await resetRechargeFailures(db, input.buyerId);
          return { status: 'succeeded' };
        }
        if (p && p.status !== 'pending') return { status: 'failed', code: p.failureCode, message: p.failureMessage };
        if (Date.now() >= until) return { status: 'pending' };
        ctx.heartbeat();
        await Promise.race([sleep(input.pollMs), ctx.cancelled.catch(() => undefined)]);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      }
    },

    /** Counts the failure once, alerts the buyer, pauses after too many (db/billing.ts `recordRechargeFailure`). */
    async recordRechargeFailed(f: RechargeFailure): Promise<{ failures: number; paused: boolean }> {
      const r = await recordRechargeFailure(db, f);
      return { failures: r.failures, paused: r.paused };
    },
  };
}
