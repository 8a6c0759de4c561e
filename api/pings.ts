/**
 * The ping decision: a read and a decision, no workflow. The ping's
 * non-identifying fields are judged as a lead that is not stored, with the
 * very eligibility code routing uses (`evaluateEligibility`): if any buyer
 * would be offered it now, the ping is accepted with the payout the source's
 * rule gives at the price routing would ask; otherwise it is rejected.
 */
import crypto from 'node:crypto';
import { evaluateEligibility } from '../activities/routing';
import type { LeadRow } from '../db/admin';
import type { Db } from '../db/connection';
import type { CampaignWithPool } from '../db/queries';
import { ruleOf, type SourceCampaignRow } from '../db/sources';
import { payoutFor } from '../domain/payout';
import { leadFieldsOfPing, type PingLeadFields } from '../domain/ping';
import type { PingDecision, PingRejection } from '../domain/types';

export interface PingDecisionResult {
  decision: PingDecision;
  reason: PingRejection | null;
  price: number | null;
  payout: number | null;
}

export async function decidePing(db: Db, campaign: CampaignWithPool, rule: SourceCampaignRow, fields: PingLeadFields): Promise<PingDecisionResult> {
  if (campaign.status !== 'active') return { decision: 'rejected', reason: 'campaign_paused', price: null, payout: null };
  const now = new Date();
  // A lead that is never stored: the ping's fields, no identity (so no dedupe keys), a fresh id.
  const lead: LeadRow = {
    id: crypto.randomUUID(),
    agencyId: campaign.agencyId,
    campaignId: campaign.id,
    fields: leadFieldsOfPing(fields),
    status: 'routing',
    statusReason: null,
    dedupeKeys: [],
    consent: null,
    workflowId: '',
    sourceId: rule.sourceId,
    subId: null,
    clickId: null,
    createdAt: now,
    updatedAt: now,
  };
  const { price, targets } = await evaluateEligibility(db, lead, { ...campaign, pool: campaign.pool.map((p) => p.buyerId) });
  if (!targets.some((t) => t.eligible)) return { decision: 'rejected', reason: 'no_eligible_buyer', price, payout: null };
  return { decision: 'accepted', reason: null, price, payout: payoutFor(ruleOf(rule), price) };
}
