/**
 * API keys belong to people (#20 item 7): the keys of the caller's own
 * organisation – an agency's staff keys, a buyer's keys, a source's keys –
 * listed, made and revoked by its owners (and an agency's admins). A key is
 * made by a person (the session's user, or the creating key's maker), acts as
 * a role no higher than the caller's, may expire, and is shown once. A key of
 * another organisation is never found (404); revoking one takes effect in
 * this process at once and closes a buyer key's feed sockets.
 */
import { getOwnedKey, type KeyOwner, listOwnedKeys, makeOwnedKey, type OwnedKey, revokeOwnedKey } from '../../db/keys';
import { isRoleOf, type OrgKind, roleAtMost, ROLES_OF } from '../../domain/accounts';
import { auditBy } from '../audit';
import type { AdminPrincipal, BuyerPrincipal, SourcePrincipal } from '../auth';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams } from '../schemas';
import { invalidField } from '../validate';
import { ApiKeyCreate, Responses } from './keys.schemas';

type OrgPrincipal = AdminPrincipal | BuyerPrincipal | SourcePrincipal;

const ORG_OF = { admin: 'agency', buyer: 'buyer', source: 'source' } as const satisfies Record<
  OrgPrincipal['kind'],
  OrgKind
>;

/** The organisation whose keys the caller manages: its own, never one named in the request. */
function ownerOf(p: OrgPrincipal): KeyOwner {
  if (p.kind === 'buyer') return { kind: 'buyer', agencyId: p.agencyId, buyerId: p.buyerId };
  if (p.kind === 'source') return { kind: 'source', agencyId: p.agencyId, sourceId: p.sourceId };
  return { kind: 'admin', agencyId: p.agencyId };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function keyView(k: OwnedKey) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    createdBy: k.createdBy,
    createdAt: k.createdAt.toISOString(),
    expiresAt: iso(k.expiresAt),
    lastUsedAt: iso(k.lastUsedAt),
    revokedAt: iso(k.revokedAt),
  };
}

export const keyRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/keys',
    operationId: 'listKeys',
    tag: 'Keys',
    summary: "My organisation's API keys (never their secrets): live ones first, newest first",
    responses: { 200: { description: 'the keys', schema: Responses.ApiKeys }, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const keys = await listOwnedKeys(services.db, ownerOf(principal));
      return { status: 200, body: { keys: keys.map(keyView) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/keys',
    operationId: 'createKey',
    tag: 'Keys',
    summary: 'Make an API key for my organisation, acting as a role no higher than mine; the answer shows it once',
    description:
      "An agency's keys act as owner, admin, dispatcher or analyst; a buyer's or a source's as owner or member. A role of another kind of organisation is 400; a role above the caller's is 403 and nothing is stored. The key records the person who made it (the signed-in user, or the maker of the key that asks).",
    body: ApiKeyCreate,
    responses: {
      201: { description: 'made; `key` is shown this once', schema: Responses.ApiKeyIssued },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
      403: {
        description:
          "the caller's role may not manage keys, or the role asked for is above the caller's own (`forbidden`)",
      },
    },
    async handler({ principal, body, services }) {
      const org = ORG_OF[principal.kind];
      if (!isRoleOf(org, body.role))
        throw invalidField(
          'role',
          `a role of a key of ${org === 'agency' ? 'an agency' : `a ${org}`}: ${ROLES_OF[org].join(', ')}`,
        );
      if (!roleAtMost(org, body.role, principal.role))
        throw new Problem(403, 'forbidden', `A key may not act above its maker: you act as ${principal.role}.`);
      const expiresAt = body.expiresAt === undefined ? null : new Date(body.expiresAt);
      if (expiresAt && expiresAt.getTime() <= Date.now()) throw invalidField('expiresAt', 'a time in the future');
      const owner = ownerOf(principal);
      const made = await makeOwnedKey(
        services.db,
        owner,
        {
          name: body.name,
          role: body.role,
          createdByUserId: principal.actor.type === 'root' ? null : principal.actor.userId,
          expiresAt,
        },
        auditBy(principal),
      );
      const key = await getOwnedKey(services.db, owner, made.id);
      if (!key) throw notFound('key');
      return {
        status: 201,
        body: {
          id: key.id,
          name: key.name,
          role: key.role,
          prefix: key.prefix,
          key: made.key,
          expiresAt: iso(key.expiresAt),
          createdAt: key.createdAt.toISOString(),
        },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/keys/:id/revoke',
    operationId: 'revokeKey',
    tag: 'Keys',
    summary: "Revoke one of my organisation's API keys: it stops working at once (a buyer key's feed sockets close)",
    description:
      "A key acting above the caller's own role is not the caller's to revoke (403). Revoking a revoked key answers it unchanged.",
    params: IdParams,
    responses: {
      200: { description: 'revoked', schema: Responses.ApiKey },
      ...NOT_FOUND,
      ...AUTH_ERRORS,
      400: { description: 'invalid id (`validation_failed`)' },
      403: {
        description: "the caller's role may not manage keys, or the key acts above the caller's role (`forbidden`)",
      },
    },
    async handler({ principal, params, services }) {
      const owner = ownerOf(principal);
      const org = ORG_OF[principal.kind];
      const existing = await getOwnedKey(services.db, owner, params.id);
      if (!existing) throw notFound('key');
      if (!roleAtMost(org, existing.role, principal.role))
        throw new Problem(403, 'forbidden', `This key acts as ${existing.role}, above you (${principal.role}).`);
      const key = await revokeOwnedKey(services.db, owner, params.id, auditBy(principal));
      if (!key) throw notFound('key');
      services.auth.forgetKey(key.id); // this process at once; the others within the key cache's second
      if (owner.kind === 'buyer') await services.accessChanged(owner.agencyId, owner.buyerId);
      return { status: 200, body: keyView(key) };
    },
  }),
];
