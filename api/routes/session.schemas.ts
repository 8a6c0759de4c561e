/**
 * The zod schemas of api/routes/session.ts: signing in and the session a
 * signed-in person holds (who they are, the organisation they act in, the
 * others they belong to, the CSRF token the pages send back).
 */
import { z } from 'zod';

import { MEMBERSHIP_ROLES, ORG_KINDS, SECOND_FACTOR_KINDS } from '../../domain/accounts';
import { Email, Id, IsoTime, Nullable, text } from '../schema-blocks';

/** A password as typed: not trimmed (spaces count), bounded (argon2 of a megabyte is a denial of service). */
export const PasswordInput = z.string().min(1).max(1024);

export const SignInBody = z.object({ email: Email, password: PasswordInput }).strict();
export const ChooseOrganisationBody = z.object({ membershipId: Id }).strict();

export const OrgKindSchema = z.enum(ORG_KINDS);
export const MembershipRoleSchema = z.enum(MEMBERSHIP_ROLES);
export const SecondFactorKindSchema = z.enum(SECOND_FACTOR_KINDS);

const Named = z.object({ id: Id, name: z.string() });
export const MembershipView = z.object({
  id: Id,
  kind: OrgKindSchema,
  role: MembershipRoleSchema,
  agency: Nullable(Named),
  buyer: Nullable(Named),
  source: Nullable(Named),
});
export const UserView = z.object({
  id: Id,
  email: z.string(),
  displayName: z.string(),
  createdAt: IsoTime,
});

export const Responses = {
  Session: z.object({
    stage: z
      .enum(['full', 'second_factor'])
      .describe('`second_factor`: the password was right; a second factor is owed'),
    secondFactors: z.array(SecondFactorKindSchema).describe('the second factors this person can use (while owed)'),
    csrfToken: z.string().describe('send it back in X-CSRF-Token on every unsafe request made with the cookie'),
    user: UserView,
    organisation: Nullable(MembershipView).describe('the membership this session acts in'),
    memberships: z.array(MembershipView),
  }),
};

export const DisplayName = text(120);
