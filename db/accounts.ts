/**
 * People (#20): users, their memberships, their sessions and one-time tokens.
 * Every read and write of those tables lives here (the data layer's rule).
 *
 * Secrets handed to a browser or an inbox (a session id, a setup, invitation,
 * sign-in or reset link) are 32 random bytes, base64url; only their SHA-256
 * is stored, and a presented secret is looked up by that hash.
 */
import crypto from 'node:crypto';

import { and, desc, eq, gt, inArray, isNull, type SQL, sql, TransactionRollbackError } from 'drizzle-orm';

import {
  type MembershipRole,
  normaliseEmail,
  ONE_TIME_TTL_MS,
  type OneTimePurpose,
  type OrgKind,
  SESSION_ABSOLUTE_MS,
  SESSION_IDLE_MS,
  type SignInMethod,
} from '../domain/accounts';
import type { AuditChanges } from '../domain/audit';
import { STEP_DOWN_ROLE, type TeamChange, teamChangeRefusal, type TeamRefusal } from '../domain/teams';
import { type AuditBy, recordChange } from './audit';
import type { Db, DbOrTx } from './connection';
import { agencies, buyers, memberships, oneTimeTokens, sessions, sources, users } from './schema';

export type UserRow = typeof users.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type OneTimeTokenRow = typeof oneTimeTokens.$inferSelect;

/** A new opaque secret (what the browser or the email gets) and the hash stored for it. */
export function newSecret(): { secret: string; hash: string } {
  const secret = crypto.randomBytes(32).toString('base64url');
  return { secret, hash: hashSecret(secret) };
}

/** Hex SHA-256: what the database stores for a session id or a one-time token. */
export const hashSecret = (secret: string): string => crypto.createHash('sha256').update(secret, 'utf8').digest('hex');

// ─── users ───────────────────────────────────────────────────────────────────

export async function createUser(
  db: DbOrTx,
  input: { email: string; displayName: string; passwordHash?: string | null; emailVerified?: boolean },
): Promise<UserRow> {
  const [row] = await db
    .insert(users)
    .values({
      email: normaliseEmail(input.email),
      displayName: input.displayName,
      passwordHash: input.passwordHash ?? null,
      emailVerifiedAt: input.emailVerified ? new Date() : null,
    })
    .returning();
  return row!;
}

export async function userByEmail(db: DbOrTx, email: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(eq(users.email, normaliseEmail(email)));
  return row;
}

export async function userById(db: DbOrTx, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

/** Changes a person's display name; answers the updated row. */
export async function setDisplayName(db: DbOrTx, userId: string, displayName: string): Promise<UserRow> {
  const [row] = await db
    .update(users)
    .set({ displayName, updatedAt: new Date() })
    .where(eq(users.id, userId))
    .returning();
  return row!;
}

/** Stores a new password hash (the caller has checked the policy and hashed it). */
async function setPasswordHash(db: DbOrTx, userId: string, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, userId));
}

/**
 * Sets a new password (already checked and hashed) and ends what the old one
 * opened: every session of the user but `keepSessionId`, and every unused
 * reset link. With `resetSecret` it happens only if that reset link of this
 * user is still usable, and uses it in the same transaction – of two
 * concurrent uses exactly one wins. False when the link was not usable.
 */
export async function replacePassword(
  db: Db,
  input: { userId: string; passwordHash: string; keepSessionId?: string; resetSecret?: string },
): Promise<boolean> {
  return db
    .transaction(async (tx) => {
      if (input.resetSecret !== undefined) {
        const token = await consumeOneTimeToken(tx, 'password_reset', input.resetSecret);
        if (token?.userId !== input.userId) {
          tx.rollback();
        }
        await markEmailVerified(tx, input.userId);
      }
      await setPasswordHash(tx, input.userId, input.passwordHash);
      await revokeUserSessions(tx, input.userId, input.keepSessionId);
      await revokeOneTimeTokensOf(tx, input.userId, 'password_reset');
      return true;
    })
    .catch((err: unknown) => {
      if (err instanceof TransactionRollbackError) return false;
      throw err;
    });
}

