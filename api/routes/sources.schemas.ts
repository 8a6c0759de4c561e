/**
 * The zod schemas of api/routes/sources.ts, kept beside it (sources (the
 * supply side): their campaigns, keys, ledger, leads and posting spec). Shapes
 * several route modules share are in api/schemas.ts, the building blocks in
 * api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Credits, Id, int, IsoTime, list, Nullable, text } from '../schema-blocks';
import { SourceLedgerKindSchema, SourceOutcomeSchema, SourceStatusSchema } from '../schemas';
import { Responses as BuyersResponses } from './buyers.schemas';

export const PayoutRuleSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('fixed'), amount: Credits.describe('credits per sold lead') }).strict(),
    z
      .object({
        kind: z.literal('share'),
        shareBps: int(0, 10_000).describe('basis points of the sale price (2500 = 25 %), rounded down'),
      })
      .strict(),
  ])
  .describe('paid when the lead is sold, reversed when the sale is returned');
export const SourceCreate = z.object({ name: text(200), status: SourceStatusSchema.optional() }).strict();
export const SourcePatch = SourceCreate.partial();
export const SourceCampaignSet = z
  .object({
    campaignId: Id,
    allowed: z
      .boolean()
      .default(true)
      .describe('false: the source may no longer post into it (the rule is kept for its leads)'),
    payout: PayoutRuleSchema.optional().describe(
      "absent: the campaign's rule keeps its payout (`{campaignId, allowed: false}` disallows, `{campaignId}` allows again); needed the first time a campaign is allowed",
    ),
  })
  .strict();
export const SourceKeyCreate = z
  .object({ revokeExisting: z.boolean().optional().describe("revoke the source's other keys (rotation)") })
  .strict();
/** The entries an agency writes to a source's ledger by hand; payouts and reversals come only with sales and returns. */
export const SourceSettlementKindSchema = SourceLedgerKindSchema.extract(['settlement', 'adjustment']);
const SETTLEMENT_MAX = 100_000_000;
export const SourceSettlementCreate = z
  .object({
    kind: SourceSettlementKindSchema.default('settlement').describe(
      'settlement: the agency paid the source (lowers the balance); adjustment: a correction, either way',
    ),
    amount: int(-SETTLEMENT_MAX, SETTLEMENT_MAX).describe(
      'settlement: the credits paid, 1 or more (written as a negative entry); adjustment: signed, not 0 (+ owes the source more, - less)',
    ),
    reference: text(200).describe('what identifies the payment or the correction, e.g. the bank transfer id'),
  })
  .strict()
  .superRefine((b, ctx) => {
    // One bound per kind: a settlement is a payment made, so it is a positive number of credits.
    if (b.kind === 'settlement' && b.amount < 1)
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'a settlement pays 1 credit or more' });
    if (b.kind === 'adjustment' && b.amount === 0)
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'an adjustment is not 0' });
  });
export const SourceCampaignView = z.object({
  campaignId: Id,
  campaignName: z.string(),
  allowed: z.boolean(),
  payout: PayoutRuleSchema,
});
export const SourceView = z.object({
  id: Id,
  name: z.string(),
  status: SourceStatusSchema,
  balance: z.number().int().describe('what the agency owes the source: payouts less reversals and settlements'),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export const SourceLedgerEntryView = z.object({
  id: Id,
  kind: SourceLedgerKindSchema,
  amount: z.number().int(),
  balanceAfter: z.number().int(),
  leadId: Nullable(Id),
  assignmentId: Nullable(Id),
  reference: Nullable(z.string()),
  createdAt: IsoTime,
});
export const SourceLeadView = z.object({
  id: Id,
  campaignId: Id,
  subId: Nullable(z.string()),
  clickId: Nullable(z.string()),
  outcome: SourceOutcomeSchema,
  payout: z.number().int().describe('net: payouts less reversals'),
  createdAt: IsoTime,
});

/**
 * The answers these routes document (their `responses`), each a named
 * component by its key; one that another module owns is listed by
 * reference (still one component).
 */
export const Responses = {
  SourceCreated: z.object({ source: SourceView, apiKey: z.string().describe('shown once') }),
  Source: z.object({ source: SourceView, campaigns: z.array(SourceCampaignView) }),
  Sources: list('sources', SourceView),
  SourceCampaign: z.object({ campaign: SourceCampaignView }),
  SourceKeysRevoked: z.object({ revoked: z.number().int() }),
  SourceLedger: list('entries', SourceLedgerEntryView),
  SourceSettlement: z.object({
    balance: z.number().int().describe('what the agency owes the source after this entry'),
    entry: SourceLedgerEntryView,
  }),
  SourceLeads: list('leads', SourceLeadView),
  PostingSpec: z.object({
    source: z.object({ id: Id, name: z.string() }),
    flow: z.array(z.string()),
    refusals: z.record(z.string(), z.number().int()),
    ping: z.object({ method: z.string(), path: z.string(), body: z.record(z.string(), z.unknown()) }),
    post: z.object({ method: z.string(), path: z.string(), body: z.record(z.string(), z.unknown()) }),
    campaigns: z.array(
      z.object({
        campaignId: Id,
        name: z.string(),
        payout: z.record(z.string(), z.unknown()),
        curl: z.array(z.string()),
      }),
    ),
  }),
  KeyCreated: BuyersResponses.KeyCreated,
};
