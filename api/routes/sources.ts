/**
 * The agency's lead sources: create them (with a key, shown once), allow
 * campaigns with a payout rule each, rotate and revoke their keys, and read
 * their ledger, leads and posting spec; record what the agency paid a source
 * (a settlement) or a correction (an adjustment). Every lookup is scoped to the caller's agency, so
 * another agency's source is a 404.
 */
import crypto from 'node:crypto';

import { getCampaign } from '../../db/campaigns';
import { issueKey, revokeAllSourceKeys } from '../../db/keys';
import { pgErrorOf } from '../../db/ledger';
import { agencyTimeZone, rangeOf } from '../../db/reports';
import {
  changeSource,
  changeSourceCampaign,
  createSourceWithKey,
  getSource,
  listSourceLeads,
  listSourceLedger,
  listSources,
  recordSourceSettlement,
  sourceCampaignRules,
} from '../../db/sources';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { postingSpecFor } from '../posting-spec';
import { balanceTooLarge, notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams, PageQuery, RangePageQuery } from '../schemas';
import type { ApiServices } from '../services';
import { sourceCampaignView, sourceLeadView, sourceLedgerEntryView, sourceView } from '../views';
import {
  Responses,
  SourceCampaignSet,
  SourceCreate,
  SourceKeyCreate,
  SourcePatch,
  SourceSettlementCreate,
} from './sources.schemas';

async function loadSource(services: ApiServices, agencyId: string, id: string) {
  const source = await getSource(services.db, agencyId, id);
  if (!source) throw notFound('source');
  return source;
}

async function sourceBody(services: ApiServices, agencyId: string, id: string) {
  const source = await loadSource(services, agencyId, id);
  const rules = await sourceCampaignRules(services.db, source.id);
  return { source: sourceView(source, source.balance), campaigns: rules.map(sourceCampaignView) };
}

