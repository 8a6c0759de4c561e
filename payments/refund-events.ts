/**
 * The Stripe events of refunds and card disputes (#21 item 4), registered in
 * payments/stripe-events.ts HANDLERS. Each only reads the event's object and
 * hands it to db/payment-refunds.ts, which debits once per Stripe object
 * whatever the order or number of deliveries.
 *
 * - `refund.created`, `refund.updated`: the refund's status; `succeeded` debits; `failed` after `succeeded`
 *   credits back (the bank returned the money).
 * - `charge.refunded`: the charge's refunds when the event carries them
 *   (each applied as above); otherwise the refund events do the work.
 * - `charge.dispute.created`, `charge.dispute.updated`, `charge.dispute.closed`:
 *   the first of them opens the dispute (debit); closed as `won` credits back.
 */
import type Stripe from 'stripe';

import { applyStripeDispute, applyStripeRefund, type MoneyBackOutcome } from '../db/payment-refunds';
// Function declarations (hoisted): stripe-events.ts imports these and this module imports its `idOf`.
import { idOf, type StripeEventContext, type StripeEventResult } from './stripe-events';

function resultOf(done: MoneyBackOutcome, objectId: string): StripeEventResult {
  if (done.outcome === 'refused')
    return { outcome: 'refused', objectId, paymentId: done.paymentId, detail: done.detail, reason: done.reason };
  return {
    outcome: done.outcome === 'recorded' ? 'ignored' : 'applied',
    objectId,
    paymentId: done.paymentId,
    detail: done.detail,
  };
}

function refundReport(agencyId: string, eventId: string, refund: Stripe.Refund) {
  return {
    agencyId,
    eventId,
    refundId: refund.id,
    leadwireRefundId: refund.metadata?.leadwireRefundId ?? null,
    paymentId: refund.metadata?.leadwirePaymentId ?? null,
    paymentIntentId: idOf(refund.payment_intent),
    chargeId: idOf(refund.charge),
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status ?? 'pending',
  };
}

export async function refundChanged({ db, agencyId, event }: StripeEventContext): Promise<StripeEventResult> {
  const refund = event.data.object as Stripe.Refund;
  return resultOf(await applyStripeRefund(db, refundReport(agencyId, event.id, refund)), refund.id);
}

export async function chargeRefunded({ db, agencyId, event }: StripeEventContext): Promise<StripeEventResult> {
  const charge = event.data.object as Stripe.Charge;
  const refunds = charge.refunds?.data ?? [];
  if (!refunds.length)
    return {
      outcome: 'ignored',
      objectId: charge.id,
      paymentId: null,
      detail: 'the event lists no refunds: they are applied from refund.created / refund.updated',
    };
  const details: string[] = [];
  let applied = false;
  let paymentId: string | null = null;
  for (const refund of refunds) {
    const done = await applyStripeRefund(db, {
      ...refundReport(agencyId, event.id, refund),
      paymentIntentId: idOf(refund.payment_intent) ?? idOf(charge.payment_intent),
      chargeId: charge.id,
    });
    if (done.outcome === 'refused') return resultOf(done, charge.id);
    applied ||= done.outcome !== 'recorded';
    paymentId = done.paymentId;
    details.push(`${refund.id}: ${done.detail}`);
  }
  return { outcome: applied ? 'applied' : 'ignored', objectId: charge.id, paymentId, detail: details.join('; ') };
}

export async function disputeChanged({ db, agencyId, event }: StripeEventContext): Promise<StripeEventResult> {
  const dispute = event.data.object as Stripe.Dispute;
  const done = await applyStripeDispute(db, {
    agencyId,
    eventId: event.id,
    disputeId: dispute.id,
    paymentId: dispute.metadata?.leadwirePaymentId ?? null,
    paymentIntentId: idOf(dispute.payment_intent),
    chargeId: idOf(dispute.charge),
    amount: dispute.amount,
    currency: dispute.currency,
    status: dispute.status,
    reason: dispute.reason ?? null,
  });
  return resultOf(done, dispute.id);
}
