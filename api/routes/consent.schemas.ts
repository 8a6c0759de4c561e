/**
 * The zod schemas of api/routes/consent.ts, kept beside it, and the consent
 * vocabulary the campaigns and the leads use (#23 item 4): a campaign's
 * certificate rule, an agency's provider accounts (the credential goes in and
 * never comes out), a sale's claim as its buyer and the agency see it.
 */
import { z } from 'zod';

import {
  CONSENT_CLAIM_FAILURE_RULES,
  CONSENT_CLAIM_STATUSES,
  CONSENT_REFUSALS,
  type ConsentCertificateRule,
} from '../../domain/types';
import { HttpUrl, int, IsoTime, Nullable, text } from '../schema-blocks';
import { ConsentProviderSchema } from '../schemas';

export const ConsentRefusalSchema = z
  .enum(CONSENT_REFUSALS)
  .describe(
    'why intake refused a lead of a campaign that requires a certificate: none sent, not the provider shape, older than the campaign allows',
  );

export const ConsentCertificateRuleSchema = z
  .object({
    provider: ConsentProviderSchema,
    maxAgeSeconds: int(60, 90 * 86_400).describe(
      "the oldest certificate intake takes, by the consent's timestamp (TrustedForm certificates expire after 72 hours unless claimed)",
    ),
    onClaimFailure: z
      .enum(CONSENT_CLAIM_FAILURE_RULES)
      .describe(
        'a claim that finally fails: keep the sale and tell the buyer (`flag`), or return it automatically with one refund (`return`)',
      ),
  })
  .strict()
  .describe(
    'a consent certificate required at intake (shape, age) and claimed for the winning buyer after the sale; null: none required',
  ) satisfies z.ZodType<ConsentCertificateRule>;

export const ConsentClaimView = z
  .object({
    provider: ConsentProviderSchema,
    status: z
      .enum(CONSENT_CLAIM_STATUSES)
      .describe('`pending` while attempts are out; `claimed`; `failed` after the last attempt'),
    answer: z.unknown().describe("the provider's answer (its JSON), as it came"),
    error: Nullable(z.string()),
    flagged: z.boolean().describe('the claim failed and the campaign keeps such sales, flagged'),
    claimedAt: Nullable(IsoTime),
  })
  .describe("the sale's consent-certificate claim (#23)");

export const ProviderParams = z.object({ provider: ConsentProviderSchema }).strict();

export const ProviderAccountSet = z
  .object({
    baseUrl: HttpUrl.optional().describe(
      "the provider's API over HTTPS (default: the host cert.trustedform.com, or api.leadid.com)",
    ),
    credential: text(500).describe(
      'TrustedForm: the API key; Jornaya: the account code (lac). Stored sealed, never shown',
    ),
  })
  .strict();

const ProviderAccountView = z.object({
  provider: ConsentProviderSchema,
  baseUrl: z.string(),
  credential: z.literal('set').describe('the credential is stored (it is never shown)'),
  updatedAt: IsoTime,
});

export const Responses = {
  ProviderAccounts: z.object({ providers: z.array(ProviderAccountView) }),
  ProviderAccount: z.object({ provider: ProviderAccountView }),
};
