/**
 * Manual review: a lead nobody bought waits here for an admin. The admin's
 * decision arrives as the `manualAction` Update (refused by its validator
 * unless the lead is in review):
 *
 * - `assign` sells the lead to the chosen buyer inside the Update (a local
 *   activity, charged like a claim), so the admin gets the sale's answer;
 * - `reoffer` and `reject` are accepted at once and carried out by the
 *   workflow (`next()` hands them over).
 *
 * Decisions are served one at a time (a mutex), like claims.
 */
import { ApplicationFailure, condition, setHandler, uuid4, workflowInfo } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';

import type { LeadActivities } from '../activities';
import type { DeliveryPlan } from '../activities/delivery';
import { soldClaim } from '../claims/vocabulary';
import { type LeadWorkflowState, type ManualAction, type ManualActionResult, manualActionUpdate } from './messages';

export type ReviewDecision = Exclude<ManualAction, { action: 'assign' }> | { action: 'assigned' };

export class ManualReview {
  /** Direct sales made by `assign`, whose channels run after the Update answered. */
  readonly sales: { assignmentId: string; delivery: DeliveryPlan }[] = [];
  private decision: Exclude<ManualAction, { action: 'assign' }> | null = null;
  private readonly mutex = new Mutex();

  constructor(
    private readonly lead: { leadId: string; campaignId: string },
    private readonly state: LeadWorkflowState,
    private readonly io: Pick<LeadActivities, 'assignDirect'>,
  ) {
    setHandler(manualActionUpdate, (action) => this.mutex.runExclusive(() => this.act(action)), {
      validator: (action) => {
        if (this.state.phase !== 'manual_review') throw new Error('the lead is not in manual review');
        if (!action || !['reoffer', 'assign', 'reject'].includes(action.action))
          throw new Error('unknown manual action');
      },
    });
  }

  /** Waits for the admin: a re-offer, a rejection, or a direct sale already made by the Update. */
  async next(): Promise<ReviewDecision> {
    await condition(() => this.decision !== null || this.state.phase === 'sold');
    if (this.state.phase === 'sold') return { action: 'assigned' };
    const decision = this.decision!;
    this.decision = null;
    return decision;
  }

  private async act(action: ManualAction): Promise<ManualActionResult> {
    if (this.state.phase !== 'manual_review')
      throw ApplicationFailure.nonRetryable('the lead is not in manual review', 'NotInManualReview');
    if (action.action !== 'assign') {
      this.decision = action;
      this.state.phase = action.action === 'reject' ? 'rejected' : 'routing';
      return action.action === 'reoffer'
        ? { action: 'reoffer', accepted: true, campaignId: action.campaignId ?? this.lead.campaignId }
        : { action: 'reject', accepted: true };
    }
    this.state.phase = 'routing';
    const offerId = uuid4();
    this.state.offers.push(offerId);
    const sale = await this.io.assignDirect({
      offerId,
      leadId: this.lead.leadId,
      buyerId: action.buyerId,
      workflowId: workflowInfo().workflowId,
      at: new Date(Date.now()).toISOString(),
      ...(action.by ? { by: action.by } : {}),
    });
    if (sale.result !== 'won') {
      this.state.phase = 'manual_review';
      return { action: 'assign', sale: { result: sale.result, reason: sale.reason } };
    }
    this.state.phase = 'sold';
    this.sales.push({ assignmentId: sale.assignmentId, delivery: sale.delivery });
    return { action: 'assign', sale: soldClaim(sale) };
  }
}
