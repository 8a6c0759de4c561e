/**
 * The auto-recharge's Stripe events (#21), registered in payments/stripe-events.ts HANDLERS.
 *
 * `payment_intent.payment_failed`: a PaymentIntent Leadwire made failed after the API call (or its failure's answer
 * never reached the worker): the payment is marked failed, nothing credited. The recharge workflow waiting on the
 * payment sees it and counts the failure (alert, retry, pause). A payment already settled is left as it is.
 */
import type Stripe from 'stripe';

import { findPayment, markPaymentFailed } from '../db/payments';
import type { StripeEventHandler } from './stripe-events';

export const paymentIntentFailed: StripeEventHandler = async ({ db, agencyId, event }) => {
  const intent = event.data.object as Stripe.PaymentIntent;
  const payment = await findPayment(db, agencyId, {
    paymentId: intent.metadata?.leadwirePaymentId ?? null,
    paymentIntentId: intent.id,
  });
  if (!payment)
    return { outcome: 'ignored', objectId: intent.id, paymentId: null, detail: 'no payment of this agency matches' };
  const error = intent.last_payment_error;
  const failed = await markPaymentFailed(db, payment.id, {
    code: error?.code ?? error?.decline_code ?? 'payment_failed',
    message: error?.message ?? null,
  });
  return failed
    ? {
        outcome: 'applied',
        objectId: intent.id,
        paymentId: payment.id,
        detail: `payment failed: ${failed.failureCode}`,
      }
    : { outcome: 'ignored', objectId: intent.id, paymentId: payment.id, detail: `payment is ${payment.status}` };
};
