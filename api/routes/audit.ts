/**
 * The audit log (#20 item 8), read: every change of the agency – who (a
 * person, a key and its maker, the root token, the system), what object,
 * which action, before → after – newest first, filtered by actor, object and
 * time, a page at a time. A buyer's owner reads its own buyer's entries at
 * GET /v1/me/audit-log. The CSV of the same filters is GET
 * /v1/exports/audit-log.csv (api/routes/exports.ts). Entries are written by
 * the data layer in each change's transaction (db/audit.ts).
 */
import { type AuditFilter, listAuditLog } from '../../db/audit';
import { listBody, pageArgs } from '../pagination';
import { Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, route } from '../route';
import { auditEntryView } from '../views';
import { AuditLogQuery, Responses } from './audit.schemas';

/** The filter of a query (the log's and the CSV's): ids as they are, instants as dates. */
export function auditFilterOf(
  scope: { agencyId: string; buyerId?: string },
  q: {
    actorUserId?: string;
    actorKeyId?: string;
    objectType?: AuditFilter['objectType'];
    objectId?: string;
    from?: string;
    to?: string;
  },
): AuditFilter {
  return {
    ...scope,
    actorUserId: q.actorUserId,
    actorKeyId: q.actorKeyId,
    objectType: q.objectType,
    objectId: q.objectId,
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
  };
}

const FILTERS =
  'Filters combine: `actorUserId` (what a person did, signed in or through a key they made), `actorKeyId`, `objectType` and `objectId`, and the instants `from` (inclusive) and `to` (exclusive).';

export const auditRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/audit-log',
    operationId: 'auditLog',
    tag: 'Audit',
    summary: "The agency's audit log: who changed what, from what to what; newest first",
    description: `${FILTERS} Secrets are never in an entry: a changed secret reads "[redacted]".`,
    query: AuditLogQuery,
    responses: { 200: { description: 'a page', schema: Responses.AuditLog }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listAuditLog(services.db, auditFilterOf(principal, query), pageArgs(query));
      return { status: 200, body: listBody('entries', page, auditEntryView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/audit-log',
    operationId: 'myAuditLog',
    tag: 'Audit',
    summary: "A buyer's owner: the audit log of its own buyer (its changes and the agency's about it); newest first",
    description: FILTERS,
    query: AuditLogQuery,
    responses: { 200: { description: 'a page', schema: Responses.AuditLog }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      if (principal.role !== 'owner') throw new Problem(403, 'forbidden', "Only a buyer's owner reads its audit log.");
      const filter = auditFilterOf({ agencyId: principal.agencyId, buyerId: principal.buyerId }, query);
      const page = await listAuditLog(services.db, filter, pageArgs(query));
      return { status: 200, body: listBody('entries', page, auditEntryView) };
    },
  }),
];
