/**
 * Single sign-on (#20): every read and write of an agency's OpenID Connect
 * settings (agency_sso, migration 0011) and of the sign-ins in flight
 * (sso_flows, migration 0013), and what a verified sign-in does to users and
 * memberships.
 *
 * The client secret is sealed by the key store (purpose `oidc_client_secret`,
 * context the agency's id) in the same write that stores it, is opened only
 * to talk to the provider, and is listed in the key store's rotation registry
 * (db/key-store.ts) through `ssoSecretKeyIds` and `rewrapSsoSecrets`.
 */
import { and, eq, gt, lt, ne, sql } from 'drizzle-orm';

import { normaliseEmail } from '../domain/accounts';
import type { SsoDefaultRole, SsoErrorCode } from '../domain/sso';
import { keyStore } from '../lib/key-store';
import { addMembership, createUser, type MembershipRow, membershipsOf, userByEmail, type UserRow } from './accounts';
import type { Db, DbOrTx } from './connection';
import { agencySso, ssoFlows } from './schema';

export type SsoRow = typeof agencySso.$inferSelect;
export type SsoFlowRow = typeof ssoFlows.$inferSelect;

const SECRET_PURPOSE = 'oidc_client_secret';

export interface SsoSettingsInput {
  issuer: string;
  clientId: string;
  /** Omitted: keep the stored one. */
  clientSecret?: string;
  allowedDomains: string[];
  defaultRole: SsoDefaultRole;
  enabled: boolean;
}

export async function ssoSettings(db: DbOrTx, agencyId: string): Promise<SsoRow | undefined> {
  const [row] = await db.select().from(agencySso).where(eq(agencySso.agencyId, agencyId));
  return row;
}

/**
 * Creates or replaces an agency's settings; a missing `clientSecret` keeps the
 * stored one (answers undefined when there is none to keep: nothing written).
 */
export async function saveSsoSettings(
  db: DbOrTx,
  agencyId: string,
  input: SsoSettingsInput,
): Promise<SsoRow | undefined> {
  const fields = {
    issuer: input.issuer,
    clientId: input.clientId,
    allowedDomains: input.allowedDomains,
    defaultRole: input.defaultRole,
    enabled: input.enabled,
    updatedAt: new Date(),
    ...(input.clientSecret !== undefined
      ? { clientSecretSealed: keyStore().seal(SECRET_PURPOSE, input.clientSecret, agencyId) }
      : {}),
  };
  if (fields.clientSecretSealed === undefined) {
    const [row] = await db.update(agencySso).set(fields).where(eq(agencySso.agencyId, agencyId)).returning();
    return row;
  }
  const [row] = await db
    .insert(agencySso)
    .values({ agencyId, ...fields, clientSecretSealed: fields.clientSecretSealed })
    .onConflictDoUpdate({ target: agencySso.agencyId, set: fields })
    .returning();
  return row;
}

/** The client secret in clear, to authenticate to the provider (never to show). */
export const openClientSecret = (row: SsoRow): string =>
  keyStore().open(row.clientSecretSealed, SECRET_PURPOSE, row.agencyId);

/** Of `domains`, those another agency's SSO already allows (a domain signs in to one agency). */
export async function domainsTakenElsewhere(db: DbOrTx, agencyId: string, domains: string[]): Promise<string[]> {
  if (domains.length === 0) return [];
  const rows = await db
    .select({ domain: sql<string>`d.value` })
    .from(agencySso)
    .innerJoin(sql`jsonb_array_elements_text(${agencySso.allowedDomains}) AS d(value)`, sql`true`)
    .where(and(ne(agencySso.agencyId, agencyId), sql`d.value = ANY(${sql.param(domains)}::text[])`));
  return [...new Set(rows.map((r) => r.domain))];
}

/** The enabled SSO that allows this email domain, if any. */
export async function ssoForDomain(db: DbOrTx, domain: string): Promise<SsoRow | undefined> {
  const [row] = await db
    .select()
    .from(agencySso)
    .where(and(eq(agencySso.enabled, true), sql`${agencySso.allowedDomains} @> ${JSON.stringify([domain])}::jsonb`))
    .limit(1);
  return row;
}

