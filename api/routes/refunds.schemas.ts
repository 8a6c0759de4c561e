/**
 * The zod schemas of api/routes/refunds.ts (the agency's card payments, their
 * refunds and disputes, #21).
 */
import { z } from 'zod';

import { PAYMENT_KINDS, PAYMENT_STATUSES, REFUND_STATUSES } from '../../domain/payments';
import { Id, int, IsoTime, list, Nullable, text } from '../schema-blocks';
import { PageQuery } from '../schemas';

export const PaymentsQuery = PageQuery.extend({
  buyerId: Id.optional().describe("only this buyer's payments"),
  status: z.enum(PAYMENT_STATUSES).optional(),
}).strict();

export const RefundCreate = z
  .object({
    credits: int(1, 1_000_000).describe(
      "credits to refund: at most the payment's credits not yet refunded or disputed",
    ),
    reason: text(500).optional().describe('why (kept in the audit log and on the refund)'),
  })
  .strict();

/** A card payment, as the agency's console and the buyer's wallet both see it (one definition). */
export const PaymentView = z.object({
  id: Id,
  buyerId: Id,
  kind: z.enum(PAYMENT_KINDS),
  status: z.enum(PAYMENT_STATUSES),
  credits: z.number().int(),
  creditPrice: z.number().int().describe('minor units of the currency per credit'),
  amount: z.number().int().describe('credits × creditPrice, minor units'),
  currency: z.string(),
  amountDisplay: z.string().describe('the amount for people, e.g. "12.50 USD"'),
  refundedCredits: z.number().int(),
  pendingRefundCredits: z
    .number()
    .int()
    .describe(
      "credits of refunds asked of Stripe and not yet succeeded: they leave the wallet when Stripe's webhook says so",
    ),
  disputedCredits: z.number().int(),
  cardBrand: Nullable(z.string()),
  cardLast4: Nullable(z.string()),
  receiptUrl: Nullable(z.string()),
  stripePaymentIntentId: Nullable(z.string()),
  failureCode: Nullable(z.string()),
  failureMessage: Nullable(z.string()).describe("Stripe's message when the payment failed"),
  createdAt: IsoTime,
  succeededAt: Nullable(IsoTime),
});

export const RefundView = z.object({
  id: Id,
  paymentId: Id,
  credits: z.number().int(),
  amount: z.number().int(),
  status: z.enum(REFUND_STATUSES),
  stripeRefundId: Nullable(z.string()),
  reason: Nullable(z.string()),
  createdAt: IsoTime,
});

export const PaymentDisputeView = z.object({
  id: Id,
  paymentId: Id,
  stripeDisputeId: z.string(),
  credits: z.number().int(),
  amount: z.number().int(),
  status: z.string().describe("Stripe's dispute status (needs_response, won, lost, …)"),
  reason: Nullable(z.string()),
  createdAt: IsoTime,
  resolvedAt: Nullable(IsoTime),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  Payments: list('payments', PaymentView),
  PaymentDetail: z.object({
    payment: PaymentView,
    refunds: z.array(RefundView),
    disputes: z.array(PaymentDisputeView),
  }),
  RefundCreated: z.object({ refund: RefundView, payment: PaymentView }),
};
