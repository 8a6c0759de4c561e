/**
 * The vocabulary of people (#20): organisations, the roles a membership can
 * hold in each, and the grants the authorization table (api/authorization.ts)
 * is written in. Defined once; the schema, the API's schemas, the pages and
 * the tests import it from here.
 *
 * A grant is `<org kind>:<role>`. A session acts as its membership's grant; a
 * key acts as the grant of its scope (a role of its kind, never above its
 * creator's). The root token acts as `platform:operator`.
 */

export const ORG_KINDS = ['platform', 'agency', 'buyer', 'source'] as const;
export type OrgKind = (typeof ORG_KINDS)[number];

export const AGENCY_ROLES = ['owner', 'admin', 'dispatcher', 'analyst'] as const;
export type AgencyRole = (typeof AGENCY_ROLES)[number];
export const BUYER_ROLES = ['owner', 'member'] as const;
export type BuyerRole = (typeof BUYER_ROLES)[number];
const SOURCE_ROLES = ['owner', 'member'] as const;
export type SourceRole = (typeof SOURCE_ROLES)[number];

/** The roles of each kind of organisation, most powerful first. */
export const ROLES_OF = {
  platform: ['operator'],
  agency: AGENCY_ROLES,
  buyer: BUYER_ROLES,
  source: SOURCE_ROLES,
} as const satisfies Record<OrgKind, readonly string[]>;
type RoleOf<K extends OrgKind> = (typeof ROLES_OF)[K][number];
export type MembershipRole = RoleOf<OrgKind>;
/** Every role name of any kind of organisation. */
export const MEMBERSHIP_ROLES = [...new Set(ORG_KINDS.flatMap((k) => ROLES_OF[k]))] as [
  MembershipRole,
  ...MembershipRole[],
];

export type Grant = { [K in OrgKind]: `${K}:${RoleOf<K>}` }[OrgKind];
export const grantOf = (kind: OrgKind, role: MembershipRole): Grant => `${kind}:${role}` as Grant;

/** Whether `role` is one of the roles an organisation of `kind` has. */
export const isRoleOf = (kind: OrgKind, role: string): role is MembershipRole =>
  (ROLES_OF[kind] as readonly string[]).includes(role);

/**
 * Whether a holder of `have` may hand out `want` (a key's scope, an
 * invitation's role, a role change): same organisation kind, and not above
 * one's own role. Only an owner makes owners.
 */
export function roleAtMost(kind: OrgKind, want: MembershipRole, have: MembershipRole): boolean {
  const order = ROLES_OF[kind] as readonly string[];
  const w = order.indexOf(want);
  const h = order.indexOf(have);
  return w >= 0 && h >= 0 && w >= h;
}

export const SIGN_IN_METHODS = ['password', 'link', 'passkey', 'sso', 'setup', 'invitation'] as const;
export type SignInMethod = (typeof SIGN_IN_METHODS)[number];

/** The second factors a person may finish a password sign-in with. */
export const SECOND_FACTOR_KINDS = ['totp', 'recovery_code', 'passkey'] as const;
export type SecondFactorKind = (typeof SECOND_FACTOR_KINDS)[number];

/** What a one-time token is for (CHECK one_time_tokens_purpose_known). */
export type OneTimePurpose = 'setup' | 'invitation' | 'sign_in_link' | 'password_reset';

/** How long each one-time link works. */
export const ONE_TIME_TTL_MS: Record<OneTimePurpose, number> = {
  setup: 7 * 24 * 3_600_000,
  invitation: 7 * 24 * 3_600_000,
  sign_in_link: 15 * 60_000,
  password_reset: 30 * 60_000,
};

/** Session lifetimes: idle (no request) and absolute. */
export const SESSION_IDLE_MS = 12 * 3_600_000;
export const SESSION_ABSOLUTE_MS = 30 * 24 * 3_600_000;
/** A session that still owes its second factor lasts this long. */
export const SECOND_FACTOR_WINDOW_MS = 10 * 60_000;

/** Emails are compared lower-cased and trimmed (CHECK users_email_normalised). */
export const normaliseEmail = (email: string): string => email.trim().toLowerCase();
