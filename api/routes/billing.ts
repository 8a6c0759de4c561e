/**
 * A buyer's card on file and its auto-recharge (#21). The card is saved on Stripe's hosted page (a setup-mode
 * Checkout Session for the buyer's Stripe Customer, made once): Leadwire never sees a card number, and stores the
 * payment method only when the signed `checkout.session.completed` webhook says so (payments/recharge-events.ts).
 * The recharge itself runs in the worker (workflows/recharge.ts).
 */
import Stripe from 'stripe';

import {
  billingOf,
  type BillingRow,
  ensureStripeCustomer,
  NoSavedCard,
  removeCard,
  setRechargeSettings,
} from '../../db/billing';
import type { Db } from '../../db/connection';
import { type PaymentSettings, stripeSecretsOf } from '../../db/payments';
import type { PaymentMetadata } from '../../domain/payments';
import { stripeClient } from '../../lib/stripe';
import { Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, route } from '../route';
import { invalidField } from '../validate';
import { RechargeBody, Responses } from './billing.schemas';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function billingView(b: BillingRow | null, settings: PaymentSettings | null) {
  return {
    card: b?.paymentMethodId ? { brand: b.cardBrand, last4: b.cardLast4, exp: b.cardExp } : null,
    recharge: {
      enabled: b?.rechargeEnabled ?? false,
      threshold: b?.rechargeThreshold ?? null,
      credits: b?.rechargeCredits ?? null,
      failures: b?.rechargeFailures ?? 0,
      pausedReason: b?.rechargePausedReason ?? null,
      pausedAt: iso(b?.rechargePausedAt),
    },
    payments: settings
      ? {
          currency: settings.currency,
          creditPrice: settings.creditPrice,
          minCredits: settings.minCredits,
          maxCredits: settings.maxCredits,
        }
      : null,
  };
}

async function secretsOrProblem(db: Db, agencyId: string) {
  const secrets = await stripeSecretsOf(db, agencyId);
  if (!secrets) throw new Problem(409, 'payments_not_configured', 'Your agency does not take card payments yet.');
  return secrets;
}

/** Stripe could not be asked (down, or the agency's key refused): nothing was saved. */
function stripeProblem(err: unknown): never {
  if (err instanceof Stripe.errors.StripeError)
    throw new Problem(503, 'service_unavailable', `Stripe did not answer as expected (${err.type}); try again later.`);
  throw err;
}

const PAYMENT_ERRORS = { 409: { description: 'the agency takes no card payments (`payments_not_configured`)' } };

export const billingRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/me/billing',
    operationId: 'myBilling',
    tag: 'Buyer',
    summary: 'My card on file and auto-recharge (with why it is paused), and the agency card payment terms',
    responses: { 200: { description: 'the billing', schema: Responses.Billing }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const secrets = await stripeSecretsOf(services.db, principal.agencyId);
      const b = await billingOf(services.db, principal.buyerId);
      return { status: 200, body: { billing: billingView(b, secrets?.settings ?? null) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/me/billing/card',
    operationId: 'saveMyCard',
    tag: 'Buyer',
    summary: "Start saving a card: answers Stripe's hosted page (setup mode) to open",
    description:
      'The card is stored when Stripe confirms it (the signed `checkout.session.completed` webhook); a new card clears a recharge pause.',
    responses: {
      201: { description: 'the hosted page', schema: Responses.CardSetup },
      ...PAYMENT_ERRORS,
      503: { description: 'Stripe could not be reached (`service_unavailable`)' },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services, req }) {
      const { buyerId, agencyId } = principal;
      const secrets = await secretsOrProblem(services.db, agencyId);
      const stripe = stripeClient(secrets.secretKey);
      const base = (services.publicUrl ?? `${req.protocol}://${req.get('host')}`).replace(/\/+$/, '');
      try {
        const customerId = await ensureStripeCustomer(services.db, { buyerId, agencyId }, async () => {
          const customer = await stripe.customers.create(
            { metadata: { leadwireBuyerId: buyerId, leadwireAgencyId: agencyId } },
            { idempotencyKey: `customer:${buyerId}` },
          );
          return customer.id;
        });
        const metadata: Omit<PaymentMetadata, 'leadwirePaymentId'> = {
          leadwireBuyerId: buyerId,
          leadwireAgencyId: agencyId,
        };
        const session = await stripe.checkout.sessions.create({
          mode: 'setup',
          currency: secrets.settings.currency,
          customer: customerId,
          client_reference_id: buyerId,
          metadata,
          setup_intent_data: { metadata },
          success_url: `${base}/?card=saved`,
          cancel_url: `${base}/?card=canceled`,
        });
        return { status: 201, body: { url: session.url ?? '', sessionId: session.id } };
      } catch (err) {
        return stripeProblem(err);
      }
    },
  }),

  route({
    method: 'delete',
    path: '/v1/me/billing/card',
    operationId: 'removeMyCard',
    tag: 'Buyer',
    summary: 'Remove my card on file (auto-recharge turns off)',
    responses: { 200: { description: 'the billing', schema: Responses.Billing }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const removed = await removeCard(services.db, principal.buyerId);
      const secrets = await stripeSecretsOf(services.db, principal.agencyId);
      // Detached at Stripe too, so the customer keeps no card Leadwire forgot; a failure there changes nothing here.
      if (removed && secrets)
        await stripeClient(secrets.secretKey)
          .paymentMethods.detach(removed)
          .catch(() => undefined);
      const b = await billingOf(services.db, principal.buyerId);
      return { status: 200, body: { billing: billingView(b, secrets?.settings ?? null) } };
    },
  }),

  route({
    method: 'put',
    path: '/v1/me/billing/recharge',
    operationId: 'setMyRecharge',
    tag: 'Buyer',
    summary: 'Set my auto-recharge: below `threshold` credits, buy `credits` more with my saved card',
    responses: {
      200: { description: 'the billing', schema: Responses.Billing },
      409: { description: 'no saved card (`no_saved_card`), or no card payments (`payments_not_configured`)' },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    body: RechargeBody,
    async handler({ principal, services, body }) {
      const { settings } = await secretsOrProblem(services.db, principal.agencyId);
      if (body.credits < settings.minCredits || body.credits > settings.maxCredits)
        throw invalidField(
          'credits',
          `between ${settings.minCredits} and ${settings.maxCredits} credits (your agency's limits)`,
        );
      try {
        const b = await setRechargeSettings(
          services.db,
          { buyerId: principal.buyerId, agencyId: principal.agencyId },
          body,
        );
        return { status: 200, body: { billing: billingView(b, settings) } };
      } catch (err) {
        if (err instanceof NoSavedCard) throw new Problem(409, 'no_saved_card', err.message);
        throw err;
      }
    },
  }),
];
