/**
 * The ledger audit: every money and sale invariant, checked across the whole
 * database (or one agency) with plain SQL, independent of the code that wrote
 * the rows (the SQL checks are db/invariants.ts), and the leads against their
 * workflows. `npm run audit` prints the report; tests call `runAudit` after
 * faults and load.
 *
 * Checks (each reports how many rows it looked at and every violation):
 * - balances:        each wallet's balance equals the sum of its ledger, and is not negative
 * - charges:         every charge entry belongs to exactly one assignment
 * - assignments:     every assignment has exactly one charge (its buyer, minus its price),
 *                    and a refunded one exactly one refund (`refund:<assignmentId>`, plus its price)
 * - exclusive:       no lead has an exclusive active assignment beside another active one
 * - winners:         no offer has more assignments than maxWinners; its winner counter matches
 * - caps:            no buyer or campaign holds more active assignments in a day, ISO week or
 *                    month (in the agency's time zone) than its cap as configured now
 * - cap_counters:    every cap counter equals a recount of its buyer's or campaign's active assignments
 * - reports:         the report roll-ups (with their pending deltas) agree with the base tables:
 *                    every day's figures by campaign and source, and by buyer, recomputed
 *                    as the reference report computes them (db/reports.ts, migration 0007)
 * - stripe_keys, stripe_money: card payments, refunds and disputes against their ledger entries
 * - endpoint_charges, endpoint_posts, endpoint_reserves: endpoint sales (#22): no charge without an
 *                    accepted post under the sale's key, no second buyer posted while a post is unresolved,
 *                    every bid's reserve given back once or held by a `post_unknown` lead in review (a reserve
 *                    younger than `minAgeMs` may still be in its post)
 * - workflows:       with a Temporal client: every lead older than `minAgeMs` has a workflow,
 *                    and every lead whose workflow has closed has a final status
 * - stripe:          with `--stripe`: every payment Stripe lists as succeeded in the last 72 hours has its
 *                    ledger entry (a lost webhook; `npx leadwire reconcile` credits it)
 *
 * `npm run audit` checks them and exits 1 on any violation:
 *
 *   npm run audit                       DATABASE_URL, or PGlite in LW_DATA_DIR (default .data)
 *   npm run audit -- --agency <id>      one agency only
 *   npm run audit -- --json             the report as JSON
 *   npm run audit -- --no-temporal      skip the workflow checks even if TEMPORAL_ADDRESS is set
 *   npm run audit -- --stripe           also ask Stripe for recent succeeded payments (`--stripe-hours N`)
 *
 * With TEMPORAL_ADDRESS set, it also checks that every lead older than a
 * minute (`--min-age-seconds`) has a workflow and that every lead whose
 * workflow closed has a final status.
 */
import path from 'node:path';

import { Client, Connection } from '@temporalio/client';

import { loadConfig } from '../bin/runtime';
import { withRunningStack } from '../bin/stack';
import { type DbOrTx, openDatabase } from '../db/connection';
import { type AuditCheck, auditedLeads, type AuditViolation, ledgerInvariants } from '../db/invariants';
import { agenciesWithPaymentSettings } from '../db/payments';
import { formatMoney, RECONCILE_DEFAULT_HOURS } from '../domain/payments';
import { FINAL_LEAD_STATUSES } from '../domain/types';
import { commandLine, numberFlag, runTool } from '../lib/cli';
import { ReconcileFailed, unsettledIntents } from '../payments/reconcile';
import { LEAD_WORKFLOW } from '../temporal/calls';
import { connectionOptions } from '../temporal/connection';

export type { AuditCheck, AuditViolation };

export interface AuditReport {
  ok: boolean;
  scope: { agencyId: string | null };
  checks: AuditCheck[];
  /** Every listed violation of every check. */
  violations: AuditViolation[];
  ms: number;
}

export interface AuditOptions {
  /** Only this agency's rows (tests share a database). */
  agencyId?: string | null;
  /** Enables the workflow checks. */
  temporal?: Client | null;
  /** Leads younger than this are not yet expected to have a visible workflow; default one minute. */
  minAgeMs?: number;
  /** Violations listed per check (all are counted); default 100. */
  maxListed?: number;
  /** Enables the Stripe check: ask Stripe for each agency's succeeded payments of the last `hours`. */
  stripe?: { hours: number } | null;
}

