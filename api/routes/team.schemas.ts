/**
 * The zod schemas of api/routes/team.ts: first-run setup, invitations, the
 * members of an organisation, and the signed-in answer of setup and of
 * accepting an invitation (answered as the session, api/routes/session.schemas.ts).
 */
import { z } from 'zod';

import { ORG_KINDS, ROLES_OF } from '../../domain/accounts';
import { isValidTimeZone } from '../../domain/caps';
import { Email, Id, IsoTime, Nullable, text } from '../schema-blocks';
import { DisplayName, PasswordInput } from './session.schemas';

/** Every role name of any kind of organisation (which ones fit is checked against the organisation). */
const ROLE_NAMES = [...new Set(ORG_KINDS.flatMap((k) => ROLES_OF[k] as readonly string[]))] as [string, ...string[]];
const RoleName = z.enum(ROLE_NAMES);
/** A one-time link's secret (32 random bytes, base64url). */
const OneTimeSecret = z.string().regex(/^[A-Za-z0-9_-]{20,100}$/, 'a link token');

export const SetupTokenParams = z.object({ token: OneTimeSecret }).strict();
export const SetupBody = z
  .object({
    token: OneTimeSecret,
    agencyName: text(200),
    timeZone: text(64)
      .refine((tz) => isValidTimeZone(tz), { message: 'not a known IANA time zone' })
      .optional()
      .describe("the agency's IANA zone, default UTC"),
    email: Email,
    displayName: DisplayName,
    password: PasswordInput,
    operator: z
      .boolean()
      .optional()
      .describe('also make this person the platform operator (creates agencies); default true'),
  })
  .strict();

export const InvitationCreate = z
  .object({
    email: Email,
    role: RoleName.describe('a role of the organisation invited into, never above the inviter’s'),
    buyerId: Id.optional().describe("into one of the agency's buyers (agency owner/admin)"),
    sourceId: Id.optional().describe("into one of the agency's sources (agency owner/admin)"),
    agencyId: Id.optional().describe('the operator only: into this agency (else `operator` into the platform)'),
  })
  .strict();
export const OrgQuery = z
  .object({
    buyerId: Id.optional().describe("an agency owner/admin: the team of one of the agency's buyers"),
    sourceId: Id.optional().describe("an agency owner/admin: the team of one of the agency's sources"),
  })
  .strict();
export const IdParams = z.object({ id: Id }).strict();
export const MembershipParams = z.object({ membershipId: Id }).strict();
export const AcceptBody = z
  .object({
    token: OneTimeSecret,
    displayName: DisplayName.optional().describe('a new account: required'),
    password: PasswordInput.optional().describe(
      'a new account: the password to set; an existing account not signed in: its password',
    ),
  })
  .strict();
export const RoleChange = z.object({ role: RoleName }).strict();
export const TransferBody = z.object({ membershipId: Id }).strict();

const OrgView = z.object({
  kind: z.enum(ORG_KINDS),
  agencyId: Nullable(Id),
  buyerId: Nullable(Id),
  sourceId: Nullable(Id),
  name: z.string(),
});
const InvitationView = z.object({
  id: Id,
  email: z.string(),
  role: RoleName,
  org: OrgView,
  expiresAt: IsoTime,
  createdAt: IsoTime,
});
const MemberView = z.object({
  membershipId: Id,
  userId: Id,
  email: z.string(),
  displayName: z.string(),
  role: RoleName,
  twoFactor: z.boolean().describe('TOTP is on'),
  since: IsoTime,
});

export const Responses = {
  SetupToken: z.object({ valid: z.literal(true) }),
  InvitationCreated: InvitationView.extend({
    emailed: z.boolean().describe('false when no SMTP server is configured: pass `link` on yourself'),
    link: z.string().optional().describe('only when no email could be sent (no SMTP_URL)'),
  }),
  Invitation: z.object({ invitation: InvitationView }),
  Invitations: z.object({ invitations: z.array(InvitationView) }),
  InvitationPreview: z.object({
    email: z.string(),
    role: RoleName,
    org: OrgView,
    invitedBy: Nullable(z.string()).describe('the inviter’s display name (null: the platform)'),
    userExists: z.boolean().describe('an account with this email exists: sign in as it, or give its password'),
    expiresAt: IsoTime,
  }),
  Members: z.object({ members: z.array(MemberView) }),
  Member: z.object({ member: MemberView }),
  Removed: z.object({ removed: Id, endedSessions: z.number().int() }),
};
