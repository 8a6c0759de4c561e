/**
 * The zod schemas of api/routes/checkout.ts (#21): an agency's Stripe settings
 * (the secrets go in, never out), "test connection", and a buyer's card top-up
 * through Stripe Checkout. The money rules are domain/payments.ts.
 */
import { z } from 'zod';

import { CURRENCY } from '../../domain/payments';
import { Id, int, IsoTime } from '../schema-blocks';

/** How many credits one top-up may buy at most, whatever an agency sets (an amount Stripe accepts). */
const MAX_CREDITS = 1_000_000;

export const StripeSecretKey = z
  .string()
  .regex(
    /^(sk_test_|sk_live_|rk_test_|rk_live_)[A-Za-z0-9_]{4,255}$/,
    'a Stripe secret key (`sk_test_…`, `sk_live_…`) or restricted key (`rk_…`)',
  );
export const StripeWebhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9_]{4,255}$/, 'a webhook signing secret (`whsec_…`)');

export const PaymentSettingsPut = z
  .object({
    secretKey: StripeSecretKey.optional().describe(
      "the agency's Stripe secret key; write-only (never answered), omitted = keep the stored one (required the first time)",
    ),
    webhookSecret: StripeWebhookSecret.optional().describe(
      'the signing secret of the webhook endpoint registered in Stripe; write-only, omitted = keep (required the first time)',
    ),
    currency: z
      .string()
      .regex(CURRENCY, 'an ISO 4217 currency code in lower case, as Stripe writes it (`usd`)')
      .describe('the currency buyers pay in'),
    creditPrice: int(1, 100_000_000).describe("one credit's price in the currency's minor units (250 = 2.50 USD)"),
    minCredits: int(1, MAX_CREDITS).describe('the fewest credits one top-up buys'),
    maxCredits: int(1, MAX_CREDITS).describe('the most credits one top-up buys'),
    rechargeMaxFailures: int(1, 20)
      .optional()
      .describe('declined auto-recharges in a row before auto-recharge pauses (default 3)'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.maxCredits < v.minCredits)
      ctx.addIssue({ code: 'custom', path: ['maxCredits'], message: 'must be at least minCredits' });
  });

export const PaymentSettingsView = z.object({
  currency: z.string(),
  creditPrice: z.number().int(),
  minCredits: z.number().int(),
  maxCredits: z.number().int(),
  rechargeMaxFailures: z.number().int(),
  stripeAccountId: z.string().nullable().describe('the account "test connection" read (`acct_…`), else null'),
  secretKeyHint: z.string().describe("the secret key's prefix and last four characters (`sk_test_…abcd`)"),
  mode: z.enum(['test', 'live']),
  webhookUrl: z
    .string()
    .nullable()
    .describe("register this endpoint in Stripe's dashboard (null: LW_PUBLIC_URL is not set)"),
  updatedAt: IsoTime,
});

export const CheckoutBody = z
  .object({
    credits: z.number().int().positive().describe("how many credits to buy, within the agency's minimum and maximum"),
    currency: z.string().optional().describe("if given, must be the agency's currency (a guard against a stale page)"),
  })
  .strict();

/** The answers these routes document, each a named component by its key. */
export const Responses = {
  PaymentSettings: z.object({
    settings: PaymentSettingsView.nullable().describe('null: card payments are not set up'),
  }),
  StripeConnection: z.object({
    ok: z.boolean(),
    accountId: z.string().nullable().describe('the Stripe account the key belongs to (`acct_…`)'),
    displayName: z.string().nullable(),
    error: z.string().nullable().describe("Stripe's error message when the key did not work"),
  }),
  CheckoutStarted: z.object({
    paymentId: Id,
    url: z.string().describe("Stripe's hosted payment page: send the browser there"),
  }),
  PaymentOptions: z.object({
    enabled: z.boolean().describe('whether the agency takes card payments'),
    currency: z.string().nullable(),
    creditPrice: z.number().int().nullable(),
    minCredits: z.number().int().nullable(),
    maxCredits: z.number().int().nullable(),
  }),
};
