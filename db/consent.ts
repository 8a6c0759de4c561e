/**
 * Consent certificates (#23 item 4), the data side: an agency's provider
 * accounts (base URL and credential, the credential sealed by the key store
 * with purpose `consent_provider.credential` and the row's id, rotated through
 * `consentCredentialKeyIds` / `rewrapConsentCredentials`), and each sale's
 * claim, one row per assignment: a retried activity finds the claim it made and
 * never asks the provider twice once an answer is recorded.
 *
 * Tables: consent_provider_credentials, consent_claims.
 */
import crypto from 'node:crypto';

import { and, eq, inArray, sql } from 'drizzle-orm';

import type { AuditBy, AuditChanges } from '../domain/audit';
import {
  CONSENT_CLAIM_FAILED,
  type ConsentCertificateRule,
  type ConsentClaimRecord,
  type ConsentProvider,
} from '../domain/types';
import { keyStore } from '../lib/key-store';
import { recordChange, SYSTEM } from './audit';
import type { Db, DbOrTx } from './connection';
import { openSystemReturn, resolveDispute } from './disputes';
import { appendEvents, type TimelineEventInput } from './offers';
import { assignments, campaigns, consentClaims, consentProviderCredentials, leads } from './schema';

const CREDENTIAL_PURPOSE = 'consent_provider.credential';

export type ConsentClaimRow = typeof consentClaims.$inferSelect;

/** A provider account as answers show it: never the credential. */
export interface ProviderAccount {
  provider: ConsentProvider;
  baseUrl: string;
  updatedAt: Date;
}

export async function providerAccounts(db: DbOrTx, agencyId: string): Promise<ProviderAccount[]> {
  return db
    .select({
      provider: consentProviderCredentials.provider,
      baseUrl: consentProviderCredentials.baseUrl,
      updatedAt: consentProviderCredentials.updatedAt,
    })
    .from(consentProviderCredentials)
    .where(eq(consentProviderCredentials.agencyId, agencyId))
    .orderBy(consentProviderCredentials.provider);
}

/** The agency's row for one provider. */
const accountOf = (agencyId: string, provider: ConsentProvider) =>
  and(eq(consentProviderCredentials.agencyId, agencyId), eq(consentProviderCredentials.provider, provider));

/** A provider account's change in the audit log, as a change of the agency's settings. */
function recordAccountChange(tx: DbOrTx, input: { agencyId: string; by: AuditBy }, changes: AuditChanges) {
  return recordChange(tx, {
    agencyId: input.agencyId,
    by: input.by,
    objectType: 'agency_settings',
    objectId: input.agencyId,
    action: 'updated',
    changes,
  });
}

/** Sets (or replaces) the agency's account with a provider; the credential is sealed before it is written. */
export async function saveProviderAccount(
  db: Db,
  input: { agencyId: string; provider: ConsentProvider; baseUrl: string; credential: string; by: AuditBy },
): Promise<ProviderAccount> {
  return db.transaction(async (tx) => {
    const [before] = await tx
      .select()
      .from(consentProviderCredentials)
      .where(accountOf(input.agencyId, input.provider))
      .for('update');
    const id = before?.id ?? crypto.randomUUID();
    const values = {
      baseUrl: input.baseUrl,
      credentialSealed: keyStore().seal(CREDENTIAL_PURPOSE, input.credential, id),
      updatedAt: new Date(),
    };
    const [row] = await tx
      .insert(consentProviderCredentials)
      .values({ id, agencyId: input.agencyId, provider: input.provider, ...values })
      .onConflictDoUpdate({
        target: [consentProviderCredentials.agencyId, consentProviderCredentials.provider],
        set: values,
      })
      .returning();
    await recordAccountChange(tx, input, {
      [`consentProvider.${input.provider}`]: {
        from: before ? { baseUrl: before.baseUrl } : null,
        to: { baseUrl: input.baseUrl },
      },
      // the credential itself never enters the audit log
      [`consentProvider.${input.provider}.credential`]: { from: before ? 'set' : null, to: 'set' },
    });
    return { provider: row!.provider, baseUrl: row!.baseUrl, updatedAt: row!.updatedAt };
  });
}

/** Removes the agency's account with a provider; answers whether there was one. */
export async function deleteProviderAccount(
  db: Db,
  input: { agencyId: string; provider: ConsentProvider; by: AuditBy },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const gone = await tx
      .delete(consentProviderCredentials)
      .where(accountOf(input.agencyId, input.provider))
      .returning();
    if (!gone.length) return false;
    await recordAccountChange(tx, input, {
      [`consentProvider.${input.provider}`]: { from: { baseUrl: gone[0]!.baseUrl }, to: null },
    });
    return true;
  });
}

