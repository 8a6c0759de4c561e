/**
 * The product as real processes, for fault injection and the soak, in one of two topologies:
 *
 * - `dev` (default): its own Temporal dev server (fresh data dir, a fixed port, so it can be
 *   stopped and started again on the same SQLite file), one worker, one API;
 * - `cluster` (LW_FAULTS_TOPOLOGY=cluster or the `topology` option): the Temporal cluster on
 *   Postgres (scripts/temporal-cluster.ts: frontend, history, matching and worker as separate
 *   processes, fresh databases), two workers, two APIs behind a round-robin proxy;
 * - TCP proxies in this process between the product (and the cluster) and Postgres, so the
 *   database can be cut without stopping the machine's cluster;
 * - the workers (`tsx bin/worker.ts`) and APIs (`tsx bin/api.ts`) as child processes, each in
 *   its own process group, so `kill9()` is a real `kill -9` of everything it started.
 *
 * Nothing here depends on Jest: ops/soak.ts runs the same stack.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Connection } from '@temporalio/client';

import {
  httpOk,
  type ManagedProcess,
  managedProcess,
  type RoundRobinProxy,
  startRoundRobinProxy,
  startTemporalCluster,
  type TemporalCluster,
  tsxArgs,
  until,
  workerPolledSince,
} from '../../scripts/temporal-cluster';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../../temporal/dev-server';
import { type PgProxy, startPgProxy } from './pg-proxy';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` holds; false when `timeoutMs` passed first. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(20);
  }
  return false;
}

export type Log = (message: string) => void;

/** A worker or API child process (scripts/temporal-cluster.ts's managedProcess). */
export type ProductProcess = ManagedProcess;

/** `dev`: one Temporal dev server, one worker, one API. `cluster`: the Temporal cluster on Postgres, 2 workers, 2 APIs. */
export type Topology = 'dev' | 'cluster';

/** LW_FAULTS_TOPOLOGY=cluster runs the fault suite against the cluster. */
function topologyFromEnv(): Topology {
  return process.env.LW_FAULTS_TOPOLOGY === 'cluster' ? 'cluster' : 'dev';
}

interface TemporalHandle {
  readonly address: string;
  readonly running: boolean;
  /** Stops Temporal (dev server: SIGTERM, its SQLite file stays; cluster: every service, the databases stay). */
  stop(): Promise<void>;
  /** Starts it again on the same port(s) and data. */
  start(): Promise<void>;
}