// ─── the key store's rotation registry (db/key-store.ts) ────────────────────

export async function ssoSecretKeyIds(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .selectDistinct({ keyId: sql<string>`split_part(${agencySso.clientSecretSealed}, '.', 2)` })
    .from(agencySso);
  return rows.map((r) => r.keyId);
}

/** Moves up to `limit` client secrets to the current master key, each conditional on the value read. */
export async function rewrapSsoSecrets(db: DbOrTx, limit: number): Promise<number> {
  const store = keyStore();
  const rows = await db
    .select({ agencyId: agencySso.agencyId, sealed: agencySso.clientSecretSealed })
    .from(agencySso)
    .where(sql`split_part(${agencySso.clientSecretSealed}, '.', 2) <> ${store.currentKeyId}`)
    .limit(limit);
  let moved = 0;
  for (const r of rows) {
    const done = await db
      .update(agencySso)
      .set({ clientSecretSealed: store.rewrap(r.sealed) })
      .where(and(eq(agencySso.agencyId, r.agencyId), eq(agencySso.clientSecretSealed, r.sealed)))
      .returning({ agencyId: agencySso.agencyId });
    moved += done.length;
  }
  return moved;
}

// ─── sign-ins in flight ──────────────────────────────────────────────────────

/** Records a sign-in sent to the provider (and forgets the expired ones). */
export async function createSsoFlow(
  db: DbOrTx,
  flow: { stateHash: string; agencyId: string; verifierHash: string; nonce: string; expiresAt: Date },
): Promise<void> {
  await db.delete(ssoFlows).where(lt(ssoFlows.expiresAt, sql`now()`));
  await db.insert(ssoFlows).values(flow);
}

/**
 * Uses a sign-in in flight: deletes and answers it, in one statement, only
 * when both its state and the browser's verifier match and it has not
 * expired – so it works once, and only in the browser that started it.
 */
export async function consumeSsoFlow(
  db: DbOrTx,
  stateHash: string,
  verifierHash: string,
): Promise<SsoFlowRow | undefined> {
  const [row] = await db
    .delete(ssoFlows)
    .where(
      and(
        eq(ssoFlows.stateHash, stateHash),
        eq(ssoFlows.verifierHash, verifierHash),
        gt(ssoFlows.expiresAt, sql`now()`),
      ),
    )
    .returning();
  return row;
}

// ─── what a verified sign-in does ────────────────────────────────────────────

export type SsoMember =
  | { ok: true; user: UserRow; membership: MembershipRow; created: { user: boolean; membership: boolean } }
  | { ok: false; code: Extract<SsoErrorCode, 'sso_account_conflict' | 'account_disabled'> };

/**
 * The user and agency membership of a person the agency's provider vouched
 * for, in one transaction: the user is found by email or created (verified,
 * no password); a first sign-in creates the membership with the default role,
 * a later one keeps the role it has. An account that belongs to any other
 * organisation is refused: an agency's provider speaks for that agency only,
 * so it never opens an account another organisation also relies on.
 */
export async function provisionSsoMember(
  db: Db,
  input: { agencyId: string; email: string; displayName: string; defaultRole: SsoDefaultRole },
): Promise<SsoMember> {
  const email = normaliseEmail(input.email);
  return db.transaction(async (tx) => {
    // Two first sign-ins of one person at once create one user.
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`sso:${email}`}))`);
    let user = await userByEmail(tx, email);
    const createdUser = !user;
    user ??= await createUser(tx, { email, displayName: input.displayName, emailVerified: true });
    if (user.disabledAt) return { ok: false, code: 'account_disabled' };
    const mine = await membershipsOf(tx, user.id);
    if (mine.some((m) => m.orgKind !== 'agency' || m.agencyId !== input.agencyId))
      return { ok: false, code: 'sso_account_conflict' };
    const existing = mine[0];
    const membership =
      existing ?? (await addMembership(tx, user.id, { kind: 'agency', agencyId: input.agencyId }, input.defaultRole));
    return {
      ok: true,
      user,
      membership,
      created: { user: createdUser, membership: !existing },
    };
  });
}
