/**
 * The rules of a team (#20): who may invite whom, change a role, remove a
 * member or hand over ownership. Pure: the data layer (db/accounts.ts) runs
 * them inside the transaction that holds the organisation's membership rows
 * locked, so a decision is always made on the rows as they are at commit.
 *
 * - nobody hands out a role above their own (`roleAtMost`), and only owners
 *   make, demote or remove owners;
 * - nobody changes their own role (the escalation a stolen session would try);
 * - an organisation never has zero owners.
 *
 * `authority`: the role the caller acts with in the organisation. An agency's
 * owner or admin manages the teams of the agency's buyers and sources as if
 * they were its owner (the agency already controls those accounts).
 */
import { type MembershipRole, type OrgKind, roleAtMost } from './accounts';

/** Why a team change is refused: the problem code and what to tell the caller. */
export interface TeamRefusal {
  status: 403 | 404 | 409;
  code: 'own_role' | 'role_above_yours' | 'last_owner' | 'forbidden' | 'not_found';
  detail: string;
}

export type TeamChange = { op: 'role'; role: MembershipRole } | { op: 'remove' } | { op: 'transfer' };

export interface TeamMemberFacts {
  id: string;
  userId: string;
  role: MembershipRole;
}

/** The role an owner steps down to when handing ownership over. */
export const STEP_DOWN_ROLE: Record<Exclude<OrgKind, 'platform'>, MembershipRole> = {
  agency: 'admin',
  buyer: 'member',
  source: 'member',
};

/**
 * Whether `authority` may invite someone to `role` in an organisation of
 * `kind`: never above one's own.
 */
export function inviteRefusal(kind: OrgKind, role: MembershipRole, authority: MembershipRole): TeamRefusal | null {
  if (!roleAtMost(kind, role, authority))
    return {
      status: 403,
      code: 'role_above_yours',
      detail: `You cannot invite someone as ${role}: it is above your role.`,
    };
  return null;
}

/**
 * The refusal of a change, or null when it may go ahead. `actorUserId`: the
 * person acting (a key: its creator; the root token: null); `owners`: how many
 * owners the organisation has now.
 */
export function teamChangeRefusal(input: {
  kind: Exclude<OrgKind, 'platform'>;
  authority: MembershipRole;
  actorUserId: string | null;
  target: TeamMemberFacts;
  change: TeamChange;
  owners: number;
}): TeamRefusal | null {
  const { kind, authority, actorUserId, target, change, owners } = input;
  const self = actorUserId !== null && target.userId === actorUserId;
  const ownerOnly: TeamRefusal = {
    status: 403,
    code: 'role_above_yours',
    detail: 'Only an owner makes, demotes or removes owners.',
  };
  const lastOwner: TeamRefusal = {
    status: 409,
    code: 'last_owner',
    detail: 'This is the last owner: make someone else owner first (POST /v1/members/transfer-ownership).',
  };
  if (change.op === 'role') {
    if (self) return { status: 403, code: 'own_role', detail: 'You cannot change your own role; ask another owner.' };
    if (!roleAtMost(kind, change.role, authority))
      return { status: 403, code: 'role_above_yours', detail: `You cannot make someone ${change.role}.` };
    if ((target.role === 'owner' || change.role === 'owner') && authority !== 'owner') return ownerOnly;
    if (target.role === 'owner' && change.role !== 'owner' && owners <= 1) return lastOwner;
    return null;
  }
  if (change.op === 'remove') {
    if (!self && !roleAtMost(kind, target.role, authority)) return ownerOnly;
    if (target.role === 'owner' && owners <= 1) return lastOwner;
    return null;
  }
  if (authority !== 'owner')
    return { status: 403, code: 'role_above_yours', detail: 'Only an owner hands ownership over.' };
  if (self) return { status: 403, code: 'own_role', detail: 'You are an owner already: choose another member.' };
  return null;
}
