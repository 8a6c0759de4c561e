/**
 * The sweeper's steps, each a periodic job (worker/schedules.ts): restarting
 * routing for leads whose start was lost (Temporal away at intake) through
 * the same start as the API's intake (temporal/calls.ts: the workflow id is
 * the lead's business id and a closed workflow's id is never reused, so
 * however often this runs a lead gets one auction), finishing the paperwork
 * of offers whose opening died between the feed and it, and expiring old
 * records.
 */
import type { Client } from '@temporalio/client';

import type { Db } from '../db/connection';
import { purgeIdempotencyRecords, purgeIdleBuckets } from '../db/idempotency';
import { stuckLeads } from '../db/leads';
import { finishPaperwork, purgeTargetLists, stalePaperwork } from '../db/offers';
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
 * Offers whose opening committed (the offer, its target ids; the feed heard it) and died before the paperwork – a
 * worker killed between the two steps (db/offers.ts openOfferRow, finishPaperwork) – and waited `olderThanMs`: their
 * verdict rows, `targeted` / `excluded` events, alerts and the lead `offered` are written now, once (the activity's
 * own retry may get there first: then nothing is left to write). Returns how many it finished.
 */
export async function finishStalePaperwork(db: Db, olderThanMs = 10_000): Promise<number> {
  let finished = 0;
  for (const offerId of await stalePaperwork(db, olderThanMs)) if (await finishPaperwork(db, offerId)) finished++;
  return finished;
}

/**
 * The expiry job: idempotency answers past their TTL (`LW_IDEMPOTENCY_TTL_HOURS`, default 24), shared
 * rate-limit buckets idle for a day, scrub answers of past days (only today's is ever read), and stored target
 * lists (the feed's, migration 0033) older than an hour that no open offer uses.
 */
export async function expireRecords(
  db: Db,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ idempotency: number; buckets: number; scrubAnswers: number; targetLists: number }> {
  const idempotency = await purgeIdempotencyRecords(db, setting('LW_IDEMPOTENCY_TTL_HOURS', env) * 3_600_000);
  const buckets = await purgeIdleBuckets(db);
  const scrubAnswers = await purgeScrubCache(db, new Date());
  const targetLists = await purgeTargetLists(db);
  return { idempotency, buckets, scrubAnswers, targetLists };
}
