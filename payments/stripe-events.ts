/**
 * What each verified Stripe event does (#21): one handler per event type, the
 * one table the webhook receiver (api/routes/stripe-webhooks.ts) dispatches
 * through. A handler is idempotent on its own (ledger keys from Stripe's object
 * ids, rows locked in one transaction): the receiver may run it twice for two
 * concurrent deliveries of one event, and both land once.
 *
 * A type without a handler is recorded as `ignored`.
 */
import type Stripe from 'stripe';

import type { Db } from '../db/connection';
import { type SettleOutcome, settleSucceededPayment, type StripeSuccess } from '../db/payments';
import type { StripeEventOutcome } from '../domain/payments';
import { paymentIntentFailed, setupSessionCompleted } from './recharge-events';
import { chargeRefunded, disputeChanged, refundChanged } from './refund-events';

export interface StripeEventContext {
  db: Db;
  agencyId: string;
  event: Stripe.Event;
  /** The agency's Stripe SDK, for a handler that must ask Stripe something (made on first use). */
  stripe(): Stripe;
}

export interface StripeEventResult {
  outcome: Exclude<StripeEventOutcome, 'duplicate'>;
  objectId: string | null;
  paymentId: string | null;
  detail: string;
  /** A refusal's code for the receiver's problem answer (`outcome: 'refused'`). */
  reason?: string;
}

export type StripeEventHandler = (ctx: StripeEventContext) => Promise<StripeEventResult>;

/** A Stripe id field that may come expanded (an object) or not (its id). */
export function idOf(v: string | { id: string } | null | undefined): string | null {
  if (!v) return null;
  return typeof v === 'string' ? v : v.id;
}

/** The card details of a charge, when the event carries it expanded. */
function cardOf(charge: string | Stripe.Charge | null | undefined): Partial<StripeSuccess> {
  if (!charge || typeof charge === 'string') return { chargeId: charge ?? null };
  const card = charge.payment_method_details?.card;
  return {
    chargeId: charge.id,
    cardBrand: card?.brand ?? null,
    cardLast4: card?.last4 ?? null,
    receiptUrl: charge.receipt_url ?? null,
  };
}

/** The receiver's result of a settlement. */
function resultOfSettle(settled: SettleOutcome, objectId: string): StripeEventResult {
  switch (settled.outcome) {
    case 'credited':
      return {
        outcome: 'applied',
        objectId,
        paymentId: settled.payment.id,
        detail: `credited ${settled.payment.credits} credits (ledger entry ${settled.entry.id})`,
      };
    case 'already_credited':
      return {
        outcome: 'applied',
        objectId,
        paymentId: settled.payment.id,
        detail: `already credited (ledger entry ${settled.entry.id})`,
      };
    case 'refused':
      return {
        outcome: 'refused',
        objectId,
        paymentId: settled.payment?.id ?? null,
        detail: settled.detail,
        reason: settled.reason,
      };
  }
}

const checkoutCompleted: StripeEventHandler = async (ctx) => {
  const { db, agencyId, event } = ctx;
  const session = event.data.object as Stripe.Checkout.Session;
  if (session.mode !== 'payment') return handleOther('checkout.session.completed:setup', ctx, session.id);
  if (session.payment_status !== 'paid')
    return {
      outcome: 'ignored',
      objectId: session.id,
      paymentId: null,
      detail: `payment_status ${session.payment_status}: credited when the payment succeeds`,
    };
  const paymentIntentId = idOf(session.payment_intent);
  if (!paymentIntentId)
    return {
      outcome: 'refused',
      objectId: session.id,
      paymentId: null,
      detail: 'a paid session without a payment intent',
      reason: 'payment_mismatch',
    };
  const settled = await settleSucceededPayment(db, {
    agencyId,
    paymentId: session.metadata?.leadwirePaymentId ?? session.client_reference_id,
    checkoutSessionId: session.id,
    paymentIntentId,
    amount: session.amount_total ?? -1,
    currency: session.currency ?? '',
    eventId: event.id,
    ...cardOf(typeof session.payment_intent === 'object' ? session.payment_intent?.latest_charge : null),
  });
  return resultOfSettle(settled, session.id);
};

/**
 * What a succeeded PaymentIntent says of its payment: the webhook's `payment_intent.succeeded` and the
 * reconciliation's list (`eventId` null) read it the same way, so both settle the same payment under the same key.
 */
export function successOfIntent(agencyId: string, intent: Stripe.PaymentIntent, eventId: string | null): StripeSuccess {
  return {
    agencyId,
    paymentId: intent.metadata?.leadwirePaymentId ?? null,
    paymentIntentId: intent.id,
    amount: intent.amount_received || intent.amount,
    currency: intent.currency,
    eventId,
    ...cardOf(intent.latest_charge),
  };
}

const paymentIntentSucceeded: StripeEventHandler = async ({ db, agencyId, event }) => {
  const intent = event.data.object as Stripe.PaymentIntent;
  const settled = await settleSucceededPayment(db, successOfIntent(agencyId, intent, event.id));
  return resultOfSettle(settled, intent.id);
};

/**
 * The handlers by event type. Helpers of the other payment flows add theirs here (auto-recharge failures, refunds,
 * disputes, saved cards); `checkout.session.completed:setup` is the setup-mode Checkout (a saved card).
 */
const HANDLERS: Record<string, StripeEventHandler> = {
  'checkout.session.completed': checkoutCompleted,
  'checkout.session.async_payment_succeeded': checkoutCompleted,
  'payment_intent.succeeded': paymentIntentSucceeded,
  'refund.created': refundChanged,
  'refund.updated': refundChanged,
  'charge.refunded': chargeRefunded,
  'charge.dispute.created': disputeChanged,
  'charge.dispute.updated': disputeChanged,
  'charge.dispute.closed': disputeChanged,
  'payment_intent.payment_failed': paymentIntentFailed,
  'checkout.session.completed:setup': setupSessionCompleted,
};

function handleOther(type: string, ctx: StripeEventContext, objectId: string | null): Promise<StripeEventResult> {
  const handler = HANDLERS[type];
  if (handler) return handler(ctx);
  return Promise.resolve({ outcome: 'ignored', objectId, paymentId: null, detail: `no handler for ${type}` });
}

/** Runs the event's handler; a type without one is `ignored`. */
export function handleStripeEvent(ctx: StripeEventContext): Promise<StripeEventResult> {
  const obj = ctx.event.data.object as { id?: string };
  return handleOther(ctx.event.type, ctx, obj.id ?? null);
}
