/**
 * The ping decision: a read and a decision, no workflow. The ping's
 * non-identifying fields are judged as a lead that is not stored, with the
 * very eligibility code routing uses (db/eligibility.ts): if any buyer would
 * be offered it now, the ping is accepted with the payout the source's rule
 * gives at the price routing would ask; otherwise it is rejected.
 *
 * Built for bursts (a seller pings fifty leads at once, #13's target is p99
 * ≤ 50 ms at 50 concurrent): the campaign and its buyers' inputs are read
 * once for every ping of the campaign that arrives while that read is under
 * way (a ping without identity has inputs that do not depend on its fields),
 * and the pings answered in one turn of the event loop are recorded by one
 * INSERT. Nothing is cached beyond the read in flight, so an answer is never
 * older than one read; the post re-judges everything anyway (routing).
 */
import { agencySettings } from '../db/agencies';
import { type CampaignRow, getCampaignRow } from '../db/campaigns';
import type { Db } from '../db/connection';
import { type EligibilityInputs, judgeLoaded, loadEligibilityInputs } from '../db/eligibility';
import { type NewPing, type PingRow, recordPings, ruleOf, type SourceCampaignRow } from '../db/sources';
import { DEFAULT_PHONE_COUNTRY } from '../domain/contact-checks';
import { payoutFor } from '../domain/payout';
import { leadFieldsOfPing, type PingLeadFields } from '../domain/ping';
import type { PingDecision, PingRejection } from '../domain/types';
import { SingleFlight, turnBatcher } from '../lib/burst';

export interface PingDecisionResult {
  decision: PingDecision;
  reason: PingRejection | null;
  price: number | null;
  payout: number | null;
}

/** A campaign as pings see it: its row, and (while active) its buyers' eligibility inputs for a lead without identity. */
export interface PingCampaign {
  campaign: CampaignRow;
  inputs: EligibilityInputs | null;
  /** The agency's region for numbers without a country code (a ping's phone check). */
  phoneCountry: string;
}

export class PingDesk {
  private readonly flights = new SingleFlight<PingCampaign | null>();
  readonly record: (ping: NewPing) => Promise<PingRow>;

  constructor(
    private readonly db: Db,
    /** Each read of a campaign (the metric leadwire_ping_reads_total: a burst shares one). */
    private readonly onRead: () => void = () => undefined,
  ) {
    this.record = turnBatcher(async (batch: NewPing[]) => {
      try {
        return await recordPings(db, batch);
      } catch (err) {
        // One bad row must not lose the others' pings: write them one by one, each caller gets its own answer.
        if (batch.length === 1) throw err;
        return batch.map(async (p) => (await recordPings(db, [p]))[0]!);
      }
    });
  }

  /** The campaign of the agency (null: none such) with its inputs, read once for the pings that ask at the same time. */
  campaign(agencyId: string, campaignId: string): Promise<PingCampaign | null> {
    return this.flights.run(`${agencyId}/${campaignId}`, async () => {
      this.onRead();
      const [campaign, settings] = await Promise.all([
        getCampaignRow(this.db, agencyId, campaignId),
        agencySettings(this.db, agencyId),
      ]);
      if (!campaign) return null;
      // A lead that is never stored: no id, no identity (so no dedupe keys, nothing already bought).
      const lead = { id: null, agencyId, dedupeKeys: [] };
      const inputs =
        campaign.status === 'active'
          ? await loadEligibilityInputs(this.db, lead, { ...campaign, pool: undefined })
          : null;
      return { campaign, inputs, phoneCountry: settings.phoneCountry ?? DEFAULT_PHONE_COUNTRY };
    });
  }
}

/** The decision on one ping's fields, from its campaign as read (`PingDesk.campaign`) and the source's rule. */
export function decidePing(
  { campaign, inputs }: PingCampaign,
  rule: SourceCampaignRow,
  fields: PingLeadFields,
): PingDecisionResult {
  if (campaign.status !== 'active' || !inputs)
    return { decision: 'rejected', reason: 'campaign_paused', price: null, payout: null };
  const { price, targets } = judgeLoaded(campaign, leadFieldsOfPing(fields), inputs);
  if (!targets.some((t) => t.eligible))
    return { decision: 'rejected', reason: 'no_eligible_buyer', price, payout: null };
  return { decision: 'accepted', reason: null, price, payout: payoutFor(ruleOf(rule), price) };
}
