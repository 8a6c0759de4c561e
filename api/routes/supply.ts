/**
 * What a source key does: ping (would you take this lead, and for how much?),
 * post the full lead of an accepted ping, and read its own leads' outcomes,
 * its balance and its ledger. A source never sees a buyer, another source's
 * leads or anything of the agency beyond its own campaigns.
 */
import { getCampaign } from '../../db/campaigns';
import { leadById } from '../../db/leads';
import { sourceRefusals } from '../../db/refusals';
import { agencyTimeZone, rangeOf } from '../../db/reports';
import {
  claimPing,
  getPing,
  getSource,
  listSourceLeads,
  listSourceLedger,
  pingExpired,
  releasePing,
  sourceBalance,
} from '../../db/sources';
import { postContradictions } from '../../domain/ping';
import { type PingRejection, SUPPRESSED } from '../../domain/types';
import { rateLimited } from '../auth';
import { checkContactFields, pingSuppressed } from '../contact-gate';
import { listBody, pageArgs } from '../pagination';
import { decidePing, type PingCampaign } from '../pings';
import { postingSpecFor } from '../posting-spec';
import { notFound, Problem } from '../problem';
import { quotaHeaders, QUOTAS } from '../rate-limit';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, route } from '../route';
import { PageQuery, RangePageQuery, RangeQuery } from '../schemas';
import type { ApiServices } from '../services';
import { requirePostingSource } from '../source-access';
import { pingView, sourceLeadView, sourceLedgerEntryView } from '../views';
import { acceptedLead, leadIdFor, noteRefusal, submitLead } from './leads';
import { queryRange, rangeEcho } from './reports';
import { PingCreate, PostCreate, Responses } from './supply.schemas';

const SOURCE_ERRORS = {
  ...AUTH_ERRORS,
  403: {
    description:
      'the campaign is not allowed to this source (`campaign_not_allowed`), the source is paused (`source_paused`), or the key is not a source key (`forbidden`)',
  },
};

const noCampaign = () =>
  new Problem(404, 'not_found', 'campaign not found', {
    errors: [{ in: 'body', path: 'campaignId', message: 'no such campaign in this agency' }],
  });

async function campaignOf(services: ApiServices, agencyId: string, campaignId: string) {
  const campaign = await getCampaign(services.db, agencyId, campaignId);
  if (!campaign) throw noCampaign();
  return campaign;
}

/**
 * A ping's phone and email: the local contact checks, then the suppression lists (#23); the rejection's reason, or
 * null when they pass.
 */
async function pingContact(
  services: ApiServices,
  read: PingCampaign,
  phone: string | undefined,
  email: string | undefined,
): Promise<PingRejection | null> {
  const local = checkContactFields({ phone, email }, read.phoneCountry);
  if (local.refused) return local.refused.reason;
  const phoneE164 = local.phone?.ok ? local.phone.e164 : null;
  const suppressed = await pingSuppressed(
    services.db,
    read.campaign.agencyId,
    { phoneE164, email: email ?? null },
    read.campaign.dncRule,
  );
  return suppressed ? SUPPRESSED : null;
}

/** 409 `ping_already_posted`, with the lead the ping became (the answer a retried post reads its lead id from). */
const alreadyPosted = (leadId: string | undefined) =>
  new Problem(409, 'ping_already_posted', 'This ping was already posted.', { leadId });

