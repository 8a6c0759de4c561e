/**
 * Card payments, the agency's and the buyer's side of a Checkout top-up (#21):
 * the agency's Stripe settings (owners write, managers read; the secrets are
 * write-only, sealed by the key store) and "test connection"; a buyer's
 * top-up through Stripe Checkout, its payments and what the wallet page needs
 * to offer one.
 *
 * A top-up writes its pending payment first, then asks Stripe for the
 * Checkout Session carrying the payment's id (client_reference_id and the
 * `leadwire*` metadata on the session and its PaymentIntent). Credits land only
 * through the signed webhook (api/routes/stripe-webhooks.ts): the success URL
 * the browser comes back to credits nothing.
 */
import type { z } from 'zod';

import {
  attachStripeIds,
  createPayment,
  listPayments,
  type PaymentSettings,
  PaymentSettingsIncomplete,
  paymentSettingsOf,
  recordStripeAccount,
  savePaymentSettings,
  stripeSecretsOf,
} from '../../db/payments';
import type { PaymentMetadata } from '../../domain/payments';
import { type Stripe, stripeClient } from '../../lib/stripe';
import { accountLink } from '../account-mail';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, route } from '../route';
import { PageQuery } from '../schemas';
import { describeErrors } from '../validate';
import { paymentView } from '../views';
import { CheckoutBody, PaymentSettingsPut, type PaymentSettingsView, Responses } from './checkout.schemas';
import { Responses as RefundResponses } from './refunds.schemas';

/** Where the buyer's wallet is: the buyer app's Wallet tab. */
const WALLET_PATH = '/';
const WALLET_HASH = 'wallet';

function settingsView(s: PaymentSettings, publicUrl: string | null): z.infer<typeof PaymentSettingsView> {
  return {
    currency: s.currency,
    creditPrice: s.creditPrice,
    minCredits: s.minCredits,
    maxCredits: s.maxCredits,
    rechargeMaxFailures: s.rechargeMaxFailures,
    stripeAccountId: s.stripeAccountId,
    secretKeyHint: s.secretKeyHint,
    mode: s.mode,
    webhookUrl: publicUrl ? `${publicUrl.replace(/\/+$/, '')}/v1/stripe/webhooks/${s.agencyId}` : null,
    updatedAt: s.updatedAt.toISOString(),
  };
}

const fieldProblem = (path: string, message: string): Problem => {
  const errors = [{ in: 'body' as const, path, message }];
  return new Problem(400, 'validation_failed', describeErrors(errors), { errors });
};

const notConfigured = () => new Problem(404, 'payments_not_configured', 'This agency has not set up card payments.');

/** A Stripe error's message for people, with the key itself taken out should Stripe ever echo it. */
function stripeMessage(err: unknown, secretKey: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(secretKey).join('[redacted]').slice(0, 500);
}

