/**
 * `npm run soak`: a bounded soak of the real stack on loopback.
 *
 *   npm run soak -- [--minutes 10] [--rate 3] [--bots 6] [--keep]
 *
 * Starts its own Temporal dev server, a fresh Postgres database (on the
 * server at DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * the worker and the API as child processes (test/faults/harness.ts), then
 * drives a steady stream of leads (ping post with fallbacks, shared, push)
 * and bot buyers claiming over HTTP for the given minutes. Every 10 s it
 * prints the resident memory (RSS) of the worker and the API with the
 * traffic so far; at the end it waits for every lead to be final, checks
 * every invariant (test/faults/invariants.ts, ops/audit.ts, what each client
 * was told against what it was charged, the workflows), prints the numbers,
 * and judges the memory curve with a simple leak heuristic.
 *
 * Exit code 1 when an invariant fails or memory looks like it leaks.
 */
import { execFileSync } from 'node:child_process';

import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';

import { openDatabase } from '../db/connection';
import { commandLine, numberFlag } from '../lib/cli';
import { type ProductProcess, sleep, startStack } from '../test/faults/harness';
import { runScenario } from '../test/faults/scenario';
import type { Traffic } from '../test/faults/traffic';

interface Options {
  minutes: number;
  rate: number;
  bots: number;
  keep: boolean;
  adminUrl: string;
}

const HELP = `Usage: npm run soak -- [--minutes N] [--rate N] [--bots N] [--keep]

Runs the whole stack on a fresh Postgres database under steady traffic and samples every process's
memory, to find leaks (docs/operations.md#benchmarks). Needs Postgres at DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/postgres).

Options:
  --minutes N   how long (default 10)
  --rate N      leads per second (default 3)
  --bots N      claiming buyers (default 6)
  --keep        keep the database afterwards
  --help        this text`;

function parseSoakArgs(argv: string[]): Options {
  const positive = (v: unknown, flag: string, fallback: number) =>
    numberFlag(v, flag, fallback, (n) => n > 0, 'a positive number');
  return commandLine(
    {
      help: HELP,
      options: {
        minutes: { type: 'string' },
        rate: { type: 'string' },
        bots: { type: 'string' },
        keep: { type: 'boolean' },
      },
    },
    argv,
    ({ values }) => ({
      minutes: positive(values.minutes, '--minutes', 10),
      rate: positive(values.rate, '--rate', 3),
      bots: Math.round(positive(values.bots, '--bots', 6)),
      keep: values.keep === true,
      adminUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    }),
  );
}

const SAMPLE_EVERY_MS = 10_000;
/** Samples before this are warm-up (JIT, pools, caches) and left out of the leak judgement. */
const WARM_UP_MS = 60_000;

interface Sample {
  t: number;
  worker: number;
  api: number;
}

