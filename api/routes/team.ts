/**
 * People join an organisation (#20): the first-run setup that makes the
 * first agency owner (the root token only bootstraps), invitations by email
 * that work once within 7 days, and the team itself – its members, their
 * roles, removal and the hand-over of ownership.
 *
 * Who manages a team: an agency's owners and admins (the agency's team, and
 * the teams of the agency's buyers and sources, where they act with an
 * owner's authority), a buyer's or source's owners (their own team), the
 * platform operator (invites operators, and an agency's first owner). The
 * rules – never above one's own role, never one's own role, only owners make
 * or unmake owners, never zero owners – are domain/teams.ts, decided in the
 * transaction that holds the team locked (db/accounts.ts changeTeam).
 */
import type { Request, Response } from 'express';

import {
  addMembership,
  changeTeam,
  consumeOneTimeToken,
  createUser,
  invitationById,
  invitationOrg,
  type InvitationPayload,
  invitationPayload,
  issueOneTimeToken,
  listMembers,
  membershipById,
  type MembershipRow,
  type OneTimeTokenRow,
  type Org,
  orgOf,
  peekOneTimeToken,
  pendingInvitations,
  revokeInvitation,
  revokeUnusedTokens,
  userByEmail,
  userById,
  type UserRow,
} from '../../db/accounts';
import { createAgencyWithKey, getAgency } from '../../db/agencies';
import { recordChange } from '../../db/audit';
import { getBuyer } from '../../db/buyers';
import type { DbOrTx } from '../../db/connection';
import { adoptCreatorlessKeys } from '../../db/keys';
import { isUniqueViolation } from '../../db/ledger';
import { getSource } from '../../db/sources';
import { isRoleOf, type MembershipRole, normaliseEmail } from '../../domain/accounts';
import { inviteRefusal, type TeamChange, type TeamRefusal } from '../../domain/teams';
import { hashPassword, passwordProblem, verifyPassword } from '../../lib/passwords';
import { auditBy } from '../audit';
import type { Principal } from '../auth';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import type { ApiServices } from '../services';
import { type SignedIn, startSession } from '../sessions';
import { invalidField } from '../validate';
import { sessionView } from './session';
import { Responses as SessionResponses } from './session.schemas';
import {
  AcceptBody,
  IdParams,
  InvitationCreate,
  MembershipParams,
  OrgQuery,
  Responses,
  RoleChange,
  SetupBody,
  SetupTokenParams,
  TransferBody,
} from './team.schemas';

const iso = (d: Date) => d.toISOString();
const linkExpired = () => notFound('link');

// ─── organisations as the answers show them ──────────────────────────────────

async function orgView(db: DbOrTx, org: Org) {
  const ids = {
    agencyId: org.kind === 'platform' ? null : org.agencyId,
    buyerId: org.kind === 'buyer' ? org.buyerId : null,
    sourceId: org.kind === 'source' ? org.sourceId : null,
  };
  let name = 'Leadwire platform';
  if (org.kind === 'agency') name = (await getAgency(db, org.agencyId))?.name ?? '';
  if (org.kind === 'buyer') name = (await getBuyer(db, org.agencyId, org.buyerId))?.name ?? '';
  if (org.kind === 'source') name = (await getSource(db, org.agencyId, org.sourceId))?.name ?? '';
  return { kind: org.kind, ...ids, name };
}

async function invitationView(db: DbOrTx, t: OneTimeTokenRow) {
  const p = t.payload as unknown as InvitationPayload;
  return {
    id: t.id,
    email: t.email ?? '',
    role: p.role,
    org: await orgView(db, invitationOrg(p)),
    expiresAt: iso(t.expiresAt),
    createdAt: iso(t.createdAt),
  };
}

// ─── who may manage which team ───────────────────────────────────────────────

/** The person behind a caller: a session's user, a key's creator, nobody for the root token. */
const personOf = (p: Principal): string | null => (p.actor.type === 'root' ? null : p.actor.userId);