export const supplyRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/pings',
    operationId: 'ping',
    quota: QUOTAS.pings,
    tag: 'Ping post',
    summary: "Ping a lead's non-identifying fields: accepted with the payout, or rejected with a reason, at once",
    description:
      'Judged with the same eligibility rules as routing, on a lead that is not stored (no workflow). A `phone` or `email` it carries is checked first ' +
      '(rejected with `invalid_phone`, `invalid_email` or `disposable_email`), then against the suppression lists (rejected `suppressed`, without saying which list), and not stored. An accepted ping may be posted once ' +
      '(POST /v1/posts) before `expiresAt`. Pings are recorded (count and accept rate in the reports) and rate-limited per source (429 `rate_limited`).',
    body: PingCreate,
    responses: {
      200: { description: 'the decision', schema: Responses.PingAnswer },
      ...BODY_ERRORS,
      404: { description: 'unknown campaign (`not_found`)' },
      ...SOURCE_ERRORS,
      429: { description: 'too many pings from this source, or too many failed authentications (`rate_limited`)' },
    },
    async handler({ principal, body, services, res }) {
      // Every answer after the token is taken carries the source's quota (problem documents too).
      const admission = services.pingLimits.admitNow(principal.sourceId);
      for (const [name, value] of Object.entries(quotaHeaders(QUOTAS.pings, services.pingLimits.options, admission))) {
        res.setHeader(name, value);
      }
      if (admission.retryAfter) throw rateLimited(admission.retryAfter, 'Too many pings from this source; slow down.');
      // The campaign and its buyers' inputs are read once for the pings asking at the same time, the source's
      // access is cached, and the pings of one turn are recorded by one INSERT (api/pings.ts).
      const read = await services.pings.campaign(principal.agencyId, body.campaignId);
      if (!read) throw noCampaign();
      const rule = await requirePostingSource(services, principal, read.campaign.id);
      // A phone or email it carries is checked (local checks, no DNS) and forgotten: the ping stores only what it is judged on.
      const { phone, email, ...fields } = body.fields;
      const contact =
        phone !== undefined || email !== undefined ? await pingContact(services, read, phone, email) : null;
      const decision = contact
        ? { decision: 'rejected' as const, reason: contact, price: null, payout: null }
        : decidePing(read, rule, fields);
      services.metrics.inc('leadwire_pings_total', { decision: decision.decision, reason: decision.reason ?? '' });
      const ping = await services.pings.record({
        agencyId: principal.agencyId,
        sourceId: principal.sourceId,
        campaignId: read.campaign.id,
        fields,
        subId: body.subId ?? null,
        clickId: body.clickId ?? null,
        ...decision,
        expiresAt: new Date(Date.now() + services.pingTtlMs),
      });
      return { status: 200, body: pingView(ping) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/posts',
    operationId: 'post',
    tag: 'Ping post',
    summary: 'Post the full lead of an accepted ping: it runs the normal lifecycle',
    description:
      'Refused when the ping is unknown (404 `ping_not_found`), was rejected (409 `ping_rejected`), has expired (410 `ping_expired`), ' +
      'was already posted (409 `ping_already_posted`, with its `leadId`), or when a field the ping carried differs (422 `post_contradicts_ping`, the fields named).',
    body: PostCreate,
    responses: {
      202: { description: 'accepted; routing runs in the background', schema: Responses.PostAccepted },
      404: { description: 'unknown ping or one of another source (`ping_not_found`)' },
      409: { description: '`ping_rejected`, `ping_already_posted`, `duplicate_lead`, `campaign_paused`' },
      410: { description: 'the ping has expired (`ping_expired`)' },
      422: {
        description:
          'the post contradicts its ping (`post_contradicts_ping`; `errors` names the fields), a contact check refused it (`invalid_phone`, `invalid_email`, `disposable_email`), or consent evidence is required (`consent_required`)',
      },
      503: { description: 'stored, but routing could not start (`service_unavailable`); it will be retried' },
      ...BODY_ERRORS,
      ...SOURCE_ERRORS,
    },
    async handler({ principal, body, services }) {
      const ping = await getPing(services.db, principal.sourceId, body.pingId);
      if (!ping)
        throw new Problem(404, 'ping_not_found', 'No ping with this id from this source.', {
          errors: [{ in: 'body', path: 'pingId', message: 'unknown ping' }],
        });
      if (ping.decision !== 'accepted')
        throw new Problem(409, 'ping_rejected', `The ping was rejected (${ping.reason}); ping again.`);
      const leadId = leadIdFor(`ping:${ping.id}`, 'post');
      // A post that claimed the ping and then failed before its lead was stored (the database lost its connection or
      // restarted between the two) left the ping posted without a lead: this post finishes it, under the same lead id.
      const unfinished = async (p: { postedAt: Date | null; leadId: string | null }) =>
        !!p.postedAt && p.leadId === leadId && !(await leadById(services.db, leadId));
      if (ping.postedAt && !(await unfinished(ping))) throw alreadyPosted(ping.leadId ?? undefined);
      const errors = postContradictions(ping, body).map((c) => ({ in: 'body' as const, ...c }));
      if (errors.length) {
        const scope = {
          agencyId: principal.agencyId,
          campaignId: ping.campaignId,
          sourceId: principal.sourceId,
          subId: body.subId ?? ping.subId,
          clickId: body.clickId ?? ping.clickId,
          pingId: ping.id,
        };
        await noteRefusal(services, scope, 'post_contradicts_ping', { field: errors[0]!.path });
        throw new Problem(422, 'post_contradicts_ping', `${errors[0]!.path}: ${errors[0]!.message}`, { errors });
      }
      const campaign = await campaignOf(services, principal.agencyId, ping.campaignId);
      await requirePostingSource(services, principal, campaign.id);

      if (!ping.postedAt && !(await claimPing(services.db, ping.id, leadId))) {
        if (await pingExpired(services.db, ping.id))
          throw new Problem(410, 'ping_expired', 'The ping has expired; ping again.', {
            expiredAt: ping.expiresAt.toISOString(),
          });
        throw alreadyPosted(leadId);
      }
      try {
        const lead = await submitLead(services, {
          agencyId: principal.agencyId,
          campaign,
          leadId,
          fields: body.fields,
          consent: body.consent ?? null,
          pingId: ping.id,
          source: {
            sourceId: principal.sourceId,
            subId: body.subId ?? ping.subId,
            clickId: body.clickId ?? ping.clickId,
          },
        });
        return {
          status: 202,
          body: { pingId: ping.id, lead: acceptedLead(lead), workflowId: lead.workflowId },
        };
      } catch (err) {
        // Two posts finishing one unfinished post at once: the second finds the first's lead.
        if (err instanceof Problem && err.code === 'duplicate_lead' && err.extra.duplicateOf === leadId)
          throw alreadyPosted(leadId);
        // Not stored (paused campaign, consent, duplicate): the ping may be posted again, corrected. Stored: it stays posted.
        if (err instanceof Problem && err.code !== 'service_unavailable') {
          await releasePing(services.db, ping.id);
        }
        throw err;
      }
    },
  }),

  route({
    method: 'get',
    path: '/v1/source/leads',
    operationId: 'mySourceLeads',
    tag: 'Source',
    summary: 'My leads and their outcomes (pending, sold, unsold, returned) with the payout of each; never the buyer',
    query: RangePageQuery,
    responses: { 200: { description: 'a page', schema: Responses.SourceLeads }, ...BAD_INPUT, ...SOURCE_ERRORS },
    async handler({ principal, query, services }) {
      const range = rangeOf(query, await agencyTimeZone(services.db, principal.agencyId));
      const page = await listSourceLeads(services.db, principal.sourceId, pageArgs(query), range);
      return { status: 200, body: listBody('leads', page, sourceLeadView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/source/spec',
    operationId: 'mySourceSpec',
    tag: 'Source',
    summary:
      'My posting spec: the ping and post fields (from the API schemas), the flow, the refusal codes and a curl example per allowed campaign',
    responses: { 200: { description: 'the spec', schema: Responses.PostingSpec }, ...BAD_INPUT, ...SOURCE_ERRORS },
    async handler({ principal, req, services }) {
      const source = await getSource(services.db, principal.agencyId, principal.sourceId);
      if (!source) throw notFound('source');
      return { status: 200, body: await postingSpecFor(services.db, req, source) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/source/balance',
    operationId: 'mySourceBalance',
    tag: 'Source',
    summary: 'What the agency owes me, and my latest ledger entries',
    responses: { 200: { description: 'the balance', schema: Responses.SourceBalance }, ...BAD_INPUT, ...SOURCE_ERRORS },
    async handler({ principal, services }) {
      const [balance, latest] = await Promise.all([
        sourceBalance(services.db, principal.sourceId),
        listSourceLedger(services.db, principal.sourceId, { limit: 20 }),
      ]);
      return { status: 200, body: { balance, entries: latest.items.map(sourceLedgerEntryView) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/source/ledger',
    operationId: 'mySourceLedger',
    tag: 'Source',
    summary: 'My ledger: payouts, reversals, settlements; newest first',
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.SourceLedger }, ...BAD_INPUT, ...SOURCE_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listSourceLedger(services.db, principal.sourceId, pageArgs(query));
      return { status: 200, body: listBody('entries', page, sourceLedgerEntryView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/source/refusals',
    operationId: 'mySourceRefusals',
    tag: 'Source',
    summary:
      'Why my leads and pings were refused: counts by reason, and my last refused leads with their sub and click ids',
    description:
      'Leads refused at intake (POST /v1/posts or /v1/leads: `invalid_phone`, `invalid_email`, `disposable_email`, `consent_required`, `duplicate_lead`, `campaign_paused`, `post_contradicts_ping`, or held in review as `suppressed` – never saying which list) and pings rejected, by reason; days in the agency time zone.',
    query: RangeQuery,
    responses: {
      200: { description: 'the refusals', schema: Responses.SourceRefusals },
      ...BAD_INPUT,
      ...SOURCE_ERRORS,
    },
    async handler({ principal, query, services }) {
      const range = await queryRange(services, principal.agencyId, query);
      const { byReason, recent } = await sourceRefusals(services.db, principal.sourceId, range);
      return {
        status: 200,
        body: {
          ...rangeEcho(range),
          byReason,
          recent: recent.map((r) => ({ ...r, at: r.at.toISOString() })),
        },
      };
    },
  }),
];
