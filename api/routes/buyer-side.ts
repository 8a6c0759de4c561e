/**
 * The buyer's side of the market (#12), beyond the buyer settings that ride
 * on PATCH /v1/buyers/:id and PATCH /v1/me: per-buyer campaign prices (the
 * agency), the pipeline status of bought leads (the buyer) and the alerts
 * sent to a buyer. Pipeline status never touches money.
 */
import { z } from 'zod';

import {
  agencyBuyerIds,
  buyerAssignment,
  buyerPipeline,
  listBuyerPrices,
  type PipelineChangeRow,
  pipelineHistory,
  PipelineMoveRefused,
  setBuyerPrice,
  setPipelineStatus,
} from '../../db/buyers';
import { getCampaign } from '../../db/campaigns';
import { listBuyerAlerts } from '../../db/deliveries';
import { auditBy } from '../audit';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { Id } from '../schema-blocks';
import { IdParams } from '../schemas';
import { invalidField } from '../validate';
import { BuyerPriceBody, PipelineBody, Responses } from './buyer-side.schemas';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function changeView(c: PipelineChangeRow) {
  return {
    id: c.id,
    assignmentId: c.assignmentId,
    status: c.status,
    note: c.note,
    jobValue: c.jobValue,
    authorKeyId: c.authorKeyId,
    at: iso(c.createdAt),
  };
}

const AssignmentParams = z.object({ id: Id.describe('the assignment id (GET /v1/me/leads: assignmentId)') }).strict();

export const buyerSideRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/campaigns/:id/buyer-prices',
    operationId: 'listBuyerPrices',
    tag: 'Campaigns',
    summary: "The campaign's per-buyer prices (fixed, or a percentage on the campaign price)",
    params: IdParams,
    responses: {
      200: { description: 'the rules', schema: Responses.BuyerPrices },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const campaign = await getCampaign(services.db, principal.agencyId, params.id);
      if (!campaign) throw notFound('campaign');
      const rows = await listBuyerPrices(services.db, campaign.id);
      return {
        status: 200,
        body: {
          buyerPrices: rows.map((r) => ({
            campaignId: r.campaignId,
            buyerId: r.buyerId,
            kind: r.kind,
            value: r.value,
            updatedAt: iso(r.updatedAt),
          })),
        },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/campaigns/:id/buyer-prices',
    operationId: 'setBuyerPrice',
    tag: 'Campaigns',
    summary: "Set (or with rule null, remove) one buyer's own price on the campaign; new offers price that buyer by it",
    description:
      'The offer shows each buyer its own price (GET /v1/offers, the feed), the sale charges it, and the eligibility snapshot records the rule. ' +
      'Highest-bid auctions ignore it: every bidder sees the floor.',
    params: IdParams,
    body: BuyerPriceBody,
    responses: {
      200: { description: 'the rule as stored (null: removed)', schema: Responses.BuyerPrice },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const campaign = await getCampaign(services.db, principal.agencyId, params.id);
      if (!campaign) throw notFound('campaign');
      if (!(await agencyBuyerIds(services.db, principal.agencyId, [body.buyerId])).has(body.buyerId))
        throw invalidField('buyerId', 'no such buyer in this agency');
      await setBuyerPrice(services.db, campaign, body.buyerId, body.rule, auditBy(principal));
      const row = (await listBuyerPrices(services.db, campaign.id)).find((r) => r.buyerId === body.buyerId);
      return {
        status: 200,
        body: {
          buyerPrice: row
            ? {
                campaignId: row.campaignId,
                buyerId: row.buyerId,
                kind: row.kind,
                value: row.value,
                updatedAt: iso(row.updatedAt),
              }
            : null,
        },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/pipeline',
    operationId: 'myPipeline',
    tag: 'Buyer',
    summary:
      'My pipeline: every lead I bought with its status (new, contacted, appointment, quoted, won_job, lost_job) and the counts per status',
    responses: { 200: { description: 'the board', schema: Responses.Pipeline }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const { counts, items } = await buyerPipeline(services.db, principal.buyerId);
      return {
        status: 200,
        body: { counts, leads: items.map((i) => ({ ...i, boughtAt: iso(i.boughtAt), changedAt: iso(i.changedAt) })) },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/leads/:id/pipeline',
    operationId: 'myLeadPipeline',
    tag: 'Buyer',
    summary: "A bought lead's pipeline status and its history (time and author of each change), newest first",
    params: AssignmentParams,
    responses: {
      200: { description: 'the history', schema: Responses.PipelineHistory },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const a = await buyerAssignment(services.db, principal.buyerId, params.id);
      if (!a) throw notFound('lead');
      const changes = await pipelineHistory(services.db, a.id);
      return {
        status: 200,
        body: { assignmentId: a.id, status: changes[0]?.status ?? 'new', changes: changes.map(changeView) },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/me/leads/:id/pipeline',
    operationId: 'setMyLeadPipeline',
    tag: 'Buyer',
    summary:
      'Mark a lead I bought: new → contacted → appointment → quoted → won_job | lost_job (with an optional note and job value); never changes money',
    description:
      'Steps may be skipped and the same status marked again (a new note); going back, or leaving won_job / lost_job, is a 409 `invalid_transition`.',
    params: AssignmentParams,
    body: PipelineBody,
    responses: {
      201: { description: 'recorded', schema: Responses.PipelineChange },
      409: { description: 'a move back, or out of a final status (`invalid_transition`)' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      let row;
      try {
        row = await setPipelineStatus(services.db, {
          buyerId: principal.buyerId,
          agencyId: principal.agencyId,
          assignmentId: params.id,
          status: body.status,
          note: body.note ?? null,
          jobValue: body.jobValue ?? null,
          authorKeyId: principal.keyId,
        });
      } catch (err) {
        if (err instanceof PipelineMoveRefused) throw new Problem(409, 'invalid_transition', err.message);
        throw err;
      }
      if (!row) throw notFound('lead');
      return { status: 201, body: { change: changeView(row) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/alerts',
    operationId: 'myAlerts',
    tag: 'Buyer',
    summary: 'The alerts sent to me (offer alerts, low-balance alerts) with channel and outcome, newest first',
    responses: { 200: { description: 'the latest 50', schema: Responses.Alerts }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const rows = await listBuyerAlerts(services.db, principal.buyerId);
      return {
        status: 200,
        body: {
          alerts: rows.map((a) => ({
            id: a.id,
            kind: a.kind,
            channel: a.channel,
            offerId: a.offerId,
            status: a.status,
            attempts: a.attempts,
            lastError: a.lastError,
            createdAt: iso(a.createdAt),
            sentAt: iso(a.sentAt),
          })),
        },
      };
    },
  }),
];
