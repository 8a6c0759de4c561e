/**
 * The ping decision: a read and a decision, no workflow. The ping's
 * non-identifying fields are judged as a lead that is not stored, with the
 * very eligibility code routing uses (db/eligibility.ts `evaluateEligibility`): if any buyer
 * would be offered it now, the ping is accepted with the payout the source's
 * rule gives at the price routing would ask; otherwise it is rejected.
 */
import type { Db } from '../db/connection';
import { evaluateEligibility } from '../db/eligibility';
import type { CampaignRow } from '../db/admin';
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

/** The campaign's stored pool is read by the loader, in its one query of every candidate. */
export async function decidePing(
  db: Db,
  campaign: CampaignRow,
  rule: SourceCampaignRow,
  fields: PingLeadFields,
): Promise<PingDecisionResult> {
  if (campaign.status !== 'active')
    return { decision: 'rejected', reason: 'campaign_paused', price: null, payout: null };
  // A lead that is never stored: the ping's fields, no identity (so no dedupe keys, nothing already bought).
  const lead = { id: null, agencyId: campaign.agencyId, fields: leadFieldsOfPing(fields), dedupeKeys: [] };
  const { price, targets } = await evaluateEligibility(db, lead, { ...campaign, pool: undefined });
  if (!targets.some((t) => t.eligible))
    return { decision: 'rejected', reason: 'no_eligible_buyer', price, payout: null };
  return { decision: 'accepted', reason: null, price, payout: payoutFor(ruleOf(rule), price) };
}