export async function runAudit(db: DbOrTx, opts: AuditOptions = {}): Promise<AuditReport> {
  const started = Date.now();
  const agencyId = opts.agencyId ?? null;
  const maxListed = opts.maxListed ?? 100;
  // An endpoint bid's reserve younger than the leads' grace may still be in its post.
  const checks = await ledgerInvariants(db, { agencyId, maxListed, heldGraceMs: opts.minAgeMs ?? 60_000 });
  checks.push(await workflowCheck(db, opts.temporal ?? null, agencyId, opts.minAgeMs ?? 60_000, maxListed));
  checks.push(await stripeCheck(db, opts.stripe ?? null, agencyId, maxListed));

  const violations = checks.flatMap((c) => c.violations);
  return { ok: checks.every((c) => c.failed === 0), scope: { agencyId }, checks, violations, ms: Date.now() - started };
}

const WORKFLOW_CHECK = 'workflows';
const WORKFLOW_DESCRIPTION =
  'every lead older than the grace period has a workflow; every lead whose workflow closed has a final status';

/**
 * Leads against Temporal's visibility store: one listing of the lead
 * workflows (paged by the SDK), compared with the leads table.
 */
async function workflowCheck(
  db: DbOrTx,
  temporal: Client | null,
  agencyId: string | null,
  minAgeMs: number,
  maxListed: number,
): Promise<AuditCheck> {
  const base = { name: WORKFLOW_CHECK, description: WORKFLOW_DESCRIPTION };
  if (!temporal)
    return { ...base, checked: 0, failed: 0, violations: [], skipped: 'no Temporal client (set TEMPORAL_ADDRESS)' };
  const leads = await auditedLeads(db, agencyId);
  const query = `WorkflowType = '${LEAD_WORKFLOW}'${agencyId ? ` AND AgencyId = '${agencyId.replace(/'/g, '')}'` : ''}`;
  const seen = new Map<string, string>();
  for await (const wf of temporal.workflow.list({ query })) seen.set(wf.workflowId, wf.status.name);

  const violations: AuditViolation[] = [];
  const now = Date.now();
  for (const lead of leads) {
    const status = seen.get(lead.workflow_id);
    const ids = { leadId: lead.id, workflowId: lead.workflow_id };
    if (status === undefined) {
      if (now - new Date(lead.created_at).getTime() > minAgeMs) {
        violations.push({
          check: WORKFLOW_CHECK,
          message: `lead ${lead.id} (${lead.status}) has no workflow ${lead.workflow_id}`,
          ids,
        });
      }
    } else if (
      status !== 'RUNNING' &&
      !FINAL_LEAD_STATUSES.includes(lead.status as (typeof FINAL_LEAD_STATUSES)[number])
    ) {
      violations.push({
        check: WORKFLOW_CHECK,
        message: `lead ${lead.id} is ${lead.status} but its workflow is ${status}`,
        ids,
      });
    }
  }
  return { ...base, checked: leads.length, failed: violations.length, violations: violations.slice(0, maxListed) };
}

const STRIPE_CHECK = 'stripe';
const STRIPE_DESCRIPTION =
  "every payment Stripe lists as succeeded in the window (of this Leadwire's payments) has its ledger entry";

/**
 * Stripe against the ledger: each agency's succeeded PaymentIntents of the last hours (listed and mapped as the
 * reconciliation does, payments/reconcile.ts), flagging those no ledger entry credits – a lost webhook
 * `npx leadwire reconcile` would fix. Credits nothing. A Stripe that cannot be asked is a violation too: the
 * audit could not vouch for that agency.
 */
async function stripeCheck(
  db: DbOrTx,
  stripe: { hours: number } | null,
  agencyId: string | null,
  maxListed: number,
): Promise<AuditCheck> {
  const base = { name: STRIPE_CHECK, description: STRIPE_DESCRIPTION };
  if (!stripe) return { ...base, checked: 0, failed: 0, violations: [], skipped: 'not asked (--stripe)' };
  const until = new Date();
  const window = { since: new Date(until.getTime() - stripe.hours * 3_600_000), until };
  const violations: AuditViolation[] = [];
  let checked = 0;
  for (const agency of await agenciesWithPaymentSettings(db, agencyId)) {
    try {
      const found = await unsettledIntents(db, agency, window);
      checked += found?.checked ?? 0;
      for (const u of found?.unsettled ?? [])
        violations.push({
          check: STRIPE_CHECK,
          message: `agency ${agency}: Stripe says ${u.paymentIntentId} (payment ${u.paymentId}, ${formatMoney(u.amount, u.currency)}) succeeded; no ledger entry credits it`,
          ids: { agencyId: agency, paymentId: u.paymentId, buyerId: u.buyerId, paymentIntentId: u.paymentIntentId },
        });
    } catch (err) {
      if (!(err instanceof ReconcileFailed)) throw err;
      violations.push({ check: STRIPE_CHECK, message: `agency ${agency}: ${err.message}`, ids: { agencyId: agency } });
    }
  }
  return { ...base, checked, failed: violations.length, violations: violations.slice(0, maxListed) };
}

