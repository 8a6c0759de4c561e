/**
 * The messages a lead's workflows accept. Shared by the workflows and by the
 * API (which imports only these definitions, never workflow code). The claim
 * and the bid have theirs in claims/messages.ts; they are re-exported here so
 * the lifecycle's messages (and the frozen workflows/v1/) are one import.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

import type { ClaimResult } from '../claims/messages';
import type { AuditBy } from '../domain/audit';

export {
  bidUpdate,
  CLAIM_ARRIVAL_PATCH,
  claimRefusalOf,
  claimUpdate,
  type BidRequest,
  type BidResult,
  type ClaimRequest,
  type ClaimResult,
  SUPPRESSION_PATCH,
} from '../claims/messages';
/** An admin stops an open offer; the lead goes to manual review. */
export const cancelOfferSignal = defineSignal<[{ offerId: string; reason: string }]>('cancelOffer');

/** `by`: who decides (the audit log and the timeline name them); data only, absent from older callers. */
export type ManualAction = (
  | { action: 'reoffer'; campaignId?: string }
  | { action: 'assign'; buyerId: string }
  | { action: 'reject'; reason: string }
) & { by?: AuditBy };

export type ManualActionResult =
  | { action: 'reoffer'; accepted: true; campaignId: string }
  | { action: 'assign'; sale: ClaimResult }
  | { action: 'reject'; accepted: true };

/** An admin's decision on a lead in manual review. Refused (validator) when the lead is not in review. */
export const manualActionUpdate = defineUpdate<ManualActionResult, [ManualAction]>('manualAction');

export interface LeadWorkflowState {
  phase: 'routing' | 'offering' | 'sold' | 'manual_review' | 'rejected';
  currentOfferId: string | null;
  offers: string[];
}
export const stateQuery = defineQuery<LeadWorkflowState>('state');