async function devServerHandle(dataDir: string, port: number, log: Log): Promise<TemporalHandle> {
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

function clusterHandle(cluster: TemporalCluster): TemporalHandle {
  const services = Object.values(cluster.services);
  return {
    address: cluster.address,
    get running() {
      return services.every((s) => s.running);
    },
    async stop() {
      for (const s of services) await s.stop();
    },
    async start() {
      // History first: it owns the shards the others route to.
      for (const role of ['history', 'matching', 'frontend', 'worker'] as const) {
        if (!cluster.services[role].running) await cluster.services[role].start();
      }
    },
  };
}

export interface Stack {
  topology: Topology;
  temporal: TemporalHandle;
  /** The cluster's service processes (topology `cluster` only): kill -9 and restart one of them. */
  cluster: TemporalCluster | null;
  /**
   * Each side reaches Postgres through its own proxy, so a test can fail one side only; in the cluster
   * topology Temporal's own connections go through `temporal`.
   */
  proxies: { worker: PgProxy; api: PgProxy; temporal?: PgProxy };
  /** Drops every database connection (of Temporal too, in the cluster) and refuses new ones. */
  cutDatabase(): Promise<void>;
  restoreDatabase(): Promise<void>;
  /** The first worker and API (the only ones in the dev topology). */
  worker: ProductProcess;
  api: ProductProcess;
  workers: ProductProcess[];
  apis: ProductProcess[];
  /** http://127.0.0.1:<port>: the API (dev) or the round-robin proxy over the APIs (cluster); fixed across restarts. */
  baseUrl: string;
  /** Each API's own URL. */
  apiUrls: string[];
  rootToken: string;
  taskQueue: string;
  logDir: string;
  /**
   * One more worker on the same task queue, its command run under `wrap` (e.g. `['faketime', '-f', '+30s']`),
   * not started yet; close() stops it too.
   */
  extraWorker(name: string, wrap?: string[]): ProductProcess;
  /** Starts whatever is not running (after a scenario that failed half-way). */
  ensureUp(): Promise<void>;
  /** Tails of the processes' output, for failure messages. */
  tails(): string;
  close(): Promise<void>;
}

export interface StackOptions {
  /** The Postgres database the product uses (the processes reach it through the proxy). */
  databaseUrl: string;
  log?: Log;
  /** Extra environment for the product's processes. */
  env?: NodeJS.ProcessEnv;
  /** Default: LW_FAULTS_TOPOLOGY (topologyFromEnv). */
  topology?: Topology;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const topology = opts.topology ?? topologyFromEnv();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-faults-'));
  const logDir = path.join(workDir, 'logs');
  fs.mkdirSync(logDir);
  const target = new URL(opts.databaseUrl);
  const upstream = { host: target.hostname, port: Number(target.port || 5432) };
  const proxies: Stack['proxies'] = { worker: await startPgProxy(upstream), api: await startPgProxy(upstream) };
  let cluster: TemporalCluster | null = null;
  let temporal: TemporalHandle;
  if (topology === 'cluster') {
    proxies.temporal = await startPgProxy(upstream);
    const admin = new URL(opts.databaseUrl);
    admin.pathname = '/postgres';
    cluster = await startTemporalCluster({
      pgAdminUrl: admin.toString(),
      pgAddr: `127.0.0.1:${proxies.temporal.port}`,
      log,
      logDir,
    });
    temporal = clusterHandle(cluster);
  } else {
    temporal = await devServerHandle(path.join(workDir, 'temporal'), await freePort(), log);
  }
  const count = topology === 'cluster' ? 2 : 1;
  const apiPorts: number[] = [];
  for (let i = 0; i < count; i++) apiPorts.push(await freePort());
  const rootToken = `lw_root_${crypto.randomBytes(24).toString('base64url')}`;
  const taskQueue = `faults-${crypto.randomUUID()}`;
  const apiUrls = apiPorts.map((p) => `http://127.0.0.1:${p}`);
  const rr: RoundRobinProxy | null = topology === 'cluster' ? await startRoundRobinProxy(apiPorts) : null;
  const baseUrl = rr ? `http://127.0.0.1:${rr.port}` : apiUrls[0];

  const env =
    (proxy: PgProxy, service: string, extra: NodeJS.ProcessEnv = {}) =>
    (): NodeJS.ProcessEnv => {
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
        FORCE_COLOR: '0',
        ...extra,
      };
      delete e.JEST_WORKER_ID;
      return e;
    };

  // For readiness only: has a worker polled the task queue since a given time?
  const probe = Connection.lazy({ address: temporal.address });

  const suffix = (i: number) => (count > 1 ? `-${i + 1}` : '');
  const workerProcess = (name: string, wrap: string[] = []): ProductProcess => {
    const { command, args } = tsxArgs('bin/worker.ts');
    return managedProcess({
      name,
      ...(wrap.length ? { command: wrap[0]!, args: [...wrap.slice(1), command, ...args] } : { command, args }),
      env: env(proxies.worker, name),
      logDir,
      log,
      // Ready once it polls the task queue (Temporal has seen a poll since this start), or says so in its log.
      ready: ({ lines, exited }) => {
        const since = Date.now();
        return until(
          async () =>
            lines.some((l) => /worker polling/i.test(l)) || (await workerPolledSince(probe, taskQueue, since)),
          exited,
          'the worker polls',
        );
      },
    });
  };
  const workers = Array.from({ length: count }, (_, i) => workerProcess(`worker${suffix(i)}`));
  const extraWorkers = new Set<ProductProcess>();
  const apis = apiPorts.map((port, i) =>
    managedProcess({
      name: `api${suffix(i)}`,
      ...tsxArgs('bin/api.ts'),
      env: env(proxies.api, `api${suffix(i)}`, { PORT: String(port) }),
      logDir,
      log,
      ready: ({ exited }) => until(() => httpOk(`${apiUrls[i]}/readyz`), exited, 'the API is ready'),
    }),
  );
  const all = [...workers, ...apis];

  const pgProxies = () => Object.values(proxies).filter((p): p is PgProxy => p !== undefined);
  const stack: Stack = {
    topology,
    temporal,
    cluster,
    proxies,
    async cutDatabase() {
      await Promise.all(pgProxies().map((p) => p.cut()));
    },
    async restoreDatabase() {
      await Promise.all(pgProxies().map((p) => p.restore()));
    },
    worker: workers[0],
    api: apis[0],
    workers,
    apis,
    baseUrl,
    apiUrls,
    rootToken,
    taskQueue,
    logDir,
    extraWorker(name, wrap) {
      const p = workerProcess(name, wrap);
      extraWorkers.add(p);
      return p;
    },
    async ensureUp() {
      for (const p of pgProxies()) p.resume();
      await stack.restoreDatabase();
      if (!temporal.running) await temporal.start();
      await Promise.all(all.map((p) => (p.running ? null : p.start())));
    },
    tails: () => `${all.map((p) => `--- ${p.name} ---\n${p.tail()}`).join('\n')}\n(full logs in ${logDir})`,
    async close() {
      await Promise.all([...all, ...extraWorkers].map((p) => p.stop()));
      await rr?.close();
      if (cluster) await cluster.stop();
      else await temporal.stop();
      await Promise.all(pgProxies().map((p) => p.close()));
      await probe.close().catch(() => undefined);
      fs.rmSync(path.join(workDir, 'temporal'), { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(all.map((p) => p.start()));
  } catch (err) {
    await stack.close().catch(() => undefined);
    throw err;
  }
  return stack;
}
