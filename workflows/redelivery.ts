/**
 * `redeliveryWorkflow` (id `redeliver-<assignmentId>-<channel>-<n>`): an
 * admin's "send it again" for one sale on one channel. It runs the same
 * channel activity as the lead's own delivery (same message id, a fresh
 * signature, the same retry schedule and attempt log), outside the lead's
 * workflow, which may have finished long ago. Deterministic like every
 * workflow: it only schedules activities.
 */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';

import type { LeadActivities } from '../activities';
import type { DeliveryChannel } from '../domain/types';
import { DB_ACTIVITY_OPTIONS, deliveryActivityOptions } from './options';

const { planDelivery } = proxyActivities<LeadActivities>(DB_ACTIVITY_OPTIONS);

export interface RedeliveryInput {
  assignmentId: string;
  channel: Exclude<DeliveryChannel, 'dashboard'>;
}

export interface RedeliveryResult {
  delivered: boolean;
  error: string | null;
}

export async function redeliveryWorkflow(input: RedeliveryInput): Promise<RedeliveryResult> {
  const plan = await planDelivery({ assignmentId: input.assignmentId });
  const { redeliver } = proxyActivities<LeadActivities>(deliveryActivityOptions(plan.retry));
  try {
    await redeliver(input);
    return { delivered: true, error: null };
  } catch (err) {
    const error =
      err instanceof ActivityFailure && err.cause
        ? err.cause.message
        : err instanceof Error
          ? err.message
          : String(err);
    return { delivered: false, error };
  }
}