interface Authority {
  /** The role the caller acts with in the organisation. */
  role: MembershipRole;
  /** True when that role is not the caller's own membership here (an agency over its buyer, a key's scope). */
  fixed: boolean;
}

/**
 * The authority of a caller over an organisation's team: null when the
 * organisation is not theirs to see (→ 404, nothing leaks), 403 when it is
 * theirs but their role does not manage teams.
 */
function authorityOver(p: Principal, org: Org): Authority | null {
  const fixed = p.actor.type !== 'user';
  const manage = (role: MembershipRole, ok: boolean): Authority => {
    if (!ok) throw new Problem(403, 'forbidden', 'Managing a team needs an owner (or, in an agency, an admin).');
    return { role, fixed };
  };
  if (p.kind === 'root') {
    if (org.kind === 'platform') return { role: 'operator', fixed };
    if (org.kind === 'agency') return { role: 'owner', fixed: true }; // the operator seats an agency's first owner
    return null;
  }
  if (org.kind === 'platform') return null;
  if (p.kind === 'admin') {
    if (org.agencyId !== p.agencyId) return null;
    const ok = p.role === 'owner' || p.role === 'admin';
    if (org.kind === 'agency') return manage(p.role, ok);
    return { ...manage('owner', ok), fixed: true };
  }
  if (p.kind === 'buyer')
    return org.kind === 'buyer' && org.buyerId === p.buyerId ? manage(p.role, p.role === 'owner') : null;
  return org.kind === 'source' && org.sourceId === p.sourceId ? manage(p.role, p.role === 'owner') : null;
}

/** The organisation a list or an invitation is about: the caller's own, or one of its agency's buyers or sources. */
async function orgFor(
  p: Principal,
  services: ApiServices,
  q: { buyerId?: string; sourceId?: string; agencyId?: string },
): Promise<Org> {
  if (q.buyerId && q.sourceId) throw invalidField('sourceId', 'give buyerId or sourceId, not both');
  if (p.kind === 'root') {
    if (q.buyerId || q.sourceId) throw notFound(q.buyerId ? 'buyer' : 'source');
    if (!q.agencyId) return { kind: 'platform' };
    if (!(await getAgency(services.db, q.agencyId))) throw notFound('agency');
    return { kind: 'agency', agencyId: q.agencyId };
  }
  if (q.agencyId) throw invalidField('agencyId', 'only the platform operator names an agency');
  if (q.buyerId) {
    if (p.kind === 'buyer' && q.buyerId === p.buyerId)
      return { kind: 'buyer', agencyId: p.agencyId, buyerId: p.buyerId };
    if (p.kind !== 'admin' || !(await getBuyer(services.db, p.agencyId, q.buyerId))) throw notFound('buyer');
    return { kind: 'buyer', agencyId: p.agencyId, buyerId: q.buyerId };
  }
  if (q.sourceId) {
    if (p.kind === 'source' && q.sourceId === p.sourceId)
      return { kind: 'source', agencyId: p.agencyId, sourceId: p.sourceId };
    if (p.kind !== 'admin' || !(await getSource(services.db, p.agencyId, q.sourceId))) throw notFound('source');
    return { kind: 'source', agencyId: p.agencyId, sourceId: q.sourceId };
  }
  if (p.kind === 'admin') return { kind: 'agency', agencyId: p.agencyId };
  if (p.kind === 'buyer') return { kind: 'buyer', agencyId: p.agencyId, buyerId: p.buyerId };
  return { kind: 'source', agencyId: p.agencyId, sourceId: p.sourceId };
}

function authorityOrThrow(p: Principal, org: Org, what: string): Authority {
  const a = authorityOver(p, org);
  if (!a) throw notFound(what);
  return a;
}

const refused = (r: TeamRefusal) =>
  r.code === 'not_found' ? notFound('member') : new Problem(r.status, r.code, r.detail);

