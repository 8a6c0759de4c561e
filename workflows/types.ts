/**
 * The inputs and results of the lead's workflows, shared by both lifecycles
 * (the lean one in lead.ts and the frozen first one in v1/) and by the code
 * that starts them.
 */
import type { SUPPRESSED } from '../domain/types';

export interface LeadWorkflowInput {
  leadId: string;
  agencyId: string;
  campaignId: string;
  /** A returned lead's re-offer: the approved dispute it runs for (its offer children are named after it). */
  disputeId?: string;
  /** Intake found the person on a suppression list (#23): the lead goes to manual review without an offer. */
  reviewReason?: typeof SUPPRESSED;
}

export interface OfferWorkflowInput extends LeadWorkflowInput {
  /** Position in the fallback chain. */
  depth: number;
}

export interface OfferRunResult {
  campaignId: string;
  offerId: string | null;
  sold: boolean;
  cancelled: string | null;
  /** Why nothing was offered at all (e.g. the campaign is paused). */
  skipped: string | null;
  /** Why it did not sell: no_eligible_buyers, no_claim, no_buyer_could_take_it, campaign_paused… */
  reason: string | null;
  fallbackCampaignId: string | null;
}

export interface LeadOutcome {
  status: 'sold' | 'rejected';
  offers: string[];
}
