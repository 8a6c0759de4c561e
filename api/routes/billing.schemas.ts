/**
 * The zod schemas of api/routes/billing.ts: a buyer's saved card and auto-recharge (#21).
 */
import { z } from 'zod';

import { int, IsoTime, Nullable } from '../schema-blocks';

export const RechargeBody = z
  .object({
    enabled: z.boolean().describe('recharge automatically (needs a saved card)'),
    threshold: int(0, 1_000_000).describe('below this balance (credits), buy `credits` more'),
    credits: int(1, 1_000_000).describe("credits bought per recharge, within the agency's minimum and maximum"),
  })
  .strict();

const BillingView = z.object({
  card: Nullable(
    z.object({
      brand: Nullable(z.string()).describe('visa, mastercard…'),
      last4: Nullable(z.string()),
      exp: Nullable(z.string()).describe('MM/YYYY'),
    }),
  ).describe('the card on file; null: none'),
  recharge: z.object({
    enabled: z.boolean(),
    threshold: Nullable(z.number().int()),
    credits: Nullable(z.number().int()),
    failures: z.number().int().describe('failed recharges in a row'),
    pausedReason: Nullable(z.string()).describe('why auto-recharge is paused; saving a card resumes it'),
    pausedAt: Nullable(IsoTime),
  }),
  payments: Nullable(
    z.object({
      currency: z.string(),
      creditPrice: z.number().int().describe("one credit's price in the currency's minor units"),
      minCredits: z.number().int(),
      maxCredits: z.number().int(),
    }),
  ).describe('the agency card payment terms; null: the agency takes no card payments'),
});

export const Responses = {
  Billing: z.object({ billing: BillingView }),
  CardSetup: z.object({
    url: z.string().describe("Stripe's hosted page where the buyer enters the card (Leadwire never sees its number)"),
    sessionId: z.string(),
  }),
};