/** The account with its credential opened: for the claim activity only, never for an answer or a log. */
async function accountForCalls(
  db: DbOrTx,
  agencyId: string,
  provider: ConsentProvider,
): Promise<{ baseUrl: string; credential: string } | null> {
  const [row] = await db.select().from(consentProviderCredentials).where(accountOf(agencyId, provider));
  if (!row) return null;
  return { baseUrl: row.baseUrl, credential: keyStore().open(row.credentialSealed, CREDENTIAL_PURPOSE, row.id) };
}

/**
 * The certificate rule a lead's sale is claimed under: its campaign's, when the lead carries a certificate (intake
 * refused every lead of such a campaign that did not). Null: nothing to claim.
 */
export async function certificateRuleOfLead(db: DbOrTx, leadId: string): Promise<ConsentCertificateRule | null> {
  const [row] = await db
    .select({ rule: campaigns.consentCertificate })
    .from(leads)
    .innerJoin(campaigns, eq(campaigns.id, leads.campaignId))
    .where(and(eq(leads.id, leadId), sql`${leads.consent}->>'certificateUrl' IS NOT NULL`));
  return row?.rule ?? null;
}

/** Everything one claim needs: the sale, the lead's contact and certificate, the rule, the opened account. */
export async function claimContext(db: DbOrTx, assignmentId: string) {
  const [row] = await db
    .select({
      assignmentId: assignments.id,
      agencyId: assignments.agencyId,
      leadId: assignments.leadId,
      offerId: assignments.offerId,
      buyerId: assignments.buyerId,
      status: assignments.status,
      fields: leads.fields,
      phoneE164: leads.phoneE164,
      consent: leads.consent,
      rule: campaigns.consentCertificate,
    })
    .from(assignments)
    .innerJoin(leads, eq(leads.id, assignments.leadId))
    .innerJoin(campaigns, eq(campaigns.id, leads.campaignId))
    .where(eq(assignments.id, assignmentId));
  if (!row) return null;
  const account = row.rule ? await accountForCalls(db, row.agencyId, row.rule.provider) : null;
  return { ...row, account };
}

/**
 * The claim record of a sale, made on the first attempt (status `pending`) and counted on every attempt; a
 * finished one (claimed or failed) is answered as it is, attempts unchanged.
 */
export async function beginClaim(
  db: DbOrTx,
  input: { assignmentId: string; agencyId: string; leadId: string; provider: ConsentProvider },
): Promise<ConsentClaimRow> {
  await db
    .insert(consentClaims)
    .values({ ...input, status: 'pending' })
    .onConflictDoNothing({ target: consentClaims.assignmentId });
  const [row] = await db
    .update(consentClaims)
    .set({ attempts: sql`${consentClaims.attempts} + 1`, updatedAt: new Date() })
    .where(and(eq(consentClaims.assignmentId, input.assignmentId), eq(consentClaims.status, 'pending')))
    .returning();
  if (row) return row;
  const [done] = await db.select().from(consentClaims).where(eq(consentClaims.assignmentId, input.assignmentId));
  return done!;
}

/** An attempt's answer kept while the claim is still pending (the last error the provider gave). */
export async function noteClaimAttempt(
  db: DbOrTx,
  assignmentId: string,
  attempt: { error: string; answer: unknown },
): Promise<void> {
  await db
    .update(consentClaims)
    .set({ error: attempt.error, answer: attempt.answer ?? null, updatedAt: new Date() })
    .where(and(eq(consentClaims.assignmentId, assignmentId), eq(consentClaims.status, 'pending')));
}

/** The provider claimed it: the answer stored with the sale and `consent_claimed` on the timeline, together. */
export async function recordClaimed(
  db: Db,
  claim: ConsentClaimRow,
  sale: { offerId: string; buyerId: string },
  answer: unknown,
): Promise<ConsentClaimRow> {
  return db.transaction((tx) =>
    finishClaim(
      tx,
      claim.assignmentId,
      { status: 'claimed', answer: answer ?? null, error: null, claimedAt: new Date() },
      (row) => ({
        leadId: claim.leadId,
        offerId: sale.offerId,
        buyerId: sale.buyerId,
        type: 'consent_claimed',
        data: { assignmentId: claim.assignmentId, provider: claim.provider, attempts: row.attempts },
      }),
    ),
  );
}

/**
 * A pending claim finished (claimed or failed) with its timeline event, once: a claim finished before is answered
 * as it is, no event written again.
 */
async function finishClaim(
  tx: DbOrTx,
  assignmentId: string,
  set: Partial<typeof consentClaims.$inferInsert>,
  event: (row: ConsentClaimRow) => Omit<TimelineEventInput, 'dedupeKey'>,
): Promise<ConsentClaimRow> {
  const [row] = await tx
    .update(consentClaims)
    .set({ ...set, updatedAt: new Date() })
    .where(and(eq(consentClaims.assignmentId, assignmentId), eq(consentClaims.status, 'pending')))
    .returning();
  if (!row) return (await tx.select().from(consentClaims).where(eq(consentClaims.assignmentId, assignmentId)))[0]!;
  const e = event(row);
  await appendEvents(tx, [{ ...e, dedupeKey: `${e.type}:${assignmentId}` }]);
  return row;
}

