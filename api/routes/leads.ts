/**
 * Leads: intake (store, dedupe, start the lead's workflow), the agency's
 * reads, the lead timeline, and manual review (re-offer, assign, reject),
 * which are Updates on the lead's workflow.
 */
import crypto from 'node:crypto';

import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

import { claimRefusal, withLead } from '../../claims/relay';
import { agencySettings, duplicateWindowMs } from '../../db/agencies';
import { leadAssignments } from '../../db/assignments';
import { agencyBuyerIds } from '../../db/buyers';
import { type CampaignRow, getCampaign } from '../../db/campaigns';
import { getLead, intakeLead, type LeadRow, type LeadSource, listLeads } from '../../db/leads';
import { leadOffers, leadTimeline } from '../../db/offers';
import { recordRefusal, type RefusalInput } from '../../db/refusals';
import { getSource } from '../../db/sources';
import { DEFAULT_PHONE_COUNTRY } from '../../domain/contact-checks';
import { dedupeKeys } from '../../domain/dedupe';
import {
  type ConsentEvidence,
  type IntakeRefusal,
  type LeadFields,
  type LeadStatus,
  SUPPRESSED,
} from '../../domain/types';
import { DeadlineExceeded, executeManualAction, type LeadToRoute, startLeadWorkflow } from '../../temporal/calls';
import type { ManualAction, ManualActionResult } from '../../workflows/messages';
import { auditBy } from '../audit';
import type { AdminPrincipal } from '../auth';
import { checkLeadCertificate, checkLeadContacts, checkLeadSuppression, contactProblem } from '../contact-gate';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { ClaimRefused, IdParams } from '../schemas';
import { scrubLead, scrubProblem } from '../scrub-gate';
import type { ApiServices } from '../services';
import { requirePostingSource } from '../source-access';
import { assignmentView, leadView, offerAdminView, timelineEventView } from '../views';
import { AssignBody, LeadCreate, LeadsQuery, RejectBody, ReofferBody, Responses } from './leads.schemas';

/**
 * With an Idempotency-Key the lead's id is derived from it: a retry after a
 * failure finds the lead it already stored and only (re)starts its workflow.
 */
