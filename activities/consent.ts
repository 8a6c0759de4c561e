/**
 * The consent-certificate claim of a sale (#23 item 4), after the sale has
 * committed and before the buyer's channels run (so they carry the answer):
 * its own retried activity. One claim per sale: the claim record is keyed by
 * the assignment (db/consent.ts), so an attempt after an answer was recorded
 * returns it without asking the provider again. A provider's refusal is not
 * retried (`ConsentClaimRefused`); no answer, a 5xx or a 429 is
 * (`ConsentClaimUnavailable`). When the last attempt has failed the workflow
 * calls `settleConsentClaim`, which applies the campaign's rule.
 */
import { ApplicationFailure } from '@temporalio/activity';

import {
  beginClaim,
  claimContext,
  claimRecord,
  noteClaimAttempt,
  recordClaimed,
  recordClaimFailed,
} from '../db/consent';
import { certificateIdOf } from '../domain/consent-certificates';
import type { ConsentClaimRecord } from '../domain/types';
import { CONSENT_PROVIDER_ADAPTERS } from '../lib/consent-providers';
import { resolveDeliveryConfig } from './channels/config';
import type { ActivityDeps } from './deps';

export function consentActivities({ db, delivery }: ActivityDeps) {
  const load = async (assignmentId: string) => {
    const ctx = await claimContext(db, assignmentId);
    if (!ctx) throw ApplicationFailure.nonRetryable(`assignment ${assignmentId} not found`, 'AssignmentNotFound');
    return ctx;
  };

  return {
    /** Claims the sale's certificate for the agency's account; null when the campaign no longer asks for a claim. */
    async claimConsentCertificate(input: { assignmentId: string }): Promise<ConsentClaimRecord | null> {
      const ctx = await load(input.assignmentId);
      const certificate = ctx.consent?.certificateUrl;
      if (!ctx.rule || !certificate) return null;
      const claim = await beginClaim(db, {
        assignmentId: ctx.assignmentId,
        agencyId: ctx.agencyId,
        leadId: ctx.leadId,
        provider: ctx.rule.provider,
      });
      if (claim.status !== 'pending') return claimRecord(claim); // answered before: never a second claim
      const refuse = async (error: string) => {
        await noteClaimAttempt(db, ctx.assignmentId, { error, answer: null });
        return ApplicationFailure.nonRetryable(error, 'ConsentClaimRefused');
      };
      if (!ctx.account)
        throw await refuse(`the agency has no ${ctx.rule.provider} account (PUT /v1/consent-providers)`);
      const certificateId = certificateIdOf(ctx.rule.provider, certificate);
      if (!certificateId) throw await refuse(`the lead's certificate is not a ${ctx.rule.provider} certificate`);
      const cfg = resolveDeliveryConfig(delivery);
      const res = await CONSENT_PROVIDER_ADAPTERS[ctx.rule.provider].claim({
        baseUrl: ctx.account.baseUrl,
        credential: ctx.account.credential,
        certificateId,
        reference: ctx.assignmentId,
        lead: { email: ctx.fields.email, phone: ctx.phoneE164 ?? ctx.fields.phone },
        timeoutMs: cfg.timeoutMs,
        allowlist: cfg.allowlist,
      });
      if (res.outcome === 'claimed') return claimRecord(await recordClaimed(db, claim, ctx, res.answer));
      await noteClaimAttempt(db, ctx.assignmentId, { error: res.error, answer: res.answer });
      if (res.outcome === 'refused') throw ApplicationFailure.nonRetryable(res.error, 'ConsentClaimRefused');
      throw ApplicationFailure.retryable(res.error, 'ConsentClaimUnavailable');
    },

    /** The claim failed after its last attempt: the campaign's rule (flag the sale, or return it with one refund). */
    async settleConsentClaim(input: { assignmentId: string; error: string }): Promise<{ refunded: boolean }> {
      const ctx = await load(input.assignmentId);
      if (!ctx.rule) return { refunded: false };
      const { refunded } = await recordClaimFailed(db, {
        assignmentId: ctx.assignmentId,
        agencyId: ctx.agencyId,
        leadId: ctx.leadId,
        offerId: ctx.offerId,
        buyerId: ctx.buyerId,
        provider: ctx.rule.provider,
        error: input.error,
        rule: ctx.rule.onClaimFailure,
      });
      return { refunded };
    },
  };
}
