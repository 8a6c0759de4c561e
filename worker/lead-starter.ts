/**
 * The sweeper's steps, each a periodic job (worker/schedules.ts): restarting
 * routing for leads whose start was lost (Temporal away at intake) through
 * the same start as the API's intake (temporal/calls.ts: the workflow id is
 * the lead's business id and a closed workflow's id is never reused, so
 * however often this runs a lead gets one auction), and expiring old records.
 */
import type { Client } from '@temporalio/client';

import type { Db } from '../db/connection';
import { purgeIdempotencyRecords, purgeIdleBuckets } from '../db/idempotency';
import { stuckLeads } from '../db/leads';
import { purgeScrubCache } from '../db/scrubs';
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
 * The expiry job: idempotency answers past their TTL (`LW_IDEMPOTENCY_TTL_HOURS`, default 24), shared
 * rate-limit buckets idle for a day, and scrub answers of past days (only today's is ever read).
 */
export async function expireRecords(
  db: Db,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ idempotency: number; buckets: number; scrubAnswers: number }> {
  const idempotency = await purgeIdempotencyRecords(db, setting('LW_IDEMPOTENCY_TTL_HOURS', env) * 3_600_000);
  const buckets = await purgeIdleBuckets(db);
  const scrubAnswers = await purgeScrubCache(db, new Date());
  return { idempotency, buckets, scrubAnswers };
}
