/**
 * Who is calling: `Authorization: Bearer <key>`.
 * - the root token (deps.rootToken) only creates agencies;
 * - an admin key manages its own agency;
 * - a buyer key sees offers targeted to its buyer and the buyer's own data;
 * - a source key pings and posts leads into the campaigns allowed to its
 *   source and reads its own leads' outcomes and payouts.
 * Keys are looked up by their SHA-256 (never by the secret), and the stored
 * hash is compared again in constant time. Failed attempts are rate-limited
 * per client IP (the same identity as every route: `trust proxy` aware), so
 * guessing keys is slow; a valid key is never refused by that limit, so one
 * client with a stale key behind a shared proxy address locks nobody out. A
 * valid key is remembered for `KEY_CACHE_MS` (one second), so a claim storm
 * does not look its key up on every request; revoking a key takes effect
 * within that second (and the feed re-checks every claim and bid frame in the database).
 */
import crypto from 'node:crypto';
import type http from 'node:http';

import { sessionByToken } from '../db/accounts';
import type { Db } from '../db/connection';
import { feedAccess, findApiKeyByHash, hashApiKey, touchApiKeys } from '../db/keys';
import { owesTwoFactorEnrolment } from '../db/two-factor';
import {
  type AgencyRole,
  type BuyerRole,
  type Grant,
  grantOf,
  type MembershipRole,
  type SourceRole,
} from '../domain/accounts';
import { Problem } from './problem';
import type { RateLimiter } from './rate-limit';
import { checkOrigin, sessionCookieOf, sessionPrincipal, type SignedIn } from './sessions';

/**
 * Who acts, for the audit log and the timeline: the root token, a person
 * signed in (their session), or a key (with the person who made it, when known).
 */
type Actor =
  | { type: 'root' }
  | { type: 'user'; userId: string; sessionId: string }
  | { type: 'key'; keyId: string; userId: string | null };

/**
 * What every non-root caller carries besides its organisation: the role it
 * acts as (a session's membership role, a key's scope), who acts, and
 * `credentialId`, the one string per-caller limits are keyed by (`key:<id>`
 * or `session:<id>`). `keyId` is set for keys, `sessionId` for sessions.
 */
interface Caller<R extends MembershipRole> {
  role: R;
  actor: Actor;
  credentialId: string;
  keyId: string | null;
  sessionId: string | null;
}

export type Principal =
  | { kind: 'root'; role: 'operator'; actor: Actor; credentialId: string; keyId: null; sessionId: string | null }
  | ({ kind: 'admin'; agencyId: string } & Caller<AgencyRole>)
  | ({ kind: 'buyer'; agencyId: string; buyerId: string } & Caller<BuyerRole>)
  | ({ kind: 'source'; agencyId: string; sourceId: string } & Caller<SourceRole>);

/** The root token's principal: the platform operator, acting as nobody in particular. */
const ROOT_PRINCIPAL: Principal = {
  kind: 'root',
  role: 'operator',
  actor: { type: 'root' },
  credentialId: 'root',
  keyId: null,
  sessionId: null,
};

/** The grant a principal acts with (`agency:dispatcher`, `buyer:owner`, `platform:operator`…): api/authorization.ts. */
export const grantOfPrincipal = (p: Principal): Grant => grantOf(ORG_OF_KIND[p.kind], p.role);
const ORG_OF_KIND = { root: 'platform', admin: 'agency', buyer: 'buyer', source: 'source' } as const;

export type Role = Principal['kind'];
export type AdminPrincipal = Extract<Principal, { kind: 'admin' }>;
export type BuyerPrincipal = Extract<Principal, { kind: 'buyer' }>;
export type SourcePrincipal = Extract<Principal, { kind: 'source' }>;

/** Keys are ASCII without spaces; anything else is not a key and costs no database lookup. */
const TOKEN = /^[\x21-\x7e]{1,512}$/;

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m && TOKEN.test(m[1]!) ? m[1]! : null;
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

/** How long a verified key is trusted without asking the database again: the longest a revoked key keeps working. */
export const KEY_CACHE_MS = 1_000;
/** Remembered keys at most (the oldest go first). */
const KEY_CACHE_SIZE = 10_000;
/** A key's `last_used_at` is written at most this often (not on every request). */
export const KEY_TOUCH_MS = 60_000;

