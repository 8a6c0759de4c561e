/**
 * Single sign-on for agencies (#20): the rules of an agency's OpenID Connect
 * settings and the reasons a sign-in is refused. Defined once; the database,
 * the API's schemas, the sign-in flow, the pages and the tests import them.
 */
import type { AgencyRole } from './accounts';

/** The roles a first SSO sign-in may give (never `owner`: ownership is handed over by a person). */
export const SSO_DEFAULT_ROLES = ['admin', 'dispatcher', 'analyst'] as const satisfies readonly AgencyRole[];
export type SsoDefaultRole = (typeof SSO_DEFAULT_ROLES)[number];

/**
 * Why a sign-in ended on the sign-in page instead of the console: the
 * `error` query parameter of `/admin/sign-in?error=<code>`. Each says what
 * happened without saying whether any particular person has an account.
 */
export const SSO_ERROR_CODES = [
  /** The agency has no SSO, or it is switched off. */
  'sso_not_configured',
  /** The sign-in expired, was already used, or was started in another browser. */
  'sso_state_invalid',
  /** The provider refused or could not be reached, or its answer did not verify (a wrong client secret…). */
  'sso_provider_error',
  /** The person cancelled at the provider, or it denied the sign-in. */
  'sso_denied',
  /** The provider does not vouch for the email address (`email_verified` is not true). */
  'sso_email_unverified',
  /** The email's domain is not one the agency allows. */
  'sso_domain_not_allowed',
  /** The account also belongs to another organisation: it signs in with its password, link or passkey. */
  'sso_account_conflict',
  /** The account is disabled. */
  'account_disabled',
] as const;
export type SsoErrorCode = (typeof SSO_ERROR_CODES)[number];

/** How long a browser may take at its provider before the sign-in is void. */
export const SSO_FLOW_TTL_MS = 10 * 60_000;

/** A domain as allowed domains hold it: lower-cased, no trailing dot. */
export const normaliseDomain = (domain: string): string => domain.trim().toLowerCase().replace(/\.$/, '');

/** An email's domain, normalised ('' when it has none). */
export function domainOfEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 1 ? '' : normaliseDomain(email.slice(at + 1));
}

/** A DNS name of at least two labels (what an allowed domain must be). */
export const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Hosts an issuer may be reached on over plain http (a provider on the same machine, in development and tests). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why an issuer URL is not acceptable, or null: https (http only on
 * localhost/127.0.0.1), no credentials, query or fragment (the issuer is an
 * identifier compared exactly with the provider's own).
 */
export function issuerProblem(issuer: string): string | null {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)))
    return 'must be an https URL (http only for localhost or 127.0.0.1)';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.search || url.hash) return 'must not have a query or a fragment';
  return null;
}

/** Whether requests to this issuer may go over plain http (loopback only). */
export const isLoopbackHttp = (issuer: string): boolean => {
  const url = new URL(issuer);
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
};
