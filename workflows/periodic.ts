/**
 * The periodic jobs' workflows (worker/schedules.ts): each is started by its Temporal Schedule and runs one
 * activity, so a job runs once across all processes, however many workers there are, and its runs are visible
 * (and pausable) in the Temporal UI. Deterministic: each only schedules its activity.
 *
 * A failed run is not retried for long: the next scheduled run is the retry, and the schedule's overlap policy
 * (skip) keeps a slow run from piling up behind it.
 */
import { proxyActivities } from '@temporalio/workflow';

import type { PeriodicActivities } from '../worker/jobs';

const jobs = proxyActivities<PeriodicActivities>({
  // The report fold of a large backlog is the longest of them; a run past this is abandoned for the next one.
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
});

/** Leads still `routing` whose workflow never started (Temporal away at intake): start them. */
export async function restartStuckLeadsWorkflow(): Promise<number> {
  return jobs.restartStuckLeads();
}

/** The report deltas into the roll-ups (db/reports.ts `foldReports`); null when another fold was running. */
export async function foldReportsWorkflow(): Promise<number | null> {
  return jobs.foldReports();
}

/**
 * Idempotency answers past their TTL, rate-limit buckets idle for a day, scrub answers of past days, and the feed's
 * stored target lists no open offer uses (older than an hour).
 */
export async function expireRecordsWorkflow(): ReturnType<PeriodicActivities['expireRecords']> {
  return jobs.expireRecords();
}

/** One batch of the key rotation job (db/key-store.ts `rotateSecrets`). */
export async function rotateSecretsWorkflow(): Promise<{ moved: number; staleKeyIds: string[] }> {
  return jobs.rotateSecrets();
}

/** The retention job (db/erasure.ts `eraseExpiredLeads`): leads whose personal fields it erased, per agency. */
export async function eraseExpiredLeadsWorkflow(): Promise<Record<string, number>> {
  return jobs.eraseExpiredLeads();
}
