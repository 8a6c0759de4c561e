/**
 * The nemesis: a registry of fault kinds and a scheduler that, from the printed seed alone, plans which
 * fault comes when (ms after the start), against which process, for how long – then injects each in
 * turn and heals it before the next. One fault at a time, so a violation can be pinned on one.
 *
 * To add a kind: write a `FaultKind` – `plan` draws its target and parameters from the schedule's
 * stream (and nothing else, so the schedule stays a function of the seed), `inject` does it and returns
 * the heal – and append it to FAULT_KINDS with a weight.
 */
import { execFileSync } from 'node:child_process';

import type { Connection } from '@temporalio/client';

import type { ProductProcess, Stack } from '../../test/faults/harness';
import type { History } from './history';
import type { OwnPostgres } from './postgres';
import type { Rng } from './rng';

export interface NemesisContext {
  stack: Stack;
  /** To the Temporal frontend (lazy): who polls the task queue. */
  temporal: Connection;
  postgres: OwnPostgres;
  history: History;
  log: (m: string) => void;
  /** Processes the nemesis holds down or is bringing up (the supervisor leaves them alone). */
  held: Set<string>;
  /** Pids that were up (a worker polling): an exit of one of them is a crash, not a failed start. */
  upPids: Set<number>;
  /** The Postgres faults so far, each while it lasts and once healed (the supervisor classifies exits by them). */
  outages: PostgresOutage[];
}

/**
 * A window in which Postgres was out of reach for some processes: `temporal` when Temporal's own connections
 * were cut or the server itself was down (ms after the start; `endMs` null while it lasts).
 */
export interface PostgresOutage {
  startMs: number;
  endMs: number | null;
  /** Whether Temporal's connections were hit (a restart of Postgres, or a cut of the `temporal` or `all` proxies). */
  temporal: boolean;
  fault: string;
}

/** Marks an outage from now until the returned function is called. */
function outage(ctx: NemesisContext, f: PlannedFault, temporal: boolean): () => void {
  const o: PostgresOutage = {
    startMs: ctx.history.now(),
    endMs: null,
    temporal,
    fault: `#${f.n} ${f.kind} ${f.target}`,
  };
  ctx.outages.push(o);
  return () => {
    o.endMs = ctx.history.now();
  };
}

export interface PlannedFault {
  /** 1-based position in the schedule. */
  n: number;
  kind: string;
  /** When it is due, ms after the campaign's start. */
  atMs: number;
  /** How long it lasts before the heal starts. */
  holdMs: number;
  /** The process (or proxy set) it hits. */
  target: string;
  /** Kind-specific: the clock shift in seconds for clock-skew. */
  arg?: number;
}

export interface FaultKind {
  name: string;
  weight: number;
  /** Whether this machine can inject it (faketime installed…); decided once, before planning. */
  available?(): boolean;
  plan(rng: Rng): Omit<PlannedFault, 'n' | 'kind' | 'atMs'>;
  /** Injects the fault; resolves to its heal. */
  inject(ctx: NemesisContext, f: PlannedFault): Promise<() => Promise<void>>;
}

/** Every process of the cluster topology by name (the harness's names). */
const PROCESSES = [
  'api-1',
  'api-2',
  'worker-1',
  'worker-2',
  'temporal-frontend',
  'temporal-history',
  'temporal-matching',
  'temporal-worker',
] as const;

function processNamed(stack: Stack, name: string): ProductProcess {
  const all = [...stack.apis, ...stack.workers, ...Object.values(stack.cluster?.services ?? {})];
  const p = all.find((x) => x.name === name);
  if (!p) throw new Error(`no process ${name} (have ${all.map((x) => x.name).join(', ')})`);
  return p;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts a process that is down and waits until it is really up: for a worker, until Temporal has seen
 * its own poll (the harness's readiness is satisfied by the other worker's).
 */
async function bringUp(ctx: NemesisContext, p: ProductProcess): Promise<void> {
  if (p.running) return;
  const before = p.name.startsWith('worker') ? await pollers(ctx) : null;
  await p.start();
  if (before) await newPoller(ctx, before);
  if (p.pid !== null) ctx.upPids.add(p.pid);
}

/** Waits (at most 90 s) until an identity not in `before` polls the task queue. */
async function newPoller(ctx: NemesisContext, before: Set<string>): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && [...(await pollers(ctx))].every((id) => before.has(id))) await sleep(250);
}

