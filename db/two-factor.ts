/**
 * Second factors (#20): a user's TOTP seed (sealed by the key store, purpose
 * `totp_seed`, context the user's id), the last TOTP step accepted, their
 * single-use recovery codes (SHA-256 stored), their passkeys, and the WebAuthn
 * challenges awaiting an answer. Every read and write of those lives here.
 *
 * Replays are refused by the database itself: a TOTP step is accepted by one
 * conditional UPDATE (only above the last accepted step), a recovery code and
 * a challenge are consumed by one conditional UPDATE (only while unused), so of
 * two concurrent uses of one code exactly one succeeds.
 */
import { and, asc, count, eq, gt, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';

import type { SecondFactorKind } from '../domain/accounts';
import { keyStore } from '../lib/key-store';
import { hashSecret, type UserRow } from './accounts';
import type { Db, DbOrTx } from './connection';
import { agencies, passkeys, recoveryCodes, users, webauthnChallenges } from './schema';

export type PasskeyRow = typeof passkeys.$inferSelect;
export type SecondFactor = SecondFactorKind;
export type ChallengePurpose = (typeof webauthnChallenges.$inferSelect)['purpose'];

const TOTP_PURPOSE = 'totp_seed';

/**
 * The second factors a user can finish a sign-in with, in this order: `totp`
 * (enabled), `recovery_code` (TOTP enabled and a code left), `passkey` (one
 * registered). Empty: the password alone signs them in. The sign-in route
 * calls this to decide the session's stage.
 */
export async function secondFactorsOf(db: DbOrTx, user: Pick<UserRow, 'id'>): Promise<SecondFactor[]> {
  const [row] = await db
    .select({ totp: isNotNull(users.totpEnabledAt) })
    .from(users)
    .where(eq(users.id, user.id));
  if (!row) return [];
  const [keys] = await db.select({ n: count() }).from(passkeys).where(eq(passkeys.userId, user.id));
  const factors: SecondFactor[] = [];
  if (row.totp) factors.push('totp');
  if (row.totp && (await unusedRecoveryCodes(db, user.id)) > 0) factors.push('recovery_code');
  if ((keys?.n ?? 0) > 0) factors.push('passkey');
  return factors;
}

/**
 * Whether the agency requires a second factor and this user has none yet (an
 * owner or admin in that state may only reach their account to enrol).
 */
export async function owesTwoFactorEnrolment(db: DbOrTx, userId: string, agencyId: string): Promise<boolean> {
  const [row] = await db
    .select({ required: agencies.requireTwoFactor })
    .from(agencies)
    .where(eq(agencies.id, agencyId));
  if (!row?.required) return false;
  const factors = await secondFactorsOf(db, { id: userId });
  return !factors.includes('totp') && !factors.includes('passkey');
}

// ─── TOTP ────────────────────────────────────────────────────────────────────

/** The user's TOTP seed (base32) in clear, or null without one. */
export function totpSeedOf(user: Pick<UserRow, 'id' | 'totpSeedSealed'>): string | null {
  return user.totpSeedSealed ? keyStore().open(user.totpSeedSealed, TOTP_PURPOSE, user.id) : null;
}

/**
 * Stores a new seed awaiting confirmation (replacing an unconfirmed one);
 * false when TOTP is already enabled (it must be disabled first).
 */
export async function startTotpEnrolment(db: DbOrTx, userId: string, seedBase32: string): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ totpSeedSealed: keyStore().seal(TOTP_PURPOSE, seedBase32, userId), updatedAt: new Date() })
    .where(and(eq(users.id, userId), isNull(users.totpEnabledAt)))
    .returning({ id: users.id });
  return rows.length === 1;
}

/**
 * Accepts a TOTP step for the user: true only when it is above the last
 * accepted step, which it then becomes – one statement, so a code used twice
 * (even at the same instant) is accepted once.
 */
export async function acceptTotpStep(db: DbOrTx, userId: string, step: number): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ totpLastStep: step })
    .where(and(eq(users.id, userId), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
    .returning({ id: users.id });
  return rows.length === 1;
}

/**
 * Enables TOTP with its first accepted step and replaces the recovery codes,
 * in one transaction; false when the step was used already or TOTP is enabled.
 */
export async function enableTotp(db: Db, userId: string, step: number, recoveryCodeHashes: string[]): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(users)
      .set({ totpEnabledAt: new Date(), totpLastStep: step, updatedAt: new Date() })
      .where(
        and(
          eq(users.id, userId),
          isNull(users.totpEnabledAt),
          isNotNull(users.totpSeedSealed),
          or(isNull(users.totpLastStep), lt(users.totpLastStep, step)),
        ),
      )
      .returning({ id: users.id });
    if (rows.length !== 1) return false;
    await replaceRecoveryCodes(tx, userId, recoveryCodeHashes);
    return true;
  });
}

/** Turns TOTP off: the seed and the recovery codes go (the last step stays: an old code never works again). */
export async function disableTotp(db: Db, userId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ totpSeedSealed: null, totpEnabledAt: null, updatedAt: new Date() })
      .where(eq(users.id, userId));
    await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  });
}

