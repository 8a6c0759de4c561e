/**
 * The project's periodic jobs, each a Temporal Schedule (#25): a job runs once across all processes (the
 * schedule starts one small workflow, workflows/periodic.ts, that any worker on the task queue takes), and its
 * runs are visible, pausable and triggerable in the Temporal UI and CLI (docs/operations.md, Periodic jobs).
 * Before, each was a `setInterval` in every process.
 *
 * Every worker makes sure of the schedules when it starts (`ensureSchedules`): it creates the missing ones and
 * updates those whose definition changed (a new release), keeping a pause an operator set. Any number of workers
 * may start at once: a create that loses the race sees `ScheduleAlreadyRunning` and compares instead. A process
 * does this in the background (`keepEnsuringSchedules`) and retries until it succeeds: on a cluster that has just
 * started, a schedule another worker created a moment ago can fail to describe until Temporal's own worker service
 * runs its scheduler workflow, and a worker must poll for leads meanwhile rather than exit.
 *
 * Not here: the alert dispatcher and the recharge drain (worker/alert-dispatcher.ts, worker/recharge-starter.ts)
 * must act within a second, below what a schedule is for; they stay local loops over their outboxes, whose rows
 * any number of processes share safely (FOR UPDATE SKIP LOCKED).
 */
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  type ScheduleOptions,
  ScheduleOverlapPolicy,
} from '@temporalio/client';

import type * as workflows from '../workflows';
import type { PeriodicJobName } from './jobs';

export interface PeriodicJob {
  /** The schedule's id after the task queue's (`<taskQueue>-<name>`), and the metrics' `job` label. */
  name: PeriodicJobName;
  /** The workflow each run starts (workflows/periodic.ts). */
  workflowType: keyof typeof workflows;
  everyMs: number;
  /** What it does, for the schedule's memo (shown in the UI) and the docs. */
  description: string;
}

export const PERIODIC_JOBS: readonly PeriodicJob[] = [
  {
    name: 'stuck-leads',
    workflowType: 'restartStuckLeadsWorkflow',
    everyMs: 30_000,
    description:
      'starts routing for leads stored while Temporal was away (still routing after a minute) and finishes the paperwork of offers whose opening died after the feed heard them',
  },
  {
    name: 'report-fold',
    workflowType: 'foldReportsWorkflow',
    everyMs: 30_000,
    description: 'folds the report deltas into the roll-ups (reports are exact either way; this keeps them fast)',
  },
  {
    name: 'expire-records',
    workflowType: 'expireRecordsWorkflow',
    everyMs: 60_000,
    description:
      "purges idempotency answers past LW_IDEMPOTENCY_TTL_HOURS, rate-limit buckets idle for a day, past days' scrub answers and the feed's stored target lists older than an hour that no open offer uses",
  },
  {
    name: 'rotate-secrets',
    workflowType: 'rotateSecretsWorkflow',
    everyMs: 30_000,
    description: 'moves at most 100 stored secrets of each kind to the current master key (docs/security.md)',
  },
  {
    name: 'reconcile-payments',
    workflowType: 'reconcilePaymentsWorkflow',
    everyMs: 60 * 60_000,
    description:
      'credits the succeeded card payments of the last 72 h whose webhook was lost (docs/payments.md); its runs are counted per agency by leadwire_payment_reconciliations_total',
  },
  {
    name: 'erase-expired-leads',
    workflowType: 'eraseExpiredLeadsWorkflow',
    everyMs: 24 * 60 * 60_000,
    description:
      "erases the personal fields of leads older than their agency's retentionDays, 500 per transaction, at most 50,000 a run (docs/compliance.md)",
  },
];

/**
 * Missed runs (Temporal or every worker away) are made up for only within this window: one run afterwards
 * does the work of all the missed ones.
 */
const CATCHUP_WINDOW_MS = 60_000;
/** A run nobody takes (no worker on the queue) is dropped after this, so the next scheduled run can start. */
const RUN_TIMEOUT_MS = 15 * 60_000;