/**
 * The claim failed after its last attempt: the campaign's rule decides. `flag`: the sale stands, flagged (the
 * buyer's delivery says so). `return`: an automatic return, approved at once, refunds the sale through the returns
 * flow (one refund: the ledger's `refund:<assignment>` key). `consent_claim_failed` on the timeline either way.
 */
export async function recordClaimFailed(
  db: Db,
  input: {
    assignmentId: string;
    agencyId: string;
    leadId: string;
    offerId: string;
    buyerId: string;
    provider: ConsentProvider;
    error: string;
    rule: ConsentCertificateRule['onClaimFailure'];
  },
): Promise<{ claim: ConsentClaimRow; refunded: boolean }> {
  const claim = await db.transaction(async (tx) => {
    await tx
      .insert(consentClaims)
      .values({
        assignmentId: input.assignmentId,
        agencyId: input.agencyId,
        leadId: input.leadId,
        provider: input.provider,
        status: 'pending',
      })
      .onConflictDoNothing({ target: consentClaims.assignmentId });
    return finishClaim(
      tx,
      input.assignmentId,
      { status: 'failed', error: input.error, flagged: input.rule === 'flag' },
      (row) => ({
        leadId: input.leadId,
        offerId: input.offerId,
        buyerId: input.buyerId,
        type: 'consent_claim_failed',
        reason: CONSENT_CLAIM_FAILED,
        data: {
          assignmentId: input.assignmentId,
          provider: input.provider,
          error: input.error,
          attempts: row.attempts,
          rule: input.rule,
        },
      }),
    );
  });
  if (claim.status !== 'failed' || input.rule !== 'return') return { claim, refunded: false };
  // The automatic return: opened by the system (no return rules: the buyer did not ask), approved at once. A retry
  // finds the dispute it opened; an approved one is not approved twice, and the refund's key refunds once.
  const dispute = await openSystemReturn(db, {
    assignmentId: input.assignmentId,
    reason: `consent certificate claim failed: ${input.error}`.slice(0, 500),
    code: CONSENT_CLAIM_FAILED,
  });
  if (!dispute || dispute.status !== 'open') return { claim, refunded: dispute?.status === 'approved' };
  const resolved = await resolveDispute(db, {
    agencyId: input.agencyId,
    disputeId: dispute.id,
    approve: true,
    note: 'automatic return: the consent certificate could not be claimed',
    by: SYSTEM,
  });
  return { claim, refunded: resolved.ok || (!resolved.ok && resolved.error === 'not_open') };
}

/** The claims of these sales, for the buyer's deliveries and the lead pages. */
export async function claimsOf(db: DbOrTx, assignmentIds: string[]): Promise<Map<string, ConsentClaimRecord>> {
  if (!assignmentIds.length) return new Map();
  const rows = await db.select().from(consentClaims).where(inArray(consentClaims.assignmentId, assignmentIds));
  return new Map(rows.map((r) => [r.assignmentId, claimRecord(r)]));
}

export function claimRecord(r: ConsentClaimRow): ConsentClaimRecord {
  return {
    provider: r.provider,
    status: r.status,
    answer: r.answer ?? null,
    error: r.error,
    flagged: r.flagged,
    claimedAt: r.claimedAt ? r.claimedAt.toISOString() : null,
  };
}

// ─── the key store's rotation (db/key-store.ts SEALED_SECRETS) ───────────────

export async function consentCredentialKeyIds(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .selectDistinct({ keyId: sql<string>`split_part(${consentProviderCredentials.credentialSealed}, '.', 2)` })
    .from(consentProviderCredentials);
  return rows.map((r) => r.keyId);
}

/** Moves up to `limit` provider credentials to the current master key, each conditional on the value read. */
export async function rewrapConsentCredentials(db: DbOrTx, limit: number): Promise<number> {
  const store = keyStore();
  const rows = await db
    .select({ id: consentProviderCredentials.id, sealed: consentProviderCredentials.credentialSealed })
    .from(consentProviderCredentials)
    .where(sql`split_part(${consentProviderCredentials.credentialSealed}, '.', 2) <> ${store.currentKeyId}`)
    .limit(limit);
  let moved = 0;
  for (const r of rows) {
    const done = await db
      .update(consentProviderCredentials)
      .set({ credentialSealed: store.rewrap(r.sealed) })
      .where(and(eq(consentProviderCredentials.id, r.id), eq(consentProviderCredentials.credentialSealed, r.sealed)))
      .returning({ id: consentProviderCredentials.id });
    moved += done.length;
  }
  return moved;
}