/** Resident memory of a process group (tsx and its node child), in MB. */
function rssMb(proc: ProductProcess): number {
  if (!proc.pid) return 0;
  try {
    const out = execFileSync('ps', ['-o', 'rss=', '-g', String(proc.pid)], { encoding: 'utf8' });
    return out.split('\n').reduce((kb, line) => kb + (Number(line.trim()) || 0), 0) / 1024;
  } catch {
    return 0;
  }
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const median = (xs: number[]) => percentile(xs, 50);

/** Least-squares slope of y over t, per minute. */
function slopePerMinute(points: { t: number; y: number }[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den ? (num / den) * 60_000 : 0;
}

/**
 * A leak grows without levelling off: after the warm-up, the last third's
 * median is over 20% above the first third's AND the trend is still rising
 * by more than 1 MB a minute. Garbage collection makes single samples noisy;
 * medians and a fitted slope are not fooled by one spike.
 */
function judgeMemory(samples: Sample[], key: 'worker' | 'api') {
  const steady = samples.filter((s) => s.t >= WARM_UP_MS);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const first = median(steady.slice(0, third).map((s) => s[key]));
  const last = median(steady.slice(-third).map((s) => s[key]));
  const growth = first ? (last - first) / first : 0;
  const slope = slopePerMinute(steady.map((s) => ({ t: s.t, y: s[key] })));
  const enough = steady.length >= 6;
  const suspect = enough && growth > 0.2 && slope > 1;
  return {
    first,
    last,
    growth,
    slope,
    samples: steady.length,
    verdict: !enough ? 'too short to judge' : suspect ? 'POSSIBLE LEAK' : 'flat',
  };
}

function latencies(traffic: Traffic) {
  const claimMs = traffic.claims
    .filter((c) => c.endedAt !== null && c.attempts === 1)
    .map((c) => c.endedAt! - c.startedAt);
  const leadMs = traffic.leads
    .filter((l) => l.acceptedAt !== null && l.attempts === 1)
    .map((l) => l.acceptedAt! - l.submittedAt);
  const f = (xs: number[]) =>
    `p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (${xs.length})`;
  return { claims: f(claimMs), intake: f(leadMs) };
}

async function main(): Promise<void> {
  const opts = parseSoakArgs(process.argv.slice(2));
  const log = (m: string) => process.stdout.write(`${m}\n`);
  const dbName = `leadwire_soak_${Date.now()}`;
  const admin = new PgClient({ connectionString: opts.adminUrl });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `Postgres at DATABASE_URL does not answer (${(err as Error).message}); start it with: bash scripts/ensure-postgres.sh`,
    );
  }
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const url = new URL(opts.adminUrl);
  url.pathname = `/${dbName}`;
  log(`Soak: ${opts.minutes} min at ${opts.rate} leads/s with ${opts.bots} bot buyers; database ${dbName}`);

  const stack = await startStack({ databaseUrl: url.toString(), log, env: { LOG_LEVEL: 'warn' } });
  const database = await openDatabase({ url: url.toString(), poolSize: 4 });
  const connection = await Connection.connect({ address: stack.temporal.address });
  const temporal = new Client({ connection });
  const samples: Sample[] = [];
  let exitCode = 0;
  try {
    const report = await runScenario(
      stack,
      database,
      temporal,
      {
        name: `soak: ${opts.minutes} min at ${opts.rate} leads/s, ${opts.bots} bots`,
        traffic: { leadsPerSecond: opts.rate, claimProbability: 0.4, pollMs: 500 },
        world: { bots: opts.bots, credits: 10_000_000 },
        beforeMs: 0,
        afterMs: 0,
        settleTimeoutMs: 180_000,
        async fault({ traffic }) {
          const start = Date.now();
          const end = start + opts.minutes * 60_000;
          while (Date.now() < end) {
            await sleep(Math.min(SAMPLE_EVERY_MS, end - Date.now()));
            const s = { t: Date.now() - start, worker: rssMb(stack.worker), api: rssMb(stack.api) };
            samples.push(s);
            const won = traffic.claims.filter((c) => c.outcome === 'won').length;
            log(
              `  t=${String(Math.round(s.t / 1000)).padStart(4)} s  rss worker ${s.worker.toFixed(0).padStart(4)} MB  api ${s.api.toFixed(0).padStart(4)} MB  ` +
                `leads ${traffic.leads.length} (${traffic.leadsInFlight()} in flight)  claims ${traffic.claims.length} (won ${won})`,
            );
          }
          return {
            faults: 0,
            description: 'none: steady load',
            outageMs: 0,
            restoredAt: Date.now(),
            notes: { unexpectedExits: stack.worker.unexpectedExits + stack.api.unexpectedExits },
          };
        },
      },
      log,
    );
    const traffic = report.traffic;
    const lat = latencies(report.client);
    const seconds = opts.minutes * 60;
    log(
      `  rate:      ${(traffic.leadsAccepted / seconds).toFixed(2)} leads/s accepted, ${(report.counts.assignments / seconds).toFixed(2)} sales/s, ${(traffic.claims / seconds).toFixed(2)} claims/s, ${(traffic.polls / seconds).toFixed(1)} offer polls/s`,
    );
    log(`  latency:   claims ${lat.claims}; intake ${lat.intake}`);
    for (const key of ['worker', 'api'] as const) {
      const m = judgeMemory(samples, key);
      log(
        `  memory:    ${key} RSS ${m.first.toFixed(0)} → ${m.last.toFixed(0)} MB (${(m.growth * 100).toFixed(0)}%, trend ${m.slope >= 0 ? '+' : ''}${m.slope.toFixed(2)} MB/min over ${m.samples} samples after warm-up): ${m.verdict}`,
      );
      if (m.verdict === 'POSSIBLE LEAK') exitCode = 1;
    }
    if (report.violations.length) exitCode = 1;
    if (stack.worker.unexpectedExits + stack.api.unexpectedExits) {
      log(`  processes: the worker or the API exited on its own during the soak`);
      exitCode = 1;
    }
    log(
      exitCode
        ? 'Soak FAILED.'
        : 'Soak passed: every invariant holds, no process died, no memory growth that looks like a leak.',
    );
  } finally {
    await connection.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    await stack.close().catch(() => undefined);
    if (opts.keep) log(`Kept database ${dbName} and the logs in ${stack.logDir}.`);
    else await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