export const sourceRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/sources',
    operationId: 'createSource',
    tag: 'Sources',
    summary: 'Create a lead source (a supplier) with its payout wallet; answers its API key, shown once',
    body: SourceCreate,
    responses: { 201: { description: 'created', schema: Responses.SourceCreated }, ...BODY_ERRORS, ...AUTH_ERRORS },
    async handler({ principal, body, services }) {
      const { source, key } = await createSourceWithKey(services.db, principal.agencyId, body, auditBy(principal));
      return { status: 201, body: { source: sourceView(source, 0), apiKey: key.key } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/sources',
    operationId: 'listSources',
    tag: 'Sources',
    summary: "The agency's sources with their balances, newest first",
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.Sources }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listSources(services.db, principal.agencyId, pageArgs(query));
      return { status: 200, body: listBody('sources', page, (s) => sourceView(s, s.balance)) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/sources/:id',
    operationId: 'getSource',
    tag: 'Sources',
    summary: 'A source with its balance and its campaigns (allowed or not) with their payout rules',
    params: IdParams,
    responses: {
      200: { description: 'the source', schema: Responses.Source },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      return { status: 200, body: await sourceBody(services, principal.agencyId, params.id) };
    },
  }),

  route({
    method: 'patch',
    path: '/v1/sources/:id',
    operationId: 'updateSource',
    tag: 'Sources',
    summary: 'Rename a source, or pause it (its pings are rejected and its posts refused) and resume it',
    params: IdParams,
    body: SourcePatch,
    responses: {
      200: { description: 'the source', schema: Responses.Source },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const row = await changeSource(services.db, principal.agencyId, params.id, body, auditBy(principal));
      if (!row) throw notFound('source');
      services.sourceAccess.forgetSource(row.id); // this process at once; the others within a second
      return { status: 200, body: await sourceBody(services, principal.agencyId, params.id) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/sources/:id/campaigns',
    operationId: 'setSourceCampaign',
    tag: 'Sources',
    summary:
      'Allow a campaign for a source with its payout rule (fixed per sold lead, or a share of the sale); or disallow it',
    description:
      'One rule per source and campaign: posting it again replaces the rule. The payout of a sale uses the rule in force at the sale. Without `payout`, only `allowed` changes and the rule keeps its payout: `{"campaignId": …, "allowed": false}` stops the source posting there (404 when it has no rule for the campaign); allowing a campaign the first time needs a `payout` (400).',
    params: IdParams,
    body: SourceCampaignSet,
    responses: {
      200: { description: 'the rule', schema: Responses.SourceCampaign },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const source = await loadSource(services, principal.agencyId, params.id);
      const campaign = await getCampaign(services.db, principal.agencyId, body.campaignId);
      if (!campaign) {
        throw new Problem(404, 'not_found', 'campaign not found', {
          errors: [{ in: 'body', path: 'campaignId', message: 'no such campaign in this agency' }],
        });
      }
      const target = { agencyId: principal.agencyId, sourceId: source.id, campaignId: campaign.id };
      const rule = await changeSourceCampaign(
        services.db,
        { ...target, allowed: body.allowed, payout: body.payout },
        auditBy(principal),
      );
      if (!rule && body.allowed) {
        throw new Problem(
          400,
          'validation_failed',
          'A campaign allowed to a source for the first time needs its payout rule.',
          {
            errors: [{ in: 'body', path: 'payout', message: 'required: the source has no rule for this campaign yet' }],
          },
        );
      }
      if (!rule) {
        throw new Problem(404, 'not_found', 'The source has no rule for this campaign: it cannot post there already.', {
          errors: [{ in: 'body', path: 'campaignId', message: 'no rule of this source for this campaign' }],
        });
      }
      services.sourceAccess.forgetSource(source.id); // this process at once; the others within a second
      return { status: 200, body: { campaign: sourceCampaignView({ rule, campaignName: campaign.name }) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/sources/:id/keys',
    operationId: 'createSourceKey',
    tag: 'Sources',
    summary: 'Issue a new API key for a source (shown once); optionally revoke its other keys (rotation)',
    params: IdParams,
    body: SourceKeyCreate,
    bodyOptional: true,
    responses: {
      201: { description: 'issued', schema: Responses.KeyCreated },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const source = await loadSource(services, principal.agencyId, params.id);
      const { key, revoked } = await issueKey(
        services.db,
        { kind: 'source', agencyId: principal.agencyId, sourceId: source.id },
        !!body.revokeExisting,
        auditBy(principal),
      );
      if (revoked) services.auth.forgetSource(source.id); // this process at once; the others within the key cache's lifetime
      return { status: 201, body: { apiKey: key.key, revoked } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/sources/:id/keys/revoke',
    operationId: 'revokeSourceKeys',
    tag: 'Sources',
    summary: 'Revoke every key of a source at once (issue a new one with POST /v1/sources/:id/keys)',
    params: IdParams,
    responses: {
      200: { description: 'revoked', schema: Responses.SourceKeysRevoked },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const source = await loadSource(services, principal.agencyId, params.id);
      const revoked = await revokeAllSourceKeys(
        services.db,
        { agencyId: principal.agencyId, sourceId: source.id },
        auditBy(principal),
      );
      services.auth.forgetSource(source.id);
      return { status: 200, body: { revoked } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/sources/:id/ledger',
    operationId: 'sourceLedger',
    tag: 'Sources',
    summary: "A source's ledger: payouts, reversals, settlements; newest first",
    params: IdParams,
    query: PageQuery,
    responses: {
      200: { description: 'a page', schema: Responses.SourceLedger },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, query, services }) {
      const source = await loadSource(services, principal.agencyId, params.id);
      const page = await listSourceLedger(services.db, source.id, pageArgs(query));
      return { status: 200, body: listBody('entries', page, sourceLedgerEntryView) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/sources/:id/settlements',
    operationId: 'recordSourceSettlement',
    tag: 'Sources',
    summary:
      'Record a payment to a source (a settlement, lowering what it is owed) or a correction (an adjustment, either way); Idempotency-Key: a retry records once',
    description:
      'A settlement of more than the balance is refused (409 `settlement_exceeds_balance`, nothing written), decided under the wallet lock so concurrent settlements never pay more than is owed; so is an adjustment that would take the balance below zero (409 `adjustment_exceeds_balance`). The source sees the entry, with its reference, in its own ledger.',
    params: IdParams,
    body: SourceSettlementCreate,
    idempotent: true,
    responses: {
      201: { description: 'recorded', schema: Responses.SourceSettlement },
      409: {
        description:
          'more than the source is owed (`settlement_exceeds_balance`, `adjustment_exceeds_balance`), or Idempotency-Key reused with another body (`idempotency_conflict`)',
      },
      422: { description: 'the balance would exceed the largest storable amount (`validation_failed`)' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, idempotencyKey, services }) {
      const source = await loadSource(services, principal.agencyId, params.id);
      // A settlement is written as what it takes off the balance; an adjustment as given.
      const amount = body.kind === 'settlement' ? -body.amount : body.amount;
      let result;
      try {
        result = await recordSourceSettlement(services.db, {
          sourceId: source.id,
          agencyId: principal.agencyId,
          kind: body.kind,
          amount,
          reference: body.reference,
          // The ledger's own key makes the entry single even if the idempotency record is lost.
          idempotencyKey: `source-settlement:${source.id}:${idempotencyKey ?? crypto.randomUUID()}`,
        });
      } catch (err) {
        if (pgErrorOf(err).code === '22003') throw balanceTooLarge();
        throw err;
      }
      if (result.refused) {
        const settling = body.kind === 'settlement';
        throw new Problem(
          409,
          settling ? 'settlement_exceeds_balance' : 'adjustment_exceeds_balance',
          settling
            ? `The source is owed ${result.balance} credits: a settlement of ${body.amount} would pay more than that.`
            : `The source is owed ${result.balance} credits: an adjustment of ${body.amount} would take the balance below zero.`,
          {
            balance: result.balance,
            errors: [{ in: 'body', path: 'amount', message: `more than the balance (${result.balance})` }],
          },
        );
      }
      const { entry } = result;
      return { status: 201, body: { balance: entry.balanceAfter, entry: sourceLedgerEntryView(entry) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/sources/:id/leads',
    operationId: 'sourceLeads',
    tag: 'Sources',
    summary: "A source's leads with their outcomes and payouts, newest first (date range in the agency time zone)",
    params: IdParams,
    query: RangePageQuery,
    responses: {
      200: { description: 'a page', schema: Responses.SourceLeads },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, query, services }) {
      const source = await loadSource(services, principal.agencyId, params.id);
      const range = rangeOf(query, await agencyTimeZone(services.db, principal.agencyId));
      const page = await listSourceLeads(services.db, source.id, pageArgs(query), range);
      return { status: 200, body: listBody('leads', page, sourceLeadView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/sources/:id/spec',
    operationId: 'sourceSpec',
    tag: 'Sources',
    summary:
      "A source's posting spec, as the source itself reads it at GET /v1/source/spec (to hand over, or check before sharing its key)",
    params: IdParams,
    responses: {
      200: { description: 'the spec', schema: Responses.PostingSpec },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, req, services }) {
      const source = await loadSource(services, principal.agencyId, params.id);
      return { status: 200, body: await postingSpecFor(services.db, req, source) };
    },
  }),
];
