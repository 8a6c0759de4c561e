/**
 * One fault scenario: build a fresh agency through the API, drive steady
 * traffic, inject the fault, let the traffic run on, stop the leads, wait
 * (bounded) until every lead is final, then check everything that was
 * promised and report the numbers.
 */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';

import type { Database } from '../../db/connection';
import { leadWorkflowId } from '../../domain/ids';
import { runAudit } from '../../ops/audit';
import type { Log, Stack } from './harness';
import { sleep } from './harness';
import { agencyCounts, checkInvariants, FINAL_STATUSES, INVARIANTS, type Violation } from './invariants';
import { buildTrafficWorld, Traffic, type TrafficOptions, type TrafficWorld, type WorldOptions } from './traffic';

export interface FaultContext {
  stack: Stack;
  traffic: Traffic;
  world: TrafficWorld;
  pool: Pool;
  log: Log;
}

export interface FaultResult {
  /** How many faults were injected. */
  faults: number;
  /** What was done, for the report. */
  description: string;
  /** How long the faulty part was away, in total. */
  outageMs: number;
  /** When the last fault ended (everything restarted or restored). */
  restoredAt: number;
  notes?: Record<string, unknown>;
}

export interface ScenarioOptions {
  name: string;
  traffic: TrafficOptions;
  world?: WorldOptions;
  /** Traffic before the fault (at least this long, and until a few sales happened). */
  beforeMs: number;
  /** Traffic after the fault was repaired. */
  afterMs: number;
  fault: (ctx: FaultContext) => Promise<FaultResult>;
  /** Bound on the wait for every lead to be final once the leads stop. */
  settleTimeoutMs?: number;
}

export interface ScenarioReport {
  name: string;
  agencyId: string;
  violations: Violation[];
  fault: FaultResult;
  traffic: ReturnType<Traffic['summary']>;
  /** Every request the clients made and what they were told. */
  client: Traffic;
  counts: Awaited<ReturnType<typeof agencyCounts>>;
  /** Checks run: ours, the client view, the workflows, and ops/audit.ts's. */
  checks: number;
  recovery: { firstLeadAcceptedMs: number | null; firstOfferOpenedMs: number | null; firstSaleMs: number | null };
  settledMs: number;
  totalMs: number;
}

const seconds = (ms: number | null) => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

