/**
 * Campaigns: what is sold (service line, price rules, preview), how (ping
 * post or push, window, winners, strategy), to whom (pool) and what happens
 * to unsold leads (fallback). Changes affect new leads; a lead in flight keeps
 * the settings it was routed with.
 */
import { createCampaign, type NewCampaign } from '../../db/admin';
import { agencyBuyerIds, getCampaign, listCampaigns, updateCampaign } from '../../db/queries';
import { validatePriceRules } from '../../domain/pricing';
import type { PriceRules } from '../../domain/types';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route, type AnyRoute } from '../route';
import { CampaignCreate, CampaignPatch, CampaignsQuery, IdParams, Responses } from '../schemas';
import type { ApiServices } from '../services';
import { describeErrors, invalidField } from '../validate';
import { campaignView } from '../views';
import { checkServiceLines } from './buyers';

interface CampaignInput {
  serviceLine?: string;
  price?: PriceRules;
  fallbackCampaignId?: string | null;
  buyerIds?: string[];
  buyers?: { buyerId: string; priority?: number; weight?: number }[];
}

/** The checks a schema cannot make alone; answers the buyer pool to store (undefined: unchanged). */
async function checkCampaignInput(services: ApiServices, agencyId: string, input: CampaignInput, selfId?: string): Promise<NewCampaign['buyers']> {
  if (input.serviceLine !== undefined) await checkServiceLines(services, agencyId, [input.serviceLine], 'serviceLine');
  if (input.price !== undefined) {
    const problems = validatePriceRules(input.price);
    if (problems.length) {
      const errors = problems.map((message) => ({ in: 'body' as const, path: 'price', message }));
      throw new Problem(400, 'validation_failed', describeErrors(errors), { errors });
    }
  }
  if (input.fallbackCampaignId) {
    if (input.fallbackCampaignId === selfId) throw invalidField('fallbackCampaignId', 'a campaign cannot fall back to itself');
    if (!(await getCampaign(services.db, agencyId, input.fallbackCampaignId))) {
      throw new Problem(404, 'not_found', 'fallback campaign not found', {
        errors: [{ in: 'body', path: 'fallbackCampaignId', message: 'no such campaign in this agency' }],
      });
    }
  }
  if (input.buyerIds && input.buyers) throw invalidField('buyers', 'send buyerIds or buyers, not both');
  const pool = input.buyers ?? input.buyerIds?.map((buyerId) => ({ buyerId }));
  if (!pool) return undefined;
  const field = input.buyers ? 'buyers' : 'buyerIds';
  const seen = new Set<string>();
  pool.forEach((p, i) => {
    if (seen.has(p.buyerId)) throw invalidField(`${field}.${i}`, 'listed twice');
    seen.add(p.buyerId);
  });
  const known = await agencyBuyerIds(services.db, agencyId, [...seen]);
  const i = pool.findIndex((p) => !known.has(p.buyerId));
  if (i >= 0) {
    throw new Problem(404, 'not_found', 'buyer not found', { errors: [{ in: 'body', path: `${field}.${i}`, message: 'no such buyer in this agency' }] });
  }
  return pool;
}

export const campaignRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/campaigns',
    operationId: 'createCampaign',
    tag: 'Campaigns',
    summary: 'Create a campaign (ping post or push)',
    roles: ['admin'],
    body: CampaignCreate,
    responses: { 201: { description: 'created', schema: Responses.Campaign }, ...BODY_ERRORS, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, body, services }) {
      const pool = await checkCampaignInput(services, principal.agencyId, body);
      const { buyerIds: _ids, buyers: _buyers, ...fields } = body;
      const row = await createCampaign(services.db, principal.agencyId, { ...fields, buyers: pool });
      const campaign = await getCampaign(services.db, principal.agencyId, row.id);
      return { status: 201, body: { campaign: campaignView(campaign!, campaign!.pool) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/campaigns',
    operationId: 'listCampaigns',
    tag: 'Campaigns',
    summary: "The agency's campaigns, newest first",
    roles: ['admin'],
    query: CampaignsQuery,
    responses: { 200: { description: 'a page', schema: Responses.Campaigns }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listCampaigns(services.db, principal.agencyId, pageArgs(query), { status: query.status, mode: query.mode });
      return { status: 200, body: listBody('campaigns', page, (c) => campaignView(c, c.pool)) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/campaigns/:id',
    operationId: 'getCampaign',
    tag: 'Campaigns',
    summary: 'One campaign with its buyer pool',
    roles: ['admin'],
    params: IdParams,
    responses: { 200: { description: 'the campaign', schema: Responses.Campaign }, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, services }) {
      const campaign = await getCampaign(services.db, principal.agencyId, params.id);
      if (!campaign) throw notFound('campaign');
      return { status: 200, body: { campaign: campaignView(campaign, campaign.pool) } };
    },
  }),

  route({
    method: 'patch',
    path: '/v1/campaigns/:id',
    operationId: 'updateCampaign',
    tag: 'Campaigns',
    summary: 'Change a campaign: mode switch, window, preview, price, winners, fallback, strategy, pool, caps, status',
    roles: ['admin'],
    params: IdParams,
    body: CampaignPatch,
    responses: { 200: { description: 'the campaign as changed', schema: Responses.Campaign }, ...BODY_ERRORS, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, body, services }) {
      if (!(await getCampaign(services.db, principal.agencyId, params.id))) throw notFound('campaign');
      const pool = await checkCampaignInput(services, principal.agencyId, body, params.id);
      const { buyerIds: _ids, buyers: _buyers, ...fields } = body;
      const campaign = await updateCampaign(services.db, principal.agencyId, params.id, { ...fields, pool });
      if (!campaign) throw notFound('campaign');
      return { status: 200, body: { campaign: campaignView(campaign, campaign.pool) } };
    },
  }),
];
