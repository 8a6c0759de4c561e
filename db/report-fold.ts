/**
 * The periodic fold of the report deltas (db/reports.ts foldReports): the
 * triggers append a few delta rows per sale, return and ledger entry, and the
 * reports read them beside the roll-ups until a fold moves them in. Folding
 * every half minute keeps that read short; several API processes may run it,
 * report_fold() lets one through at a time and the others return at once.
 */
import type { DbOrTx } from './connection';
import { foldReports } from './reports';

export const REPORT_FOLD_EVERY_MS = 30_000;

export function startReportFold(
  db: DbOrTx,
  opts: { everyMs?: number; onError?: (err: unknown) => void } = {},
): { stop(): Promise<void> } {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return; // a slow fold (a backlog) is still at it: this tick has nothing to add
    running = foldReports(db)
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => (running = null));
  }, opts.everyMs ?? REPORT_FOLD_EVERY_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
