/**
 * The Temporal worker: runs lead workflows and their activities, and the
 * periodic jobs' (worker/schedules.ts). Stateless; run as many as the load needs.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

import { createActivities, type FaultHooks } from '../activities';
import type { DeliveryOverrides } from '../activities/channels/config';
import type { Db } from '../db/connection';
import type { OfferBus } from '../db/offer-bus';
import { setting, SETTINGS } from '../lib/config';
import { observeActivities } from '../observability/activity';
import { temporalTracingPlugins } from '../observability/tracing';
import { connectionOptions, type TemporalTarget } from '../temporal/connection';
import { periodicActivities } from './jobs';

export const DEFAULT_TASK_QUEUE = SETTINGS.LW_TASK_QUEUE.fallback;
/** Open leads kept in the worker's workflow cache (about 0.3 MB each): some 600 MB at most. */
export const DEFAULT_MAX_CACHED_WORKFLOWS = SETTINGS.LW_MAX_CACHED_WORKFLOWS.fallback;
/** The worker's concurrency (also the benchmark's engine_floor worker, so the two are compared on equal terms). */
export const WORKER_CONCURRENCY = {
  // Claims queue behind one another in a workflow; keep sales flowing under load.
  maxConcurrentActivityTaskExecutions: 200,
  maxConcurrentLocalActivityExecutions: 200,
  maxConcurrentWorkflowTaskExecutions: 100,
} as const;

export interface LeadwireWorkerOptions {
  /** The Temporal frontend and namespace, with TLS and credentials (temporal/connection.ts). */
  target: TemporalTarget;
  taskQueue?: string;
  db: Db;
  bus: OfferBus;
  faults?: FaultHooks;
  /** Delivery channel settings over the environment's. */
  delivery?: DeliveryOverrides;
  /** Workflows kept in memory between tasks (LW_MAX_CACHED_WORKFLOWS; default DEFAULT_MAX_CACHED_WORKFLOWS). */
  maxCachedWorkflows?: number;
  /** A prebuilt workflow bundle (tests build it once); otherwise bundled from workflows/. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export async function createLeadwireWorker(
  opts: LeadwireWorkerOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect(connectionOptions(opts.target));
  const worker = await Worker.create({
    connection,
    namespace: opts.target.namespace,
    taskQueue: opts.taskQueue ?? setting('LW_TASK_QUEUE'),
    activities: {
      ...createActivities({ db: opts.db, bus: opts.bus, faults: opts.faults, delivery: opts.delivery }),
      // The periodic jobs' (worker/schedules.ts): whichever worker takes a schedule's run does the job.
      ...periodicActivities(opts.db),
    },
    // Logs with the lead's ids, duration and failure metrics, business outcome counters.
    interceptors: { activity: [observeActivities] },
    plugins: temporalTracingPlugins(), // OpenTelemetry (observability/tracing.ts); none when tracing is off
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    ...WORKER_CONCURRENCY,
    // Memory stays bounded however many leads wait: an open lead's workflow holds about 0.3 MB in the cache
    // (bench/RESULTS.md, scale); past this many, the least recently used are evicted and replayed from their
    // (short) history when their timer fires or a claim arrives.
    maxCachedWorkflows: opts.maxCachedWorkflows ?? setting('LW_MAX_CACHED_WORKFLOWS'),
  });
  return { worker, connection };
}
