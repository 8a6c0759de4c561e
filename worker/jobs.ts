/**
 * The periodic jobs' activities (worker/schedules.ts lists the jobs, workflows/periodic.ts runs them): each job
 * is one activity, registered on every worker and run by whichever worker takes the schedule's workflow, so it
 * runs once across all processes. Each run is counted by job: runs, failures, when it last ran and last
 * succeeded (observability/metrics.ts).
 */
import { Context } from '@temporalio/activity';

import type { Db } from '../db/connection';
import { eraseExpiredLeads } from '../db/erasure';
import { rotateSecrets } from '../db/key-store';
import { foldReports } from '../db/reports';
import { activityLog } from '../observability/activity';
import {
  periodicJobFailures,
  periodicJobLastRun,
  periodicJobLastSuccess,
  periodicJobRuns,
} from '../observability/metrics';
import { expireRecords, finishStalePaperwork, restartStuckLeads } from './lead-starter';

/** The jobs' names: their schedules' ids (after the task queue) and their metrics' `job` label. */
export type PeriodicJobName =
  'stuck-leads' | 'report-fold' | 'expire-records' | 'rotate-secrets' | 'reconcile-payments' | 'erase-expired-leads';

async function counted<T>(job: PeriodicJobName, run: () => Promise<T>): Promise<T> {
  periodicJobRuns.inc({ job });
  try {
    const result = await run();
    periodicJobLastSuccess.setToCurrentTime({ job });
    return result;
  } catch (err) {
    periodicJobFailures.inc({ job });
    throw err;
  } finally {
    periodicJobLastRun.setToCurrentTime({ job });
  }
}

export function periodicActivities(db: Db) {
  return {
    /**
     * The routing sweep: finishes the paperwork of offers whose opening died after the feed heard them, then starts
     * the lead workflows a Temporal outage at intake left unstarted, on this worker's task queue.
     */
    restartStuckLeads: () =>
      counted('stuck-leads', async () => {
        const finished = await finishStalePaperwork(db);
        if (finished > 0) activityLog().info({ finished }, 'finished the paperwork of offers opened before a crash');
        const { client, info } = Context.current();
        const started = await restartStuckLeads(db, client, info.taskQueue);
        if (started > 0) activityLog().info({ started }, 'restarted routing for stuck leads');
        return started;
      }),
    foldReports: () => counted('report-fold', () => foldReports(db)),
    expireRecords: () => counted('expire-records', () => expireRecords(db)),
    rotateSecrets: () => counted('rotate-secrets', () => rotateSecrets(db)),
    /** The retention job (db/erasure.ts): leads erased per agency. */
    eraseExpiredLeads: () =>
      counted('erase-expired-leads', async () => {
        const erased = await eraseExpiredLeads(db);
        const leads = Object.values(erased).reduce((a, b) => a + b, 0);
        if (leads > 0) activityLog().info({ leads, agencies: Object.keys(erased).length }, 'erased expired leads');
        return erased;
      }),
  };
}

export type PeriodicActivities = ReturnType<typeof periodicActivities>;
