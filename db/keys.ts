/**
 * API keys: random secrets shown once, stored as SHA-256 hashes. The API looks
 * a presented key up by its hash, so the lookup never compares the secret
 * itself character by character.
 */
import crypto from 'node:crypto';

import { and, desc, eq, gt, inArray, isNull, ne, or, type SQL, sql } from 'drizzle-orm';

import type { MembershipRole } from '../domain/accounts';
import { createdFields } from '../domain/audit';
import type { ApiKeyKind } from '../domain/types';
import { liveBuyerSessions } from './accounts';
import { type AuditBy, recordChange } from './audit';
import type { Db, DbOrTx } from './connection';
import { apiKeys, buyers, users } from './schema';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

const PREFIX: Record<ApiKeyKind, string> = { admin: 'lw_admin_', buyer: 'lw_buyer_', source: 'lw_source_' };
const DEFAULT_NAME: Record<ApiKeyKind, string> = { admin: 'Agency key', buyer: 'Buyer key', source: 'Source key' };

/** `lw_admin_`, `lw_buyer_` or `lw_source_` followed by 32 random bytes, base64url. */
function generateApiKey(kind: ApiKeyKind): string {
  return PREFIX[kind] + crypto.randomBytes(32).toString('base64url');
}

/** Hex SHA-256 of the key: what the database stores and is searched by. */
export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Creates a key and returns it in clear: the only time anyone sees it. */
export async function createApiKey(
  db: DbOrTx,
  input: {
    kind: ApiKeyKind;
    agencyId: string;
    buyerId?: string | null;
    sourceId?: string | null;
    /** Default: "<Kind> key". */
    name?: string;
    /** The role the key acts as; default: `admin` for an agency key, `owner` for a buyer's or a source's. */
    role?: MembershipRole;
    createdByUserId?: string | null;
    expiresAt?: Date | null;
  },
): Promise<{ key: string; id: string; prefix: string }> {
  const key = generateApiKey(input.kind);
  const prefix = key.slice(0, PREFIX[input.kind].length + 4);
  const [row] = await db
    .insert(apiKeys)
    .values({
      kind: input.kind,
      agencyId: input.agencyId,
      buyerId: input.buyerId ?? null,
      sourceId: input.sourceId ?? null,
      keyHash: hashApiKey(key),
      prefix,
      name: input.name ?? DEFAULT_NAME[input.kind],
      role: input.role ?? (input.kind === 'admin' ? 'admin' : 'owner'),
      createdByUserId: input.createdByUserId ?? null,
      expiresAt: input.expiresAt ?? null,
    })
    .returning({ id: apiKeys.id });
  return { key, id: row!.id, prefix };
}

/** The live key with this hash: not revoked, not expired. */
export async function findApiKeyByHash(db: DbOrTx, keyHash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.keyHash, keyHash),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)),
      ),
    );
  return row;
}

/** Revokes every live key of a buyer except `keepId` (key rotation). */
async function revokeBuyerKeys(db: DbOrTx, buyerId: string, keepId?: string): Promise<number> {
  return revokeKeys(db, eq(apiKeys.buyerId, buyerId), keepId);
}

/** Revokes every live key of a source except `keepId` (rotation; without keepId, revocation). */
async function revokeSourceKeys(db: DbOrTx, sourceId: string, keepId?: string): Promise<number> {
  return revokeKeys(db, eq(apiKeys.sourceId, sourceId), keepId);
}

/** Revokes every key of a source (POST /v1/sources/:id/keys/revoke), recorded in the audit log, in one transaction. */
export async function revokeAllSourceKeys(
  db: Db,
  source: { agencyId: string; sourceId: string },
  by: AuditBy,
): Promise<number> {
  return db.transaction(async (tx) => {
    const revoked = await revokeSourceKeys(tx, source.sourceId);
    if (revoked)
      await recordChange(tx, {
        agencyId: source.agencyId,
        by,
        objectType: 'source',
        objectId: source.sourceId,
        action: 'key_revoked',
        changes: { activeKeys: { from: revoked, to: 0 } },
      });
    return revoked;
  });
}

