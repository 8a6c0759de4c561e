/**
 * The real stack the benchmark runs against, on this machine:
 *
 * - its own Temporal dev server (temporal/dev-server.ts, `ignoreTemporalAddressEnv`),
 *   SQLite in a fresh temp dir, headless;
 * - a fresh Postgres database on the local server (DATABASE_URL's, or the
 *   tests' default), created here and dropped at the end;
 * - the worker (`bin/worker.ts`) and the API (`bench/processes/api.ts`, the API
 *   with raised rate limits and dedupe off) as two child processes, talking
 *   through Postgres LISTEN/NOTIFY as in a deployment; the load generator is
 *   this process. Child processes let us measure each one's CPU and memory.
 *
 * `--topology cluster` replaces the dev server with the Temporal cluster on Postgres
 * (scripts/temporal-cluster.ts: frontend, history, matching and worker as four processes, 4 history
 * shards, fresh databases on the same Postgres server), and measures each of its processes.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import { Client as PgClient } from 'pg';

import { startTemporalCluster, TEMPORAL_ROLES, type TemporalCluster } from '../../scripts/temporal-cluster';
import { ensureTemporalCli, freePort, startTemporalDevServer, type TemporalDevServer } from '../../temporal/dev-server';

const ROOT = path.resolve(__dirname, '../..');
export const ROOT_TOKEN = `bench-root-${process.pid}-0123456789`;
const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const CLK_TCK = 100;

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess | null;
  /** Its last lines of output. */
  tail: string[];
}

export type Topology = 'dev' | 'cluster';

export interface Stack {
  topology: Topology;
  /** The frontend's address; `pid` is the dev server's (null for the cluster: see temporalPids). */
  temporal: Pick<TemporalDevServer, 'address' | 'pid'>;
  /** Temporal's processes by name: `temporal` (dev server) or `temporal-frontend`, `temporal-history`, … */
  temporalPids: Record<string, number>;
  temporalDataDir: string;
  databaseUrl: string;
  dbName: string;
  taskQueue: string;
  baseUrl: string;
  wsUrl: string;
  api: Proc;
  worker: Proc;
  persistence: string;
  /** The worker's Prometheus endpoint (activity durations). */
  workerMetricsUrl: string;
  close(): Promise<void>;
}

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

