/**
 * Single sign-on's conversation with an agency's OpenID provider (#20), through
 * `openid-client` (ESM-only, loaded with a real dynamic import): the
 * authorization code flow with PKCE, state and nonce.
 *
 * - `beginSignIn` records the sign-in (db/sso.ts: the state's hash, the nonce,
 *   the hash of the PKCE code verifier), gives the browser the verifier in a
 *   short-lived HttpOnly cookie scoped to /v1/auth/sso, and answers the
 *   provider's URL. The verifier binds the sign-in to that browser: a state
 *   alone (leaked, planted in another browser, replayed) finds nothing.
 * - `finishSignIn` uses the recorded sign-in once, exchanges the code, checks
 *   the ID token (issuer, audience, nonce, signature) and asks userinfo for the
 *   email when the token does not carry it, requires `email_verified` and an
 *   allowed domain, then finds or creates the member and opens a session.
 *
 * Every failure is a reason code (domain/sso.ts) for the sign-in page; what
 * went wrong at the provider is logged by its error code, never with a token
 * or the client secret.
 */
import crypto from 'node:crypto';

import type { Request, Response } from 'express';
import type * as OpenIdClient from 'openid-client';

import {
  consumeSsoFlow,
  createSsoFlow,
  openClientSecret,
  provisionSsoMember,
  type SsoRow,
  ssoSettings,
} from '../db/sso';
import { domainOfEmail, isLoopbackHttp, SSO_FLOW_TTL_MS, type SsoErrorCode } from '../domain/sso';
import { importEsm } from '../lib/esm';
import type { ApiServices } from './services';
import { startSession } from './sessions';

/** The cookie holding a sign-in's PKCE code verifier, sent back only to /v1/auth/sso/…. */
const FLOW_COOKIE = 'lw_sso';
const FLOW_COOKIE_PATH = '/v1/auth/sso';

const CALLBACK_PATH = '/v1/auth/sso/callback';
export const SIGNED_IN_PATH = '/admin';
export const signInErrorPath = (code: SsoErrorCode): string => `/admin/sign-in?error=${code}`;

/** A sign-in step that did not go through: where the browser is sent instead. */
export class SsoRefusal extends Error {
  constructor(readonly code: SsoErrorCode) {
    super(code);
  }
}

let loaded: Promise<typeof OpenIdClient> | null = null;
const openIdClient = (): Promise<typeof OpenIdClient> =>
  (loaded ??= importEsm('openid-client') as Promise<typeof OpenIdClient>);

const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** The redirect URI every agency registers at its provider. */
export const redirectUriOf = (publicUrl: string): string => `${publicUrl.replace(/\/+$/, '')}${CALLBACK_PATH}`;

/** Cookies are `Secure` except when the pages are served over plain http on this machine. */
function secureAttribute(publicUrl: string): string {
  return isLoopbackHttp(publicUrl) ? '' : '; Secure';
}

// ─── the provider's configuration, discovered ───────────────────────────────

const DISCOVERY_TTL_MS = 10 * 60_000;
const discovered = new Map<string, { config: Promise<OpenIdClient.Configuration>; until: number }>();

/** The provider's metadata and this client, discovered once per settings version for ten minutes. */
async function configurationOf(sso: SsoRow): Promise<OpenIdClient.Configuration> {
  const key = `${sso.agencyId}:${sso.updatedAt.getTime()}`;
  const hit = discovered.get(key);
  if (hit && hit.until > Date.now()) return hit.config;
  for (const k of discovered.keys()) if (k.startsWith(`${sso.agencyId}:`)) discovered.delete(k);
  const config = (async () => {
    const oc = await openIdClient();
    return oc.discovery(new URL(sso.issuer), sso.clientId, openClientSecret(sso), undefined, {
      execute: isLoopbackHttp(sso.issuer) ? [oc.allowInsecureRequests] : [],
      timeout: 10,
    });
  })();
  discovered.set(key, { config, until: Date.now() + DISCOVERY_TTL_MS });
  config.catch(() => discovered.delete(key)); // a failure is not remembered
  return config;
}

/** Logs a provider failure by what it is (its OAuth error code), never by a token or a secret. */
function logProviderFailure(services: ApiServices, agencyId: string, step: string, err: unknown): void {
  const e = err as { name?: unknown; code?: unknown; error?: unknown; status?: unknown };
  services.logger.warn(`[sso] ${step} failed for agency ${agencyId}`, {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    code: typeof e?.code === 'string' ? e.code : undefined,
    error: typeof e?.error === 'string' ? e.error : undefined,
    status: typeof e?.status === 'number' ? e.status : undefined,
  });
}

// ─── the two halves of a sign-in ────────────────────────────────────────────