async function revokeKeys(db: DbOrTx, owner: SQL, keepId?: string): Promise<number> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(owner, isNull(apiKeys.revokedAt), keepId ? ne(apiKeys.id, keepId) : undefined))
    .returning({ id: apiKeys.id });
  return rows.length;
}

/**
 * Of these buyer credentials (`key:<id>`, `session:<id>`: a principal's
 * credentialId), the ones that may still use the feed: a key not revoked, and
 * not expired, and its buyer active. One indexed query for any number of keys (the gateway
 * checks every frame, and every connected credential on each heartbeat).
 */
export async function feedAccess(db: DbOrTx, credentialIds: string[]): Promise<Set<string>> {
  const keyIds = credentialIds.filter((c) => c.startsWith('key:')).map((c) => c.slice(4));
  const sessionIds = credentialIds.filter((c) => c.startsWith('session:')).map((c) => c.slice(8));
  const allowed = new Set<string>();
  if (keyIds.length) {
    const rows = await db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .innerJoin(buyers, eq(buyers.id, apiKeys.buyerId))
      .where(
        and(
          inArray(apiKeys.id, keyIds),
          isNull(apiKeys.revokedAt),
          or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)),
          eq(buyers.status, 'active'),
        ),
      );
    for (const r of rows) allowed.add(`key:${r.id}`);
  }
  if (sessionIds.length) for (const id of await liveBuyerSessions(db, sessionIds)) allowed.add(`session:${id}`);
  return allowed;
}

/**
 * A new key for a buyer or a source (answered in clear, once) and, when asked,
 * the revocation of its other keys, in one transaction. Answers how many were revoked.
 */
export async function issueKey(
  db: Db,
  owner: { kind: 'buyer'; agencyId: string; buyerId: string } | { kind: 'source'; agencyId: string; sourceId: string },
  revokeOthers: boolean,
  by: AuditBy,
): Promise<{ key: { key: string; id: string; prefix: string }; revoked: number }> {
  return db.transaction(async (tx) => {
    const key = await createApiKey(tx, owner);
    const revoked = !revokeOthers
      ? 0
      : owner.kind === 'buyer'
        ? await revokeBuyerKeys(tx, owner.buyerId, key.id)
        : await revokeSourceKeys(tx, owner.sourceId, key.id);
    await recordChange(tx, {
      agencyId: owner.agencyId,
      buyerId: owner.kind === 'buyer' ? owner.buyerId : null,
      by,
      objectType: 'api_key',
      objectId: key.id,
      action: 'key_issued',
      changes: createdFields({
        kind: owner.kind,
        ownerId: owner.kind === 'buyer' ? owner.buyerId : owner.sourceId,
        prefix: key.prefix,
        ...(revoked ? { otherKeysRevoked: revoked } : {}),
      }),
      note: revoked ? `the ${owner.kind}'s ${revoked} other key(s) revoked` : null,
    });
    return { key, revoked };
  });
}

/** The organisation a key belongs to: an agency (its staff's keys), one of its buyers, or one of its sources. */
export type KeyOwner =
  | { kind: 'admin'; agencyId: string }
  | { kind: 'buyer'; agencyId: string; buyerId: string }
  | { kind: 'source'; agencyId: string; sourceId: string };

function ownedBy(owner: KeyOwner): SQL {
  return and(
    eq(apiKeys.kind, owner.kind),
    eq(apiKeys.agencyId, owner.agencyId),
    owner.kind === 'buyer' ? eq(apiKeys.buyerId, owner.buyerId) : undefined,
    owner.kind === 'source' ? eq(apiKeys.sourceId, owner.sourceId) : undefined,
  )!;
}

/** A key as its organisation sees it (never its hash), with the person who made it. */
export interface OwnedKey {
  id: string;
  name: string;
  role: MembershipRole;
  prefix: string;
  createdBy: { id: string; email: string; displayName: string } | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const ownedKeyColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  role: apiKeys.role,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  expiresAt: apiKeys.expiresAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
  userId: users.id,
  userEmail: users.email,
  userDisplayName: users.displayName,
};