/** A link reached the inbox and came back: the address is verified. */
export async function markEmailVerified(db: DbOrTx, userId: string): Promise<void> {
  await db
    .update(users)
    .set({ emailVerifiedAt: new Date() })
    .where(and(eq(users.id, userId), isNull(users.emailVerifiedAt)));
}

// ─── memberships ─────────────────────────────────────────────────────────────

/** The organisation of a membership: the platform, an agency, or one of its buyers or sources. */
export type Org =
  | { kind: 'platform' }
  | { kind: 'agency'; agencyId: string }
  | { kind: 'buyer'; agencyId: string; buyerId: string }
  | { kind: 'source'; agencyId: string; sourceId: string };

export function orgOf(m: MembershipRow): Org {
  if (m.orgKind === 'platform') return { kind: 'platform' };
  if (m.orgKind === 'agency') return { kind: 'agency', agencyId: m.agencyId! };
  if (m.orgKind === 'buyer') return { kind: 'buyer', agencyId: m.agencyId!, buyerId: m.buyerId! };
  return { kind: 'source', agencyId: m.agencyId!, sourceId: m.sourceId! };
}

export async function addMembership(
  db: DbOrTx,
  userId: string,
  org: Org,
  role: MembershipRole,
): Promise<MembershipRow> {
  const [row] = await db
    .insert(memberships)
    .values({
      userId,
      orgKind: org.kind satisfies OrgKind,
      agencyId: org.kind === 'platform' ? null : org.agencyId,
      buyerId: org.kind === 'buyer' ? org.buyerId : null,
      sourceId: org.kind === 'source' ? org.sourceId : null,
      role,
    })
    .returning();
  return row!;
}

export async function membershipsOf(db: DbOrTx, userId: string): Promise<MembershipRow[]> {
  return db.select().from(memberships).where(eq(memberships.userId, userId)).orderBy(memberships.createdAt);
}

/** A membership with the names of its organisation, for pages and answers. */
export interface MembershipNamed {
  membership: MembershipRow;
  agency: { id: string; name: string } | null;
  buyer: { id: string; name: string } | null;
  source: { id: string; name: string } | null;
}

/** A user's memberships with their organisations' names, oldest first. */
export async function membershipsNamed(db: DbOrTx, userId: string): Promise<MembershipNamed[]> {
  const rows = await db
    .select({
      membership: memberships,
      agencyName: agencies.name,
      buyerName: buyers.name,
      sourceName: sources.name,
    })
    .from(memberships)
    .leftJoin(agencies, eq(agencies.id, memberships.agencyId))
    .leftJoin(buyers, eq(buyers.id, memberships.buyerId))
    .leftJoin(sources, eq(sources.id, memberships.sourceId))
    .where(eq(memberships.userId, userId))
    .orderBy(memberships.createdAt);
  return rows.map((r) => ({
    membership: r.membership,
    agency: r.membership.agencyId ? { id: r.membership.agencyId, name: r.agencyName ?? '' } : null,
    buyer: r.membership.buyerId ? { id: r.membership.buyerId, name: r.buyerName ?? '' } : null,
    source: r.membership.sourceId ? { id: r.membership.sourceId, name: r.sourceName ?? '' } : null,
  }));
}

/** Points a session at another of its user's memberships. */
export async function setSessionMembership(db: DbOrTx, sessionId: string, membershipId: string): Promise<void> {
  await db.update(sessions).set({ membershipId }).where(eq(sessions.id, sessionId));
}

export async function membershipById(db: DbOrTx, id: string): Promise<MembershipRow | undefined> {
  const [row] = await db.select().from(memberships).where(eq(memberships.id, id));
  return row;
}

// ─── sessions ────────────────────────────────────────────────────────────────

/**
 * A new session for a user (always a fresh id: signing in never reuses one,
 * so a planted id is worthless). Answers the row and the opaque id for the
 * cookie – the only time the id exists outside the browser.
 */