/** Sends a browser to its agency's provider: the provider's URL and the cookie binding the sign-in to the browser. */
export async function beginSignIn(
  services: ApiServices,
  agencyId: string,
): Promise<{ location: string; cookie: string }> {
  const sso = await ssoSettings(services.db, agencyId);
  if (!sso?.enabled || !services.publicUrl) throw new SsoRefusal('sso_not_configured');
  let config: OpenIdClient.Configuration;
  let oc: typeof OpenIdClient;
  try {
    [oc, config] = await Promise.all([openIdClient(), configurationOf(sso)]);
  } catch (err) {
    logProviderFailure(services, agencyId, 'discovery', err);
    throw new SsoRefusal('sso_provider_error');
  }
  const state = oc.randomState();
  const nonce = oc.randomNonce();
  const verifier = oc.randomPKCECodeVerifier();
  await createSsoFlow(services.db, {
    stateHash: sha256(state),
    agencyId,
    verifierHash: sha256(verifier),
    nonce,
    expiresAt: new Date(Date.now() + SSO_FLOW_TTL_MS),
  });
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUriOf(services.publicUrl),
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const cookie =
    `${FLOW_COOKIE}=${verifier}; Path=${FLOW_COOKIE_PATH}; HttpOnly; SameSite=Lax; ` +
    `Max-Age=${SSO_FLOW_TTL_MS / 1000}${secureAttribute(services.publicUrl)}`;
  return { location: url.href, cookie };
}

/** The value of one cookie of a request, or null. */
function cookieOf(req: Request, name: string): string | null {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** The email, its verification and a display name the provider vouches for (ID token, else userinfo). */
async function identityOf(
  oc: typeof OpenIdClient,
  config: OpenIdClient.Configuration,
  tokens: Awaited<ReturnType<typeof OpenIdClient.authorizationCodeGrant>>,
): Promise<{ email: unknown; emailVerified: unknown; name: unknown }> {
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token');
  if (claims.email !== undefined && claims.email_verified !== undefined)
    return { email: claims.email, emailVerified: claims.email_verified, name: claims.name };
  const info = await oc.fetchUserInfo(config, tokens.access_token, claims.sub);
  return { email: info.email, emailVerified: info.email_verified, name: info.name ?? claims.name };
}

/**
 * Finishes a sign-in on the provider's redirect back: the session and its
 * cookie (api/sessions.ts `startSession`, which also ends any session the
 * browser had), or an SsoRefusal.
 */
export async function finishSignIn(services: ApiServices, req: Request, res: Response): Promise<void> {
  const publicUrl = services.publicUrl;
  const query = new URL(req.originalUrl, 'http://callback.invalid').searchParams;
  const state = query.get('state');
  const verifier = cookieOf(req, FLOW_COOKIE);
  if (!state || !verifier || !publicUrl) throw new SsoRefusal('sso_state_invalid');
  const flow = await consumeSsoFlow(services.db, sha256(state), sha256(verifier));
  if (!flow) throw new SsoRefusal('sso_state_invalid');
  // Used: the browser forgets its verifier.
  res.append('Set-Cookie', `${FLOW_COOKIE}=; Path=${FLOW_COOKIE_PATH}; HttpOnly; SameSite=Lax; Max-Age=0`);
  if (query.has('error')) throw new SsoRefusal('sso_denied');
  const sso = await ssoSettings(services.db, flow.agencyId);
  if (!sso?.enabled) throw new SsoRefusal('sso_not_configured');

  let identity: Awaited<ReturnType<typeof identityOf>>;
  try {
    const [oc, config] = await Promise.all([openIdClient(), configurationOf(sso)]);
    // The redirect URI as registered, with the provider's parameters: what openid-client checks and sends back.
    const currentUrl = new URL(`${redirectUriOf(publicUrl)}?${query.toString()}`);
    const tokens = await oc.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    identity = await identityOf(oc, config, tokens);
  } catch (err) {
    logProviderFailure(services, sso.agencyId, 'code exchange', err);
    throw new SsoRefusal('sso_provider_error');
  }

  if (identity.emailVerified !== true) throw new SsoRefusal('sso_email_unverified');
  if (typeof identity.email !== 'string' || identity.email.length > 254) throw new SsoRefusal('sso_email_unverified');
  if (!sso.allowedDomains.includes(domainOfEmail(identity.email))) throw new SsoRefusal('sso_domain_not_allowed');

  const email = identity.email;
  const displayName =
    typeof identity.name === 'string' && identity.name.trim() ? identity.name.trim().slice(0, 200) : email;
  const member = await provisionSsoMember(services.db, {
    agencyId: sso.agencyId,
    email,
    displayName,
    defaultRole: sso.defaultRole,
  });
  if (!member.ok) throw new SsoRefusal(member.code);
  await startSession(services.db, req, res, {
    user: member.user,
    membershipId: member.membership.id,
    method: 'sso',
    ip: services.clientIp(req),
  });
}
