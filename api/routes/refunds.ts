/**
 * The agency's card payments (#21): the list, one payment with its refunds and
 * disputes, and a refund of (part of) a payment. A refund is asked of Stripe
 * first (db/payment-refunds.ts `requestRefund`); its credits leave the wallet
 * when Stripe's webhook says it succeeded (payments/refund-events.ts).
 */
import Stripe from 'stripe';

import { type DisputeRow, paymentDetail, type RefundRow, requestRefund } from '../../db/payment-refunds';
import { listedPayment, listPayments, stripeSecretsOf } from '../../db/payments';
import { stripeClient } from '../../lib/stripe';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams } from '../schemas';
import { paymentView } from '../views';
import { PaymentsQuery, RefundCreate, Responses } from './refunds.schemas';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function refundView(r: RefundRow) {
  return {
    id: r.id,
    paymentId: r.paymentId,
    credits: r.credits,
    amount: r.amount,
    status: r.status,
    stripeRefundId: r.stripeRefundId,
    reason: r.reason,
    createdAt: iso(r.createdAt)!,
  };
}

function disputeView(d: DisputeRow) {
  return {
    id: d.id,
    paymentId: d.paymentId,
    stripeDisputeId: d.stripeDisputeId,
    credits: d.credits,
    amount: d.amount,
    status: d.status,
    reason: d.reason,
    createdAt: iso(d.createdAt)!,
    resolvedAt: iso(d.resolvedAt),
  };
}

export const refundRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/payments',
    operationId: 'listPayments',
    tag: 'Payments',
    summary: "The agency's card payments, newest first (filter by buyer and status)",
    query: PaymentsQuery,
    responses: { 200: { description: 'a page', schema: Responses.Payments }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listPayments(
        services.db,
        { agencyId: principal.agencyId, buyerId: query.buyerId, status: query.status },
        pageArgs(query),
      );
      return { status: 200, body: listBody('payments', page, paymentView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/payments/:id',
    operationId: 'getPayment',
    tag: 'Payments',
    summary: 'One card payment with its refunds and disputes',
    params: IdParams,
    responses: {
      200: { description: 'the payment', schema: Responses.PaymentDetail },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const detail = await paymentDetail(services.db, principal.agencyId, params.id);
      if (!detail) throw notFound('payment');
      return {
        status: 200,
        body: {
          payment: paymentView(await listedPayment(services.db, detail.payment)),
          refunds: detail.refunds.map(refundView),
          disputes: detail.disputes.map(disputeView),
        },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/payments/:id/refunds',
    operationId: 'refundPayment',
    tag: 'Payments',
    summary: 'Refund credits of a card payment to the card (whole or part)',
    description:
      "Asks Stripe for a refund of `credits` × the payment's credit price, then stores it `pending`; the credits leave the " +
      "buyer's wallet when Stripe's webhook reports the refund succeeded (`refund.created`/`refund.updated`/`charge.refunded`), " +
      "once. Refused, nothing asked of Stripe, when `credits` exceed the payment's credits not yet refunded, disputed or in a " +
      "pending refund (409 `refund_exceeds_payment`), or when the buyer's balance is below `credits` " +
      '(409 `refund_exceeds_balance`: a refund takes back credits the buyer still has, it does not overdraw the wallet).',
    params: IdParams,
    body: RefundCreate,
    responses: {
      201: { description: 'asked of Stripe and stored pending', schema: Responses.RefundCreated },
      409: {
        description:
          'the payment is not a succeeded one (`payment_not_refundable`), has fewer credits left (`refund_exceeds_payment`), or the buyer has fewer credits (`refund_exceeds_balance`)',
      },
      502: { description: 'Stripe refused the refund or did not answer (`stripe_unavailable`): nothing stored' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const secrets = await stripeSecretsOf(services.db, principal.agencyId);
      if (!secrets) throw new Problem(404, 'payments_not_configured', 'This agency has not set up card payments.');
      const stripe = stripeClient(secrets.secretKey);
      let result;
      try {
        result = await requestRefund(
          services.db,
          {
            agencyId: principal.agencyId,
            paymentId: params.id,
            credits: body.credits,
            reason: body.reason ?? null,
            by: auditBy(principal),
          },
          (ask) =>
            stripe.refunds.create(
              {
                payment_intent: ask.paymentIntentId,
                amount: ask.amount,
                reason: 'requested_by_customer',
                metadata: ask.metadata,
              },
              { idempotencyKey: `leadwire-refund-${ask.refundId}` },
            ),
        );
      } catch (err) {
        if (!(err instanceof Stripe.errors.StripeError)) throw err;
        services.logger.warn(
          `[stripe] refund of payment ${params.id} refused by Stripe: ${err.type} ${err.code ?? ''} ${err.message}`,
        );
        throw new Problem(502, 'stripe_unavailable', `Stripe did not make the refund: ${err.message}`, {
          stripeCode: err.code ?? null,
        });
      }
      if (!result.ok) {
        if (result.error === 'not_found') throw notFound('payment');
        if (result.error === 'refund_exceeds_payment')
          throw new Problem(409, result.error, result.detail, { refundable: result.refundable });
        if (result.error === 'refund_exceeds_balance')
          throw new Problem(409, result.error, result.detail, { balance: result.balance });
        throw new Problem(409, result.error, result.detail);
      }
      const payment = await listedPayment(services.db, result.payment);
      return { status: 201, body: { refund: refundView(result.refund), payment: paymentView(payment) } };
    },
  }),
];
