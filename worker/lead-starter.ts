/**
 * The worker's sweeper: restarts routing for leads whose start was lost
 * (Temporal away at intake) through the same start as the API's intake
 * (temporal/calls.ts: the workflow id is the lead's business id and a closed
 * workflow's id is never reused, so however often this runs a lead gets one
 * auction), expires old records and runs a batch of the key rotation job
 * (db/key-store.ts `rotateSecrets`: stored secrets moved to the current master
 * key) in the same round.
 */
import type { Client } from '@temporalio/client';

import type { Db } from '../db/connection';
import { purgeIdempotencyRecords, purgeIdleBuckets } from '../db/idempotency';
import { rotateSecrets } from '../db/key-store';
import { stuckLeads } from '../db/leads';
import { setting } from '../lib/config';
import { startLeadWorkflow } from '../temporal/calls';

/**
 * Leads still `routing` after `olderThanMs` whose workflow may never have
 * started: start it (a no-op for those that did). Returns how many it started.
 */
export async function restartStuckLeads(
  db: Db,
  client: Client,
  taskQueue: string,
  olderThanMs = 60_000,
): Promise<number> {
  const stuck = await stuckLeads(db, olderThanMs);
  let started = 0;
  for (const lead of stuck) if ((await startLeadWorkflow(client, taskQueue, lead)) === 'started') started++;
  return started;
}

/**
 * Runs `restartStuckLeads` every `everyMs` until stopped, and expires old
 * records in the same round: idempotency answers past their TTL
 * (`LW_IDEMPOTENCY_TTL_HOURS`, default 24) and shared rate-limit buckets idle
 * for a day; then moves at most 100 rows of each kind of stored secret to the
 * current master key (the rotation job, docs/security.md). Failures wait for
 * the next round.
 */
export function sweepStuckLeads(
  db: Db,
  client: Client,
  taskQueue: string,
  everyMs = 30_000,
  onStarted?: (n: number) => void,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    restartStuckLeads(db, client, taskQueue)
      .then((n) => n > 0 && onStarted?.(n))
      .catch(() => undefined)
      .then(() => expireRecords(db))
      .catch(() => undefined)
      // The key rotation job: a bounded batch per round moves stored secrets to the current master key.
      .then(() => rotateSecrets(db))
      .catch((err: unknown) => console.error('key rotation round failed:', err instanceof Error ? err.message : err))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The sweeper's expiry round: idempotency records past their TTL, rate-limit buckets idle for a day. */
export async function expireRecords(
  db: Db,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ idempotency: number; buckets: number }> {
  const idempotency = await purgeIdempotencyRecords(db, setting('LW_IDEMPOTENCY_TTL_HOURS', env) * 3_600_000);
  const buckets = await purgeIdleBuckets(db);
  return { idempotency, buckets };
}
