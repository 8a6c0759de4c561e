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
export const PROCESSES = [
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

/** Starts a process that is down (a heal), in the order Temporal needs when several are. */
async function restart(p: ProductProcess): Promise<void> {
  if (!p.running) await p.start();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const kill9: FaultKind = {
  name: 'kill9',
  weight: 4,
  plan: (rng) => ({ target: rng.pick(PROCESSES), holdMs: rng.int(500, 4_000) }),
  async inject(ctx, f) {
    const p = processNamed(ctx.stack, f.target);
    await p.kill9();
    return () => restart(p);
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
    const p = processNamed(ctx.stack, f.target);
    signalGroup(p, 'SIGSTOP');
    return async () => {
      if (p.running) signalGroup(p, 'SIGCONT');
    };
  },
};

const postgresRestart: FaultKind = {
  name: 'postgres-restart',
  weight: 2,
  plan: (rng) => ({ target: 'postgres', holdMs: rng.int(200, 3_000) }),
  async inject(ctx, f) {
    // Down for holdMs (pg_ctl stop -m immediate: a crash, recovery from the WAL on start).
    await ctx.postgres.restart(f.holdMs);
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
    await Promise.all(proxies.map((p) => p.cut()));
    return async () => {
      await Promise.all(proxies.map((p) => p.restore()));
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
    const normal = processNamed(ctx.stack, f.target);
    const shift = `${f.arg! >= 0 ? '+' : ''}${f.arg}s`;
    const skewed = ctx.stack.extraWorker(`${f.target}-skewed-${f.n}`, ['faketime', '-f', shift]);
    const before = await pollers(ctx);
    await normal.kill9();
    await skewed.start();
    // Its own first poll (start() is satisfied by the other worker's): the hold counts from there.
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && [...(await pollers(ctx))].every((id) => before.has(id))) await sleep(250);
    return async () => {
      await skewed.kill9();
      await restart(normal);
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
 * longer), injects, holds, heals. `stopped()` ends it early (the fault in progress is still healed).
 */
export async function runSchedule(
  ctx: NemesisContext,
  kinds: FaultKind[],
  plan: PlannedFault[],
  stopped: () => boolean,
): Promise<FaultOutcome[]> {
  const outcomes: FaultOutcome[] = [];
  for (const f of plan) {
    const wait = f.atMs - ctx.history.now();
    if (wait > 0) await sleep(wait);
    if (stopped()) break;
    const kind = kinds.find((k) => k.name === f.kind)!;
    const outcome: FaultOutcome = { ...f, startedMs: ctx.history.now(), healedMs: null, error: null };
    outcomes.push(outcome);
    const label = `${f.kind} ${f.target}${f.arg !== undefined ? ` ${f.arg > 0 ? '+' : ''}${f.arg}s` : ''}`;
    ctx.history.add('fault', f.kind, 'start', {}, `#${f.n} ${label} for ${f.holdMs} ms`);
    ctx.log(`[nemesis] ${(outcome.startedMs! / 1000).toFixed(1)} s  #${f.n} ${label}, ${f.holdMs} ms`);
    let heal: () => Promise<void> = async () => undefined;
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
