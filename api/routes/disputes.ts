/**
 * Disputes: a buyer contests a lead it bought; the agency approves (the
 * price goes back through the ledger) or rejects it.
 */
import { getDispute, listDisputes, openDispute, resolveDispute } from '../../db/disputes';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route, type AnyRoute } from '../route';
import { DisputeCreate, DisputeResolve, DisputesQuery, IdParams, Responses } from '../schemas';
import { disputeView, ledgerEntryView } from '../views';

export const disputeRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/assignments/:id/disputes',
    operationId: 'openDispute',
    tag: 'Disputes',
    summary: 'Dispute a lead I bought (the id is the assignmentId of the win)',
    roles: ['buyer'],
    params: IdParams,
    body: DisputeCreate,
    responses: {
      201: { description: 'opened', schema: Responses.Dispute },
      409: { description: 'already refunded, or a dispute is open or approved (`conflict`)' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const result = await openDispute(services.db, { assignmentId: params.id, buyerId: principal.buyerId, reason: body.reason });
      if (!result.ok) {
        if (result.error === 'not_found') throw notFound('assignment');
        throw new Problem(409, 'conflict', result.error === 'already_refunded' ? 'This lead was already refunded.' : 'This lead already has an open or approved dispute.');
      }
      return { status: 201, body: { dispute: disputeView(result.dispute) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/disputes',
    operationId: 'listDisputes',
    tag: 'Disputes',
    summary: "Disputes: the agency's (admin) or my own (buyer), newest first",
    roles: ['admin', 'buyer'],
    query: DisputesQuery,
    responses: { 200: { description: 'a page', schema: Responses.Disputes }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const scope = { agencyId: principal.agencyId, buyerId: principal.kind === 'buyer' ? principal.buyerId : undefined, status: query.status };
      const page = await listDisputes(services.db, scope, pageArgs(query));
      return { status: 200, body: listBody('disputes', page, disputeView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/disputes/:id',
    operationId: 'getDispute',
    tag: 'Disputes',
    summary: 'One dispute (an admin: any of the agency; a buyer: its own)',
    roles: ['admin', 'buyer'],
    params: IdParams,
    responses: { 200: { description: 'the dispute', schema: Responses.Dispute }, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, services }) {
      const dispute = await getDispute(services.db, principal.agencyId, params.id);
      if (!dispute || (principal.kind === 'buyer' && dispute.buyerId !== principal.buyerId)) throw notFound('dispute');
      return { status: 200, body: { dispute: disputeView(dispute) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/disputes/:id/resolve',
    operationId: 'resolveDispute',
    tag: 'Disputes',
    summary: 'Approve (refund the price through the ledger) or reject a dispute',
    roles: ['admin'],
    params: IdParams,
    body: DisputeResolve,
    responses: {
      200: { description: 'resolved', schema: Responses.DisputeResolved },
      409: { description: 'already resolved (`dispute_not_open`)' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const result = await resolveDispute(services.db, { agencyId: principal.agencyId, disputeId: params.id, approve: body.approve, note: body.note });
      if (!result.ok) {
        if (result.error === 'not_found') throw notFound('dispute');
        throw new Problem(409, 'dispute_not_open', 'The dispute is already resolved.');
      }
      const refund = result.refund ? { entry: ledgerEntryView(result.refund.entry), balance: result.refund.balance } : null;
      return { status: 200, body: { dispute: disputeView(result.dispute), refund } };
    },
  }),
];