async function pgAnswers(url: string): Promise<boolean> {
  const c = new PgClient({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const c = new PgClient({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** Spawns a TypeScript entry point in one node process (no tsx wrapper process, so its pid is the one that works). */
export function spawnTs(
  name: string,
  file: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<{ proc: Proc; match: RegExpMatchArray }> {
  // LW_BENCH_NODE_ARGS: extra node flags for the stack's processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const extra = process.env.LW_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', path.join(ROOT, file)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within 120 s:\n${tail.join('\n')}`)),
      120_000,
    );
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      const m = ready.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc: { name, pid: child.pid!, child, tail }, match: m });
      } else if (/"level":"(warn|error)"|Error/.test(line) && process.env.LW_BENCH_VERBOSE) log(`${name}: ${line}`);
    };
    readline.createInterface({ input: child.stdout! }).on('line', onLine);
    readline.createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready:\n${tail.join('\n')}`));
    });
  });
}

export async function stopProc(p: Proc | null): Promise<void> {
  const child = p?.child;
  if (!child || child.exitCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([
    new Promise<boolean>((r) => child.once('exit', () => r(true))),
    new Promise<boolean>((r) => setTimeout(() => r(false), 15_000)),
  ]);
  if (!done) child.kill('SIGKILL');
}

/** `temporalDir`: where the dev server's SQLite lives (default the temp dir; e.g. /dev/shm to take the disk out). */
export async function startStack(opts: { temporalDir?: string; topology?: Topology } = {}): Promise<Stack> {
  const topology = opts.topology ?? 'dev';
  const adminUrl = process.env.DATABASE_URL || DEFAULT_PG;
  if (!(await pgAnswers(adminUrl))) {
    log('PostgreSQL does not answer; running scripts/ensure-postgres.sh');
    execFileSync('bash', [path.join(ROOT, 'scripts/ensure-postgres.sh')], { stdio: 'inherit' });
  }
  const dbName = `leadwire_bench_${Date.now()}_${process.pid}`;
  await adminQuery(adminUrl, `CREATE DATABASE "${dbName}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  const temporalDataDir = fs.mkdtempSync(path.join(opts.temporalDir ?? os.tmpdir(), 'leadwire-bench-temporal-'));
  let temporal: TemporalDevServer | null = null;
  let cluster: TemporalCluster | null = null;
  let api: Proc | null = null;
  let worker: Proc | null = null;
  let closing = false;
  // A process of the stack that dies mid-run makes every later figure meaningless: say so and stop.
  const died = (name: string, how: string, tail: string[] = []) => {
    if (closing) return;
    log(`${name} exited unexpectedly (${how})${tail.length ? `; its last output:\n${tail.join('\n')}` : ''}`);
    void cleanup().finally(() => process.exit(1));
  };
  const cleanup = async () => {
    closing = true;
    await stopProc(api);
    await stopProc(worker);
    await temporal?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    fs.rmSync(temporalDataDir, { recursive: true, force: true });
    // LW_BENCH_KEEP_DATABASE=1 keeps the run's database to inspect (EXPLAIN a report, say); drop it by hand.
    if (process.env.LW_BENCH_KEEP_DATABASE) log(`kept database ${dbName}`);
    else
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch((err) =>
        log(`dropping ${dbName}: ${err}`),
      );
  };
  try {
    if (topology === 'cluster') {
      cluster = await startTemporalCluster({
        pgAdminUrl: adminUrl,
        databasePrefix: `temporal_bench_${Date.now()}_${process.pid}`,
        log,
        logDir: temporalDataDir,
      });
    } else {
      temporal = await startTemporalDevServer({
        dataDir: temporalDataDir,
        headless: true,
        quiet: true,
        ignoreTemporalAddressEnv: true,
        onUnexpectedExit: (code, signal) => died('the Temporal dev server', `code ${code}, signal ${signal}`),
      });
    }
    const temporalAddress = cluster ? cluster.address : temporal!.address;
    const taskQueue = `bench-${process.pid}`;
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '20',
      TEMPORAL_ADDRESS: temporalAddress,
      LW_TASK_QUEUE: taskQueue,
      LW_ROOT_TOKEN: ROOT_TOKEN,
      // The ping tree's buyer endpoints are local servers (bench/processes/endpoints.ts): let the address guard
      // reach them, as the tests' fleet does.
      LW_WEBHOOK_ALLOWLIST: '127.0.0.1',
      LW_TEMPORAL_LOG_LEVEL: 'ERROR',
      PORT: '0',
    };
    // The worker migrates the fresh database first (the API would race it otherwise).
    const metricsPort = await freePort();
    ({ proc: worker } = await spawnTs(
      'worker',
      'bin/worker.ts',
      { ...env, LOG_LEVEL: 'info', LW_WORKER_METRICS_PORT: String(metricsPort) },
      /Leadwire worker polling/,
    ));
    const started = await spawnTs('api', 'bench/processes/api.ts', { ...env, LOG_LEVEL: 'warn' }, /^READY (\d+)$/);
    api = started.proc;
    for (const p of [worker!, api])
      p.child!.once('exit', (code, signal) => died(p.name, `code ${code}, signal ${signal}`, p.tail));
    const port = Number(started.match[1]);
    let persistence: string;
    let temporalPids: Record<string, number>;
    if (cluster) {
      persistence =
        `cluster: tools/temporal-server (Server 1.29.1), frontend/history/matching/worker as 4 processes, ${cluster.shards} history shards, ` +
        `PostgreSQL persistence and visibility (databases ${cluster.databases.temporal}, ${cluster.databases.visibility}), deploy/temporal/dynamicconfig.yaml`;
      temporalPids = Object.fromEntries(TEMPORAL_ROLES.map((r) => [`temporal-${r}`, cluster!.services[r].pid!]));
    } else {
      const cli = await ensureTemporalCli(log);
      const version = execFileSync(cli, ['--version']).toString().trim();
      persistence =
        `${version}; \`temporal server start-dev\` with SQLite file --db-filename ${path.join(temporalDataDir, 'temporal.db')} ` +
        `(tmpfs: ${isTmpfs(temporalDataDir) ? 'yes' : 'no'}), headless, log-level warn, dynamic config history.maxInFlightUpdates=1000 history.maxTotalUpdates=10000`;
      temporalPids = { temporal: temporal!.pid! };
    }
    return {
      topology,
      temporal: { address: temporalAddress, pid: temporal?.pid ?? null },
      temporalPids,
      temporalDataDir,
      databaseUrl,
      dbName,
      taskQueue,
      baseUrl: `http://127.0.0.1:${port}`,
      wsUrl: `ws://127.0.0.1:${port}/v1/feed`,
      api,
      worker: worker!,
      persistence,
      workerMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function isTmpfs(dir: string): boolean {
  try {
    return execFileSync('df', ['--output=fstype', dir]).toString().includes('tmpfs');
  } catch {
    return false;
  }
}

// ─── resource sampling ───────────────────────────────────────────────────────

/** The fields of /proc/<pid>/stat after the command name (the 3rd field is [0]); null when the process is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used; null when it is gone. */
function cpuSeconds(pid: number): number | null {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : null;
}

/**
 * CPU seconds a process has used, with those of its children that have exited and that it has reaped (cutime and
 * cstime): a postmaster's figure keeps the CPU of every backend it has buried. 0 when it is gone.
 */
function cpuSecondsWithReaped(pid: number): number {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK : 0;
}

/**
 * CPU seconds of these processes and of their exited children, summed: the difference of two readings is the CPU
 * they spent between them, including that of a child that started and exited in between (a backend of a connection
 * that pg-pool opened, then closed after 10 s idle) and the last part of one that was alive at the first reading.
 */
export function cpuSecondsOfTree(pids: number[]): number {
  return pids.reduce((n, pid) => n + cpuSecondsWithReaped(pid), 0);
}

/** Resident memory of all of Temporal's processes (one dev server, or the cluster's four). */
export function temporalRssMb(stack: Stack): number | null {
  const each = Object.values(stack.temporalPids).map(rssMb);
  return each.some((m) => m === null) ? null : each.reduce((a, b) => a! + b!, 0);
}

export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** Every postgres server process on the machine (shared with other users of the server). */
function postgresPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres';
      } catch {
        return false;
      }
    })
    .map(Number);
}