export async function createSession(
  db: DbOrTx,
  input: {
    userId: string;
    membershipId: string | null;
    method: SignInMethod;
    stage?: 'full' | 'second_factor';
    userAgent?: string | null;
    ip?: string | null;
    /** Default SESSION_ABSOLUTE_MS. */
    lifetimeMs?: number;
  },
): Promise<{ session: SessionRow; token: string }> {
  const { secret, hash } = newSecret();
  const [row] = await db
    .insert(sessions)
    .values({
      tokenHash: hash,
      userId: input.userId,
      membershipId: input.membershipId,
      method: input.method,
      stage: input.stage ?? 'full',
      csrfToken: crypto.randomBytes(24).toString('base64url'),
      userAgent: input.userAgent?.slice(0, 400) ?? null,
      ip: input.ip ?? null,
      expiresAt: new Date(Date.now() + (input.lifetimeMs ?? SESSION_ABSOLUTE_MS)),
    })
    .returning();
  return { session: row!, token: secret };
}

/**
 * The live session of a cookie's id, with its user and membership: not
 * revoked, before its absolute expiry, used within the idle timeout, its user
 * not disabled. Marks it used (at most once a minute, so a page's requests do
 * not each write).
 */
export async function sessionByToken(
  db: DbOrTx,
  token: string,
  idleMs = SESSION_IDLE_MS,
): Promise<{ session: SessionRow; user: UserRow; membership: MembershipRow | null } | undefined> {
  const [row] = await db
    .select({ session: sessions, user: users, membership: memberships })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(memberships, eq(memberships.id, sessions.membershipId))
    .where(
      and(
        eq(sessions.tokenHash, hashSecret(token)),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
        gt(sessions.lastUsedAt, sql`now() - make_interval(secs => ${idleMs / 1000})`),
        isNull(users.disabledAt),
      ),
    );
  if (!row) return undefined;
  if (Date.now() - row.session.lastUsedAt.getTime() > 60_000)
    await db.update(sessions).set({ lastUsedAt: new Date() }).where(eq(sessions.id, row.session.id));
  return row;
}

/** Ends one session. */
export async function revokeSession(db: DbOrTx, sessionId: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

/** Ends every session of a user ("sign out everywhere", a password change, a removed member); answers their ids. */
export async function revokeUserSessions(db: DbOrTx, userId: string, exceptSessionId?: string): Promise<string[]> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId ? sql`${sessions.id} <> ${exceptSessionId}` : undefined,
      ),
    )
    .returning({ id: sessions.id });
  return rows.map((r) => r.id);
}

/** A user's live sessions (not revoked, not expired, not idle), most recently used first. */
export async function liveSessionsOf(db: DbOrTx, userId: string, idleMs = SESSION_IDLE_MS): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
        gt(sessions.lastUsedAt, sql`now() - make_interval(secs => ${idleMs / 1000})`),
      ),
    )
    .orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt));
}

/** Ends one session of this user; false when it is not theirs or already over. */
export async function revokeSessionOf(db: DbOrTx, userId: string, sessionId: string): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(sessions.id, sessionId),
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
      ),
    )
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/**
 * Of these sessions, the ones that may still use a buyer's feed: live (not
 * revoked, not expired, not idle, fully signed in, its user enabled) and
 * still acting as a member of an active buyer. A removed membership or a
 * paused buyer drops out at once.
 */
export async function liveBuyerSessions(db: DbOrTx, sessionIds: string[], idleMs = SESSION_IDLE_MS): Promise<string[]> {
  if (!sessionIds.length) return [];
  const rows = await db
    .select({ id: sessions.id })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(memberships, eq(memberships.id, sessions.membershipId))
    .innerJoin(buyers, eq(buyers.id, memberships.buyerId))
    .where(
      and(
        inArray(sessions.id, sessionIds),
        isNull(sessions.revokedAt),
        eq(sessions.stage, 'full'),
        gt(sessions.expiresAt, sql`now()`),
        gt(sessions.lastUsedAt, sql`now() - make_interval(secs => ${idleMs / 1000})`),
        isNull(users.disabledAt),
        eq(buyers.status, 'active'),
      ),
    );
  return rows.map((r) => r.id);
}

// ─── one-time tokens ─────────────────────────────────────────────────────────

