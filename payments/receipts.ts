/**
 * Stripe's own receipt for a card payment (#21 item 6). The webhook usually
 * carries it (the charge's `receipt_url`); when it did not, the statement asks
 * Stripe once through the SDK – the charge, or the payment intent's latest
 * charge – and keeps the answer on the payment, so it is never asked again.
 * Stripe unreachable or the payment unknown to it: no link this time, the
 * statement is shown all the same.
 */
import type { DbOrTx } from '../db/connection';
import { stripeSecretsOf } from '../db/payments';
import { keepReceiptUrl, type StatementPaymentRow } from '../db/statements';
import { stripeClient } from '../lib/stripe';
import { idOf } from './stripe-events';

export async function fetchReceiptUrl(db: DbOrTx, payment: StatementPaymentRow): Promise<string | null> {
  if (payment.receiptUrl) return payment.receiptUrl;
  if (!payment.stripeChargeId && !payment.stripePaymentIntentId) return null;
  const secrets = await stripeSecretsOf(db, payment.agencyId);
  if (!secrets) return null;
  const stripe = stripeClient(secrets.secretKey);
  let url: string | null = null;
  let chargeId = payment.stripeChargeId;
  try {
    if (payment.stripeChargeId) {
      url = (await stripe.charges.retrieve(payment.stripeChargeId)).receipt_url ?? null;
    } else {
      const intent = await stripe.paymentIntents.retrieve(payment.stripePaymentIntentId!, {
        expand: ['latest_charge'],
      });
      const latest = intent.latest_charge;
      chargeId = idOf(latest);
      url = latest && typeof latest !== 'string' ? (latest.receipt_url ?? null) : null;
    }
  } catch {
    return null;
  }
  if (url) await keepReceiptUrl(db, payment.id, url, chargeId);
  return url;
}