export function leadIdFor(owner: string, idempotencyKey: string | null): string {
  if (!idempotencyKey) return crypto.randomUUID();
  const b = crypto.createHash('sha256').update(`lead:${owner}:${idempotencyKey}`).digest();
  b[6] = (b[6]! & 0x0f) | 0x80; // version 8: custom (name-based on SHA-256)
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

async function startRouting(services: ApiServices, lead: LeadToRoute): Promise<void> {
  try {
    await startLeadWorkflow(services.temporal, services.taskQueue, lead, { eager: services.eagerStart }); // a retried intake: one auction per lead
  } catch (err) {
    services.logger.error(`[api] could not start the workflow of lead ${lead.id}`, err);
    throw new Problem(
      503,
      'service_unavailable',
      'The lead is stored but its routing could not start; retry with the same Idempotency-Key.',
      {
        leadId: lead.id,
        headers: { 'Retry-After': '2' },
      },
    );
  }
}

/** Who and what a refusal at intake is about (db/refusals.ts): the agency, campaign and source, never the person. */
export type RefusalScope = Pick<RefusalInput, 'agencyId' | 'campaignId' | 'sourceId' | 'subId' | 'clickId' | 'pingId'>;

/**
 * Records a refusal at intake (#23 item 7) before it is answered: one INSERT on the refusing path only. A record
 * that fails is logged; the refusal is answered all the same.
 */
export async function noteRefusal(
  services: ApiServices,
  scope: RefusalScope,
  reason: IntakeRefusal,
  more: { field?: string; leadId?: string } = {},
): Promise<void> {
  try {
    await recordRefusal(services.db, { ...scope, reason, ...more });
  } catch (err) {
    services.logger.error(`[api] could not record the intake refusal ${reason}`, err);
  }
}

/**
 * The intake every lead goes through, from an admin's POST /v1/leads or a
 * source's post after its ping: the campaign must be active, consent evidence
 * present when the agency requires it, the person not a duplicate; then the
 * lead is stored and its workflow started. Answers the stored lead. Before
 * anything else its phone and email pass the contact checks (api/contact-gate.ts).
 * Every refusal, and a lead held in review as `suppressed`, is recorded for the
 * reports and the source (`noteRefusal`).
 */
export async function submitLead(
  services: ApiServices,
  input: {
    agencyId: string;
    campaign: CampaignRow;
    leadId: string;
    fields: LeadFields;
    consent: ConsentEvidence | null;
    source: LeadSource | null;
    /** The ping a source's post answers. */
    pingId?: string;
  },
): Promise<LeadRow> {
  const { campaign } = input;
  const scope: RefusalScope = {
    agencyId: input.agencyId,
    campaignId: campaign.id,
    sourceId: input.source?.sourceId ?? null,
    subId: input.source?.subId ?? null,
    clickId: input.source?.clickId ?? null,
    pingId: input.pingId ?? null,
  };
  if (campaign.status !== 'active') {
    await noteRefusal(services, scope, 'campaign_paused');
    throw new Problem(409, 'campaign_paused', `Campaign "${campaign.name}" is paused.`);
  }
  const settings = await agencySettings(services.db, input.agencyId);
  // The contact checks first (#23): a refused phone or email is a 422 with its reason code, nothing stored.
  const contact = await checkLeadContacts(input.fields, {
    country: settings.phoneCountry ?? DEFAULT_PHONE_COUNTRY,
    mx: services.mx,
  });
  if (!contact.ok) {
    await noteRefusal(services, scope, contact.reason, { field: `fields.${contact.field}` });
    throw contactProblem(contact);
  }
  if (settings.requireConsent && !input.consent) {
    await noteRefusal(services, scope, 'consent_required', { field: 'consent' });
    throw new Problem(
      422,
      'consent_required',
      'This agency accepts leads only with consent evidence: send `consent` {text, timestamp, ip, userAgent, certificateUrl?}.',
      {
        errors: [{ in: 'body', path: 'consent', message: 'required by the agency' }],
      },
    );
  }
  // The campaign's consent certificate (#23): missing, not the provider's or too old is a 422, nothing stored.
  const certificate = checkLeadCertificate(campaign.consentCertificate ?? null, input.consent);
  if (certificate) contact.checks.push(certificate);
  // The suppression lists (#23): a person on one is stored (the agency sees whom it refused, and why) but offered to
  // nobody: the lead goes to manual review with `suppressed`. A Do-Not-Call hit may pass on written consent, by the
  // campaign's rule; either way it is on the timeline.
  const suppression = await checkLeadSuppression(services.db, {
    agencyId: input.agencyId,
    phoneE164: contact.phoneE164,
    email: input.fields.email,
    consent: input.consent,
    rule: campaign.dncRule,
  });
  contact.checks.push(suppression);
  // The third-party scrubs (#23 item 5), unless the lead is suppressed already: a disconnected line (or a litigator,
  // by the agency's rule) is refused like a bad number; an outage or a spent budget lets the lead in `not_checked`.
  const scrubs =
    suppression.result === SUPPRESSED
      ? null
      : await scrubLead(
          { db: services.db, allowlist: services.webhookAllowlist, logger: services.logger, metrics: services.metrics },
          input.agencyId,
          contact.phoneE164,
        );
  if (scrubs?.refusal) throw scrubProblem(scrubs);
  contact.checks.push(...(scrubs?.checks ?? []));
  const reviewReason = suppression.result === SUPPRESSED || scrubs?.review ? SUPPRESSED : undefined;
  const result = await intakeLead(services.db, {
    id: input.leadId,
    agencyId: input.agencyId,
    campaignId: campaign.id,
    fields: input.fields,
    consent: input.consent,
    dedupeKeys: dedupeKeys({ phoneE164: contact.phoneE164, email: input.fields.email }, campaign.serviceLine),
    contact: { phoneE164: contact.phoneE164, phoneType: contact.phoneType, checks: contact.checks },
    // The agency's window when it set one, else the process default.
    duplicateWindowMs: duplicateWindowMs(settings, services.duplicateWindowMs),
    source: input.source,
    reviewReason,
  });
  // Two posts finishing one unfinished post at once: the one that did not store the lead finds it stored by the
  // other (`existing` when the other had committed before it looked, `duplicate` when it waited on the other) – either
  // way the ping was posted by the other (a retried intake of a lead, with no ping, is answered its stored lead).
  if (result.outcome === 'duplicate' || (result.outcome === 'existing' && input.pingId)) {
    const duplicateOf = result.outcome === 'duplicate' ? result.duplicateOf : result.lead.id;
    // Its own lead (the other post's): no refusal of a new lead.
    if (duplicateOf !== input.leadId) await noteRefusal(services, scope, 'duplicate_lead', { leadId: duplicateOf });
    throw new Problem(
      409,
      'duplicate_lead',
      'The agency already has this lead (same phone or email for this service line).',
      {
        duplicateOf,
      },
    );
  }
  // A retried intake of a suppressed lead finds it stored in review and starts the same workflow.
  const suppressed = result.lead.status === 'manual_review' && result.lead.statusReason === SUPPRESSED;
  if (suppressed && result.outcome === 'created')
    await noteRefusal(services, scope, SUPPRESSED, { leadId: result.lead.id });
  await startRouting(services, { ...result.lead, ...(suppressed ? { reviewReason: SUPPRESSED } : {}) });
  return result.lead;
}

/** The lead as intake and a post answer it: `suppressed` said when that is why it waits in review (#23). */
export function acceptedLead(lead: LeadRow): { id: string; status: LeadStatus; reason?: typeof SUPPRESSED } {
  return {
    id: lead.id,
    status: lead.status,
    ...(lead.status === 'manual_review' && lead.statusReason === SUPPRESSED ? { reason: SUPPRESSED } : {}),
  };
}

async function loadLead(services: ApiServices, agencyId: string, id: string) {
  const lead = await getLead(services.db, agencyId, id);
  if (!lead) throw notFound('lead');
  return lead;
}

/** Sends an admin's decision to the lead's workflow; refused unless the lead is in manual review. */
async function manualAction(
  services: ApiServices,
  principal: AdminPrincipal,
  leadId: string,
  action: ManualAction,
): Promise<ManualActionResult> {
  const lead = await loadLead(services, principal.agencyId, leadId);
  const notInReview = () =>
    new Problem(409, 'not_in_manual_review', `The lead is ${lead.status}, not in manual review.`, {
      leadStatus: lead.status,
    });
  if (lead.status === 'sold' || lead.status === 'rejected') throw notInReview();
  try {
    return await executeManualAction(
      services.temporal,
      lead.workflowId,
      { ...action, by: auditBy(principal) },
      services.workflowTimeoutMs,
    );
  } catch (err) {
    // The Update's validator refuses a lead that is not in review; a completed workflow has nothing to review.
    if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw notInReview();
    if (err instanceof DeadlineExceeded) {
      throw new Problem(
        503,
        'service_unavailable',
        'The lead workflow did not answer in time; check the lead before retrying.',
        {
          headers: { 'Retry-After': '2' },
        },
      );
    }
    throw err;
  }
}

const accepted = (id: string, status: LeadStatus, action: string, extra: Record<string, unknown> = {}) => ({
  lead: { id, status },
  action,
  ...extra,
});

export const leadRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/leads',
    operationId: 'createLead',
    tag: 'Leads',
    summary: 'Submit a lead: validated, deduplicated, stored, and routed by its own workflow',
    description:
      'Send `Idempotency-Key` to make retries safe: the same key and body answer the first result, and a lead is never routed twice. ' +
      "The phone number is normalised to E.164 (a number without a country code is read in the agency's `phoneCountry`, default US) and the email checked (docs/compliance.md): an invalid one is refused with 422 `invalid_phone`, `invalid_email` or `disposable_email`. " +
      'A lead with the same phone (compared in E.164) or email for the same service line within the duplicate window is refused (409 `duplicate_lead`). ' +
      "A lead whose phone or email is on one of the agency's suppression lists or a Do-Not-Call list (unless the campaign lets written consent pass) is stored but offered to nobody: it goes to manual review, and the answer says `lead.status: manual_review`, `lead.reason: suppressed`. " +
      'A source key posts only into the campaigns allowed to its source (403 `campaign_not_allowed`); its `subId` and `clickId` are kept with the lead.',
    body: LeadCreate,
    idempotent: true,
    responses: {
      202: { description: 'accepted; routing runs in the background', schema: Responses.LeadAccepted },
      409: { description: '`duplicate_lead` (with `duplicateOf`), `campaign_paused`, or `idempotency_conflict`' },
      422: {
        description:
          'a contact check refused the lead (`invalid_phone`, `invalid_email`, `disposable_email`; `errors` names the field), or the agency requires consent evidence (`consent_required`)',
      },
      503: {
        description: 'stored, but routing could not start (`service_unavailable`): retry with the same Idempotency-Key',
      },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
      403: {
        description:
          'a source key: the campaign is not allowed to its source (`campaign_not_allowed`) or the source is paused (`source_paused`); or a key of the wrong kind (`forbidden`)',
      },
    },
    async handler({ principal, body, idempotencyKey, services }) {
      const campaign = await getCampaign(services.db, principal.agencyId, body.campaignId);
      if (!campaign) {
        throw new Problem(404, 'not_found', 'campaign not found', {
          errors: [{ in: 'body', path: 'campaignId', message: 'no such campaign in this agency' }],
        });
      }
      if (principal.kind === 'source') await requirePostingSource(services, principal, campaign.id);
      const source: LeadSource = {
        sourceId: principal.kind === 'source' ? principal.sourceId : null,
        subId: body.subId ?? null,
        clickId: body.clickId ?? null,
      };
      const owner = principal.kind === 'source' ? `source:${principal.sourceId}` : principal.agencyId;
      const lead = await submitLead(services, {
        agencyId: principal.agencyId,
        campaign,
        leadId: leadIdFor(owner, idempotencyKey),
        fields: body.fields,
        consent: body.consent ?? null,
        source,
      });
      return { status: 202, body: { lead: acceptedLead(lead), workflowId: lead.workflowId } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/leads',
    operationId: 'listLeads',
    tag: 'Leads',
    summary: 'Leads of the agency, newest first (`?status=manual_review` is the review queue)',
    query: LeadsQuery,
    responses: { 200: { description: 'a page', schema: Responses.Leads }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listLeads(services.db, principal.agencyId, pageArgs(query), {
        status: query.status,
        campaignId: query.campaignId,
      });
      return { status: 200, body: listBody('leads', page, leadView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/leads/:id',
    operationId: 'getLead',
    tag: 'Leads',
    summary: 'A lead with its status, offers and assignments',
    params: IdParams,
    responses: { 200: { description: 'the lead', schema: Responses.Lead }, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, services }) {
      const lead = await loadLead(services, principal.agencyId, params.id);
      const [offers, assignments, source] = await Promise.all([
        leadOffers(services.db, lead.id),
        leadAssignments(services.db, lead.id),
        lead.sourceId ? getSource(services.db, principal.agencyId, lead.sourceId) : undefined,
      ]);
      return {
        status: 200,
        body: {
          lead: {
            ...leadView(lead),
            sourceName: source?.name ?? null,
            offers: offers.map(offerAdminView),
            assignments: assignments.map(assignmentView),
          },
        },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/leads/:id/timeline',
    operationId: 'leadTimeline',
    tag: 'Leads',
    summary: 'Every event of a lead, across all its offers, in order',
    params: IdParams,
    responses: {
      200: { description: 'the timeline', schema: Responses.Timeline },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const lead = await loadLead(services, principal.agencyId, params.id);
      const events = await leadTimeline(services.db, lead.id);
      return { status: 200, body: { events: events.map(timelineEventView) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/leads/:id/reoffer',
    operationId: 'reofferLead',
    tag: 'Manual review',
    summary: 'Run a new auction for a lead in manual review (its campaign, or another)',
    params: IdParams,
    body: ReofferBody,
    bodyOptional: true,
    responses: {
      202: { description: 'accepted: a new offer opens', schema: Responses.ManualAccepted },
      409: { description: 'the lead is not in manual review (`not_in_manual_review`), or the campaign is paused' },
      503: { description: 'the workflow did not answer in time' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      if (body.campaignId) {
        const campaign = await getCampaign(services.db, principal.agencyId, body.campaignId);
        if (!campaign) {
          throw new Problem(404, 'not_found', 'campaign not found', {
            errors: [{ in: 'body', path: 'campaignId', message: 'no such campaign in this agency' }],
          });
        }
        if (campaign.status !== 'active')
          throw new Problem(409, 'campaign_paused', `Campaign "${campaign.name}" is paused.`);
      }
      const result = await manualAction(services, principal, params.id, {
        action: 'reoffer',
        ...(body.campaignId ? { campaignId: body.campaignId } : {}),
      });
      const campaignId = result.action === 'reoffer' ? result.campaignId : body.campaignId;
      return { status: 202, body: accepted(params.id, 'routing', 'reoffer', campaignId ? { campaignId } : {}) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/leads/:id/assign',
    operationId: 'assignLead',
    tag: 'Manual review',
    summary: 'Sell a lead in manual review to one buyer, charged like a claim',
    params: IdParams,
    body: AssignBody,
    responses: {
      200: { description: 'sold: the sale as the buyer would see it, and the buyer', schema: Responses.LeadAssigned },
      402: { description: 'the buyer lacks credits', schema: ClaimRefused },
      403: {
        description: 'the buyer may not buy it; or a problem document (`forbidden`) for a key that is not an admin key',
        schema: ClaimRefused,
        orProblem: true,
      },
      409: {
        description:
          'the sale lost a race; or a problem document: the lead is not in manual review (`not_in_manual_review`)',
        schema: ClaimRefused,
        orProblem: true,
      },
      503: { description: 'the workflow did not answer in time' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      401: AUTH_ERRORS[401]!,
      429: AUTH_ERRORS[429]!,
    },
    async handler({ principal, params, body, services }) {
      const known = await agencyBuyerIds(services.db, principal.agencyId, [body.buyerId]);
      if (!known.has(body.buyerId)) {
        throw new Problem(404, 'not_found', 'buyer not found', {
          errors: [{ in: 'body', path: 'buyerId', message: 'no such buyer in this agency' }],
        });
      }
      const result = await manualAction(services, principal, params.id, { action: 'assign', buyerId: body.buyerId });
      if (result.action !== 'assign') throw new Error(`unexpected manual action result ${result.action}`);
      const sale = result.sale;
      // The workflow's answer has no lead fields (small histories): the admin sees the sale as the buyer does.
      if (sale.result === 'won')
        return { status: 200, body: { ...(await withLead(services.db, sale, body.buyerId)), buyerId: body.buyerId } };
      const refused = claimRefusal(sale.reason);
      return { status: refused.status, body: refused.body };
    },
  }),

  route({
    method: 'post',
    path: '/v1/leads/:id/reject',
    operationId: 'rejectLead',
    tag: 'Manual review',
    summary: 'Reject a lead in manual review (final)',
    params: IdParams,
    body: RejectBody,
    responses: {
      200: { description: 'rejected', schema: Responses.ManualAccepted },
      409: { description: 'the lead is not in manual review (`not_in_manual_review`)' },
      503: { description: 'the workflow did not answer in time' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      await manualAction(services, principal, params.id, { action: 'reject', reason: body.reason });
      return { status: 200, body: accepted(params.id, 'rejected', 'reject') };
    },
  }),
];
