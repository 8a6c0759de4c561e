/**
 * The recharge outbox's drain (#21): the worker takes the requests the wallet trigger wrote in sales' transactions
 * (db/billing.ts `drainRechargeRequests`, FOR UPDATE SKIP LOCKED like the alert dispatcher's outbox) and starts
 * each buyer's recharge workflow, joining the one in flight (temporal/calls.ts `startRechargeWorkflow`). Never on a
 * claim's path: a sale only inserts the row.
 */
import type { Client } from '@temporalio/client';

import { drainRechargeRequests } from '../db/billing';
import type { Db } from '../db/connection';
import { DEFAULT_RECHARGE_RETRY_DELAYS_MS } from '../domain/recharge';
import { startRechargeWorkflow } from '../temporal/calls';

export interface RechargeStarterOptions {
  db: Db;
  client: Client;
  taskQueue: string;
  everyMs?: number;
  batch?: number;
  /** The waits between failed attempts (default 1 min, 10 min, 1 h). */
  retryDelaysMs?: readonly number[];
  /** One wait for the webhook, and its poll (the workflow's defaults: 10 min, 1 s). */
  settleWaitMs?: number;
  settlePollMs?: number;
}

/** Starts the due requests' workflows once; answers how many requests it took. */
export function startDueRecharges(opts: RechargeStarterOptions): Promise<number> {
  return drainRechargeRequests(opts.db, opts.batch ?? 50, async (r) => {
    await startRechargeWorkflow(opts.client, opts.taskQueue, {
      buyerId: r.buyerId,
      requestId: r.id,
      retryDelaysMs: [...(opts.retryDelaysMs ?? DEFAULT_RECHARGE_RETRY_DELAYS_MS)],
      ...(opts.settleWaitMs === undefined ? {} : { settleWaitMs: opts.settleWaitMs }),
      ...(opts.settlePollMs === undefined ? {} : { settlePollMs: opts.settlePollMs }),
    });
  });
}

/** Runs `startDueRecharges` every `everyMs` (default 1 s) until stopped; a failed round waits for the next. */
export function startRechargeStarter(opts: RechargeStarterOptions): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    startDueRecharges(opts)
      .catch((err: unknown) => console.error('recharge drain failed:', err instanceof Error ? err.message : err))
      .finally(() => (running = false));
  }, opts.everyMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