/**
 * Holds `name` for a fault: waits (at most 90 s) until it runs and nobody else (the supervisor, a heal)
 * is bringing it up, then marks it held. `release` when healed.
 */
async function hold(ctx: NemesisContext, name: string): Promise<ProductProcess> {
  const p = processNamed(ctx.stack, name);
  const deadline = Date.now() + 90_000;
  while ((ctx.held.has(name) || !p.running) && Date.now() < deadline) await sleep(200);
  if (ctx.held.has(name) || !p.running) throw new Error(`${name} did not come up within 90 s`);
  ctx.held.add(name);
  return p;
}

/** Brings a held process up (a heal) and lets the supervisor watch it again. */
async function release(ctx: NemesisContext, p: ProductProcess): Promise<void> {
  try {
    await bringUp(ctx, p);
  } finally {
    ctx.held.delete(p.name);
  }
}

const kill9: FaultKind = {
  name: 'kill9',
  weight: 4,
  plan: (rng) => ({ target: rng.pick(PROCESSES), holdMs: rng.int(500, 4_000) }),
  async inject(ctx, f) {
    const p = await hold(ctx, f.target);
    await p.kill9();
    return () => release(ctx, p);
  },
};

function signalGroup(p: ProductProcess, signal: NodeJS.Signals): void {
  if (p.pid === null) throw new Error(`${p.name} is not running`);
  process.kill(-p.pid, signal);
}

const pause: FaultKind = {
  name: 'pause',
  weight: 3,
  plan: (rng) => ({ target: rng.pick(PROCESSES), holdMs: rng.int(1_000, 8_000) }),
  async inject(ctx, f) {
    const p = await hold(ctx, f.target);
    signalGroup(p, 'SIGSTOP');
    return async () => {
      if (p.running) signalGroup(p, 'SIGCONT');
      ctx.held.delete(p.name);
    };
  },
};

const postgresRestart: FaultKind = {
  name: 'postgres-restart',
  weight: 2,
  plan: (rng) => ({ target: 'postgres', holdMs: rng.int(200, 3_000) }),
  async inject(ctx, f) {
    // Down for holdMs (pg_ctl stop -m immediate: a crash, recovery from the WAL on start).
    const over = outage(ctx, f, true);
    try {
      await ctx.postgres.restart(f.holdMs);
    } finally {
      over();
    }
    return async () => undefined;
  },
};

const PROXY_SETS = ['api', 'worker', 'temporal', 'all'] as const;

const dropConnections: FaultKind = {
  name: 'drop-connections',
  weight: 2,
  plan: (rng) => ({ target: rng.pick(PROXY_SETS), holdMs: rng.int(100, 3_000) }),
  async inject(ctx, f) {
    const proxies = Object.entries(ctx.stack.proxies)
      .filter(([side, p]) => p !== undefined && (f.target === 'all' || side === f.target))
      .map(([, p]) => p!);
    // Every open connection dropped, new ones refused while it lasts.
    const over = outage(ctx, f, f.target === 'temporal' || f.target === 'all');
    try {
      await Promise.all(proxies.map((p) => p.cut()));
    } catch (err) {
      over();
      throw err;
    }
    return async () => {
      await Promise.all(proxies.map((p) => p.restore()));
      over();
    };
  },
};

