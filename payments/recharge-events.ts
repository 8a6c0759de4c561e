/**
 * The auto-recharge's Stripe events (#21), registered in payments/stripe-events.ts HANDLERS.
 *
 * `checkout.session.completed:setup` (a setup-mode Checkout: the buyer saved a card on Stripe's hosted page): the
 * SetupIntent's payment method is read through the SDK (brand, last four, expiry) and stored for the buyer whose
 * Stripe Customer the session names; a new card clears a recharge pause.
 *
 * `payment_intent.payment_failed`: a PaymentIntent Leadwire made failed after the API call (or its failure's answer
 * never reached the worker): the payment is marked failed, nothing credited. The recharge workflow waiting on the
 * payment sees it and counts the failure (alert, retry, pause). A payment already settled is left as it is.
 */
import type Stripe from 'stripe';

import { saveCard } from '../db/billing';
import { findPayment, markPaymentFailed } from '../db/payments';
import type { StripeEventHandler } from './stripe-events';

/** An id field that may come expanded (type-only import of stripe-events.ts: it imports this module). */
const idOf = (v: string | { id: string } | null | undefined): string | null =>
  !v ? null : typeof v === 'string' ? v : v.id;

export const setupSessionCompleted: StripeEventHandler = async ({ db, agencyId, event, stripe }) => {
  const session = event.data.object as Stripe.Checkout.Session;
  const buyerId = session.metadata?.leadwireBuyerId ?? session.client_reference_id;
  const customerId = idOf(session.customer);
  const setupIntentId = idOf(session.setup_intent);
  if (!buyerId || !customerId || !setupIntentId)
    return {
      outcome: 'refused',
      objectId: session.id,
      paymentId: null,
      detail: 'a setup session without its buyer, customer or SetupIntent',
      reason: 'unknown_buyer',
    };
  const setupIntent = await stripe().setupIntents.retrieve(setupIntentId);
  const paymentMethodId = idOf(setupIntent.payment_method);
  if (!paymentMethodId)
    return {
      outcome: 'ignored',
      objectId: session.id,
      paymentId: null,
      detail: `SetupIntent ${setupIntentId} has no payment method (status ${setupIntent.status})`,
    };
  const pm = await stripe().paymentMethods.retrieve(paymentMethodId);
  const card = pm.card;
  const saved = await saveCard(db, { buyerId, agencyId }, customerId, {
    paymentMethodId,
    brand: card?.brand ?? null,
    last4: card?.last4 ?? null,
    exp: card ? `${String(card.exp_month).padStart(2, '0')}/${card.exp_year}` : null,
  });
  if (!saved)
    return {
      outcome: 'refused',
      objectId: session.id,
      paymentId: null,
      detail: `customer ${customerId} is not this agency's buyer ${buyerId}`,
      reason: 'unknown_buyer',
    };
  return {
    outcome: 'applied',
    objectId: session.id,
    paymentId: null,
    detail: `saved ${card?.brand ?? 'card'} …${card?.last4 ?? '????'} for buyer ${buyerId}`,
  };
};

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
