/**
 * The Stripe webhook receiver (#21): `POST /v1/stripe/webhooks/{agencyId}`,
 * the URL an agency registers in its Stripe dashboard. Public (Stripe holds no
 * key of ours): the agency's webhook signing secret is the credential. The
 * SDK checks the `Stripe-Signature` over the raw body and its timestamp; the
 * event's handler (payments/stripe-events.ts) does the rest, idempotently.
 *
 * Answers: 200 for an event applied, already applied or of no interest; 400
 * for a bad signature or a stale timestamp; 404 for an agency without card
 * payments; 422 for an event that does not match its payment (nothing moved;
 * Stripe retries it, and the reconciliation job settles a payment whose
 * webhook never made it). Every refusal is logged without the body.
 */
import { paymentSettingsOf, recordStripeEvent, stripeEventById, stripeSecretsOf } from '../../db/payments';
import { stripeClient, StripeSignatureError, verifyStripeWebhook } from '../../lib/stripe';
import { handleStripeEvent } from '../../payments/stripe-events';
import { Problem } from '../problem';
import { type AnyRoute, route } from '../route';
import { Responses, StripeEventBody, StripeWebhookParams } from './stripe-webhooks.schemas';

export const stripeWebhookRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/stripe/webhooks/:agencyId',
    operationId: 'receiveStripeWebhook',
    tag: 'Payments',
    summary: "Stripe's webhook for one agency's card payments (register this URL in the Stripe dashboard)",
    description:
      "Verified with the agency's webhook signing secret (`Stripe-Signature`, timestamp tolerance `LW_STRIPE_WEBHOOK_TOLERANCE_SECONDS`). " +
      'Handled events: `checkout.session.completed`, `checkout.session.async_payment_succeeded`, `payment_intent.succeeded` ' +
      '(credits, once per payment whatever the order or number of deliveries), and the others docs/payments.md lists; ' +
      'any other type is answered 200 `ignored`.',
    params: StripeWebhookParams,
    body: StripeEventBody,
    rawBody: true,
    responses: {
      200: { description: 'received: applied, a duplicate, or ignored', schema: Responses.StripeWebhookReceived },
      400: {
        description:
          'the signature or its timestamp does not check out (`stripe_signature_invalid`), or the body is not an event (`validation_failed`, `malformed_json`)',
      },
      404: { description: 'the agency has no card payments set up (`payments_not_configured`)' },
      413: { description: 'the body is over 1 MiB (`payload_too_large`)' },
      415: { description: 'the body is not JSON (`unsupported_media_type`)' },
      422: {
        description:
          'the event names another Stripe account, or does not match its payment (unknown payment, another amount or currency): `stripe_event_refused`, nothing credited',
      },
    },
    async handler({ params, rawBody, req, services }) {
      const { db, logger } = services;
      const secrets = await stripeSecretsOf(db, params.agencyId);
      if (!secrets) {
        logger.warn(`[stripe] webhook refused: agency ${params.agencyId} has no card payments set up`);
        throw new Problem(404, 'payments_not_configured', 'This agency has not set up card payments.');
      }
      let event;
      try {
        event = verifyStripeWebhook(rawBody!, req.get('stripe-signature'), secrets.webhookSecret);
      } catch (err) {
        if (!(err instanceof StripeSignatureError)) throw err;
        logger.warn(`[stripe] webhook refused for agency ${params.agencyId}: ${err.message}`);
        throw new Problem(400, 'stripe_signature_invalid', 'The Stripe-Signature header does not check out.');
      }
      const objectId = (event.data.object as { id?: string }).id ?? null;
      const refuse = async (reason: string, detail: string, paymentId: string | null = null): Promise<never> => {
        await recordStripeEvent(db, {
          id: event.id,
          agencyId: params.agencyId,
          type: event.type,
          objectId,
          paymentId,
          outcome: 'refused',
          detail: `${reason}: ${detail}`,
        });
        logger.warn(`[stripe] event ${event.id} (${event.type}) refused for agency ${params.agencyId}: ${detail}`);
        throw new Problem(422, 'stripe_event_refused', `The event was not applied: ${reason}.`, { reason });
      };

      const settings = (await paymentSettingsOf(db, params.agencyId))!;
      if (event.account && settings.stripeAccountId && event.account !== settings.stripeAccountId)
        return refuse(
          'unknown_account',
          `the event is from ${event.account}, the agency's account is ${settings.stripeAccountId}`,
        );

      const seen = await stripeEventById(db, event.id);
      if (seen && seen.outcome !== 'refused') return { status: 200, body: { received: true, outcome: 'duplicate' } };

      let stripe: ReturnType<typeof stripeClient> | undefined;
      const result = await handleStripeEvent({
        db,
        agencyId: params.agencyId,
        event,
        stripe: () => (stripe ??= stripeClient(secrets.secretKey)),
      });
      if (result.outcome === 'refused') return refuse(result.reason ?? 'refused', result.detail, result.paymentId);
      const first = await recordStripeEvent(db, {
        id: event.id,
        agencyId: params.agencyId,
        type: event.type,
        objectId: result.objectId,
        paymentId: result.paymentId,
        outcome: result.outcome,
        detail: result.detail,
      });
      return { status: 200, body: { received: true, outcome: first ? result.outcome : 'duplicate' } };
    },
  }),
];
