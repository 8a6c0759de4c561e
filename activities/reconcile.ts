/**
 * The reconciliation job's I/O (#21 item 5), run by workflows/reconcile.ts: which agencies have Stripe settings,
 * and one agency's reconciliation (payments/reconcile.ts). A Stripe that cannot be listed fails the activity (the
 * run is recorded `failed`, nothing credited) and Temporal asks again; a key Stripe refuses fails it for good.
 */
import { ApplicationFailure } from '@temporalio/activity';

import { agenciesWithPaymentSettings } from '../db/payments';
import { reconcileAgency, ReconcileFailed } from '../payments/reconcile';
import type { ActivityDeps } from './deps';

/** What one agency's run reports back to the workflow (the full record is its row). */
export interface AgencyReconciled {
  agencyId: string;
  runId: string | null;
  checked: number;
  credited: number;
  ignored: number;
  errors: number;
}

export function reconcileActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    /** The agencies to reconcile: every one with Stripe settings, or the one asked for if it has them. */
    async reconcilableAgencies(input: { agencyId?: string | null }): Promise<string[]> {
      return agenciesWithPaymentSettings(db, input.agencyId);
    },

    async reconcileAgencyPayments(input: {
      agencyId: string;
      since: string;
      until: string;
      dryRun: boolean;
      runBy: string;
    }): Promise<AgencyReconciled> {
      try {
        const row = await reconcileAgency(db, {
          agencyId: input.agencyId,
          window: { since: new Date(input.since), until: new Date(input.until) },
          dryRun: input.dryRun,
          runBy: input.runBy,
        });
        return {
          agencyId: input.agencyId,
          runId: row?.id ?? null,
          checked: row?.checked ?? 0,
          credited: row?.credited ?? 0,
          ignored: row?.ignored ?? 0,
          errors: row?.errors ?? 0,
        };
      } catch (err) {
        if (err instanceof ReconcileFailed && !err.retryable)
          throw ApplicationFailure.nonRetryable(err.message, 'StripeKeyRefused');
        throw err;
      }
    },
  };
}
