/**
 * A randomized fault campaign (a nemesis run in the spirit of Jepsen) on the cluster topology: its own
 * Postgres (postgres.ts), the Temporal cluster's four services, two workers and two APIs behind the
 * round-robin proxy (test/faults/harness.ts), a steady mixed load (operations.ts; card top-ups against
 * stripe-mock with their signed webhooks, payments.ts) and flaky webhook receivers (receivers.ts), while the
 * nemesis (faults.ts) injects and heals one random fault after another from a schedule drawn from the seed.
 * At the end the load stops, every process is brought up, the leads and deliveries settle, and the checker
 * (invariants.ts) judges the data.
 *
 * `npm run nemesis` (ops/nemesis.ts) and test/faults/nemesis.test.ts run this module.
 */
import os from 'node:os';

import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';

import { openDatabase } from '../../db/connection';
import { endpointPostKey } from '../../domain/ids';
import { POST_UNKNOWN } from '../../domain/types';
import { startStripeMock } from '../../lib/stripe-mock';
import { type Stack, startStack } from '../../test/faults/harness';
import { FINAL_STATUSES } from '../../test/faults/invariants';
import type { RetryStats } from '../../test/faults/traffic';
import { startEndpointFleet } from '../../test/helpers/endpoint-fleet';
import {
  type ExitRecord,
  FAULT_KINDS,
  type FaultKind,
  type FaultOutcome,
  type NemesisContext,
  type PlannedFault,
  planSchedule,
  runSchedule,
  startSupervisor,
  type Supervisor,
} from './faults';
import { formatEvent, History, type Ids } from './history';
import { type Finding, type Invariant, INVARIANTS } from './invariants';
import { type OpContext, opContext, type Operation, OPERATIONS, startLoad } from './operations';
import { setUpCardPayments } from './payments';
import { startOwnPostgres } from './postgres';
import { startReceivers } from './receivers';
import { setUpAutoRecharges, startRechargeStripe } from './recharges';
import { Rng } from './rng';
import { buildWorld } from './world';

export interface CampaignOptions {
  seed: number;
  /** How long the load and the faults run. */
  durationMs: number;
  log?: (m: string) => void;
  buyers?: number;
  /** Gap between faults, drawn in [min, max] ms (default 2–6 s). */
  gapMs?: [number, number];
  /** Bound on the wait for leads and deliveries to settle after the load (default 4 min). */
  settleTimeoutMs?: number;
  faultKinds?: FaultKind[];
  operations?: Operation[];
  invariants?: Invariant[];
}

