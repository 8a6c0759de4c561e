/**
 * `reconcilePaymentsWorkflow` (#21 item 5): finds card payments whose webhook was lost and credits them, for every
 * agency with Stripe settings (or one), over the last `hours` (default 72, longer than Stripe's webhook retries).
 * Meant to run on a Temporal Schedule (worker/schedules.ts); `npx leadwire reconcile` does the same by hand.
 *
 * One activity per agency (`reconcileAgencyPayments`, payments/reconcile.ts), one after the other, each retried on
 * its own: a Stripe that is down for one agency is asked again later and does not hold up the others; an agency
 * that still fails after the retries is reported in the result, and the next run (its window overlaps) tries it
 * again. The window is fixed when the run starts, so a retried activity looks at the same payments. Every credit
 * goes through the webhook's own path and key: a run that races a webhook, or two runs, credit once.
 * Deterministic: `Date.now()` is the workflow's clock, and it only schedules activities.
 */
import { ActivityFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';

import type { LeadActivities } from '../activities';
import type { AgencyReconciled } from '../activities/reconcile';
import { RECONCILE_DEFAULT_HOURS } from '../domain/payments';

export interface ReconcilePaymentsInput {
  /** One agency only; default every agency with Stripe settings. */
  agencyId?: string;
  /** How far back to look (hours before the run's start); default 72. */
  hours?: number;
  /** Decide, credit nothing: the run's rows say what would have been credited. */
  dryRun?: boolean;
  /** The first retry's wait for an agency whose Stripe failed (doubling, at most 5 attempts); default 30 s. */
  retryIntervalMs?: number;
}

export interface ReconcilePaymentsResult {
  since: string;
  until: string;
  reconciled: AgencyReconciled[];
  /** Agencies whose Stripe could not be listed after every retry: nothing credited for them this run. */
  failed: { agencyId: string; error: string }[];
}

export async function reconcilePaymentsWorkflow(input: ReconcilePaymentsInput = {}): Promise<ReconcilePaymentsResult> {
  const { reconcilableAgencies, reconcileAgencyPayments } = proxyActivities<LeadActivities>({
    startToCloseTimeout: '10 minutes',
    retry: {
      initialInterval: input.retryIntervalMs ?? 30_000,
      backoffCoefficient: 2,
      maximumInterval: '10 minutes',
      maximumAttempts: 5,
    },
  });
  const until = Date.now();
  const since = until - (input.hours ?? RECONCILE_DEFAULT_HOURS) * 3_600_000;
  const window = { since: new Date(since).toISOString(), until: new Date(until).toISOString() };
  const runBy = `workflow:${workflowInfo().workflowId}`;
  const result: ReconcilePaymentsResult = { ...window, reconciled: [], failed: [] };
  for (const agencyId of await reconcilableAgencies({ agencyId: input.agencyId ?? null })) {
    try {
      result.reconciled.push(
        await reconcileAgencyPayments({ agencyId, ...window, dryRun: input.dryRun ?? false, runBy }),
      );
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      result.failed.push({ agencyId, error: err.cause?.message ?? err.message });
    }
  }
  return result;
}
