/**
 * The product as real processes, for fault injection and the soak:
 *
 * - its own Temporal dev server (fresh data dir, a fixed port, so it can be
 *   stopped and started again on the same SQLite file);
 * - a TCP proxy in this process between the product and Postgres, so the
 *   database can be cut without stopping the machine's cluster;
 * - the worker (`tsx bin/worker.ts`) and the API (`tsx bin/api.ts`) as child
 *   processes, each in its own process group, so `kill9()` is a real
 *   `kill -9` of everything it started.
 *
 * Nothing here depends on Jest: scripts/soak.ts runs the same stack.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Connection } from '@temporalio/client';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../../scripts/temporal-dev';

export { freePort };
import { startPgProxy, type PgProxy } from './pg-proxy';

const ROOT = path.resolve(__dirname, '../..');
const TSX_CLI = require.resolve('tsx/cli');
/** Bundling the workflows on a busy two-core machine takes a while. */
const READY_TIMEOUT_MS = 180_000;
const STOP_GRACE_MS = 10_000;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


export type Log = (message: string) => void;

export interface ProductProcess {
  readonly name: string;
  readonly pid: number | null;
  readonly running: boolean;
  /** Times it exited without being asked to. */
  readonly unexpectedExits: number;
  /** Spawns the process and waits until it is ready. */
  start(): Promise<void>;
  /** `kill -9` of the process group. */
  kill9(): Promise<void>;
  /** SIGTERM (a clean shutdown), SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** The last lines it printed. */
  tail(lines?: number): string;
}

interface ProcessSpec {
  name: string;
  script: string;
  env: () => NodeJS.ProcessEnv;
  /** Resolves when the process is ready to serve; gets the lines printed so far. */
  ready: (proc: { lines: string[]; exited: () => boolean }) => Promise<void>;
  logDir: string;
  log: Log;
}

const living = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of living) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

