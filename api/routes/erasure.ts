/**
 * Erasure requests (#23 item 6): an agency's owner or admin erases one person's personal fields everywhere the
 * product keeps them, by phone or email (db/erasure.ts), and lists the requests made – without the identifiers,
 * which are never stored (a keyed HMAC stands for them).
 */
import { listErasureRequests, requestErasure } from '../../db/erasure';
import { suppressionHasher } from '../../db/suppression';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, route } from '../route';
import { PageQuery } from '../schemas';
import { erasureRequestView } from '../views';
import { ErasureRequestCreate, Responses } from './erasure.schemas';
import { countryOf, valueOf } from './suppression';

export const erasureRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/erasure-requests',
    operationId: 'requestErasure',
    tag: 'Compliance',
    summary: "Erase one person's personal fields everywhere, by phone number or email address",
    description:
      "Every lead of the agency with this phone number (normalised to E.164 as intake does) or email address loses its personal fields, and every stored copy of them goes: timeline data, previews, delivery and endpoint logs' bodies, buyers' notes, alerts, audit entries, remembered idempotent answers (docs/compliance.md, Retention and erasure). The ledger, amounts, reports and the timeline's structure stay. The request is recorded with its counts and a keyed HMAC of the identifier, never the identifier. A POST, so the value is not written to access logs as part of a URL.",
    body: ErasureRequestCreate,
    responses: {
      201: { description: 'erased and recorded', schema: Responses.ErasureRequest },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      const value = valueOf(body.value, await countryOf(services, principal.agencyId));
      const hmac = (await suppressionHasher(services.db, { agencyId: principal.agencyId }))(value);
      const row = await requestErasure(services.db, {
        agencyId: principal.agencyId,
        value,
        hmac,
        suppress: body.suppress ?? false,
        by: auditBy(principal),
      });
      return { status: 201, body: { request: erasureRequestView(row) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/erasure-requests',
    operationId: 'listErasureRequests',
    tag: 'Compliance',
    summary: "The agency's erasure requests, newest first (counts only, never the person)",
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.ErasureRequests }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listErasureRequests(services.db, principal.agencyId, pageArgs(query));
      return { status: 200, body: listBody('requests', page, erasureRequestView) };
    },
  }),
];
