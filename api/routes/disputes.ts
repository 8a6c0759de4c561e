/**
 * Disputes: a buyer contests a lead it bought; the agency approves (the
 * price goes back through the ledger) or rejects it.
 */
import { getCampaign } from '../../db/campaigns';
import { getDispute, listDisputes, openDispute, resolveDispute } from '../../db/disputes';
import { startReofferWorkflow } from '../../temporal/calls';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams } from '../schemas';
import { disputeView, ledgerEntryView } from '../views';
import { DisputeCreate, DisputeResolve, DisputesQuery, Responses } from './disputes.schemas';

export const disputeRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/assignments/:id/disputes',
    operationId: 'openDispute',
    tag: 'Disputes',
    summary: 'Dispute a lead I bought (the id is the assignmentId of the win)',
    params: IdParams,
    body: DisputeCreate,
    responses: {
      201: { description: 'opened', schema: Responses.Dispute },
      409: { description: 'already refunded, or a dispute is open or approved (`conflict`)' },
      422: {
        description:
          "outside the agency's return rules: `return_window_closed`, `reason_not_allowed` or `return_rate_exceeded`",
      },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const result = await openDispute(services.db, {
        assignmentId: params.id,
        buyerId: principal.buyerId,
        reason: body.reason,
        code: body.code,
        by: auditBy(principal),
      });
      if (!result.ok) {
        if (result.error === 'not_found') throw notFound('assignment');
        if ('detail' in result) throw new Problem(422, result.error, result.detail);
        throw new Problem(
          409,
          'conflict',
          result.error === 'already_refunded'
            ? 'This lead was already refunded.'
            : 'This lead already has an open or approved dispute.',
        );
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
    query: DisputesQuery,
    responses: { 200: { description: 'a page', schema: Responses.Disputes }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const scope = {
        agencyId: principal.agencyId,
        buyerId: principal.kind === 'buyer' ? principal.buyerId : undefined,
        status: query.status,
      };
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
    params: IdParams,
    responses: {
      200: { description: 'the dispute', schema: Responses.Dispute },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
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
    summary:
      'Approve (refund the price through the ledger; optionally re-offer the lead as a new auction) or reject a dispute',
    description:
      'With `reoffer: true` an approval also starts a new auction of the lead (its campaign, or `campaignId`); the buyer who returned it is ' +
      'excluded (`already_bought`), as is anyone who bought the same person inside the duplicate window.',
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
      if (body.campaignId && !(await getCampaign(services.db, principal.agencyId, body.campaignId))) {
        throw new Problem(404, 'not_found', 'campaign not found', {
          errors: [{ in: 'body', path: 'campaignId', message: 'no such campaign in this agency' }],
        });
      }
      const result = await resolveDispute(services.db, {
        agencyId: principal.agencyId,
        disputeId: params.id,
        approve: body.approve,
        note: body.note,
        reoffer: body.approve && body.reoffer ? { campaignId: body.campaignId ?? null } : null,
        by: auditBy(principal),
      });
      if (!result.ok) {
        if (result.error === 'not_found') throw notFound('dispute');
        throw new Problem(409, 'dispute_not_open', 'The dispute is already resolved.');
      }
      const refund = result.refund
        ? { entry: ledgerEntryView(result.refund.entry), balance: result.refund.balance }
        : null;
      let reoffer = null;
      if (result.reoffer) {
        // One new auction per dispute: the workflow id is derived from it, so a retried call cannot start two.
        const lead = { id: result.reoffer.leadId, agencyId: principal.agencyId, campaignId: result.reoffer.campaignId };
        const { workflowId } = await startReofferWorkflow(
          services.temporal,
          services.taskQueue,
          lead,
          result.dispute.id,
        );
        reoffer = { leadId: result.reoffer.leadId, workflowId, campaignId: result.reoffer.campaignId };
      }
      return { status: 200, body: { dispute: disputeView(result.dispute), refund, reoffer } };
    },
  }),
];