function productProcess(spec: ProcessSpec): ProductProcess {
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let expectingExit = false;
  let unexpectedExits = 0;
  let starts = 0;
  const lines: string[] = [];

  const start = async (): Promise<void> => {
    if (child) throw new Error(`${spec.name} is already running (pid ${child.pid})`);
    starts++;
    lines.length = 0;
    const logFile = fs.createWriteStream(path.join(spec.logDir, `${spec.name}-${starts}.log`));
    const c = spawn(process.execPath, [TSX_CLI, spec.script], {
      cwd: ROOT,
      env: spec.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: kill -9 reaches tsx's node child as well
    });
    child = c;
    living.add(c);
    expectingExit = false;
    const keep = (line: string) => {
      lines.push(line);
      if (lines.length > 400) lines.shift();
      logFile.write(`${line}\n`);
    };
    readline.createInterface({ input: c.stdout! }).on('line', keep);
    readline.createInterface({ input: c.stderr! }).on('line', keep);
    let gone = false;
    exited = new Promise<void>((resolve) => {
      c.once('exit', (code, signal) => {
        gone = true;
        living.delete(c);
        if (child === c) child = null;
        if (!expectingExit) {
          unexpectedExits++;
          spec.log(`[${spec.name}] exited on its own (code ${code}, signal ${signal}); last lines:\n${lines.slice(-15).join('\n')}`);
        }
        logFile.end();
        resolve();
      });
    });
    const t0 = Date.now();
    try {
      await withTimeout(spec.ready({ lines, exited: () => gone }), READY_TIMEOUT_MS, `${spec.name} to be ready`);
    } catch (err) {
      await kill9();
      throw new Error(`${(err as Error).message}\n--- ${spec.name} output ---\n${lines.slice(-40).join('\n')}`);
    }
    spec.log(`[${spec.name}] pid ${c.pid} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };

  const kill9 = async (): Promise<void> => {
    const c = child;
    if (!c) return;
    expectingExit = true;
    killGroup(c, 'SIGKILL');
    await exited;
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (!c) return;
    expectingExit = true;
    killGroup(c, 'SIGTERM');
    const graceful = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!graceful) {
      killGroup(c, 'SIGKILL');
      await exited;
    }
  };

  return {
    name: spec.name,
    get pid() {
      return child?.pid ?? null;
    },
    get running() {
      return child !== null;
    },
    get unexpectedExits() {
      return unexpectedExits;
    },
    start,
    kill9,
    stop,
    tail: (n = 30) => lines.slice(-n).join('\n'),
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean | Promise<boolean>, exited: () => boolean, what: string): Promise<void> {
  for (;;) {
    if (exited()) throw new Error(`exited before ${what}`);
    if (await check()) return;
    await sleep(200);
  }
}

export interface TemporalHandle {
  readonly address: string;
  readonly dataDir: string;
  readonly running: boolean;
  /** Stops the dev server (SIGTERM); its SQLite file stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and file. */
  start(): Promise<void>;
}

async function temporalHandle(dataDir: string, port: number, log: Log): Promise<TemporalHandle> {
  let server: TemporalDevServer | null = null;
  const start = async () => {
    if (server) return;
    server = await startTemporalDevServer({
      dataDir,
      port,
      headless: true,
      quiet: true,
      ignoreTemporalAddressEnv: true,
      log,
      onUnexpectedExit: (code, signal) => {
        log(`[temporal] exited on its own (code ${code}, signal ${signal})`);
        server = null;
      },
    });
  };
  await start();
  return {
    address: `127.0.0.1:${port}`,
    dataDir,
    get running() {
      return server !== null;
    },
    async stop() {
      const s = server;
      server = null;
      await s?.stop();
    },
    start,
  };
}

export interface Stack {
  temporal: TemporalHandle;
  /** Each process reaches Postgres through its own proxy, so a test can fail one side only. */
  proxies: { worker: PgProxy; api: PgProxy };
  /** Drops every database connection of both processes and refuses new ones. */
  cutDatabase(): Promise<void>;
  restoreDatabase(): Promise<void>;
  worker: ProductProcess;
  api: ProductProcess;
  /** http://127.0.0.1:<port> of the API (the same port across restarts). */
  baseUrl: string;
  rootToken: string;
  taskQueue: string;
  logDir: string;
  /** Starts whatever is not running (after a scenario that failed half-way). */
  ensureUp(): Promise<void>;
  /** Tails of both processes' output, for failure messages. */
  tails(): string;
  close(): Promise<void>;
}

export interface StackOptions {
  /** The Postgres database the product uses (the processes reach it through the proxy). */
  databaseUrl: string;
  log?: Log;
  /** Extra environment for both processes. */
  env?: NodeJS.ProcessEnv;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-faults-'));
  const logDir = path.join(workDir, 'logs');
  fs.mkdirSync(logDir);
  const target = new URL(opts.databaseUrl);
  const upstream = { host: target.hostname, port: Number(target.port || 5432) };
  const proxies = { worker: await startPgProxy(upstream), api: await startPgProxy(upstream) };
  const temporal = await temporalHandle(path.join(workDir, 'temporal'), await freePort(), log);
  const apiPort = await freePort();
  const rootToken = `lw_root_${crypto.randomBytes(24).toString('base64url')}`;
  const taskQueue = `faults-${crypto.randomUUID()}`;
  const baseUrl = `http://127.0.0.1:${apiPort}`;

  const env = (proxy: PgProxy, service: string) => (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = {
      ...process.env,
      // Info level: the worker says when it polls. (Under Jest the logger is silent unless LOG_LEVEL is set.)
      LOG_LEVEL: 'info',
      ...opts.env,
      DATABASE_URL: proxy.urlFor(opts.databaseUrl),
      TEMPORAL_ADDRESS: temporal.address,
      LW_TASK_QUEUE: taskQueue,
      LW_ROOT_TOKEN: rootToken,
      LW_SERVICE: service,
      PORT: String(apiPort),
      FORCE_COLOR: '0',
    };
    delete e.JEST_WORKER_ID;
    return e;
  };

  // For readiness only: has a worker polled the task queue since a given time?
  const probe = Connection.lazy({ address: temporal.address });
  const pollsSince = async (queue: string, since: number): Promise<boolean> => {
    try {
      const { pollers } = await probe.withDeadline(Date.now() + 2_000, () =>
        probe.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: 1 /* workflow */ }),
      );
      return pollers.some((p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000 >= since - 1_000);
    } catch {
      return false;
    }
  };

  const worker = productProcess({
    name: 'worker',
    script: 'bin/worker.ts',
    env: env(proxies.worker, 'worker'),
    logDir,
    log,
    // Ready once it polls the task queue (Temporal has seen a poll since this start), or says so in its log.
    ready: ({ lines, exited }) => {
      const since = Date.now();
      return until(async () => lines.some((l) => /worker polling/i.test(l)) || (await pollsSince(taskQueue, since)), exited, 'the worker polls');
    },
  });
  const api = productProcess({
    name: 'api',
    script: 'bin/api.ts',
    env: env(proxies.api, 'api'),
    logDir,
    log,
    ready: ({ exited }) =>
      until(
        async () => {
          try {
            const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(3_000) });
            return res.status === 200;
          } catch {
            return false;
          }
        },
        exited,
        'the API is ready',
      ),
  });

  const both = Object.values(proxies);
  const stack: Stack = {
    temporal,
    proxies,
    async cutDatabase() {
      await Promise.all(both.map((p) => p.cut()));
    },
    async restoreDatabase() {
      await Promise.all(both.map((p) => p.restore()));
    },
    worker,
    api,
    baseUrl,
    rootToken,
    taskQueue,
    logDir,
    async ensureUp() {
      for (const p of both) p.resume();
      await stack.restoreDatabase();
      if (!temporal.running) await temporal.start();
      await Promise.all([worker.running ? null : worker.start(), api.running ? null : api.start()]);
    },
    tails: () => `--- worker ---\n${worker.tail()}\n--- api ---\n${api.tail()}\n(full logs in ${logDir})`,
    async close() {
      await Promise.all([api.stop(), worker.stop()]);
      await temporal.stop();
      await Promise.all(both.map((p) => p.close()));
      await probe.close().catch(() => undefined);
      fs.rmSync(path.join(workDir, 'temporal'), { recursive: true, force: true });
    },
  };
  try {
    await Promise.all([worker.start(), api.start()]);
  } catch (err) {
    await stack.close().catch(() => undefined);
    throw err;
  }
  return stack;
}
