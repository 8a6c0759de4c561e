/**
 * The one door to Stripe (#21): every call goes through the official `stripe`
 * SDK made here, pointed at `LW_STRIPE_API_BASE` (Stripe itself in production,
 * stripe-mock or a test's own server in tests), and every webhook is verified
 * by the SDK's own signature check. No hand-written Stripe HTTP or crypto.
 */
import Stripe from 'stripe';

import { setting } from './config';

export type { Stripe };

/** Stripe's SDK for one agency's secret key, at the configured API base. */
export function stripeClient(secretKey: string, base = setting('LW_STRIPE_API_BASE')): Stripe {
  const u = new URL(base);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(secretKey, {
    host: u.hostname,
    port: u.port ? Number(u.port) : protocol === 'http' ? 80 : 443,
    protocol,
    // Idempotency keys make retried POSTs safe; the SDK adds one to each retried POST itself.
    maxNetworkRetries: 2,
    timeout: 20_000,
    appInfo: { name: 'Leadwire', url: 'https://github.com/leadwire' },
  });
}

/** A webhook whose signature, timestamp or body does not check out: nothing is done with it. */
export class StripeSignatureError extends Error {
  override name = 'StripeSignatureError';
}

/**
 * The verified event of a webhook delivery: the SDK checks the `Stripe-Signature` header (HMAC of the raw body
 * and its timestamp) against the agency's signing secret and refuses a timestamp older than the tolerance.
 */
export function verifyStripeWebhook(
  rawBody: Buffer,
  signature: string | undefined,
  webhookSecret: string,
  toleranceSeconds = setting('LW_STRIPE_WEBHOOK_TOLERANCE_SECONDS'),
): Stripe.Event {
  if (!signature) throw new StripeSignatureError('the Stripe-Signature header is missing');
  try {
    return Stripe.webhooks.constructEvent(rawBody, signature, webhookSecret, toleranceSeconds);
  } catch (err) {
    throw new StripeSignatureError(err instanceof Error ? err.message : String(err));
  }
}