/** The report as text lines: what was checked, with counts, and every listed violation. */
export function formatAudit(report: AuditReport): string {
  const lines = [`Ledger audit${report.scope.agencyId ? ` of agency ${report.scope.agencyId}` : ''} (${report.ms} ms)`];
  for (const c of report.checks) {
    const verdict = c.skipped ? `SKIPPED (${c.skipped})` : c.failed ? `FAILED: ${c.failed} violation(s)` : 'ok';
    lines.push(
      `  ${c.failed ? '✗' : c.skipped ? '-' : '✓'} ${c.name.padEnd(12)} ${String(c.checked).padStart(8)} checked  ${verdict}`,
    );
    lines.push(`      ${c.description}`);
    for (const v of c.violations) lines.push(`      ! ${v.message}`);
    if (c.failed > c.violations.length) lines.push(`      … and ${c.failed - c.violations.length} more`);
  }
  lines.push(report.ok ? 'All invariants hold.' : `${report.checks.reduce((n, c) => n + c.failed, 0)} violation(s).`);
  return lines.join('\n');
}

// ─── npm run audit ───────────────────────────────────────────────────────────

const HELP = `Usage: npm run audit -- [--agency ID] [--min-age-seconds N] [--json] [--no-temporal] [--stripe [--stripe-hours N]]

Checks every money and lifecycle invariant from the data (docs/operations.md#ledger-audit): balances
equal their ledgers, every charge has its sale, no lead sold twice, every lead's workflow matches its
status. Reads DATABASE_URL and TEMPORAL_ADDRESS, else the running \`npm start\`. Exit 0: all hold;
1: violations (listed); 2: the audit could not run.

Options:
  --agency ID             one agency only
  --min-age-seconds N     leave out leads younger than N seconds (still moving; default 60)
  --json                  the report as JSON
  --no-temporal           skip the workflow checks (no Temporal needed)
  --stripe                also ask Stripe for each agency's succeeded payments and flag any the ledger lacks
                          (credits nothing: \`npx leadwire reconcile\` does)
  --stripe-hours N        how far back --stripe looks (default ${RECONCILE_DEFAULT_HOURS})
  --help                  this text`;

function auditArgs(argv: string[]) {
  return commandLine(
    {
      help: HELP,
      options: {
        agency: { type: 'string' },
        'min-age-seconds': { type: 'string' },
        json: { type: 'boolean' },
        'no-temporal': { type: 'boolean' },
        stripe: { type: 'boolean' },
        'stripe-hours': { type: 'string' },
      },
    },
    argv,
    ({ values }) => ({
      agencyId: (values.agency as string | undefined) ?? null,
      minAgeSeconds: numberFlag(values['min-age-seconds'], '--min-age-seconds', 60, (n) => n >= 0, 'a number ≥ 0'),
      json: values.json === true,
      temporal: values['no-temporal'] !== true,
      stripe:
        values.stripe === true
          ? {
              hours: numberFlag(
                values['stripe-hours'],
                '--stripe-hours',
                RECONCILE_DEFAULT_HOURS,
                (n) => n > 0,
                'a number of hours > 0',
              ),
            }
          : null,
    }),
  );
}

async function main(argv: string[]): Promise<number> {
  const args = auditArgs(argv);
  // TEMPORAL_ADDRESS / DATABASE_URL, else the running `npm start` (its stack.json).
  const { config } = withRunningStack(loadConfig());
  // Read-only: no migrations applied.
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: path.join(config.dataDir, 'pglite'),
    migrate: false,
  });
  let connection: Connection | null = null;
  try {
    const target = args.temporal ? config.temporal : null;
    if (target) connection = await Connection.connect(connectionOptions(target));
    const report = await runAudit(database.db, {
      agencyId: args.agencyId,
      temporal: connection ? new Client({ connection, namespace: config.temporalNamespace }) : null,
      minAgeMs: args.minAgeSeconds * 1000,
      stripe: args.stripe,
    });
    console.log(args.json ? JSON.stringify(report, null, 2) : formatAudit(report));
    return report.ok ? 0 : 1;
  } finally {
    await connection?.close();
    await database.close();
  }
}

if (require.main === module) runTool(main);