function ownedKey(r: {
  id: string;
  name: string;
  role: MembershipRole;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  userId: string | null;
  userEmail: string | null;
  userDisplayName: string | null;
}): OwnedKey {
  const { userId, userEmail, userDisplayName, ...key } = r;
  return {
    ...key,
    createdBy: userId ? { id: userId, email: userEmail ?? '', displayName: userDisplayName ?? '' } : null,
  };
}

/** Every key of an organisation, live ones first, newest first within each. */
export async function listOwnedKeys(db: DbOrTx, owner: KeyOwner): Promise<OwnedKey[]> {
  const rows = await db
    .select(ownedKeyColumns)
    .from(apiKeys)
    .leftJoin(users, eq(users.id, apiKeys.createdByUserId))
    .where(ownedBy(owner))
    .orderBy(sql`${apiKeys.revokedAt} IS NOT NULL`, desc(apiKeys.createdAt), desc(apiKeys.id));
  return rows.map(ownedKey);
}

/** One key of an organisation, or undefined (another organisation's key is not found). */
export async function getOwnedKey(db: DbOrTx, owner: KeyOwner, id: string): Promise<OwnedKey | undefined> {
  const [row] = await db
    .select(ownedKeyColumns)
    .from(apiKeys)
    .leftJoin(users, eq(users.id, apiKeys.createdByUserId))
    .where(and(ownedBy(owner), eq(apiKeys.id, id)));
  return row && ownedKey(row);
}

/**
 * A key of an organisation made by a person (POST /v1/keys), recorded in the
 * audit log in the same transaction; answers the key in clear, once.
 */
export async function makeOwnedKey(
  db: Db,
  owner: KeyOwner,
  input: { name: string; role: MembershipRole; createdByUserId: string | null; expiresAt: Date | null },
  by: AuditBy,
): Promise<{ key: string; id: string; prefix: string }> {
  return db.transaction(async (tx) => {
    const made = await createApiKey(tx, { ...owner, ...input });
    await recordChange(tx, {
      agencyId: owner.agencyId,
      buyerId: owner.kind === 'buyer' ? owner.buyerId : null,
      by,
      objectType: 'api_key',
      objectId: made.id,
      action: 'key_issued',
      changes: createdFields({ name: input.name, role: input.role, prefix: made.prefix, expiresAt: input.expiresAt }),
    });
    return made;
  });
}

/**
 * Revokes one key of an organisation (a revoked key stays revoked: its first
 * revocation time is kept); a revocation is recorded in the audit log in the
 * same transaction.
 */
export async function revokeOwnedKey(db: Db, owner: KeyOwner, id: string, by: AuditBy): Promise<OwnedKey | undefined> {
  return db.transaction(async (tx) => {
    const revoked = await tx
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(ownedBy(owner), eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id, name: apiKeys.name });
    if (revoked.length)
      await recordChange(tx, {
        agencyId: owner.agencyId,
        buyerId: owner.kind === 'buyer' ? owner.buyerId : null,
        by,
        objectType: 'api_key',
        objectId: id,
        action: 'key_revoked',
        note: revoked[0]!.name,
      });
    return getOwnedKey(tx, owner, id);
  });
}

/** Records that keys were used now (the Authenticator calls it at most once a minute per key). */
export async function touchApiKeys(db: DbOrTx, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await db.update(apiKeys).set({ lastUsedAt: new Date() }).where(inArray(apiKeys.id, ids));
}

/**
 * The first owner adopts the agency's keys that nobody made (made by the root
 * token before anyone had an account): they become the keys' creator.
 */
export async function adoptCreatorlessKeys(db: DbOrTx, agencyId: string, userId: string): Promise<number> {
  const rows = await db
    .update(apiKeys)
    .set({ createdByUserId: userId })
    .where(and(eq(apiKeys.agencyId, agencyId), isNull(apiKeys.createdByUserId)))
    .returning({ id: apiKeys.id });
  return rows.length;
}