/** A one-time token (setup, invitation, sign-in link, reset); answers the secret for the link. */
export async function issueOneTimeToken(
  db: DbOrTx,
  input: {
    purpose: OneTimePurpose;
    email?: string | null;
    userId?: string | null;
    payload?: Record<string, unknown>;
    createdByUserId?: string | null;
    ttlMs?: number;
  },
): Promise<{ token: OneTimeTokenRow; secret: string }> {
  const { secret, hash } = newSecret();
  const [row] = await db
    .insert(oneTimeTokens)
    .values({
      purpose: input.purpose,
      tokenHash: hash,
      email: input.email ? normaliseEmail(input.email) : null,
      userId: input.userId ?? null,
      payload: input.payload ?? {},
      createdByUserId: input.createdByUserId ?? null,
      expiresAt: new Date(Date.now() + (input.ttlMs ?? ONE_TIME_TTL_MS[input.purpose])),
    })
    .returning();
  return { token: row!, secret };
}

/**
 * Uses a one-time token: marks it used and answers it, in one statement, only
 * when it is of this purpose, unused, unrevoked and unexpired – so two
 * concurrent uses of one link cannot both succeed. Run it in the transaction
 * that does what the token allows, so a failure later leaves it unused.
 */
export async function consumeOneTimeToken(
  db: DbOrTx,
  purpose: OneTimePurpose,
  secret: string,
): Promise<OneTimeTokenRow | undefined> {
  const [row] = await db
    .update(oneTimeTokens)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(oneTimeTokens.tokenHash, hashSecret(secret)),
        eq(oneTimeTokens.purpose, purpose),
        isNull(oneTimeTokens.usedAt),
        isNull(oneTimeTokens.revokedAt),
        gt(oneTimeTokens.expiresAt, sql`now()`),
      ),
    )
    .returning();
  return row;
}

/** How many tokens of one purpose a user was sent since `since` (a cap on link emails: no inbox flooding). */
export async function oneTimeTokensSince(
  db: DbOrTx,
  userId: string,
  purpose: OneTimePurpose,
  since: Date,
): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(oneTimeTokens)
    .where(
      and(eq(oneTimeTokens.userId, userId), eq(oneTimeTokens.purpose, purpose), gt(oneTimeTokens.createdAt, since)),
    );
  return row?.n ?? 0;
}

/** Revokes a user's unused tokens of one purpose (a password set makes every older reset link worthless). */
async function revokeOneTimeTokensOf(db: DbOrTx, userId: string, purpose: OneTimePurpose): Promise<number> {
  const rows = await db
    .update(oneTimeTokens)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(oneTimeTokens.userId, userId),
        eq(oneTimeTokens.purpose, purpose),
        isNull(oneTimeTokens.usedAt),
        isNull(oneTimeTokens.revokedAt),
      ),
    )
    .returning({ id: oneTimeTokens.id });
  return rows.length;
}

/** A one-time token as it stands (to show an invitation before it is accepted), if still usable. */
export async function peekOneTimeToken(
  db: DbOrTx,
  purpose: OneTimePurpose,
  secret: string,
): Promise<OneTimeTokenRow | undefined> {
  const [row] = await db
    .select()
    .from(oneTimeTokens)
    .where(
      and(
        eq(oneTimeTokens.tokenHash, hashSecret(secret)),
        eq(oneTimeTokens.purpose, purpose),
        isNull(oneTimeTokens.usedAt),
        isNull(oneTimeTokens.revokedAt),
        gt(oneTimeTokens.expiresAt, sql`now()`),
      ),
    );
  return row;
}

// ─── first run ───────────────────────────────────────────────────────────────

/** Whether anybody has an account yet (while nobody does, `npm start` prints a setup link). */
export async function anyUserExists(db: DbOrTx): Promise<boolean> {
  const [row] = await db.select({ id: users.id }).from(users).limit(1);
  return !!row;
}

/** Revokes every unused one-time token of a purpose (a new setup link replaces the older ones). */
export async function revokeUnusedTokens(db: DbOrTx, purpose: OneTimePurpose): Promise<number> {
  const rows = await db
    .update(oneTimeTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt), isNull(oneTimeTokens.revokedAt)))
    .returning({ id: oneTimeTokens.id });
  return rows.length;
}

// ─── teams: members and invitations ──────────────────────────────────────────

