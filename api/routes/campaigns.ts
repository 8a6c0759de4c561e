/**
 * Campaigns: what is sold (service line, price rules, preview), how (ping
 * post or push, window, winners, strategy), to whom (pool) and what happens
 * to unsold leads (fallback). Changes affect new leads; a lead in flight keeps
 * the settings it was routed with.
 */
import { agencyBuyerFilters, agencyBuyerIds } from '../../db/buyers';
import { createCampaign, getCampaign, listCampaigns, type NewCampaign, updateCampaign } from '../../db/campaigns';
import { type CampaignRules, evaluateEligibility } from '../../db/eligibility';
import { buyersWithEndpoint } from '../../db/endpoints';
import { recentLeads } from '../../db/leads';
import { evaluateFilters, filterableLead } from '../../domain/filters';
import { validatePriceRules } from '../../domain/pricing';
import type { AuctionKind, DeliveryMode, PingTree, PriceRules } from '../../domain/types';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams } from '../schemas';
import type { ApiServices } from '../services';
import { describeErrors, invalidField } from '../validate';
import { campaignView } from '../views';
import { checkServiceLines } from './buyers';
import { CampaignCreate, CampaignPatch, CampaignsQuery, DryRunBody, Responses } from './campaigns.schemas';

interface CampaignInput {
  mode?: DeliveryMode;
  auction?: AuctionKind;
  serviceLine?: string;
  price?: PriceRules;
  fallbackCampaignId?: string | null;
  buyerIds?: string[];
  buyers?: { buyerId: string; priority?: number; weight?: number }[];
  pingTree?: PingTree | null;
  /** The tree already stored (a patch): it satisfies `ping_tree`, and is not re-checked unless sent again. */
  storedPingTree?: PingTree | null;
  endpointBidders?: string[] | null;
  /** The endpoint bidders already stored (a patch): a switch away from `highest_bid` must drop them. */
  storedEndpointBidders?: string[] | null;
  maxWinners?: number;
}

/**
 * Buyer lists that name endpoint buyers (a ping tree's tiers, a highest-bid auction's endpoint bidders): each a buyer
 * of the agency with an endpoint, each once; a 400 names the place (`<path>.<i>`).
 */
async function checkEndpointBuyers(
  services: ApiServices,
  agencyId: string,
  lists: { path: string; buyerIds: string[]; what: string }[],
): Promise<void> {
  const seen = new Set<string>();
  const withEndpoint = await buyersWithEndpoint(
    services.db,
    agencyId,
    lists.flatMap((l) => l.buyerIds),
  );
  for (const { path, buyerIds, what } of lists)
    buyerIds.forEach((buyerId, i) => {
      if (seen.has(buyerId)) throw invalidField(`${path}.${i}`, `listed twice in the ${what}`);
      seen.add(buyerId);
      if (!withEndpoint.has(buyerId)) throw invalidField(`${path}.${i}`, 'not a buyer of this agency with an endpoint');
    });
}

/** A ping tree's tiers list endpoint buyers of the agency, each once in the whole tree. */
async function checkPingTree(services: ApiServices, agencyId: string, tree: PingTree): Promise<void> {
  const lists = tree.tiers.map((tier, t) => ({
    path: `pingTree.tiers.${t}.buyerIds`,
    buyerIds: tier.buyerIds,
    what: 'ping tree',
  }));
  await checkEndpointBuyers(services, agencyId, lists);
}