export async function runScenario(
  stack: Stack,
  database: Database,
  temporal: Client,
  opts: ScenarioOptions,
  log: Log,
): Promise<ScenarioReport> {
  const t0 = Date.now();
  const pool = database.raw as Pool;
  await stack.ensureUp();
  const world = await buildTrafficWorld(stack.baseUrl, stack.rootToken, opts.world);
  const traffic = new Traffic(stack.baseUrl, world, opts.traffic);
  traffic.start();
  let fault: FaultResult;
  let settledMs = 0;
  try {
    // Warm up: the stream flows and some claims were charged before the fault.
    const warm = Date.now() + opts.beforeMs;
    while (
      Date.now() < warm ||
      (traffic.claims.filter((c) => c.outcome === 'won').length < 2 && Date.now() < warm + 30_000)
    )
      await sleep(200);

    fault = await opts.fault({ stack, traffic, world, pool, log });
    await sleep(opts.afterMs);
    await traffic.stopLeads();

    // Every lead final in the database, and every sold lead's workflow done.
    const settleStart = Date.now();
    const deadline = settleStart + (opts.settleTimeoutMs ?? 120_000);
    for (;;) {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM leads WHERE agency_id = $1 AND status <> ALL($2::text[])`,
        [world.agencyId, FINAL_STATUSES],
      );
      if (rows[0].n === 0) break;
      if (Date.now() > deadline) break; // reported as a violation below
      await sleep(250);
    }
    settledMs = Date.now() - settleStart;
  } finally {
    await traffic.stop();
  }

  const violations = await checkInvariants(pool, world.agencyId);
  violations.push(...(await clientView(pool, world, traffic)));
  violations.push(...(await workflowsAccountedFor(pool, temporal, world.agencyId)));
  // The project's ledger audit (ops/audit.ts) over the same agency, as a second, independent opinion.
  const audit = await runAudit(database.db, { agencyId: world.agencyId, temporal, minAgeMs: 0 });
  for (const c of audit.checks)
    if (c.failed)
      violations.push({ invariant: `audit: ${c.name}`, rows: c.violations as unknown as Record<string, unknown>[] });

  const since = (rows: { t: Date | null }[]) =>
    rows[0]?.t ? Math.max(0, rows[0].t.getTime() - fault.restoredAt) : null;
  const firstLead = traffic.leads
    .filter((l) => l.acceptedAt !== null && l.submittedAt >= fault.restoredAt)
    .map((l) => l.acceptedAt! - fault.restoredAt);
  const recovery = {
    firstLeadAcceptedMs: firstLead.length ? Math.min(...firstLead) : null,
    firstOfferOpenedMs: since(
      (
        await pool.query('SELECT min(opened_at) AS t FROM offers WHERE agency_id = $1 AND opened_at >= $2', [
          world.agencyId,
          new Date(fault.restoredAt),
        ])
      ).rows,
    ),
    firstSaleMs: since(
      (
        await pool.query('SELECT min(created_at) AS t FROM assignments WHERE agency_id = $1 AND created_at >= $2', [
          world.agencyId,
          new Date(fault.restoredAt),
        ])
      ).rows,
    ),
  };
  const report: ScenarioReport = {
    name: opts.name,
    agencyId: world.agencyId,
    violations,
    fault,
    traffic: traffic.summary(),
    client: traffic,
    counts: await agencyCounts(pool, world.agencyId),
    checks: INVARIANTS.length + CLIENT_CHECKS + 1 + audit.checks.length,
    recovery,
    settledMs,
    totalMs: Date.now() - t0,
  };
  log(formatReport(report));
  return report;
}

function formatReport(r: ScenarioReport): string {
  const t = r.traffic;
  const accounted = Object.entries(r.counts.leads).reduce((n, [, v]) => n + v, 0);
  const faulty = r.fault.faults > 0;
  const lines = [
    `[${faulty ? 'faults' : 'load'}] ${r.name}`,
    `  fault:     ${r.fault.description}${faulty ? `; ${r.fault.faults} fault(s), away ${seconds(r.fault.outageMs)}` : ''}${r.fault.notes ? `; ${JSON.stringify(r.fault.notes)}` : ''}`,
    `  leads:     ${t.leadsSubmitted} submitted, ${t.leadsAccepted} accepted, ${accounted} in the database ${JSON.stringify(r.counts.leads)}; ${t.retriedLeads} needed retries`,
    `  claims:    ${t.claims} (${JSON.stringify(t.claimOutcomes)}); ${t.retriedClaims} retried with the same requestId; retry answers ${JSON.stringify(t.retryAnswers)}`,
    `  sales:     ${r.counts.assignments} assignments (${r.counts.claimed} claimed, ${r.counts.pushed} pushed), ${r.counts.charged} credits charged; offers ${JSON.stringify(r.counts.offers)}`,
    `  recovery:  ${faulty ? `after the repair, first lead accepted +${seconds(r.recovery.firstLeadAcceptedMs)}, first offer opened +${seconds(r.recovery.firstOfferOpenedMs)}, first sale +${seconds(r.recovery.firstSaleMs)}; ` : ''}all leads final ${seconds(r.settledMs)} after the last lead; run ${seconds(r.totalMs)}`,
    `  checks:    ${r.checks - new Set(r.violations.map((v) => v.invariant)).size}/${r.checks} hold${r.violations.length ? `\n  VIOLATIONS: ${JSON.stringify(r.violations, null, 1).slice(0, 4000)}` : ''}`,
  ];
  return lines.join('\n');
}

const CLIENT_CHECKS = 4;

/**
 * What the clients were told matches the money: each bot was charged for
 * exactly the ping-post offers it was told it won, and every claim got a
 * final answer; every lead the admin submitted was accepted and is in the
 * database, and nothing else is.
 */
async function clientView(pool: Pool, world: TrafficWorld, traffic: Traffic): Promise<Violation[]> {
  const out: Violation[] = [];
  const { rows } = await pool.query(
    `SELECT a.buyer_id, a.offer_id FROM assignments a JOIN offers o ON o.id = a.offer_id WHERE a.agency_id = $1 AND o.kind = 'ping_post'`,
    [world.agencyId],
  );
  const charged = new Set(rows.map((r) => `${r.buyer_id}:${r.offer_id}`));
  const told = new Set(traffic.claims.filter((c) => c.outcome === 'won').map((c) => `${c.buyerId}:${c.offerId}`));
  const notTold = [...charged].filter((k) => !told.has(k));
  const notCharged = [...told].filter((k) => !charged.has(k));
  if (notTold.length)
    out.push({
      invariant: 'client view: no charge the buyer was not told about (phantom charge)',
      rows: notTold.map((k) => ({ sale: k, claims: traffic.claims.filter((c) => `${c.buyerId}:${c.offerId}` === k) })),
    });
  if (notCharged.length)
    out.push({
      invariant: 'client view: every win the buyer was told about is charged',
      rows: notCharged.map((k) => ({ sale: k })),
    });
  const unanswered = traffic.claims.filter(
    (c) => c.outcome === null || c.outcome === 'gave_up' || c.outcome === 'error',
  );
  if (unanswered.length)
    out.push({
      invariant: 'client view: every claim got a final answer',
      rows: unanswered.slice(0, 10) as unknown as Record<string, unknown>[],
    });

  const refused = traffic.leads.filter((l) => l.acceptedAt === null);
  const accepted = new Set(traffic.leads.flatMap((l) => (l.leadId ? [l.leadId] : [])));
  const stored = new Set(
    (await pool.query('SELECT id FROM leads WHERE agency_id = $1', [world.agencyId])).rows.map((r) => r.id as string),
  );
  const missing = [...accepted].filter((id) => !stored.has(id));
  const extra = [...stored].filter((id) => !accepted.has(id));
  if (refused.length || missing.length || extra.length || accepted.size !== traffic.leads.length) {
    out.push({
      invariant: 'leads in = leads accounted for',
      rows: [
        { submitted: traffic.leads.length, accepted: accepted.size, refused: refused.slice(0, 5), missing, extra },
      ],
    });
  }
  return out;
}

/** Every lead has its workflow: completed when sold, waiting when in manual review; none failed. */
async function workflowsAccountedFor(pool: Pool, temporal: Client, agencyId: string): Promise<Violation[]> {
  const { rows } = await pool.query('SELECT id, status FROM leads WHERE agency_id = $1', [agencyId]);
  const wrong: Record<string, unknown>[] = [];
  const deadline = Date.now() + 60_000;
  for (const lead of rows as { id: string; status: string }[]) {
    const expected = lead.status === 'manual_review' ? 'RUNNING' : 'COMPLETED';
    let status = 'MISSING';
    for (;;) {
      try {
        status = (await temporal.workflow.getHandle(leadWorkflowId(lead.id)).describe()).status.name;
      } catch (err) {
        status = `MISSING (${(err as Error).name})`;
      }
      // A sold lead's workflow still delivering is about to complete: give it a moment.
      if (status === expected || status !== 'RUNNING' || Date.now() > deadline) break;
      await sleep(250);
    }
    if (status !== expected) wrong.push({ leadId: lead.id, leadStatus: lead.status, workflow: status });
  }
  return wrong.length
    ? [{ invariant: 'every lead has its workflow, completed or waiting for review, none failed', rows: wrong }]
    : [];
}
