/**
 * Browser sessions (#20). The browser holds only an opaque id, in a cookie
 * that is `HttpOnly; SameSite=Lax; Path=/` and `Secure` with the `__Host-`
 * prefix – relaxed only for plain http on localhost, where browsers would
 * drop a Secure cookie. The server keeps the session row (db/accounts.ts):
 * idle and absolute expiry, revocation, the membership it acts in.
 *
 * A cookie is ambient authority, so everything it authorizes is checked for
 * the request's origin: an unsafe request (anything but GET/HEAD/OPTIONS)
 * must come from an allowed Origin (or, without one, `Sec-Fetch-Site:
 * same-origin`) AND carry the session's CSRF token in `X-CSRF-Token`; a feed
 * socket opened with the cookie must come from an allowed Origin (no
 * cross-site WebSocket hijacking). Bearer keys are unaffected: a request with
 * `Authorization` is judged by its key alone and its cookie is ignored.
 *
 * Allowed origins: the origin the request was addressed to (its Host), and
 * LW_PUBLIC_URL's.
 */
import crypto from 'node:crypto';
import type http from 'node:http';

import type { Response } from 'express';

import {
  createSession,
  type MembershipRow,
  revokeSession,
  sessionByToken,
  type SessionRow,
  type UserRow,
} from '../db/accounts';
import type { DbOrTx } from '../db/connection';
import {
  type AgencyRole,
  type BuyerRole,
  SECOND_FACTOR_WINDOW_MS,
  SESSION_ABSOLUTE_MS,
  type SignInMethod,
  type SourceRole,
} from '../domain/accounts';
import type { Principal } from './auth';
import { Problem } from './problem';

/** The cookie's name over https (the `__Host-` prefix pins it to this host, path /, Secure) and on plain-http localhost. */
export const SESSION_COOKIE = '__Host-lw_session';
export const SESSION_COOKIE_PLAIN = 'lw_session';
/** The header the pages send the session's CSRF token in. */
const CSRF_HEADER = 'x-csrf-token';

/** A signed-in person as a route sees them. */
export interface SignedIn {
  session: SessionRow;
  user: UserRow;
  membership: MembershipRow | null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether the request was addressed to this machine by a loopback name (a developer's own browser). */
export function addressedToLocalhost(req: http.IncomingMessage): boolean {
  return LOCAL_HOSTS.has((req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase());
}

/** The session id from the request's cookies, if any (either name). */
export function sessionCookieOf(req: http.IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name !== SESSION_COOKIE && name !== SESSION_COOKIE_PLAIN) continue;
    const value = part.slice(eq + 1).trim();
    if (/^[A-Za-z0-9_-]{20,100}$/.test(value)) return value;
  }
  return null;
}

/** Whether the request reached us over plain http on localhost: the one case a cookie may go without `Secure`. */
function plainLocalhost(req: http.IncomingMessage): boolean {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const forwardedProto = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]!
    .trim();
  if (encrypted || forwardedProto === 'https') return false;
  return addressedToLocalhost(req);
}