export interface CpuWindow {
  /** Percent of one core, per process, over the window. */
  stop(): Record<string, number>;
  /** CPU seconds per process over the window, and the window's length in seconds. */
  stopSeconds(): { seconds: number; cpu: Record<string, number> };
}

/**
 * CPU use of our processes (api, worker, Temporal's process(es), this load generator, and any `extra` a
 * scenario started, by name) and of all of Postgres over a window.
 */
export function cpuWindow(stack: Stack, extra: Record<string, number> = {}): CpuWindow {
  const procs: Record<string, number> = {
    api: stack.api.pid,
    worker: stack.worker.pid,
    ...stack.temporalPids,
    loadgen: process.pid,
    ...extra,
  };
  const start = Date.now();
  const before: Record<string, number> = {};
  for (const [k, pid] of Object.entries(procs)) before[k] = cpuSeconds(pid) ?? 0;
  // All of Postgres through the postmasters' reaped-children times: summing only the backends alive at both ends
  // lost those that exited inside the window, so a calm step (pools closing idle connections) read low and a
  // saturated one (pools growing) did not.
  const pgBefore = cpuSecondsOfTree(postgresPids());
  const stopSeconds = () => {
    const seconds = (Date.now() - start) / 1000;
    const cpu: Record<string, number> = {};
    for (const [k, pid] of Object.entries(procs)) cpu[k] = (cpuSeconds(pid) ?? 0) - before[k]!;
    // The cluster's services summed as `temporal`, comparable with the dev server's one process.
    if (!('temporal' in procs)) cpu.temporal = Object.keys(stack.temporalPids).reduce((n, k) => n + cpu[k]!, 0);
    cpu.postgres_all = cpuSecondsOfTree(postgresPids()) - pgBefore;
    return { seconds, cpu };
  };
  return { stopSeconds, stop: () => percentOfCore(stopSeconds()) };
}

/** A window's CPU as percent of one core, per process. */
export function percentOfCore({
  seconds,
  cpu,
}: {
  seconds: number;
  cpu: Record<string, number>;
}): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([k, c]) => [k, Math.round((c / seconds) * 100)]));
}

/** CPU seconds per process as milliseconds per item (a lead, a workflow), one decimal; {} when there were none. */
export function msPer(cpu: Record<string, number>, items: number): Record<string, number> {
  if (!items) return {};
  return Object.fromEntries(Object.entries(cpu).map(([k, s]) => [k, Math.round((s * 10_000) / items) / 10]));
}

export const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

export function machine(): { cores: number; memoryGb: number; cpu: string } {
  return {
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    cpu: os.cpus()[0]?.model ?? 'unknown',
  };
}

export function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT })
      .toString()
      .trim()
      ? '+dirty'
      : '';
    return sha + dirty;
  } catch {
    return 'unknown';
  }
}