/** The schedule's id: per task queue, so two deployments sharing a namespace keep their own. */
export function scheduleIdOf(taskQueue: string, job: PeriodicJob): string {
  return `${taskQueue}-${job.name}`;
}

function definitionOf(taskQueue: string, job: PeriodicJob) {
  return {
    spec: { intervals: [{ every: job.everyMs }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: job.workflowType,
      workflowId: scheduleIdOf(taskQueue, job),
      taskQueue,
      args: [],
      workflowExecutionTimeout: RUN_TIMEOUT_MS,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW_MS, pauseOnFailure: false },
  } satisfies Omit<ScheduleOptions, 'scheduleId'>;
}

/** Whether the schedule on the server already is this definition (what `ensureSchedules` may leave alone). */
function isCurrent(found: ScheduleDescription, want: ReturnType<typeof definitionOf>): boolean {
  const intervals = found.spec.intervals ?? [];
  return (
    intervals.length === 1 &&
    intervals[0]!.every === want.spec.intervals[0]!.every &&
    !found.spec.calendars?.length &&
    found.action.workflowType === want.action.workflowType &&
    found.action.taskQueue === want.action.taskQueue &&
    found.action.workflowId === want.action.workflowId &&
    found.action.workflowExecutionTimeout === want.action.workflowExecutionTimeout &&
    found.policies.overlap === want.policies.overlap &&
    found.policies.catchupWindow === want.policies.catchupWindow &&
    found.policies.pauseOnFailure === want.policies.pauseOnFailure
  );
}

/**
 * Creates each job's schedule, or updates it when its definition changed; answers what it did per schedule id.
 * Safe to run from any number of workers at once. An operator's pause (and its note) survives an update.
 */
export async function ensureSchedules(
  client: Client,
  taskQueue: string,
  jobs: readonly PeriodicJob[] = PERIODIC_JOBS,
): Promise<Record<string, 'created' | 'updated' | 'unchanged'>> {
  const done: Record<string, 'created' | 'updated' | 'unchanged'> = {};
  for (const job of jobs) {
    const scheduleId = scheduleIdOf(taskQueue, job);
    const want = definitionOf(taskQueue, job);
    try {
      await client.schedule.create({ scheduleId, ...want, memo: { description: job.description } });
      done[scheduleId] = 'created';
      continue;
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
    const handle = client.schedule.getHandle(scheduleId);
    if (isCurrent(await handle.describe(), want)) {
      done[scheduleId] = 'unchanged';
      continue;
    }
    await handle.update((found) => ({ ...want, state: { paused: found.state.paused, note: found.state.note } }));
    done[scheduleId] = 'updated';
  }
  return done;
}

export interface EnsuringSchedules {
  /** Settles with what `ensureSchedules` did once it succeeded, or null when stopped first. */
  readonly done: Promise<Record<string, 'created' | 'updated' | 'unchanged'> | null>;
  /** Stops retrying (at shutdown); an attempt under way finishes. */
  stop(): Promise<void>;
}

/**
 * Runs `ensureSchedules` until it succeeds, waiting after each failure (1 s, doubling to at most `maxDelayMs`),
 * and tells `onFailure` each time. Never rejects: the caller keeps serving while the schedules are not there yet.
 */
export function keepEnsuringSchedules(
  client: Client,
  taskQueue: string,
  options: {
    onFailure: (err: unknown, attempt: number, retryInMs: number) => void;
    jobs?: readonly PeriodicJob[];
    firstDelayMs?: number;
    maxDelayMs?: number;
  },
): EnsuringSchedules {
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  let stopped = false;
  let wake: (() => void) | null = null;
  const done = (async () => {
    let delayMs = options.firstDelayMs ?? 1_000;
    for (let attempt = 1; !stopped; attempt += 1) {
      try {
        return await ensureSchedules(client, taskQueue, options.jobs);
      } catch (err) {
        if (stopped) break;
        options.onFailure(err, attempt, delayMs);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
        delayMs = Math.min(delayMs * 2, maxDelayMs);
      }
    }
    return null;
  })();
  return {
    done,
    async stop() {
      stopped = true;
      (wake as (() => void) | null)?.();
      await done;
    },
  };
}
