/**
 * `npx leadwire reconcile` (`npm run reconcile`): the payments reconciliation by hand (#21 item 5), what
 * workflows/reconcile.ts does on its schedule. For each agency with Stripe settings (or one), lists the succeeded
 * PaymentIntents of a window from Stripe, credits those whose webhook never came (through the webhook's own path
 * and ledger key, so nothing is credited twice), and prints what it fixed: a line per agency, then each payment it
 * credited, ignored or refused. Every run is also a row of payment_reconciliations (docs/payments.md).
 *
 *   npx leadwire reconcile                         every agency, the last 72 hours
 *   npx leadwire reconcile --agency <id> --hours 6
 *   npx leadwire reconcile --since 2026-12-01T00:00:00Z --dry-run
 */
import path from 'node:path';

import { loadConfig } from '../bin/runtime';
import { withRunningStack } from '../bin/stack';
import { openDatabase } from '../db/connection';
import { agenciesWithPaymentSettings } from '../db/payments';
import type { ReconciliationRow } from '../db/reconciliations';
import { RECONCILE_DEFAULT_HOURS } from '../domain/payments';
import { commandLine, numberFlag, runTool, UsageError } from '../lib/cli';
import { reconcileAgency, ReconcileFailed, type ReconcileWindow } from '../payments/reconcile';

const HELP = `Usage: npm run reconcile -- [--agency ID] [--since ISO | --hours N] [--dry-run] [--json]
       (or npx leadwire reconcile …)

Finds card payments whose Stripe webhook was lost and credits them (docs/payments.md#refunds-disputes-and-reconciliation):
lists each agency's succeeded PaymentIntents of the window from Stripe and credits those the ledger lacks, under
the key the webhook would have used (stripe:<payment intent id>), so none is credited twice. Prints what it
fixed. Reads DATABASE_URL, else the running \`npm start\`. Exit 0: done, nothing refused; 1: a payment refused
(amount or currency differs: credited by nobody, look at it) or an agency's Stripe could not be listed;
2: bad flags, or the reconciliation could not run.

Options:
  --agency ID      one agency only (default: every agency with Stripe settings)
  --since ISO      the window's start, e.g. 2026-12-01T00:00:00Z (default: ${RECONCILE_DEFAULT_HOURS} hours ago)
  --hours N        the window: the last N hours
  --dry-run        credit nothing; say what would be credited
  --json           the runs as JSON
  --help           this text`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function reconcileArgs(argv: string[], now = new Date()) {
  return commandLine(
    {
      help: HELP,
      options: {
        agency: { type: 'string' },
        since: { type: 'string' },
        hours: { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    },
    argv,
    ({ values }) => {
      const agencyId = (values.agency as string | undefined) ?? null;
      if (agencyId !== null && !UUID.test(agencyId))
        throw new UsageError(`--agency: expected an agency id (a UUID), got "${agencyId}"`);
      if (values.since !== undefined && values.hours !== undefined)
        throw new UsageError('--since and --hours: give one of them, not both');
      let since: Date;
      if (values.since !== undefined) {
        const s = values.since as string;
        since = new Date(s);
        if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(since.getTime()))
          throw new UsageError(`--since: expected an ISO date-time, got "${s}"`);
        if (since >= now) throw new UsageError(`--since: ${s} is not in the past`);
      } else {
        const hours = numberFlag(
          values.hours,
          '--hours',
          RECONCILE_DEFAULT_HOURS,
          (n) => n > 0,
          'a number of hours > 0',
        );
        since = new Date(now.getTime() - hours * 3_600_000);
      }
      const window: ReconcileWindow = { since, until: now };
      return { agencyId, window, dryRun: values['dry-run'] === true, json: values.json === true };
    },
  );
}

/** One agency's reconciliation: its run's row, none (no Stripe settings), or why Stripe could not be listed. */
interface AgencyOutcome {
  agencyId: string;
  run: ReconciliationRow | null;
  failed?: string;
}

const MARK = { credited: '+', would_credit: '+', already_credited: '=', ignored: '~', refused: '!' } as const;

/** One agency's run as text: the counts, then every payment it did something about. */
function formatOutcome({ agencyId, run, failed }: AgencyOutcome): string[] {
  if (failed) return [`  ${agencyId}  FAILED: ${failed}`];
  if (!run) return [`  ${agencyId}  no Stripe settings`];
  const counts = [run.checked, run.credited, run.alreadyCredited, run.ignored, run.errors];
  const widths = [7, 9, 7, 7, 6];
  const lines = [`  ${agencyId}  ${counts.map((n, i) => String(n).padStart(widths[i]!)).join(' ')}`];
  for (const f of run.findings)
    lines.push(
      `      ${MARK[f.outcome]} ${f.paymentIntentId} ${f.outcome}${f.paymentId ? ` (payment ${f.paymentId})` : ''}: ${f.detail}`,
    );
  return lines;
}

async function main(argv: string[]): Promise<number> {
  const args = reconcileArgs(argv);
  const { config } = withRunningStack(loadConfig());
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: path.join(config.dataDir, 'pglite'),
    migrate: false,
  });
  try {
    const agencies = await agenciesWithPaymentSettings(database.db, args.agencyId);
    if (args.agencyId && !agencies.length) {
      console.error(`agency ${args.agencyId} has no Stripe settings: nothing to reconcile`);
      return 2;
    }
    const outcomes: AgencyOutcome[] = [];
    for (const agencyId of agencies) {
      try {
        const run = await reconcileAgency(database.db, {
          agencyId,
          window: args.window,
          dryRun: args.dryRun,
          runBy: 'cli',
        });
        outcomes.push({ agencyId, run });
      } catch (err) {
        if (!(err instanceof ReconcileFailed)) throw err;
        outcomes.push({ agencyId, run: null, failed: err.message });
      }
    }
    if (args.json) console.log(JSON.stringify({ window: args.window, dryRun: args.dryRun, outcomes }, null, 2));
    else {
      console.log(
        `Reconciliation of Stripe payments from ${args.window.since.toISOString()} to ${args.window.until.toISOString()}${args.dryRun ? ' (dry run: nothing credited)' : ''}`,
      );
      console.log(
        `  ${'agency'.padEnd(36)}  checked ${args.dryRun ? 'to credit' : ' credited'} already ignored errors`,
      );
      for (const o of outcomes) for (const line of formatOutcome(o)) console.log(line);
      if (!outcomes.length) console.log('  (no agency has Stripe settings)');
    }
    const bad = outcomes.some((o) => o.failed || (o.run?.errors ?? 0) > 0);
    return bad ? 1 : 0;
  } finally {
    await database.close();
  }
}

if (require.main === module) runTool(main);