/** The memberships of one organisation. */
function inOrg(org: Org): SQL {
  switch (org.kind) {
    case 'platform':
      return eq(memberships.orgKind, 'platform');
    case 'agency':
      return and(eq(memberships.orgKind, 'agency'), eq(memberships.agencyId, org.agencyId))!;
    case 'buyer':
      return and(eq(memberships.orgKind, 'buyer'), eq(memberships.buyerId, org.buyerId))!;
    case 'source':
      return and(eq(memberships.orgKind, 'source'), eq(memberships.sourceId, org.sourceId))!;
  }
}

/** A member as the team page shows them. */
export interface MemberRow {
  membershipId: string;
  userId: string;
  email: string;
  displayName: string;
  role: MembershipRole;
  twoFactor: boolean;
  since: Date;
}

/** The members of an organisation, oldest first. */
export async function listMembers(db: DbOrTx, org: Org): Promise<MemberRow[]> {
  return db
    .select({
      membershipId: memberships.id,
      userId: users.id,
      email: users.email,
      displayName: users.displayName,
      role: memberships.role,
      twoFactor: sql<boolean>`${users.totpEnabledAt} IS NOT NULL`,
      since: memberships.createdAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(inOrg(org))
    .orderBy(memberships.createdAt, memberships.id);
}

export type TeamChangeResult =
  { ok: true; membership: MembershipRow; endedSessions: string[] } | { ok: false; refusal: TeamRefusal };

/**
 * Changes a team under the organisation's lock: every membership row of the
 * organisation is locked (`FOR UPDATE`, in id order, so two changes never
 * deadlock), then the rules (domain/teams.ts) are decided on the rows as
 * they now are – so two owners removing each other at once leave one: the
 * second finds its own membership gone or the count at one.
 *
 * `actor`: who acts – a person's user id (their membership in this
 * organisation, if any, is re-read here: a role changed a moment ago counts)
 * and the authority they act with; `fixedAuthority` when that is not their
 * membership here (an agency's owner or admin managing a buyer's team; a
 * key's scope).
 * Removing a member revokes the sessions acting in that membership at once
 * (answered in `endedSessions`), then deletes the membership.
 */
export async function changeTeam(
  db: Db,
  org: Exclude<Org, { kind: 'platform' }>,
  actor: { userId: string | null; authority: MembershipRole; fixedAuthority: boolean },
  targetId: string,
  change: TeamChange,
  by: AuditBy,
): Promise<TeamChangeResult> {
  return db.transaction(async (tx) => {
    const audit = (action: 'removed' | 'role_changed' | 'ownership_transferred', changes: AuditChanges) =>
      recordChange(tx, {
        agencyId: org.agencyId,
        buyerId: org.kind === 'buyer' ? org.buyerId : null,
        by,
        objectType: 'membership',
        objectId: targetId,
        action,
        changes,
      });
    await tx.select({ id: memberships.id }).from(memberships).where(inOrg(org)).orderBy(memberships.id).for('update');
    const rows = await tx.select().from(memberships).where(inOrg(org));
    const target = rows.find((r) => r.id === targetId);
    if (!target) return { ok: false, refusal: { status: 404, code: 'not_found', detail: 'No such member.' } };
    const own = actor.userId ? rows.find((r) => r.userId === actor.userId) : undefined;
    // A person acting within the organisation acts with their membership's role as it is now; gone → no authority.
    let authority = actor.authority;
    if (!actor.fixedAuthority) {
      if (actor.userId && !own)
        return { ok: false, refusal: { status: 403, code: 'forbidden', detail: 'You are no longer a member.' } };
      if (own) authority = own.role;
    }
    if (change.op === 'transfer' && !own)
      return {
        ok: false,
        refusal: {
          status: 403,
          code: 'forbidden',
          detail: 'Only an owner of this organisation hands its ownership over.',
        },
      };
    const owners = rows.filter((r) => r.role === 'owner').length;
    const refusal = teamChangeRefusal({
      kind: org.kind,
      authority,
      actorUserId: actor.userId,
      target: { id: target.id, userId: target.userId, role: target.role },
      change,
      owners,
    });
    if (refusal) return { ok: false, refusal };
    if (change.op === 'remove') {
      const ended = await tx
        .update(sessions)
        .set({ revokedAt: new Date() })
        .where(and(eq(sessions.membershipId, target.id), isNull(sessions.revokedAt)))
        .returning({ id: sessions.id });
      await tx.delete(memberships).where(eq(memberships.id, target.id));
      await audit('removed', { user: { from: target.userId, to: null }, role: { from: target.role, to: null } });
      return { ok: true, membership: target, endedSessions: ended.map((r) => r.id) };
    }
    const role = change.op === 'role' ? change.role : 'owner';
    const [updated] = await tx.update(memberships).set({ role }).where(eq(memberships.id, target.id)).returning();
    if (change.op === 'transfer' && own && own.role === 'owner')
      await tx.update(memberships).set({ role: STEP_DOWN_ROLE[org.kind] }).where(eq(memberships.id, own.id));
    if (change.op === 'transfer')
      await audit('ownership_transferred', {
        owner: { from: own?.userId ?? null, to: target.userId },
        role: { from: target.role, to: 'owner' },
      });
    else await audit('role_changed', { role: { from: target.role, to: role } });
    return { ok: true, membership: updated!, endedSessions: [] };
  });
}

/** What an invitation's token carries (one_time_tokens.payload). */
export interface InvitationPayload {
  orgKind: OrgKind;
  agencyId: string | null;
  buyerId: string | null;
  sourceId: string | null;
  role: MembershipRole;
}

export const invitationOrg = (p: InvitationPayload): Org =>
  p.orgKind === 'platform'
    ? { kind: 'platform' }
    : p.orgKind === 'agency'
      ? { kind: 'agency', agencyId: p.agencyId! }
      : p.orgKind === 'buyer'
        ? { kind: 'buyer', agencyId: p.agencyId!, buyerId: p.buyerId! }
        : { kind: 'source', agencyId: p.agencyId!, sourceId: p.sourceId! };

export function invitationPayload(org: Org, role: MembershipRole): InvitationPayload {
  return {
    orgKind: org.kind,
    agencyId: org.kind === 'platform' ? null : org.agencyId,
    buyerId: org.kind === 'buyer' ? org.buyerId : null,
    sourceId: org.kind === 'source' ? org.sourceId : null,
    role,
  };
}

/** Invitation tokens into this organisation. */
function invitationsInto(org: Org): SQL {
  const p = oneTimeTokens.payload;
  const kind = and(eq(oneTimeTokens.purpose, 'invitation'), sql`${p}->>'orgKind' = ${org.kind}`)!;
  switch (org.kind) {
    case 'platform':
      return kind;
    case 'agency':
      return and(kind, sql`${p}->>'agencyId' = ${org.agencyId}`)!;
    case 'buyer':
      return and(kind, sql`${p}->>'buyerId' = ${org.buyerId}`)!;
    case 'source':
      return and(kind, sql`${p}->>'sourceId' = ${org.sourceId}`)!;
  }
}

/** The pending invitations into an organisation (unused, unrevoked, unexpired), newest first. */
export async function pendingInvitations(db: DbOrTx, org: Org): Promise<OneTimeTokenRow[]> {
  return db
    .select()
    .from(oneTimeTokens)
    .where(
      and(
        invitationsInto(org),
        isNull(oneTimeTokens.usedAt),
        isNull(oneTimeTokens.revokedAt),
        gt(oneTimeTokens.expiresAt, sql`now()`),
      ),
    )
    .orderBy(desc(oneTimeTokens.createdAt));
}

/** Revokes a pending invitation into this organisation; answers it, or undefined (unknown, another's, or no longer pending). */
export async function revokeInvitation(db: DbOrTx, org: Org, id: string): Promise<OneTimeTokenRow | undefined> {
  const [row] = await db
    .update(oneTimeTokens)
    .set({ revokedAt: new Date() })
    .where(
      and(
        invitationsInto(org),
        eq(oneTimeTokens.id, id),
        isNull(oneTimeTokens.usedAt),
        isNull(oneTimeTokens.revokedAt),
      ),
    )
    .returning();
  return row;
}

/** An invitation by id, whatever its state (its organisation decides who may revoke it). */
export async function invitationById(db: DbOrTx, id: string): Promise<OneTimeTokenRow | undefined> {
  const [row] = await db
    .select()
    .from(oneTimeTokens)
    .where(and(eq(oneTimeTokens.id, id), eq(oneTimeTokens.purpose, 'invitation')));
  return row;
}