export interface CampaignReport {
  seed: number;
  durationMs: number;
  schedule: PlannedFault[];
  faults: FaultOutcome[];
  /** Faults injected, by kind (and by kind and target). */
  faultsByKind: Record<string, number>;
  faultsByTarget: Record<string, number>;
  /** Faults that could not be injected or healed. */
  faultErrors: string[];
  /** Per operation: invoked, acknowledged (ok), refused (fail), indeterminate (info). */
  operations: Record<string, { attempted: number; ok: number; fail: number; info: number }>;
  webhooks: { stored: number; duplicatesDeduplicated: number; receiverAnswers: Record<string, number> };
  /** What the buyers' endpoint servers saw (#22): pings, posts, resends of a post under its key, posts taken; sales. */
  endpoints: { pings: number; posts: number; resent: number; taken: number; sold: number; inReview: number };
  retries: RetryStats;
  /** Processes that died without the nemesis killing them (all of them, as the harness counts). */
  unexpectedExits: Record<string, number>;
  /**
   * The supervisor's view of those exits (it restarts each, as docker-compose's restart policy does):
   * crashes of a process that was up, and starts that failed (e.g. Postgres or Temporal unreachable).
   */
  crashes: ExitRecord[];
  failedStarts: ExitRecord[];
  /** Temporal services that exited because a Postgres fault took their database: the fault's effect, not a crash. */
  outageExits: Supervisor['outageExits'];
  findings: Finding[];
  invariantsChecked: string[];
  /** Printed report (the same as the log's end). */
  text: string;
  load: { before: number[]; after: number[]; cpus: number };
  wallMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function availableKinds(kinds: FaultKind[] = FAULT_KINDS): FaultKind[] {
  return kinds.filter((k) => k.available?.() ?? true);
}

/** The schedule a seed gives (printed before the run; the same seed, the same schedule). */
export function scheduleFor(
  seed: number,
  durationMs: number,
  kinds: FaultKind[],
  gapMs: [number, number] = [2_000, 6_000],
) {
  return planSchedule(new Rng(seed).fork('nemesis'), kinds, { durationMs, gapMs, warmUpMs: 8_000 });
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignReport> {
  const log = opts.log ?? ((m: string) => process.stdout.write(`${m}\n`));
  const wall = Date.now();
  const loadBefore = os.loadavg();
  const kinds = availableKinds(opts.faultKinds);
  const missing = (opts.faultKinds ?? FAULT_KINDS).filter((k) => !kinds.includes(k)).map((k) => k.name);
  if (missing.length) log(`[nemesis] NOT available on this machine, left out of the schedule: ${missing.join(', ')}`);
  const schedule = scheduleFor(opts.seed, opts.durationMs, kinds, opts.gapMs);
  log(`[nemesis] seed ${opts.seed}: ${schedule.length} faults planned over ${opts.durationMs / 1000} s`);
  for (const f of schedule)
    log(
      `  #${String(f.n).padStart(3)} at ${(f.atMs / 1000).toFixed(1).padStart(6)} s  ${f.kind} ${f.target}${f.arg !== undefined ? ` ${f.arg > 0 ? '+' : ''}${f.arg}s` : ''} for ${f.holdMs} ms`,
    );

  const postgres = await startOwnPostgres(log);
  const cleanups: (() => Promise<void> | void)[] = [() => postgres.stop()];
  try {
    const dbUrl = new URL(postgres.adminUrl);
    const { Client: PgClient } = await import('pg');
    const admin = new PgClient({ connectionString: postgres.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE leadwire_nemesis');
    await admin.end();
    dbUrl.pathname = '/leadwire_nemesis';
    const database = await openDatabase({ url: dbUrl.toString(), poolSize: 4 });
    cleanups.push(() => database.close());
    const pool = database.raw as Pool;

    // Stripe's mock API: the agency's card payments talk to it (payments.ts); the workers' auto-recharges through
    // the recording proxy, which plays Stripe's idempotency and delivers each intent's webhook (recharges.ts).
    const stripeMock = await startStripeMock({ log });
    cleanups.push(() => stripeMock.stop());
    const rechargeStripe = await startRechargeStripe(stripeMock.url);
    cleanups.push(() => rechargeStripe.stop());

    const stack: Stack = await startStack({
      databaseUrl: dbUrl.toString(),
      log,
      topology: 'cluster',
      env: {
        LOG_LEVEL: 'warn',
        LW_WEBHOOK_ALLOWLIST: '127.0.0.1',
        // Deliveries retried within seconds, not hours, so the run can wait for every one.
        LW_DELIVERY_INITIAL_INTERVAL_MS: '500',
        LW_DELIVERY_BACKOFF: '1.5',
        LW_DELIVERY_MAX_INTERVAL_MS: '4000',
        LW_DELIVERY_MAX_ATTEMPTS: '40',
        LW_STRIPE_API_BASE: rechargeStripe.url,
      },
    });
    cleanups.push(() => stack.close());
    const connection = await Connection.connect({ address: stack.temporal.address });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection });

    const rng = new Rng(opts.seed);
    const history = new History(Date.now());
    const receivers = await startReceivers(rng.fork('receivers'), history);
    cleanups.push(() => receivers.close());
    // Buyers' own systems (#22): endpoint servers the ping tree pings and posts to.
    const fleet = startEndpointFleet();
    cleanups.push(() => fleet.close());
    const world = await buildWorld(stack.baseUrl, stack.rootToken, receivers, {
      buyers: opts.buyers ?? 8,
      credits: 20_000,
      windowSeconds: 2,
      endpoints: fleet,
    });
    const cards = await setUpCardPayments(database.db, world, {
      stripeApiBase: stripeMock.url,
      apiUrls: stack.apiUrls,
      rng: rng.fork('cards'),
    });
    const recharges = await setUpAutoRecharges(world, cards, rng.fork('recharges'));
    log(
      `[nemesis] world: agency ${world.agencyId}, ${world.buyers.length} buyers (${cards.buyerIds.length} paying by card, ${recharges.buyerIds.length} on auto-recharge), ${world.endpointBuyers.length} endpoint buyers in a ping tree, ${world.sources.length} sources`,
    );

    // The clock of the schedule starts with the load.
    history.reset();
    const ctx = opContext(world, history, { retryDeadlineMs: 180_000, cards, recharges });
    rechargeStripe.deliverTo(ctx, rng.fork('recharge-stripe'));
    const nemesis: NemesisContext = {
      stack,
      postgres,
      history,
      log,
      temporal: connection,
      held: new Set(),
      upPids: new Set(),
      outages: [],
    };
    const supervisor = startSupervisor(nemesis);
    const load = startLoad(ctx, rng, opts.operations ?? OPERATIONS);
    const progress = setInterval(() => {
      const ops = history.events.filter((e) => e.kind === 'op' && e.name !== 'webhook');
      log(
        `[nemesis] ${(history.now() / 1000).toFixed(0)} s: ${ops.filter((e) => e.phase === 'invoke').length} ops invoked, ${ops.filter((e) => e.phase === 'ok').length} acknowledged; load ${os.loadavg()[0]!.toFixed(1)}`,
      );
    }, 15_000);
    let outcomes: FaultOutcome[] = [];
    try {
      outcomes = await runSchedule(nemesis, kinds, schedule);
      const left = opts.durationMs - history.now();
      if (left > 0) await sleep(left);
    } finally {
      clearInterval(progress);
      await supervisor.stop();
    }
    log(`[nemesis] ${(history.now() / 1000).toFixed(1)} s: faults over; every process up, load stopping`);
    await stack.ensureUp();
    await load.stop();
    log(`[nemesis] ${(history.now() / 1000).toFixed(1)} s: load stopped; waiting for leads and deliveries to settle`);
    await settle(pool, world.agencyId, receivers, ctx, opts.settleTimeoutMs ?? 240_000);
    log(`[nemesis] ${(history.now() / 1000).toFixed(1)} s: settled; checking`);

    const invariants = opts.invariants ?? INVARIANTS;
    const findings: Finding[] = [];
    for (const inv of invariants) {
      try {
        findings.push(...(await inv.check({ pool, database, temporal, world, history, receivers })));
      } catch (err) {
        findings.push({ invariant: inv.name, message: `the check itself failed: ${(err as Error).message}`, ids: {} });
      }
    }

    const received = world.endpointBuyers.flatMap((b) => b.server.received);
    // Sold through a post: the sale's won event carries the post's key (domain/ids.ts endpointPostKey).
    const won = (
      await pool.query(
        `SELECT e.offer_id, e.buyer_id, e.data ->> 'requestId' AS request_id
           FROM offer_events e JOIN offers o ON o.id = e.offer_id WHERE o.agency_id = $1 AND e.type = 'won'`,
        [world.agencyId],
      )
    ).rows as { offer_id: string; buyer_id: string; request_id: string | null }[];
    const inReview = (
      await pool.query(
        `SELECT count(*)::int AS n FROM leads WHERE agency_id = $1 AND status = 'manual_review' AND status_reason = $2`,
        [world.agencyId, POST_UNKNOWN],
      )
    ).rows[0] as { n: number };
    const endpoints = {
      pings: received.filter((r) => r.path === '/ping').length,
      posts: received.filter((r) => r.path === '/post').length,
      resent: received.filter((r) => r.replayed).length,
      taken: world.endpointBuyers.reduce((n, b) => n + b.server.taken().length, 0),
      sold: won.filter((w) => w.request_id === endpointPostKey(w.offer_id, w.buyer_id)).length,
      inReview: inReview.n,
    };
    const report = summarize({
      opts,
      endpoints,
      schedule,
      outcomes,
      history,
      receivers,
      ctx,
      stack,
      supervisor,
      findings,
      invariants,
      loadBefore,
      wall,
    });
    report.text += await violationHistories(pool, history, findings);
    log(report.text);
    return report;
  } finally {
    for (const c of cleanups.reverse())
      await Promise.resolve(c()).catch((err: unknown) => log(`cleanup: ${String(err)}`));
  }
}

/**
 * Waits (bounded) until every lead is final, every webhook delivery is done with (delivered or failed), and every
 * auto-recharge asked for is paid and its Stripe deliveries over.
 */
async function settle(
  pool: Pool,
  agencyId: string,
  receivers: { byWebhookId: Map<string, unknown> },
  ctx: OpContext,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await pool.query(
      `SELECT
         (SELECT count(*)::int FROM leads WHERE agency_id = $1 AND status <> ALL($2::text[])) AS open_leads,
         (SELECT count(*)::int FROM offers WHERE agency_id = $1 AND status = 'open') AS open_offers,
         (SELECT count(*)::int FROM assignments a WHERE a.agency_id = $1) AS sales,
         (SELECT count(*)::int FROM recharge_requests WHERE agency_id = $1 AND started_at IS NULL)
           + (SELECT count(*)::int FROM payments WHERE agency_id = $1 AND kind = 'auto_recharge' AND status = 'pending')
           AS recharging`,
      [agencyId, FINAL_STATUSES],
    );
    const r = rows[0] as { open_leads: number; open_offers: number; sales: number; recharging: number };
    if (
      r.open_leads === 0 &&
      r.open_offers === 0 &&
      receivers.byWebhookId.size >= r.sales &&
      r.recharging === 0 &&
      ctx.pending.size === 0
    )
      return;
    await sleep(500);
  }
}

function related(pool: Pool, agencyId: string) {
  return async () => {
    const offers = (await pool.query('SELECT id, lead_id FROM offers WHERE agency_id = $1', [agencyId])).rows as {
      id: string;
      lead_id: string;
    }[];
    const sales = (
      await pool.query('SELECT id, lead_id, offer_id, buyer_id FROM assignments WHERE agency_id = $1', [agencyId])
    ).rows as { id: string; lead_id: string; offer_id: string; buyer_id: string }[];
    const leadOfOffer = new Map(offers.map((o) => [o.id, o.lead_id]));
    return (ids: Ids): Ids[] => {
      const out: Ids[] = [];
      const leadId = ids.leadId ?? (ids.offerId ? leadOfOffer.get(ids.offerId) : undefined);
      if (leadId) {
        out.push({ leadId });
        for (const o of offers) if (o.lead_id === leadId) out.push({ offerId: o.id });
        for (const s of sales) if (s.lead_id === leadId) out.push({ assignmentId: s.id });
      }
      if (ids.assignmentId) {
        const s = sales.find((x) => x.id === ids.assignmentId);
        if (s) out.push({ leadId: s.lead_id, offerId: s.offer_id });
      }
      return out;
    };
  };
}

/** For each violation (the first 20), the operations and faults that touched its lead, offer, sale or buyer. */
async function violationHistories(pool: Pool, history: History, findings: Finding[]): Promise<string> {
  if (!findings.length) return '';
  const agencyId = (await pool.query('SELECT agency_id FROM buyers LIMIT 1')).rows[0]?.agency_id as string;
  const widen = await related(pool, agencyId)();
  const lines = ['', 'VIOLATIONS, each with the history that led to it:'];
  for (const f of findings.slice(0, 20)) {
    lines.push('', `✗ ${f.invariant}: ${f.message}`);
    // A buyer id alone would pull in every operation of that buyer: only with nothing narrower.
    const narrow: Ids = f.ids.leadId || f.ids.offerId || f.ids.assignmentId ? { ...f.ids, buyerId: undefined } : f.ids;
    const events = history.touching(narrow, widen);
    for (const e of events.slice(-60)) lines.push(`    ${formatEvent(e)}`);
    if (!events.length) lines.push('    (no operation of the load touched these ids)');
  }
  if (findings.length > 20) lines.push('', `… and ${findings.length - 20} more violations`);
  return `${lines.join('\n')}\n`;
}

function summarize(a: {
  opts: CampaignOptions;
  endpoints: CampaignReport['endpoints'];
  schedule: PlannedFault[];
  outcomes: FaultOutcome[];
  history: History;
  receivers: Awaited<ReturnType<typeof startReceivers>>;
  ctx: OpContext;
  stack: Stack;
  supervisor: Supervisor;
  findings: Finding[];
  invariants: Invariant[];
  loadBefore: number[];
  wall: number;
}): CampaignReport {
  const faultsByKind: Record<string, number> = {};
  const faultsByTarget: Record<string, number> = {};
  for (const f of a.outcomes) {
    if (f.error && f.healedMs === null) continue;
    faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
    const t = `${f.kind} ${f.target}`;
    faultsByTarget[t] = (faultsByTarget[t] ?? 0) + 1;
  }
  const faultErrors = a.outcomes.filter((f) => f.error).map((f) => `#${f.n} ${f.kind} ${f.target}: ${f.error}`);
  const operations: CampaignReport['operations'] = {};
  for (const e of a.history.events) {
    if (e.kind !== 'op' || e.name === 'webhook') continue;
    const o = (operations[e.name] ??= { attempted: 0, ok: 0, fail: 0, info: 0 });
    if (e.phase === 'invoke') o.attempted++;
    else if (e.phase === 'ok' || e.phase === 'fail' || e.phase === 'info') o[e.phase]++;
  }
  const { stack } = a;
  const procs = [...stack.apis, ...stack.workers, ...Object.values(stack.cluster?.services ?? {})];
  const unexpectedExits = Object.fromEntries(
    procs.filter((p) => p.unexpectedExits).map((p) => [p.name, p.unexpectedExits]),
  );
  const stored = a.receivers.byWebhookId.size;
  const dupes = [...a.receivers.byWebhookId.values()].reduce((n, x) => n + x.arrivals - 1, 0);
  const loadAfter = os.loadavg();
  const byInvariant = new Map<string, number>();
  for (const f of a.findings) byInvariant.set(f.invariant, (byInvariant.get(f.invariant) ?? 0) + 1);
  const survived = a.outcomes.filter((f) => f.healedMs !== null && !f.error).length;

  const lines = [
    '',
    `=== nemesis campaign: seed ${a.opts.seed}, ${a.opts.durationMs / 1000} s, cluster topology (own Postgres, Temporal ×4 processes, 2 workers, 2 APIs) ===`,
    `replay:     npm run nemesis -- --duration ${a.opts.durationMs / 1000}s --seed ${a.opts.seed}`,
    `faults:     ${a.outcomes.length} injected of ${a.schedule.length} planned, ${survived} healed and survived; by kind ${JSON.stringify(faultsByKind)}`,
    `            by target ${JSON.stringify(faultsByTarget)}`,
    ...(faultErrors.length ? [`fault errors: ${faultErrors.join('; ')}`] : []),
    `operations: ${Object.entries(operations)
      .map(
        ([k, v]) =>
          `${k} ${v.attempted} attempted / ${v.ok} acknowledged / ${v.fail} refused / ${v.info} indeterminate`,
      )
      .join('; ')}`,
    `webhooks:   ${stored} webhook-ids stored by the receivers, ${dupes} repeated deliveries deduplicated; receiver answers ${JSON.stringify(a.receivers.counts)}`,
    `endpoints:  ${a.endpoints.pings} pings, ${a.endpoints.posts} posts (${a.endpoints.resent} resent under their key), ${a.endpoints.taken} taken by the buyers; ${a.endpoints.sold} leads sold to endpoint buyers, ${a.endpoints.inReview} in review as post_unknown`,
    `retries:    ${JSON.stringify({ ...a.ctx.retries.byStatus, connection: a.ctx.retries.connectionErrors })}`,
    `exits:      not the nemesis's: ${JSON.stringify(unexpectedExits)}; restarted by the supervisor ${JSON.stringify(a.supervisor.restarts)}: ${a.supervisor.crashes.length} crashes of a process that was up, ${a.supervisor.failedStarts.length} failed starts, ${a.supervisor.outageExits.length} Temporal services taken down by a Postgres fault`,
    ...[
      ...a.supervisor.crashes.map((c) => ({ ...c, what: 'CRASH' })),
      ...a.supervisor.failedStarts.map((c) => ({ ...c, what: 'failed start' })),
      ...a.supervisor.outageExits.map((c) => ({
        ...c,
        what: `exit in Postgres fault ${c.fault}`,
        tail: c.databaseError ?? c.tail,
      })),
    ].map(
      (c) =>
        `            ${c.what} of ${c.name} at ${(c.atMs / 1000).toFixed(1)} s: ${c.tail.split('\n').filter(Boolean).slice(0, 2).join(' | ').slice(0, 300)}`,
    ),
    `machine:    ${os.cpus().length} cores, load average ${a.loadBefore.map((x) => x.toFixed(2)).join(' ')} at the start, ${loadAfter.map((x) => x.toFixed(2)).join(' ')} at the end; wall ${((Date.now() - a.wall) / 1000).toFixed(0)} s`,
    `invariants: ${a.invariants.length} checked (${a.invariants.map((i) => i.name).join(', ')})`,
    `violations: ${a.findings.length}${a.findings.length ? ` ${JSON.stringify(Object.fromEntries(byInvariant))}` : ''}`,
  ];
  return {
    seed: a.opts.seed,
    durationMs: a.opts.durationMs,
    schedule: a.schedule,
    faults: a.outcomes,
    faultsByKind,
    faultsByTarget,
    faultErrors,
    operations,
    webhooks: { stored, duplicatesDeduplicated: dupes, receiverAnswers: { ...a.receivers.counts } },
    endpoints: a.endpoints,
    retries: a.ctx.retries,
    unexpectedExits,
    crashes: [...a.supervisor.crashes],
    failedStarts: [...a.supervisor.failedStarts],
    outageExits: [...a.supervisor.outageExits],
    findings: a.findings,
    invariantsChecked: a.invariants.map((i) => i.name),
    text: lines.join('\n'),
    load: { before: a.loadBefore, after: loadAfter, cpus: os.cpus().length },
    wallMs: Date.now() - a.wall,
  };
}
