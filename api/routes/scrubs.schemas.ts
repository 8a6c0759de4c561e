/**
 * The zod schemas of api/routes/scrubs.ts, kept beside it: an agency's third-party scrubs (#23 item 5). The
 * provider's secret goes in and never comes out (`secretSet` says whether one is stored).
 */
import { z } from 'zod';

import { LITIGATOR_RULES, SCRUBS } from '../../domain/types';
import { HttpUrl, int, IsoTime, Nullable, text } from '../schema-blocks';

export const ScrubSchema = z
  .enum(SCRUBS)
  .describe(
    '`litigator`: a TCPA litigator list (TCPA Litigator List); `line_status`: the line connected or not (RealPhoneValidation)',
  );
const LitigatorRuleSchema = z
  .enum(LITIGATOR_RULES)
  .describe('a litigator hit: `refuse` the lead (422 `litigator`), or store it in review as `suppressed`');

export const ScrubParams = z.object({ scrub: ScrubSchema }).strict();

export const ScrubPut = z
  .object({
    enabled: z.boolean().describe('whether intake asks this provider'),
    baseUrl: HttpUrl.optional().describe("the provider's API (default: its public server); a backup server or a proxy"),
    username: text(200)
      .optional()
      .describe('litigator: the API username of HTTP Basic authentication (required for it)'),
    secret: text(500)
      .optional()
      .describe(
        'litigator: the API password; line_status: the token. Write-only; omitted, the stored one is kept (required the first time)',
      ),
    monthlyBudget: Nullable(int(0, 100_000_000))
      .optional()
      .describe('calls per UTC month; over it leads go on `not_checked`; null (the default): no limit'),
    timeoutMs: int(50, 5000)
      .optional()
      .describe('the longest a call may take (default 800): intake never waits longer'),
    failureThreshold: int(1, 100).optional().describe('failed calls in a row that open the circuit (default 5)'),
    cooldownMs: int(1000, 3_600_000)
      .optional()
      .describe('how long an open circuit waits before one probe call (default 30000)'),
    litigatorRule: LitigatorRuleSchema.optional().describe('litigator: what a hit does (default `refuse`)'),
  })
  .strict();

export const ScrubView = z.object({
  scrub: ScrubSchema,
  provider: z.string().describe('the adapter: `tcpa_litigator_list` or `real_phone_validation`'),
  enabled: z.boolean(),
  baseUrl: z.string(),
  username: Nullable(z.string()),
  secretSet: z.boolean().describe('a secret is stored (it is never shown)'),
  monthlyBudget: Nullable(z.number().int()),
  callsThisMonth: z.number().int().describe('calls made this UTC month (cache hits are free)'),
  timeoutMs: z.number().int(),
  failureThreshold: z.number().int(),
  cooldownMs: z.number().int(),
  litigatorRule: LitigatorRuleSchema,
  circuit: z.object({
    state: z.enum(['closed', 'open', 'half_open']).describe('open: no calls, leads go on `not_checked`'),
    consecutiveFailures: z.number().int(),
    openedAt: Nullable(IsoTime),
  }),
  updatedAt: Nullable(IsoTime),
});

export const Responses = {
  ScrubList: z.object({
    scrubs: z.array(ScrubView).describe('every scrub, configured or not (an unconfigured one is disabled)'),
  }),
  ScrubSaved: z.object({ scrub: ScrubView }),
};