/** Sets the session cookie (a fresh id every sign-in: a planted id never becomes a session). */
function setSessionCookie(req: http.IncomingMessage, res: Response, token: string, maxAgeMs: number): void {
  const plain = plainLocalhost(req);
  const name = plain ? SESSION_COOKIE_PLAIN : SESSION_COOKIE;
  const attrs = ['Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
  if (!plain) attrs.push('Secure');
  res.append('Set-Cookie', `${name}=${token}; ${attrs.join('; ')}`);
}

/** Clears both cookie names. */
export function clearSessionCookie(req: http.IncomingMessage, res: Response): void {
  const plain = plainLocalhost(req);
  res.append('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure`);
  if (plain) res.append('Set-Cookie', `${SESSION_COOKIE_PLAIN}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
}

/**
 * Signs a person in: a new session row and its cookie. Every way in (password,
 * link, passkey, SSO, setup, invitation) ends here. A session that still owes
 * a second factor lives only SECOND_FACTOR_WINDOW_MS.
 */
export async function startSession(
  db: DbOrTx,
  req: http.IncomingMessage,
  res: Response,
  input: {
    user: UserRow;
    membershipId: string | null;
    method: SignInMethod;
    stage?: 'full' | 'second_factor';
    ip: string;
  },
): Promise<SessionRow> {
  // A session the browser already had ends: signing in never continues an old id.
  const previous = sessionCookieOf(req);
  if (previous) {
    const old = await sessionByToken(db, previous);
    if (old) await revokeSession(db, old.session.id);
  }
  const lifetimeMs = input.stage === 'second_factor' ? SECOND_FACTOR_WINDOW_MS : SESSION_ABSOLUTE_MS;
  const { session, token } = await createSession(db, {
    userId: input.user.id,
    membershipId: input.membershipId,
    method: input.method,
    stage: input.stage ?? 'full',
    userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : null,
    ip: input.ip,
    lifetimeMs,
  });
  setSessionCookie(req, res, token, lifetimeMs);
  return session;
}

/** The origins a cookie request may come from: the Host it was addressed to, and LW_PUBLIC_URL's. */
function originAllowed(req: http.IncomingMessage, origin: string, publicUrl: string | null): boolean {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (publicUrl && new URL(publicUrl).origin === o.origin) return true;
  return !!req.headers.host && o.host === req.headers.host.toLowerCase();
}

/**
 * Refuses a cookie request that could be forged by another site: 403
 * `cross_site_request` for a foreign or missing origin, 403 `csrf_token_invalid`
 * for an unsafe request without the session's token. `feed`: a WebSocket
 * upgrade (a GET, but it must come from an allowed Origin).
 */
export function checkOrigin(
  req: http.IncomingMessage,
  session: SessionRow,
  publicUrl: string | null,
  feed = false,
): void {
  const unsafe = !SAFE_METHODS.has(req.method ?? 'GET');
  if (!unsafe && !feed) return;
  const origin = req.headers.origin;
  const fetchSite = req.headers['sec-fetch-site'];
  const sameOrigin =
    typeof origin === 'string' && origin !== 'null'
      ? originAllowed(req, origin, publicUrl)
      : !feed && fetchSite === 'same-origin';
  if (!sameOrigin)
    throw new Problem(
      403,
      'cross_site_request',
      'A signed-in browser request must come from this site (its Origin is not allowed).',
    );
  if (feed) return;
  const token = req.headers[CSRF_HEADER];
  const given = Buffer.from(typeof token === 'string' ? token : '', 'utf8');
  const expected = Buffer.from(session.csrfToken, 'utf8');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected))
    throw new Problem(
      403,
      'csrf_token_invalid',
      `Send the session's CSRF token (from GET /v1/session) in the X-CSRF-Token header.`,
    );
}

/**
 * The principal a signed-in session acts as: its membership's organisation
 * and role. Null while the session owes its second factor or has no membership.
 */
export function sessionPrincipal(s: SignedIn): Principal | null {
  const m = s.membership;
  if (s.session.stage !== 'full' || !m) return null;
  const caller = {
    actor: { type: 'user' as const, userId: s.user.id, sessionId: s.session.id },
    credentialId: `session:${s.session.id}`,
    keyId: null,
    sessionId: s.session.id,
  };
  switch (m.orgKind) {
    case 'platform':
      return { kind: 'root', role: 'operator', ...caller };
    case 'agency':
      return { kind: 'admin', agencyId: m.agencyId!, role: m.role as AgencyRole, ...caller };
    case 'buyer':
      return { kind: 'buyer', agencyId: m.agencyId!, buyerId: m.buyerId!, role: m.role as BuyerRole, ...caller };
    case 'source':
      return { kind: 'source', agencyId: m.agencyId!, sourceId: m.sourceId!, role: m.role as SourceRole, ...caller };
  }
}
