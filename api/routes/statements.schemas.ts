/** The zod schemas of api/routes/statements.ts: a buyer's monthly statement (#21 item 6). */
import { z } from 'zod';

import { STATEMENT_MONTH, STATEMENT_SECTIONS } from '../../domain/statements';
import { Id, IsoTime } from '../schema-blocks';
import { LedgerEntryKindSchema } from '../schemas';

export const StatementMonth = z
  .string()
  .regex(STATEMENT_MONTH, 'a calendar month, YYYY-MM')
  .describe("a calendar month in the agency's time zone, YYYY-MM");

export const StatementFormat = z
  .enum(['json', 'csv'])
  .describe('`csv`: the same statement as RFC 4180 CSV (like the `.csv` path)');

export const StatementSectionSchema = z.enum(STATEMENT_SECTIONS);

export const StatementPaymentView = z.object({
  paymentId: Id,
  amount: z.number().int().describe("what the card paid, in the currency's minor units"),
  currency: z.string(),
  cardBrand: z.string().nullable(),
  cardLast4: z.string().nullable(),
  receiptUrl: z.string().nullable().describe("Stripe's own receipt"),
});

export const StatementLineView = z.object({
  id: Id,
  at: IsoTime,
  section: StatementSectionSchema,
  kind: LedgerEntryKindSchema,
  amount: z.number().int().describe('signed credits'),
  balanceAfter: z.number().int(),
  leadId: Id.nullable(),
  reference: z.string().nullable(),
  payment: StatementPaymentView.nullable().describe('the card payment behind a top-up, card refund or dispute'),
});

export const Responses = {
  StatementMonths: z.object({
    timeZone: z.string(),
    months: z.array(StatementMonth).describe('months with ledger activity, newest first'),
  }),
  Statement: z.object({
    buyerId: Id,
    month: StatementMonth,
    timeZone: z.string().describe("the agency's time zone the month is counted in"),
    from: IsoTime.describe("the month's first instant"),
    to: IsoTime.describe("the next month's first instant (exclusive)"),
    openingBalance: z.number().int(),
    closingBalance: z.number().int().describe('openingBalance + the sum of totals, always'),
    totals: z.record(StatementSectionSchema, z.number().int()).describe('signed credits per section'),
    lines: z.array(StatementLineView).describe('oldest first'),
  }),
};