/** Where links in emails point: LW_PUBLIC_URL, else the address the request came to. */
const baseUrl = (services: ApiServices, req: Request): string =>
  (services.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`).replace(/\/+$/, '');

/** A problem naming the password field when it does not meet the policy (lib/passwords.ts). */
function checkNewPassword(password: string | undefined, email: string): string {
  if (password === undefined) throw invalidField('password', 'required for a new account');
  const problem = passwordProblem(password, email);
  if (problem) throw invalidField('password', problem);
  return password;
}

/** The session of the request's cookie, if any and valid for this request; never a problem (these routes are public). */
async function optionalSession(services: ApiServices, req: Request): Promise<SignedIn | null> {
  try {
    return await services.auth.signedIn(req, services.publicUrl);
  } catch {
    return null;
  }
}

async function signIn(
  db: DbOrTx,
  services: ApiServices,
  req: Request,
  res: Response,
  user: UserRow,
  membership: MembershipRow,
  method: 'setup' | 'invitation',
) {
  const session = await startSession(db, req, res, {
    user,
    membershipId: membership.id,
    method,
    ip: services.clientIp(req),
  });
  return sessionView(db, { session, user });
}

// ─── routes ──────────────────────────────────────────────────────────────────

const SIGNED_IN_DOC =
  'signed in: the session cookie is set (`lw_session` on plain-http localhost, else `__Host-lw_session`)';

export const teamRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/setup/:token',
    operationId: 'checkSetupLink',
    tag: 'Team',
    summary: 'Whether a first-run setup link still works (public)',
    params: SetupTokenParams,
    responses: {
      200: { description: 'it works', schema: Responses.SetupToken },
      404: { description: 'unknown, used, replaced or expired (`not_found`)' },
      ...BAD_INPUT,
    },
    async handler({ params, services }) {
      if (!(await peekOneTimeToken(services.db, 'setup', params.token))) throw linkExpired();
      return { status: 200, body: { valid: true } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/setup',
    operationId: 'completeSetup',
    tag: 'Team',
    summary:
      'First run (public, with the setup link npm start prints): creates the first agency, its owner (and by default the platform operator), and signs them in',
    description:
      'The link works once; two uses at once: one wins, the other gets 404. The agency is created as `POST /v1/agencies` creates one, ' +
      'and its admin key (never shown here) is adopted by the new owner. Every other setup link is revoked.',
    body: SetupBody,
    responses: {
      201: { description: SIGNED_IN_DOC, schema: SessionResponses.Session },
      404: { description: 'the link is unknown, used, replaced or expired (`not_found`)' },
      ...BODY_ERRORS,
    },
    async handler({ body, req, res, services }) {
      if (!(await peekOneTimeToken(services.db, 'setup', body.token))) throw linkExpired();
      const passwordHash = await hashPassword(checkNewPassword(body.password, body.email));
      const view = await services.db.transaction(async (tx) => {
        if (!(await consumeOneTimeToken(tx, 'setup', body.token))) throw linkExpired();
        await revokeUnusedTokens(tx, 'setup');
        const { agency } = await createAgencyWithKey(tx, { name: body.agencyName, timeZone: body.timeZone });
        const user = await createUser(tx, {
          email: body.email,
          displayName: body.displayName,
          passwordHash,
          emailVerified: false,
        });
        const owner = await addMembership(tx, user.id, { kind: 'agency', agencyId: agency.id }, 'owner');
        if (body.operator !== false) await addMembership(tx, user.id, { kind: 'platform' }, 'operator');
        await adoptCreatorlessKeys(tx, agency.id, user.id);
        return signIn(tx, services, req, res, user, owner, 'setup');
      });
      return { status: 201, body: view };
    },
  }),

  route({
    method: 'post',
    path: '/v1/invitations',
    operationId: 'invite',
    tag: 'Team',
    summary:
      "Invite a person by email with a role: into the caller's organisation, one of its agency's buyers or sources, or (the operator) the platform or an agency",
    description:
      'The link (`<public url>/invite?token=…`) is emailed, works once and expires in 7 days; the answer never carries it – ' +
      'except when no SMTP server is configured (`emailed: false`), so the inviter can pass it on. ' +
      'The role is never above the inviter’s (403 `role_above_yours`); a buyer or source of another agency is 404.',
    body: InvitationCreate,
    responses: {
      201: { description: 'invited', schema: Responses.InvitationCreated },
      403: { description: 'the role is above yours (`role_above_yours`), or your role manages no team (`forbidden`)' },
      409: { description: 'this person is a member already (`conflict`)' },
      503: { description: 'the email could not be sent (`service_unavailable`); nothing was kept' },
      ...NOT_FOUND,
      ...BODY_ERRORS,
      401: AUTH_ERRORS[401]!,
      429: AUTH_ERRORS[429]!,
    },
    async handler({ principal, body, req, services }) {
      const org = await orgFor(principal, services, body);
      const authority = authorityOrThrow(principal, org, 'organisation');
      if (!isRoleOf(org.kind, body.role)) throw invalidField('role', `not a role of a ${org.kind}`);
      const role = body.role;
      const refusal = inviteRefusal(org.kind, role, authority.role);
      if (refusal) throw refused(refusal);
      const existing = await userByEmail(services.db, body.email);
      if (existing && (await listMembers(services.db, org)).some((m) => m.userId === existing.id))
        throw new Problem(409, 'conflict', `${normaliseEmail(body.email)} is a member already.`);
      const { token, secret } = await services.db.transaction(async (tx) => {
        const issued = await issueOneTimeToken(tx, {
          purpose: 'invitation',
          email: body.email,
          payload: { ...invitationPayload(org, role) },
          createdByUserId: personOf(principal),
        });
        // The platform's own invitations (operators) belong to no agency's log.
        if (org.kind !== 'platform')
          await recordChange(tx, {
            agencyId: org.agencyId,
            buyerId: org.kind === 'buyer' ? org.buyerId : null,
            by: auditBy(principal),
            objectType: 'membership',
            objectId: issued.token.id,
            action: 'invited',
            changes: { email: { from: null, to: issued.token.email }, role: { from: null, to: role } },
          });
        return issued;
      });
      const view = await invitationView(services.db, token);
      const link = `${baseUrl(services, req)}/invite?token=${secret}`;
      if (!services.mailer.configured) return { status: 201, body: { ...view, emailed: false, link } };
      try {
        await services.mailer.send({
          to: view.email,
          subject: `You are invited to ${view.org.name} on Leadwire`,
          text:
            `You are invited to join ${view.org.name} as ${role}.\n\n` +
            `Accept within 7 days (the link works once):\n${link}\n\nIf you did not expect this, ignore this email.`,
        });
      } catch (err) {
        services.logger.warn('[team] an invitation email could not be sent', err);
        await revokeInvitation(services.db, org, token.id);
        throw new Problem(503, 'service_unavailable', 'The invitation email could not be sent; try again.');
      }
      return { status: 201, body: { ...view, emailed: true } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/invitations',
    operationId: 'listInvitations',
    tag: 'Team',
    summary: 'The pending invitations into the caller’s organisation (or one of its agency’s buyers or sources)',
    query: OrgQuery,
    responses: {
      200: { description: 'pending, newest first', schema: Responses.Invitations },
      ...NOT_FOUND,
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, query, services }) {
      const org = await orgFor(principal, services, query);
      authorityOrThrow(principal, org, 'organisation');
      const rows = await pendingInvitations(services.db, org);
      const invitations = await Promise.all(rows.map((r) => invitationView(services.db, r)));
      return { status: 200, body: { invitations } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/invitations/:id/revoke',
    operationId: 'revokeInvitation',
    tag: 'Team',
    summary: 'Withdraw a pending invitation: its link stops working',
    params: IdParams,
    responses: {
      200: { description: 'revoked', schema: Responses.Invitation },
      404: { description: 'unknown, another organisation’s, or no longer pending (`not_found`)' },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const found = await invitationById(services.db, params.id);
      if (!found) throw notFound('invitation');
      const org = invitationOrg(found.payload as unknown as InvitationPayload);
      authorityOrThrow(principal, org, 'invitation');
      const row = await revokeInvitation(services.db, org, params.id);
      if (!row) throw notFound('invitation');
      return { status: 200, body: { invitation: await invitationView(services.db, row) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/invitations/accept/:token',
    operationId: 'previewInvitation',
    tag: 'Team',
    summary:
      'What an invitation link offers (public): the organisation, the role, who invited, whether the account exists',
    params: SetupTokenParams,
    responses: {
      200: { description: 'the invitation', schema: Responses.InvitationPreview },
      404: { description: 'unknown, used, revoked or expired (`not_found`)' },
      ...BAD_INPUT,
    },
    async handler({ params, services }) {
      const t = await peekOneTimeToken(services.db, 'invitation', params.token);
      if (!t) throw linkExpired();
      const view = await invitationView(services.db, t);
      const inviter = t.createdByUserId ? await userById(services.db, t.createdByUserId) : undefined;
      return {
        status: 200,
        body: {
          email: view.email,
          role: view.role,
          org: view.org,
          invitedBy: inviter?.displayName ?? null,
          userExists: !!(await userByEmail(services.db, view.email)),
          expiresAt: view.expiresAt,
        },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/invitations/accept',
    operationId: 'acceptInvitation',
    tag: 'Team',
    summary:
      'Accept an invitation (public): creates the account or adds the membership to the existing one, and signs in',
    description:
      'A new account needs `displayName` and `password`. An existing account (the same email) must be signed in as that ' +
      'person, or give its password. The link works once; two uses at once: one wins, the other gets 404.',
    body: AcceptBody,
    responses: {
      201: { description: SIGNED_IN_DOC, schema: SessionResponses.Session },
      403: { description: 'the account exists and this is not its person (`forbidden`)' },
      404: { description: 'the link is unknown, used, revoked or expired (`not_found`)' },
      409: { description: 'already a member of this organisation (`conflict`)' },
      ...BODY_ERRORS,
    },
    async handler({ body, req, res, services }) {
      const invitation = await peekOneTimeToken(services.db, 'invitation', body.token);
      if (!invitation?.email) throw linkExpired();
      const existing = await userByEmail(services.db, invitation.email);
      let passwordHash: string | null = null;
      if (existing) {
        const session = await optionalSession(services, req);
        const proven =
          session?.user.id === existing.id ||
          (body.password !== undefined &&
            !!existing.passwordHash &&
            (await verifyPassword(existing.passwordHash, body.password)));
        if (!proven)
          throw new Problem(
            403,
            'forbidden',
            'This invitation is for an existing account: sign in as that person first, or give its password.',
          );
      } else {
        if (!body.displayName) throw invalidField('displayName', 'required for a new account');
        passwordHash = await hashPassword(checkNewPassword(body.password, invitation.email));
      }
      try {
        const payload = invitation.payload as unknown as InvitationPayload;
        const view = await services.db.transaction(async (tx) => {
          const used = await consumeOneTimeToken(tx, 'invitation', body.token);
          if (!used) throw linkExpired();
          const user =
            existing ??
            (await createUser(tx, {
              email: used.email!,
              displayName: body.displayName!,
              passwordHash,
              emailVerified: true, // the link reached this inbox
            }));
          const membership = await addMembership(tx, user.id, invitationOrg(payload), payload.role);
          return signIn(tx, services, req, res, user, membership, 'invitation');
        });
        if (payload.orgKind === 'buyer') await services.accessChanged(payload.agencyId!, payload.buyerId!);
        return { status: 201, body: view };
      } catch (err) {
        if (isUniqueViolation(err, 'memberships_user_org_uq'))
          throw new Problem(409, 'conflict', 'You are a member of this organisation already.');
        if (isUniqueViolation(err, 'users_email_uq')) throw linkExpired(); // a concurrent acceptance won
        throw err;
      }
    },
  }),

  route({
    method: 'get',
    path: '/v1/members',
    operationId: 'listMembers',
    tag: 'Team',
    summary: 'The members of the caller’s organisation (or one of its agency’s buyers or sources), with their roles',
    query: OrgQuery,
    responses: {
      200: { description: 'oldest first', schema: Responses.Members },
      ...NOT_FOUND,
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, query, services }) {
      const org = await orgFor(principal, services, query);
      authorityOrThrow(principal, org, 'organisation');
      const rows = await listMembers(services.db, org);
      return { status: 200, body: { members: rows.map((m) => ({ ...m, since: iso(m.since) })) } };
    },
  }),

  route({
    method: 'patch',
    path: '/v1/members/:membershipId',
    operationId: 'changeMemberRole',
    tag: 'Team',
    summary: 'Change a member’s role: never above yours, never your own; only owners make or demote owners',
    params: MembershipParams,
    body: RoleChange,
    responses: {
      200: { description: 'changed', schema: Responses.Member },
      403: { description: '`own_role`, `role_above_yours`, or your role manages no team (`forbidden`)' },
      409: { description: 'that would leave no owner (`last_owner`)' },
      ...NOT_FOUND,
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const { org, authority } = await targetOf(principal, services, params.membershipId);
      if (!isRoleOf(org.kind, body.role)) throw invalidField('role', `not a role of a ${org.kind}`);
      await applyChange(principal, services, org, authority, params.membershipId, { op: 'role', role: body.role });
      return { status: 200, body: { member: await memberView(services, org, params.membershipId) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/members/:membershipId/remove',
    operationId: 'removeMember',
    tag: 'Team',
    summary: 'Remove a member: their sessions in this organisation end at once, their open feed sockets close',
    params: MembershipParams,
    responses: {
      200: { description: 'removed', schema: Responses.Removed },
      403: { description: '`role_above_yours`, or your role manages no team (`forbidden`)' },
      409: { description: 'the last owner (`last_owner`)' },
      ...NOT_FOUND,
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const { org, authority } = await targetOf(principal, services, params.membershipId);
      const done = await applyChange(principal, services, org, authority, params.membershipId, { op: 'remove' });
      if (org.kind === 'buyer') await services.accessChanged(org.agencyId, org.buyerId);
      return { status: 200, body: { removed: params.membershipId, endedSessions: done.endedSessions.length } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/members/transfer-ownership',
    operationId: 'transferOwnership',
    tag: 'Team',
    summary:
      'Hand ownership to another member (a signed-in owner): they become owner, you step down (agency: admin; else member)',
    body: TransferBody,
    responses: {
      200: { description: 'the new owner', schema: Responses.Member },
      403: { description: 'not an owner of this organisation, or not signed in as a person (`forbidden`, `own_role`)' },
      ...NOT_FOUND,
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      if (principal.actor.type !== 'user')
        throw new Problem(403, 'forbidden', 'Ownership is handed over by a signed-in owner, not by a key.');
      const { org, authority } = await targetOf(principal, services, body.membershipId);
      await applyChange(principal, services, org, authority, body.membershipId, { op: 'transfer' });
      return { status: 200, body: { member: await memberView(services, org, body.membershipId) } };
    },
  }),
];

type TeamOrg = Exclude<Org, { kind: 'platform' }>;

/** The organisation of a membership and the caller's authority over it (404 when it is not theirs to see). */
async function targetOf(p: Principal, services: ApiServices, membershipId: string) {
  const m = await membershipById(services.db, membershipId);
  if (!m) throw notFound('member');
  const org = orgOf(m);
  if (org.kind === 'platform') throw notFound('member');
  return { org: org as TeamOrg, authority: authorityOrThrow(p, org, 'member') };
}

async function applyChange(
  p: Principal,
  services: ApiServices,
  org: TeamOrg,
  authority: Authority,
  membershipId: string,
  change: TeamChange,
) {
  const done = await changeTeam(
    services.db,
    org,
    { userId: personOf(p), authority: authority.role, fixedAuthority: authority.fixed },
    membershipId,
    change,
    auditBy(p),
  );
  if (!done.ok) throw refused(done.refusal);
  return done;
}

async function memberView(services: ApiServices, org: Org, membershipId: string) {
  const m = (await listMembers(services.db, org)).find((r) => r.membershipId === membershipId);
  if (!m) throw notFound('member');
  return { ...m, since: iso(m.since) };
}