function hasFaketime(): boolean {
  try {
    execFileSync('faketime', ['-f', '+0s', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The identities polling the product's task queue now (workflow tasks). */
async function pollers(ctx: NemesisContext): Promise<Set<string>> {
  try {
    const { pollers: list } = await ctx.temporal.withDeadline(Date.now() + 2_000, () =>
      ctx.temporal.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: ctx.stack.taskQueue },
        taskQueueType: 1,
      }),
    );
    return new Set(list.map((p) => p.identity ?? ''));
  } catch {
    return new Set();
  }
}

/** A worker replaced by one whose clock is shifted (Debian's faketime, LD_PRELOAD: this process only). */
const clockSkew: FaultKind = {
  name: 'clock-skew',
  weight: 2,
  available: hasFaketime,
  plan: (rng) => {
    const seconds = rng.int(5, 90) * (rng.chance(0.5) ? 1 : -1);
    return { target: rng.pick(['worker-1', 'worker-2']), holdMs: rng.int(6_000, 15_000), arg: seconds };
  },
  async inject(ctx, f) {
    const normal = await hold(ctx, f.target);
    const shift = `${f.arg! >= 0 ? '+' : ''}${f.arg}s`;
    const skewed = ctx.stack.extraWorker(`${f.target}-skewed-${f.n}`, ['faketime', '-f', shift]);
    await normal.kill9();
    // Up once it polls itself: the hold counts from there.
    await bringUp(ctx, skewed);
    return async () => {
      await skewed.kill9();
      await release(ctx, normal);
    };
  },
};

/** The registry of fault kinds. */
export const FAULT_KINDS: FaultKind[] = [kill9, pause, postgresRestart, dropConnections, clockSkew];

export interface ScheduleOptions {
  durationMs: number;
  /** Gap between a fault's planned end and the next one's start: drawn in [min, max]. */
  gapMs: [number, number];
  /** The first fault comes after this warm-up. */
  warmUpMs: number;
}

/** The schedule: a function of the stream (i.e. the seed), the kinds and the options only. */
export function planSchedule(rng: Rng, kinds: FaultKind[], opts: ScheduleOptions): PlannedFault[] {
  const plan: PlannedFault[] = [];
  let at = opts.warmUpMs;
  for (let n = 1; ; n++) {
    const kind = rng.weighted(kinds.map((k) => [k, k.weight] as const));
    const drawn = kind.plan(rng);
    if (at + drawn.holdMs > opts.durationMs) break;
    plan.push({ n, kind: kind.name, atMs: at, ...drawn });
    at += drawn.holdMs + rng.int(opts.gapMs[0], opts.gapMs[1]);
  }
  return plan;
}

export interface FaultOutcome extends PlannedFault {
  /** When it was actually injected and healed (ms after the start); null when it could not be. */
  startedMs: number | null;
  healedMs: number | null;
  error: string | null;
}

/**
 * Runs the schedule: waits for each fault's time (or for the previous heal, when a restart took
 * longer), injects, holds, heals.
 */
export async function runSchedule(
  ctx: NemesisContext,
  kinds: FaultKind[],
  plan: PlannedFault[],
): Promise<FaultOutcome[]> {
  const outcomes: FaultOutcome[] = [];
  for (const f of plan) {
    const wait = f.atMs - ctx.history.now();
    if (wait > 0) await sleep(wait);
    const kind = kinds.find((k) => k.name === f.kind)!;
    const outcome: FaultOutcome = { ...f, startedMs: ctx.history.now(), healedMs: null, error: null };
    outcomes.push(outcome);
    const label = `${f.kind} ${f.target}${f.arg !== undefined ? ` ${f.arg > 0 ? '+' : ''}${f.arg}s` : ''}`;
    ctx.history.add('fault', f.kind, 'start', {}, `#${f.n} ${label} for ${f.holdMs} ms`);
    ctx.log(`[nemesis] ${(outcome.startedMs! / 1000).toFixed(1)} s  #${f.n} ${label}, ${f.holdMs} ms`);
    let heal: () => Promise<void> = async () => {
      ctx.held.delete(f.target);
    };
    try {
      heal = await kind.inject(ctx, f);
      await sleep(f.holdMs);
    } catch (err) {
      outcome.error = (err as Error).message.slice(0, 500);
    }
    try {
      await heal();
      outcome.healedMs = ctx.history.now();
      ctx.history.add('fault', f.kind, 'heal', {}, `#${f.n} ${label} healed`);
    } catch (err) {
      outcome.error = `${outcome.error ?? ''} heal: ${(err as Error).message.slice(0, 500)}`;
      ctx.history.add('fault', f.kind, 'heal', {}, `#${f.n} ${label} HEAL FAILED`);
    }
  }
  return outcomes;
}

/** How long after a Postgres fault healed an exit of a Temporal service still counts as its effect. */
export const OUTAGE_GRACE_MS = 15_000;

export type ExitClass = 'crash' | 'failed-start' | 'postgres-outage';

/** What a Temporal service says when it gives up on its database (the frontend's "no usable database connection"). */
const DATABASE_ERROR =
  /no usable database connection|connection refused|database system is (?:starting up|shutting down)|terminating connection|SQLSTATE/i;

/**
 * Why a process exited on its own. A Temporal service (Temporal's Go program, not ours) that exits during a
 * Postgres fault that reached its connections, or within OUTAGE_GRACE_MS of its heal, exited because its database
 * was gone: the fault's effect, restarted once the fault healed and counted apart. A Leadwire process (API,
 * worker) must ride out any outage: its exit after it was up is a crash, whatever the fault; so is a Temporal
 * service's exit with no Postgres fault about. An exit of a process never up is a failed start.
 */
export function classifyExit(e: { name: string; wasUp: boolean; atMs: number }, outages: PostgresOutage[]): ExitClass {
  if (e.name.startsWith('temporal-') && outageAt(outages, e.atMs)) return 'postgres-outage';
  return e.wasUp ? 'crash' : 'failed-start';
}

/** The Postgres fault reaching Temporal that is on at `atMs` or healed less than OUTAGE_GRACE_MS before. */
function outageAt(outages: PostgresOutage[], atMs: number): PostgresOutage | undefined {
  return outages.find(
    (o) => o.temporal && o.startMs <= atMs && (o.endMs === null || atMs <= o.endMs + OUTAGE_GRACE_MS),
  );
}

export interface ExitRecord {
  name: string;
  atMs: number;
  tail: string;
}

export interface Supervisor {
  /** Restarts by process, and of those: exits of a process that was up (crashes) and failed starts. */
  readonly restarts: Record<string, number>;
  readonly crashes: ExitRecord[];
  readonly failedStarts: ExitRecord[];
  /**
   * Temporal services that exited because a Postgres fault took their database (classifyExit): not crashes;
   * each names the fault and the database error its output ended with, when it did.
   */
  readonly outageExits: (ExitRecord & { fault: string; databaseError: string | null })[];
  stop(): Promise<void>;
}

/**
 * What docker-compose's `restart: unless-stopped` does in production: a process that exited without
 * the nemesis killing it is started again. Each such exit is recorded as classifyExit says; a Temporal service
 * that the Postgres fault took down is started again once that fault healed (earlier it would only fail).
 */
export function startSupervisor(ctx: NemesisContext): Supervisor {
  const all = () => PROCESSES.map((n) => processNamed(ctx.stack, n));
  for (const p of all()) if (p.pid !== null) ctx.upPids.add(p.pid);
  const lastPid = new Map<string, number>();
  const restarts: Record<string, number> = {};
  const crashes: Supervisor['crashes'] = [];
  const failedStarts: Supervisor['failedStarts'] = [];
  const outageExits: Supervisor['outageExits'] = [];
  /** Exits recorded, their restart waiting for the Postgres fault to heal. */
  const waiting = new Set<string>();
  let on = true;
  const loop = (async () => {
    while (on) {
      for (const p of all()) {
        if (p.pid !== null) lastPid.set(p.name, p.pid);
        if (p.running || ctx.held.has(p.name) || !on) continue;
        if (!waiting.has(p.name)) {
          const pid = lastPid.get(p.name);
          const entry = { name: p.name, atMs: ctx.history.now(), tail: p.tail(8) };
          const wasUp = pid !== undefined && ctx.upPids.has(pid);
          const kind = classifyExit({ ...entry, wasUp }, ctx.outages);
          lastPid.delete(p.name);
          if (kind === 'postgres-outage') {
            const databaseError = p
              .tail(40)
              .split('\n')
              .reverse()
              .find((l) => DATABASE_ERROR.test(l));
            outageExits.push({
              ...entry,
              fault: outageAt(ctx.outages, entry.atMs)!.fault,
              databaseError: databaseError ?? null,
            });
            ctx.history.add('fault', 'supervisor', 'info', {}, `${p.name} exited in a Postgres outage`);
            waiting.add(p.name);
          } else {
            (kind === 'crash' ? crashes : failedStarts).push(entry);
            ctx.history.add('fault', 'supervisor', 'info', {}, `${p.name} exited on its own; restarting it`);
          }
        }
        // A service the outage took down waits for its heal: started into the outage, it would only exit again.
        if (waiting.has(p.name) && ctx.outages.some((o) => o.temporal && o.endMs === null)) continue;
        waiting.delete(p.name);
        restarts[p.name] = (restarts[p.name] ?? 0) + 1;
        ctx.held.add(p.name);
        try {
          await bringUp(ctx, p);
        } catch (err) {
          ctx.log(`[supervisor] ${p.name} did not start: ${(err as Error).message.split('\n')[0]}`);
        } finally {
          ctx.held.delete(p.name);
        }
      }
      await sleep(500);
    }
  })();
  return {
    restarts,
    crashes,
    failedStarts,
    outageExits,
    async stop() {
      on = false;
      await loop;
    },
  };
}