export class Authenticator {
  private readonly rootDigest: Buffer | null;
  private readonly verified = new Map<string, { principal: Principal; until: number }>();
  /** When each key's `last_used_at` was last written by this process. */
  private readonly touched = new Map<string, number>();
  private touching: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    rootToken: string,
    private readonly failures: RateLimiter,
    private readonly now: () => number = Date.now,
  ) {
    // An empty root token disables root access rather than accepting an empty key.
    this.rootDigest = rootToken ? sha256(rootToken) : null;
  }

  /** The principal of a token, or null. */
  async verify(token: string | null): Promise<Principal | null> {
    if (!token || !TOKEN.test(token)) return null;
    const digest = sha256(token);
    if (this.rootDigest && crypto.timingSafeEqual(digest, this.rootDigest)) return ROOT_PRINCIPAL;
    const cacheKey = digest.toString('base64');
    const cached = this.verified.get(cacheKey);
    if (cached && cached.until > this.now()) return this.used(cached.principal);
    this.verified.delete(cacheKey);
    const principal = await this.lookUp(token, digest);
    if (principal) {
      if (this.verified.size >= KEY_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(cacheKey, { principal, until: this.now() + KEY_CACHE_MS });
    }
    return principal && this.used(principal);
  }

  /** Notes a key's use: its `last_used_at` is written in the background, at most once a minute per key. */
  private used(principal: Principal): Principal {
    const keyId = principal.keyId;
    if (!keyId) return principal;
    const now = this.now();
    const last = this.touched.get(keyId);
    if (last !== undefined && now - last < KEY_TOUCH_MS) return principal;
    this.touched.delete(keyId);
    if (this.touched.size >= KEY_CACHE_SIZE) this.touched.delete(this.touched.keys().next().value!);
    this.touched.set(keyId, now);
    // Best effort: a failed write only loses one "last used" time; the next minute tries again.
    this.touching = Promise.all([this.touching, touchApiKeys(this.db, [keyId]).catch(() => undefined)]).then(
      () => undefined,
    );
    return principal;
  }

  /** Resolves once every `last_used_at` write started so far has finished (tests, shutdown). */
  settled(): Promise<void> {
    return this.touching;
  }

  /** Forgets a key that was revoked here: this process refuses it at once. */
  forgetKey(keyId: string): void {
    for (const [k, v] of this.verified) if (v.principal.keyId === keyId) this.verified.delete(k);
  }

  /** Forgets the remembered keys of a buyer (its keys were revoked here): this process refuses them at once. */
  forgetBuyer(buyerId: string): void {
    for (const [k, v] of this.verified)
      if (v.principal.kind === 'buyer' && v.principal.buyerId === buyerId) this.verified.delete(k);
  }

  /** Forgets the remembered keys of a source (rotated or revoked here): this process refuses them at once. */
  forgetSource(sourceId: string): void {
    for (const [k, v] of this.verified)
      if (v.principal.kind === 'source' && v.principal.sourceId === sourceId) this.verified.delete(k);
  }

  private async lookUp(token: string, digest: Buffer): Promise<Principal | null> {
    const row = await findApiKeyByHash(this.db, hashApiKey(token));
    if (!row || !crypto.timingSafeEqual(Buffer.from(row.keyHash, 'hex'), digest)) return null;
    const caller = {
      actor: { type: 'key' as const, keyId: row.id, userId: row.createdByUserId },
      credentialId: `key:${row.id}`,
      keyId: row.id,
      sessionId: null,
    };
    if (row.kind === 'admin') return { kind: 'admin', agencyId: row.agencyId, role: row.role as AgencyRole, ...caller };
    if (row.kind === 'buyer' && row.buyerId)
      return { kind: 'buyer', agencyId: row.agencyId, buyerId: row.buyerId, role: row.role as BuyerRole, ...caller };
    if (row.kind === 'source' && row.sourceId)
      return {
        kind: 'source',
        agencyId: row.agencyId,
        sourceId: row.sourceId,
        role: row.role as SourceRole,
        ...caller,
      };
    return null;
  }

  /**
   * The caller, or a problem: a key (`Authorization: Bearer`, or `?token=` on
   * the feed) when one is sent – its cookie then ignored –, else the signed-in
   * session of the cookie (api/sessions.ts: its origin and CSRF token checked).
   * 401 for no credential or an unknown key (which uses up one of this
   * address's failed attempts), 429 for a failing attempt once the address has
   * used them all up; a valid key always passes. 403 `second_factor_required`
   * for a session that still owes its second factor, `no_organisation` for a
   * session without a membership to act in.
   */
  async authenticate(
    req: http.IncomingMessage,
    clientIp: string,
    options: { queryToken?: string | null; feed?: boolean; publicUrl?: string | null } = {},
  ): Promise<Principal> {
    const authorization = req.headers.authorization;
    const token = bearerToken(authorization) ?? options.queryToken ?? null;
    if (!authorization && !options.queryToken) {
      const signedIn = await this.signedIn(req, options.publicUrl ?? null, options.feed ?? false);
      if (signedIn) {
        const principal = sessionPrincipal(signedIn);
        if (principal) {
          await this.checkTwoFactorRequirement(principal, signedIn);
          return principal;
        }
        throw signedIn.session.stage !== 'full'
          ? new Problem(401, 'second_factor_required', 'Finish signing in with your second factor.')
          : new Problem(403, 'no_organisation', 'Choose an organisation to act in (POST /v1/session/organisation).');
      }
    }
    const principal = await this.verify(token);
    if (principal) return principal;
    const wait = await this.failures.acquire(clientIp);
    if (wait > 0) throw rateLimited(wait, 'Too many failed authentications from this address.');
    const detail =
      authorization || options.queryToken
        ? 'The API key is not valid.'
        : 'Sign in, or send an API key as "Authorization: Bearer <key>".';
    throw new Problem(401, 'unauthorized', detail, { headers: { 'WWW-Authenticate': 'Bearer realm="leadwire"' } });
  }

  /**
   * An agency that requires a second factor (agencies.require_two_factor)
   * admits its owners' and admins' sessions only once the person has one
   * (TOTP or a passkey): until then 403 `two_factor_required` on every
   * organisation route, while their account routes (session routes) stay open
   * for enrolling. Keys are not people and are not affected.
   */
  private async checkTwoFactorRequirement(principal: Principal, signedIn: SignedIn): Promise<void> {
    if (principal.kind !== 'admin' || (principal.role !== 'owner' && principal.role !== 'admin')) return;
    if (await owesTwoFactorEnrolment(this.db, signedIn.user.id, principal.agencyId))
      throw new Problem(
        403,
        'two_factor_required',
        'Your agency requires a second factor: add an authenticator app or a passkey in your account first.',
      );
  }

  /**
   * The live session of the request's cookie, its origin (and for unsafe
   * requests its CSRF token) checked; null without a cookie or for a dead
   * session. `feed`: a WebSocket upgrade, which must come from an allowed Origin.
   */
  async signedIn(req: http.IncomingMessage, publicUrl: string | null, feed = false): Promise<SignedIn | null> {
    const cookie = sessionCookieOf(req);
    if (!cookie) return null;
    const found = await sessionByToken(this.db, cookie);
    if (!found) return null;
    checkOrigin(req, found.session, publicUrl, feed);
    return found;
  }

  /** Whether a credential still opens the feed: not revoked, and its buyer active (checked on every feed frame). */
  async stillValid(principal: BuyerPrincipal): Promise<boolean> {
    return (await feedAccess(this.db, [principal.credentialId])).has(principal.credentialId);
  }
}

/** 429 `rate_limited` with Retry-After; `quota`: the limit's RateLimit fields, where the route advertises its quota. */
export function rateLimited(retryAfterSeconds: number, detail: string, quota: Record<string, string> = {}): Problem {
  return new Problem(429, 'rate_limited', detail, {
    headers: { ...quota, 'Retry-After': String(retryAfterSeconds) },
    retryAfter: retryAfterSeconds,
  });
}