/** The checks a schema cannot make alone; answers the buyer pool to store (undefined: unchanged). */
async function checkCampaignInput(
  services: ApiServices,
  agencyId: string,
  input: CampaignInput,
  selfId?: string,
): Promise<NewCampaign['buyers']> {
  if ((input.auction === 'highest_bid' || input.auction === 'ping_tree') && input.mode === 'push')
    throw invalidField('auction', `a ${input.auction} auction is a ping-post mechanic: use mode "ping_post"`);
  if (input.auction === 'ping_tree' && !(input.pingTree === undefined ? input.storedPingTree : input.pingTree))
    throw invalidField('pingTree', 'a ping_tree auction needs its tiers: {"tiers": [{"buyerIds": [...], "floor": N}]}');
  if (input.pingTree) await checkPingTree(services, agencyId, input.pingTree);
  const endpointBidders = input.endpointBidders === undefined ? input.storedEndpointBidders : input.endpointBidders;
  if (endpointBidders?.length && input.auction !== 'highest_bid')
    throw invalidField(
      'endpointBidders',
      'only a highest_bid auction takes endpoint bidders (send "auction": "highest_bid", or "endpointBidders": null)',
    );
  // One post at a time: a post whose fate is unknown stops the auction for a person, which a shared lead's other
  // sales would not wait for.
  if (endpointBidders?.length && (input.maxWinners ?? 1) > 1)
    throw invalidField('endpointBidders', 'endpoint bidders buy exclusive leads: maxWinners must be 1');
  if (input.endpointBidders)
    await checkEndpointBuyers(services, agencyId, [
      { path: 'endpointBidders', buyerIds: input.endpointBidders, what: 'endpoint bidders' },
    ]);
  if (input.serviceLine !== undefined) await checkServiceLines(services, agencyId, [input.serviceLine], 'serviceLine');
  if (input.price !== undefined) {
    const problems = validatePriceRules(input.price);
    if (problems.length) {
      const errors = problems.map((message) => ({ in: 'body' as const, path: 'price', message }));
      throw new Problem(400, 'validation_failed', describeErrors(errors), { errors });
    }
  }
  if (input.fallbackCampaignId) {
    if (input.fallbackCampaignId === selfId)
      throw invalidField('fallbackCampaignId', 'a campaign cannot fall back to itself');
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
    throw new Problem(404, 'not_found', 'buyer not found', {
      errors: [{ in: 'body', path: `${field}.${i}`, message: 'no such buyer in this agency' }],
    });
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
    body: CampaignCreate,
    responses: {
      201: { description: 'created', schema: Responses.Campaign },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      const pool = await checkCampaignInput(services, principal.agencyId, body);
      const { buyerIds: _ids, buyers: _buyers, ...fields } = body;
      const row = await createCampaign(
        services.db,
        principal.agencyId,
        { ...fields, buyers: pool },
        auditBy(principal),
      );
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
    query: CampaignsQuery,
    responses: { 200: { description: 'a page', schema: Responses.Campaigns }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listCampaigns(services.db, principal.agencyId, pageArgs(query), {
        status: query.status,
        mode: query.mode,
      });
      return { status: 200, body: listBody('campaigns', page, (c) => campaignView(c, c.pool)) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/campaigns/:id',
    operationId: 'getCampaign',
    tag: 'Campaigns',
    summary: 'One campaign with its buyer pool',
    params: IdParams,
    responses: {
      200: { description: 'the campaign', schema: Responses.Campaign },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
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
    params: IdParams,
    body: CampaignPatch,
    responses: {
      200: { description: 'the campaign as changed', schema: Responses.Campaign },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const current = await getCampaign(services.db, principal.agencyId, params.id);
      if (!current) throw notFound('campaign');
      const pool = await checkCampaignInput(
        services,
        principal.agencyId,
        {
          mode: current.mode,
          auction: current.auction,
          storedPingTree: current.pingTree,
          storedEndpointBidders: current.endpointBidders,
          maxWinners: current.maxWinners,
          ...body,
        },
        params.id,
      );
      const { buyerIds: _ids, buyers: _buyers, ...fields } = body;
      const campaign = await updateCampaign(
        services.db,
        principal.agencyId,
        params.id,
        { ...fields, pool },
        auditBy(principal),
      );
      if (!campaign) throw notFound('campaign');
      return { status: 200, body: { campaign: campaignView(campaign, campaign.pool) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/campaigns/dry-run',
    operationId: 'dryRunCampaign',
    tag: 'Campaigns',
    summary: "Run a campaign configuration (stored or draft) against the agency's last N leads, selling nothing",
    description:
      'For each lead: who would have been eligible, who excluded with which reason, and at what price (the floor for a highest-bid auction), ' +
      "as of now (today's balances, caps and pauses). Nothing is written: no offer, no event, no charge.",
    body: DryRunBody,
    responses: {
      200: { description: 'the verdicts', schema: Responses.DryRun },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      const base = body.campaignId ? await getCampaign(services.db, principal.agencyId, body.campaignId) : undefined;
      if (body.campaignId && !base) {
        throw new Problem(404, 'not_found', 'campaign not found', {
          errors: [{ in: 'body', path: 'campaignId', message: 'no such campaign in this agency' }],
        });
      }
      const draft = body.campaign ?? {};
      if (!base && (!draft.serviceLine || !draft.price)) {
        const errors = [
          ...(draft.serviceLine
            ? []
            : [{ in: 'body' as const, path: 'campaign.serviceLine', message: 'required without campaignId' }]),
          ...(draft.price
            ? []
            : [{ in: 'body' as const, path: 'campaign.price', message: 'required without campaignId' }]),
        ];
        throw new Problem(400, 'validation_failed', describeErrors(errors), { errors });
      }
      const pool = await checkCampaignInput(
        services,
        principal.agencyId,
        {
          mode: draft.mode ?? base?.mode,
          auction: draft.auction ?? base?.auction,
          ...draft,
          fallbackCampaignId: undefined,
        },
        base?.id,
      );
      const rules: CampaignRules = {
        // A draft's caps count nothing sold yet; a stored campaign's caps count its sales.
        id: base?.id ?? null,
        serviceLine: draft.serviceLine ?? base!.serviceLine,
        price: draft.price ?? base!.price,
        previewFields: draft.previewFields ?? base?.previewFields ?? [],
        caps: draft.caps ?? base?.caps ?? {},
        pool: pool ? pool.map((p) => p.buyerId) : (base?.pool.map((p) => p.buyerId) ?? null),
        auction:
          (draft.mode ?? base?.mode) === 'push' ? 'first_claim' : (draft.auction ?? base?.auction ?? 'first_claim'),
        floorPrice: draft.floorPrice !== undefined ? draft.floorPrice : (base?.floorPrice ?? null),
      };
      const agencyBuyers = await agencyBuyerFilters(services.db, principal.agencyId);
      const names = new Map(agencyBuyers.map((b) => [b.id, b.name]));
      const filtered = agencyBuyers.filter((b) => b.filters?.rules.length);
      const filterPassesByBuyer: Record<string, number> = Object.fromEntries(filtered.map((b) => [b.id, 0]));
      const recent = await recentLeads(services.db, principal.agencyId, body.lastN);
      const exclusions: Record<string, number> = {};
      const eligibleByBuyer: Record<string, number> = {};
      const prices: number[] = [];
      const results = [];
      for (const lead of recent) {
        // Each buyer's own filters on each past lead, whatever else would exclude it (#12).
        for (const b of filtered)
          if (evaluateFilters(b.filters, filterableLead(lead.fields, lead.phoneType)).pass)
            filterPassesByBuyer[b.id]!++;
        try {
          const r = await evaluateEligibility(services.db, lead, rules);
          const eligible = r.targets
            .filter((t) => t.eligible)
            .map((t) => ({ buyerId: t.buyerId, buyerName: names.get(t.buyerId) ?? '' }));
          const excluded = r.targets
            .filter((t) => !t.eligible)
            .map((t) => ({
              buyerId: t.buyerId,
              buyerName: names.get(t.buyerId) ?? '',
              reason: t.reason!,
              detail: t.detail ?? '',
            }));
          for (const e of excluded) exclusions[e.reason] = (exclusions[e.reason] ?? 0) + 1;
          for (const e of eligible) eligibleByBuyer[e.buyerId] = (eligibleByBuyer[e.buyerId] ?? 0) + 1;
          prices.push(r.price);
          results.push({
            leadId: lead.id,
            createdAt: lead.createdAt.toISOString(),
            price: r.price,
            eligible,
            excluded,
          });
        } catch (err) {
          // Rules that cannot price this lead (e.g. a non-finite result) are reported, not thrown.
          results.push({
            leadId: lead.id,
            createdAt: lead.createdAt.toISOString(),
            price: null,
            eligible: [],
            excluded: [],
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
      const withEligible = results.filter((r) => r.eligible.length > 0).length;
      return {
        status: 200,
        body: {
          campaign: {
            id: base?.id ?? null,
            serviceLine: rules.serviceLine,
            mode: draft.mode ?? base?.mode ?? 'ping_post',
            auction: rules.auction ?? 'first_claim',
          },
          leads: results,
          summary: {
            leads: results.length,
            withEligibleBuyers: withEligible,
            withoutEligibleBuyers: results.length - withEligible,
            exclusions,
            eligibleByBuyer,
            filterPassesByBuyer,
            price: {
              min: prices.length ? Math.min(...prices) : null,
              max: prices.length ? Math.max(...prices) : null,
              total: prices.reduce((a, b) => a + b, 0),
            },
          },
        },
      };
    },
  }),
];