export const checkoutRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/payments/settings',
    operationId: 'getPaymentSettings',
    tag: 'Payments',
    summary: "The agency's card payment settings (Stripe): never a secret, only a hint of the key",
    responses: {
      200: { description: 'the settings, or null', schema: Responses.PaymentSettings },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services }) {
      const s = await paymentSettingsOf(services.db, principal.agencyId);
      return { status: 200, body: { settings: s ? settingsView(s, services.publicUrl) : null } };
    },
  }),

  route({
    method: 'put',
    path: '/v1/payments/settings',
    operationId: 'putPaymentSettings',
    tag: 'Payments',
    summary: "Set the agency's card payments: Stripe keys, currency, credit price, top-up bounds (owners only)",
    description:
      'The secret key and the webhook signing secret are write-only: sealed at rest, never answered, logged or audited; ' +
      'omit one to keep the stored one (the first PUT must carry both). A new secret key forgets the account ' +
      '"test connection" read. Register `webhookUrl` in the Stripe dashboard.',
    body: PaymentSettingsPut,
    responses: {
      200: { description: 'the settings as stored', schema: Responses.PaymentSettings },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      try {
        const s = await savePaymentSettings(services.db, principal.agencyId, body, auditBy(principal));
        return { status: 200, body: { settings: settingsView(s, services.publicUrl) } };
      } catch (err) {
        if (err instanceof PaymentSettingsIncomplete) throw fieldProblem(err.field, 'required the first time');
        throw err;
      }
    },
  }),

  route({
    method: 'post',
    path: '/v1/payments/settings/test',
    operationId: 'testPaymentSettings',
    tag: 'Payments',
    summary: 'Test connection: read the Stripe account the stored key belongs to (and remember its id)',
    description:
      "Calls Stripe's `GET /v1/account` (the SDK's `accounts.retrieveCurrent()`) with the stored key. From then on, webhook events naming another account are refused. " +
      "A key Stripe refuses answers 200 with `ok: false` and Stripe's message (never the key).",
    responses: {
      200: { description: 'what Stripe said', schema: Responses.StripeConnection },
      404: { description: 'no payment settings yet (`payments_not_configured`)' },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services }) {
      const secrets = await stripeSecretsOf(services.db, principal.agencyId);
      if (!secrets) throw notConfigured();
      let account: Stripe.Account;
      try {
        account = await stripeClient(secrets.secretKey).accounts.retrieveCurrent();
      } catch (err) {
        const error = stripeMessage(err, secrets.secretKey);
        services.logger.warn(`[stripe] test connection failed for agency ${principal.agencyId}: ${error}`);
        return { status: 200, body: { ok: false, accountId: null, displayName: null, error } };
      }
      await recordStripeAccount(services.db, principal.agencyId, account.id);
      const displayName = account.settings?.dashboard?.display_name ?? account.business_profile?.name ?? null;
      return { status: 200, body: { ok: true, accountId: account.id, displayName, error: null } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/payments/options',
    operationId: 'myPaymentOptions',
    tag: 'Buyer',
    summary: "Whether I can top up by card, and at what price: the agency's currency, credit price and bounds",
    responses: {
      200: { description: 'the options', schema: Responses.PaymentOptions },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services }) {
      const s = await paymentSettingsOf(services.db, principal.agencyId);
      return {
        status: 200,
        body: s
          ? {
              enabled: true,
              currency: s.currency,
              creditPrice: s.creditPrice,
              minCredits: s.minCredits,
              maxCredits: s.maxCredits,
            }
          : { enabled: false, currency: null, creditPrice: null, minCredits: null, maxCredits: null },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/payments',
    operationId: 'myPayments',
    tag: 'Buyer',
    summary: 'My card payments (top-ups and auto-recharges), newest first',
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: RefundResponses.Payments }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listPayments(
        services.db,
        { agencyId: principal.agencyId, buyerId: principal.buyerId },
        pageArgs(query),
      );
      return { status: 200, body: listBody('payments', page, paymentView) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/me/payments/checkout',
    operationId: 'startCheckout',
    tag: 'Buyer',
    summary: "Top up by card: a Stripe Checkout Session for `credits` at the agency's credit price",
    description:
      "Answers Stripe's hosted payment page (`url`): send the browser there. The credits land when Stripe's signed " +
      'webhook says the payment succeeded, never by the browser coming back.',
    body: CheckoutBody,
    responses: {
      201: { description: 'the pending payment and where to pay it', schema: Responses.CheckoutStarted },
      404: { description: 'the agency has not set up card payments (`payments_not_configured`)' },
      409: { description: 'no public URL to send the browser back to (`public_url_not_set`: set LW_PUBLIC_URL)' },
      502: { description: 'Stripe refused or could not be reached (`stripe_unavailable`); the payment stays pending' },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, req, services }) {
      const secrets = await stripeSecretsOf(services.db, principal.agencyId);
      if (!secrets) throw notConfigured();
      const { settings } = secrets;
      if (body.currency !== undefined && body.currency.toLowerCase() !== settings.currency)
        throw fieldProblem('currency', `your agency takes ${settings.currency}, not ${body.currency}`);
      if (body.credits < settings.minCredits || body.credits > settings.maxCredits)
        throw fieldProblem('credits', `must be between ${settings.minCredits} and ${settings.maxCredits} credits`);
      const back = (outcome: 'success' | 'cancel', paymentId: string) => {
        const link = accountLink(services.publicUrl, req, WALLET_PATH, { checkout: outcome, payment: paymentId });
        return link ? `${link}#${WALLET_HASH}` : null;
      };
      if (!back('cancel', principal.buyerId))
        throw new Problem(
          409,
          'public_url_not_set',
          'This server does not know its public address (LW_PUBLIC_URL), so Stripe could not send you back.',
        );

      const payment = await createPayment(services.db, {
        agencyId: principal.agencyId,
        buyerId: principal.buyerId,
        kind: 'checkout',
        credits: body.credits,
        creditPrice: settings.creditPrice,
        currency: settings.currency,
        createdByUserId:
          principal.actor.type === 'user' || principal.actor.type === 'key' ? principal.actor.userId : null,
      });
      const metadata: PaymentMetadata = {
        leadwirePaymentId: payment.id,
        leadwireBuyerId: principal.buyerId,
        leadwireAgencyId: principal.agencyId,
      };
      let session: Stripe.Checkout.Session;
      try {
        session = await stripeClient(secrets.secretKey).checkout.sessions.create(
          {
            mode: 'payment',
            line_items: [
              {
                quantity: body.credits,
                price_data: {
                  currency: settings.currency,
                  unit_amount: settings.creditPrice,
                  product_data: { name: 'Lead credits' },
                },
              },
            ],
            client_reference_id: payment.id,
            metadata,
            payment_intent_data: { metadata },
            success_url: back('success', payment.id)!,
            cancel_url: back('cancel', payment.id)!,
          },
          { idempotencyKey: `leadwire-checkout-${payment.id}` },
        );
      } catch (err) {
        services.logger.warn(
          `[stripe] checkout session for payment ${payment.id} failed: ${stripeMessage(err, secrets.secretKey)}`,
        );
        throw new Problem(502, 'stripe_unavailable', 'Stripe could not start the payment; try again in a moment.');
      }
      await attachStripeIds(services.db, payment.id, { stripeCheckoutSessionId: session.id });
      if (!session.url) throw new Problem(502, 'stripe_unavailable', 'Stripe answered no payment page.');
      return { status: 201, body: { paymentId: payment.id, url: session.url } };
    },
  }),
];