/** The master key ids the sealed TOTP seeds name (the key store's start check). */
export async function totpSeedKeyIds(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .selectDistinct({ keyId: sql<string>`split_part(${users.totpSeedSealed}, '.', 2)` })
    .from(users)
    .where(isNotNull(users.totpSeedSealed));
  return rows.map((r) => r.keyId);
}

/** Rewraps up to `limit` TOTP seeds not under the current master key, each conditional on the value read. */
export async function rewrapTotpSeeds(db: DbOrTx, limit: number): Promise<number> {
  const store = keyStore();
  const rows = await db
    .select({ id: users.id, sealed: users.totpSeedSealed })
    .from(users)
    .where(
      and(isNotNull(users.totpSeedSealed), sql`split_part(${users.totpSeedSealed}, '.', 2) <> ${store.currentKeyId}`),
    )
    .limit(limit);
  let changed = 0;
  for (const r of rows) {
    const done = await db
      .update(users)
      .set({ totpSeedSealed: store.rewrap(r.sealed!) })
      .where(and(eq(users.id, r.id), eq(users.totpSeedSealed, r.sealed!)))
      .returning({ id: users.id });
    changed += done.length;
  }
  return changed;
}

// ─── recovery codes ──────────────────────────────────────────────────────────

/** Replaces the user's recovery codes with these (hashes of the codes shown once). */
export async function replaceRecoveryCodes(db: DbOrTx, userId: string, codeHashes: string[]): Promise<void> {
  await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  if (codeHashes.length) await db.insert(recoveryCodes).values(codeHashes.map((codeHash) => ({ userId, codeHash })));
}

/** Uses a recovery code (its normalised text): true once, while unused; one statement. */
export async function consumeRecoveryCode(db: DbOrTx, userId: string, code: string): Promise<boolean> {
  const rows = await db
    .update(recoveryCodes)
    .set({ usedAt: new Date() })
    .where(
      and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, hashSecret(code)), isNull(recoveryCodes.usedAt)),
    )
    .returning({ id: recoveryCodes.id });
  return rows.length === 1;
}

export async function unusedRecoveryCodes(db: DbOrTx, userId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  return row?.n ?? 0;
}

// ─── passkeys ────────────────────────────────────────────────────────────────

export async function addPasskey(
  db: DbOrTx,
  input: {
    userId: string;
    credentialId: string;
    publicKey: string;
    counter: number;
    transports: string[];
    name: string;
  },
): Promise<PasskeyRow> {
  const [row] = await db.insert(passkeys).values(input).returning();
  return row!;
}

export async function passkeysOf(db: DbOrTx, userId: string): Promise<PasskeyRow[]> {
  return db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt));
}

export async function passkeyByCredentialId(db: DbOrTx, credentialId: string): Promise<PasskeyRow | undefined> {
  const [row] = await db.select().from(passkeys).where(eq(passkeys.credentialId, credentialId));
  return row;
}

/** Deletes one of the user's passkeys; false for an unknown id or another user's. */
export async function deletePasskey(db: DbOrTx, userId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(passkeys)
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .returning({ id: passkeys.id });
  return rows.length === 1;
}

/**
 * Records a use of a passkey with the authenticator's new signature counter:
 * refused (false) when the counter did not move past the stored one – a
 * cloned authenticator – unless both are 0 (authenticators that keep no counter).
 */
export async function recordPasskeyUse(db: DbOrTx, id: string, newCounter: number): Promise<boolean> {
  const rows = await db
    .update(passkeys)
    .set({ counter: newCounter, lastUsedAt: new Date() })
    .where(and(eq(passkeys.id, id), newCounter === 0 ? eq(passkeys.counter, 0) : lt(passkeys.counter, newCounter)))
    .returning({ id: passkeys.id });
  return rows.length === 1;
}

// ─── WebAuthn challenges ─────────────────────────────────────────────────────

/** Keeps a challenge until it is answered (at most `ttlMs`); expired ones are swept on the way. */
export async function issueChallenge(
  db: DbOrTx,
  input: { challenge: string; purpose: ChallengePurpose; sessionId: string | null; ttlMs: number },
): Promise<void> {
  await db.delete(webauthnChallenges).where(lt(webauthnChallenges.expiresAt, sql`now() - interval '1 hour'`));
  await db.insert(webauthnChallenges).values({
    challenge: input.challenge,
    purpose: input.purpose,
    sessionId: input.sessionId,
    expiresAt: new Date(Date.now() + input.ttlMs),
  });
}

/**
 * Uses a challenge: true once, when it was issued for this purpose (and this
 * session, or none), is unused and unexpired. One statement: a replayed answer
 * finds it used.
 */
export async function consumeChallenge(
  db: DbOrTx,
  challenge: string,
  purpose: ChallengePurpose,
  sessionId: string | null,
): Promise<boolean> {
  const rows = await db
    .update(webauthnChallenges)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(webauthnChallenges.challenge, challenge),
        eq(webauthnChallenges.purpose, purpose),
        sessionId ? eq(webauthnChallenges.sessionId, sessionId) : isNull(webauthnChallenges.sessionId),
        isNull(webauthnChallenges.usedAt),
        gt(webauthnChallenges.expiresAt, sql`now()`),
      ),
    )
    .returning({ id: webauthnChallenges.id });
  return rows.length === 1;
}
