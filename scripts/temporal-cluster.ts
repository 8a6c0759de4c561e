/**
 * The production topology on one machine: a Temporal cluster on PostgreSQL (the Go program in
 * tools/temporal-server, its frontend, history, matching and worker services as four processes joined by
 * membership on loopback), and `npm run cluster`, which adds a fresh Leadwire database, 2 worker and
 * 2 API processes and a round-robin proxy in front of the APIs.
 *
 *   npx tsx scripts/temporal-cluster.ts              npm run cluster: everything, Ctrl-C stops it all
 *   npx tsx scripts/temporal-cluster.ts --temporal   only the Temporal cluster (export TEMPORAL_ADDRESS=…)
 *   npx tsx scripts/temporal-cluster.ts --ensure     build the server program (cached) and print its path
 *
 * Env: LW_TEMPORAL_SERVER (a built temporal-server binary), LW_TEMPORAL_CACHE (cache root, default
 * ~/.cache/leadwire), LW_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * LW_CLUSTER_SHARDS (history shards, default 4), LW_CLUSTER_WORKERS / LW_CLUSTER_APIS (default 2 each),
 * PORT (the proxy's port, default 3000), LW_ROOT_TOKEN (generated when unset).
 *
 * The server program is built with `go build` (Go module proxy only) into
 * <cache>/temporal-server-<hash of go.mod, go.sum, main.go>/temporal-server, one build at a time (flock).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import { Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';

import { isExecutableFile } from '../lib/go-install';
import type { TemporalTarget } from '../temporal/connection';
import { freePort } from '../temporal/dev-server';
import { DEFAULT_TASK_QUEUE } from '../worker/worker';

const ROOT = path.resolve(__dirname, '..');
const PROGRAM_DIR = path.join(ROOT, 'tools', 'temporal-server');
const CONFIG_DIR = path.join(PROGRAM_DIR, 'config');
const DYNAMIC_CONFIG = path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');
const TSX_CLI = require.resolve('tsx/cli');
const READY_TIMEOUT_MS = 180_000;
const STOP_GRACE_MS = 10_000;
export const DEFAULT_PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** The search attributes the dev server gets with --search-attribute (temporal/dev-server.ts). */
export const SEARCH_ATTRIBUTES = ['LeadId', 'CampaignId', 'AgencyId'] as const;
/** Namespace retention, as deploy/temporal/register.sh sets it. */
const RETENTION = '720h';

export type Log = (m: string) => void;
const defaultLog: Log = (m) => process.stderr.write(`${m}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// The server program

function cacheRoot(): string {
  return process.env.LW_TEMPORAL_CACHE || path.join(os.homedir(), '.cache', 'leadwire');
}

/** Where this checkout's server program lives once built: keyed by the files that define it. */
export function temporalServerPath(): string {
  const hash = crypto.createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(fs.readFileSync(path.join(PROGRAM_DIR, f)));
  return path.join(cacheRoot(), `temporal-server-${hash.digest('hex').slice(0, 16)}`, 'temporal-server');
}

/**
 * Returns the server program's path, building it first when this checkout's version is not cached.
 * Concurrent callers wait on one flock; the binary appears by rename, never half-written.
 */
export async function ensureTemporalServer(log: Log = defaultLog): Promise<string> {
  const fromEnv = process.env.LW_TEMPORAL_SERVER;
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) throw new Error(`LW_TEMPORAL_SERVER=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const target = temporalServerPath();
  if (isExecutableFile(target)) return target;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  log(
    `Building the Temporal server program (tools/temporal-server) into ${target}; several minutes on two cores the first time.`,
  );
  const started = Date.now();
  const script = 'if [ ! -x "$1" ]; then go build -trimpath -o "$1.partial.$$" . && mv "$1.partial.$$" "$1"; fi';
  const lock = path.join(cacheRoot(), 'temporal-server-build.lock');
  const tail: string[] = [];
  const code = await new Promise<number | null>((resolve) => {
    // Go as temporal/dev-server.ts finds it: on PATH, else the official tarball's place.
    const goDirs = fs.existsSync('/usr/local/go/bin/go') ? ['/usr/local/go/bin'] : [];
    const env = { ...process.env, PATH: [process.env.PATH ?? '', ...goDirs].join(path.delimiter) };
    const child = spawn('flock', [lock, 'sh', '-c', script, 'sh', target], {
      cwd: PROGRAM_DIR,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      log(`[go] ${line}`);
    };
    readline.createInterface({ input: child.stdout }).on('line', keep);
    readline.createInterface({ input: child.stderr }).on('line', keep);
    const heartbeat = setInterval(
      () => log(`still building the Temporal server program… ${Math.round((Date.now() - started) / 1000)} s`),
      30_000,
    );
    child.once('error', (err) => {
      tail.push(String(err));
      clearInterval(heartbeat);
      resolve(null);
    });
    child.once('close', (c) => {
      clearInterval(heartbeat);
      resolve(c);
    });
  });
  if (code !== 0 || !isExecutableFile(target)) {
    throw new Error(`go build of tools/temporal-server failed (exit ${code}); needs Go and flock:\n${tail.join('\n')}`);
  }
  log(`Temporal server program ready (${Math.round((Date.now() - started) / 1000)} s).`);
  return target;
}

// ---------------------------------------------------------------------------------------------------
// Databases and schema

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return withDatabase(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}:\n${out}`)),
    );
  });
}

/**
 * Creates (when missing) and upgrades Temporal's two databases to the schema the server program embeds,
 * with the server's own tool: the same steps as the admin-tools image's auto-setup (deploy/temporal/setup-schema.sh).
 * Idempotent: run it again after building a newer server program to upgrade the schema.
 */
export async function setupTemporalSchema(
  program: string,
  adminUrl: string,
  dbs: { temporal: string; visibility: string },
): Promise<void> {
  const u = new URL(adminUrl);
  const conn = [
    '--plugin',
    'postgres12',
    '--ep',
    u.hostname,
    '-p',
    u.port || '5432',
    '-u',
    decodeURIComponent(u.username || 'postgres'),
  ];
  const env = { ...process.env, SQL_PASSWORD: decodeURIComponent(u.password) };
  for (const [db, schema] of [
    [dbs.temporal, 'postgresql/v12/temporal'],
    [dbs.visibility, 'postgresql/v12/visibility'],
  ] as const) {
    const existing = new PgClient({ connectionString: adminUrl });
    await existing.connect();
    const { rowCount } = await existing
      .query('SELECT 1 FROM pg_database WHERE datname = $1', [db])
      .finally(() => existing.end());
    if (!rowCount) await run(program, ['sql', ...conn, '--db', db, 'create-database']);
    // setup-schema -v 0.0 only creates the versioning tables (a no-op when they exist); update-schema does the rest.
    const probe = new PgClient({ connectionString: withDatabase(adminUrl, db) });
    await probe.connect();
    const versioned = await probe
      .query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version'`)
      .finally(() => probe.end());
    if (!versioned.rowCount) await run(program, ['sql', ...conn, '--db', db, 'setup-schema', '-v', '0.0'], env);
    await run(program, ['sql', ...conn, '--db', db, 'update-schema', '--schema-name', schema], env);
  }
}

// ---------------------------------------------------------------------------------------------------
// Child processes (the Temporal services, and the product's workers and APIs)

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | null;
  readonly running: boolean;
  /** Times it exited without being asked to. */
  readonly unexpectedExits: number;
  /** Spawns it and waits until `ready` resolves. */
  start(): Promise<void>;
  /** `kill -9` of its process group. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
  tail(lines?: number): string;
}

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: () => NodeJS.ProcessEnv;
  ready: (proc: { lines: string[]; exited: () => boolean }) => Promise<void>;
  log: Log;
  /** Every start's output goes to <logDir>/<name>-<n>.log. */
  logDir: string;
  /** Forward its lines to log (npm run cluster does, tests do not). */
  echo?: boolean;
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

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether GET `url` answers 2xx within 3 s (readiness probes). */
export async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3_000) })).ok;
  } catch {
    return false;
  }
}

/**
 * Readiness of a Leadwire worker, whatever its log level: has a worker polled `taskQueue` since `since`?
 * `probe` is a (lazy) connection to the frontend.
 */
export async function workerPolledSince(probe: Connection, taskQueue: string, since: number): Promise<boolean> {
  try {
    const { pollers } = await probe.withDeadline(Date.now() + 2_000, () =>
      probe.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
        taskQueueType: 1 /* workflow */,
      }),
    );
    return pollers.some((p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000 >= since - 1_000);
  } catch {
    return false;
  }
}

/** Polls `check` every 200 ms until it holds; throws when the process exited first. */
export async function until(
  check: () => boolean | Promise<boolean>,
  exited: () => boolean,
  what: string,
): Promise<void> {
  for (;;) {
    if (exited()) throw new Error(`exited before ${what}`);
    if (await check()) return;
    await sleep(200);
  }
}

/** A Temporal JSON log line without its stack trace, for the terminal (the log files keep all of it). */
function brief(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { level, msg, error } = JSON.parse(line) as { level?: string; msg?: string; error?: string };
    return `${level ?? ''} ${msg ?? ''}${error ? `: ${error}` : ''}`;
  } catch {
    return line;
  }
}

export function managedProcess(spec: ProcessSpec): ManagedProcess {
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let expectingExit = false;
  let unexpectedExits = 0;
  let starts = 0;
  const lines: string[] = [];

  const kill9 = async (): Promise<void> => {
    const c = child;
    if (!c) return;
    expectingExit = true;
    killGroup(c, 'SIGKILL');
    await exited;
  };

  const start = async (): Promise<void> => {
    if (child) throw new Error(`${spec.name} is already running (pid ${child.pid})`);
    starts++;
    lines.length = 0;
    const logFile = fs.createWriteStream(path.join(spec.logDir, `${spec.name}-${starts}.log`));
    const c = spawn(spec.command, spec.args, {
      cwd: ROOT,
      env: spec.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child = c;
    living.add(c);
    expectingExit = false;
    const keep = (line: string) => {
      lines.push(line);
      if (lines.length > 400) lines.shift();
      logFile.write(`${line}\n`);
      if (spec.echo) spec.log(`[${spec.name}] ${brief(line)}`);
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
          spec.log(
            `[${spec.name}] exited on its own (code ${code}, signal ${signal}); last lines:\n${lines.slice(-15).join('\n')}`,
          );
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

/** A Leadwire entry point (bin/worker.ts, bin/api.ts, bin/migrate.ts) run with tsx. */
export function tsxArgs(script: string): { command: string; args: string[] } {
  return { command: process.execPath, args: [TSX_CLI, script] };
}

// ---------------------------------------------------------------------------------------------------
// The Temporal cluster

export const TEMPORAL_ROLES = ['frontend', 'history', 'matching', 'worker'] as const;
export type TemporalRole = (typeof TEMPORAL_ROLES)[number];

export interface TemporalCluster {
  /** host:port of the frontend (TEMPORAL_ADDRESS). */
  address: string;
  /** The frontend with what a client needs to be let in (its TLS when the cluster runs with TLS). */
  target: TemporalTarget;
  namespace: 'default';
  shards: number;
  databases: { temporal: string; visibility: string };
  /** One process per service; kill9() and start() them to fault the cluster. */
  services: Record<TemporalRole, ManagedProcess>;
  /** Prometheus endpoint of each service process. */
  metricsUrls: Record<TemporalRole, string>;
  logDir: string;
  /** Stops every service; drops the two databases unless it was asked to keep them. */
  stop(): Promise<void>;
}

export interface TemporalClusterOptions {
  pgAdminUrl?: string;
  /** Database names: <prefix> and <prefix>_visibility (created and set up; dropped on stop unless keepDatabases). */
  databasePrefix?: string;
  keepDatabases?: boolean;
  /** host:port the services use for Postgres (default: pgAdminUrl's); the fault suite puts a cuttable proxy here. */
  pgAddr?: string;
  shards?: number;
  log?: Log;
  logDir?: string;
  /** Forward the services' log lines (warn and up) to log. */
  echo?: boolean;
  /** TLS on the frontend with client certificates required (mTLS); PEM file paths. */
  tls?: ClusterTls;
}

export interface ClusterTls {
  /** The CA that signed the server's and the clients' certificates. */
  ca: string;
  /** The frontend's certificate (issued for serverAuth and clientAuth) and key. */
  serverCert: string;
  serverKey: string;
  /** A client certificate and key: the system worker's, and the one this script and its processes use. */
  clientCert: string;
  clientKey: string;
  /** The name in the server's certificate (default localhost). */
  serverName?: string;
}

/** A client's TLS settings for a cluster run with `tls`. */
function clientTls(tls: ClusterTls | undefined): TLSConfig | undefined {
  if (!tls) return undefined;
  return {
    serverNameOverride: tls.serverName ?? 'localhost',
    serverRootCACertificate: fs.readFileSync(tls.ca),
    clientCertPair: { crt: fs.readFileSync(tls.clientCert), key: fs.readFileSync(tls.clientKey) },
  };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free port below 32768: Temporal stores each member's port in cluster_membership.rpc_port, a
 * smallint, so the kernel's ephemeral ports (32768 and up, what freePort() returns) do not fit.
 */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const port = 20_000 + crypto.randomInt(12_000);
    if (!taken.has(port) && (await canBind(port))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1');
}

async function frontendReady(address: string, namespace: string, tls?: TLSConfig): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, tls, connectTimeout: 2_000 });
    const conn = connection;
    await conn.withDeadline(Date.now() + 3_000, () => conn.workflowService.describeNamespace({ namespace }));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** The namespace `default` and the Keyword search attributes, as deploy/temporal/register.sh does for compose. */
async function registerNamespace(address: string, log: Log, tls?: TLSConfig): Promise<void> {
  const connection = await Connection.connect({ address, tls });
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        await connection.workflowService.registerNamespace({
          namespace: 'default',
          workflowExecutionRetentionPeriod: msToTs(RETENTION),
        });
        break;
      } catch (err) {
        if (/already exists/i.test(String(err))) break;
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
    for (;;) {
      try {
        await connection.operatorService.addSearchAttributes({
          namespace: 'default',
          searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((n) => [n, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
        });
        break;
      } catch (err) {
        if (/already exists/i.test(String(err))) break;
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
    // The namespace cache of the frontend refreshes every few seconds: wait until it serves `default`.
    while (!(await frontendReady(address, 'default', tls))) {
      if (Date.now() > deadline) throw new Error('the frontend never served the namespace default');
      await sleep(500);
    }
  } finally {
    await connection.close();
  }
  log(`Temporal namespace default registered with ${SEARCH_ATTRIBUTES.join(', ')}`);
}

/**
 * Starts the four Temporal services as separate processes on a fresh (or kept) pair of databases and
 * waits until the frontend serves the namespace `default`.
 */
export async function startTemporalCluster(opts: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const log = opts.log ?? defaultLog;
  const adminUrl = opts.pgAdminUrl ?? process.env.LW_PG_ADMIN_URL ?? DEFAULT_PG_ADMIN_URL;
  const prefix = opts.databasePrefix ?? `temporal_${Date.now()}_${process.pid}`;
  const databases = { temporal: prefix, visibility: `${prefix}_visibility` };
  const shards = opts.shards ?? Number(process.env.LW_CLUSTER_SHARDS || 4);
  const logDir = opts.logDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-temporal-cluster-'));
  fs.mkdirSync(logDir, { recursive: true });

  const program = await ensureTemporalServer(log);
  await setupTemporalSchema(program, adminUrl, databases);

  const pg = new URL(adminUrl);
  const ports: Record<string, number> = {};
  const taken = new Set<number>();
  for (const key of [
    'FRONTEND',
    'FRONTEND_MEMBERSHIP',
    'FRONTEND_HTTP',
    'HISTORY',
    'HISTORY_MEMBERSHIP',
    'MATCHING',
    'MATCHING_MEMBERSHIP',
    'WORKER',
    'WORKER_MEMBERSHIP',
  ]) {
    ports[key] = await freeClusterPort(taken);
  }
  const metricsPorts = {} as Record<TemporalRole, number>;
  for (const role of TEMPORAL_ROLES) metricsPorts[role] = await freeClusterPort(taken);
  const address = `127.0.0.1:${ports.FRONTEND}`;
  const tls = clientTls(opts.tls);
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    LW_TS_PG_ADDR: opts.pgAddr ?? `${pg.hostname}:${pg.port || 5432}`,
    LW_TS_PG_USER: decodeURIComponent(pg.username || 'postgres'),
    LW_TS_PG_PASSWORD: decodeURIComponent(pg.password),
    LW_TS_DB: databases.temporal,
    LW_TS_VISIBILITY_DB: databases.visibility,
    LW_TS_HISTORY_SHARDS: String(shards),
    LW_TS_DYNAMIC_CONFIG: DYNAMIC_CONFIG,
    LW_TS_LOG_LEVEL: process.env.LW_TS_LOG_LEVEL || 'warn',
    ...(opts.tls
      ? {
          LW_TS_TLS_CA: opts.tls.ca,
          LW_TS_TLS_SERVER_CERT: opts.tls.serverCert,
          LW_TS_TLS_SERVER_KEY: opts.tls.serverKey,
          LW_TS_TLS_CLIENT_CERT: opts.tls.clientCert,
          LW_TS_TLS_CLIENT_KEY: opts.tls.clientKey,
          LW_TS_TLS_SERVER_NAME: opts.tls.serverName ?? 'localhost',
        }
      : {}),
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [`LW_TS_${k}_PORT`, String(v)])),
  };

  const services = {} as Record<TemporalRole, ManagedProcess>;
  for (const role of TEMPORAL_ROLES) {
    services[role] = managedProcess({
      name: `temporal-${role}`,
      command: program,
      args: ['start', '--config-dir', CONFIG_DIR, '--service', role],
      env: () => ({ ...baseEnv, LW_TS_METRICS_PORT: String(metricsPorts[role]) }),
      log,
      logDir,
      echo: opts.echo,
      // Up once its metrics endpoint answers (the frontend additionally must answer gRPC, checked below).
      ready: ({ exited }) =>
        until(
          () => httpOk(`http://127.0.0.1:${metricsPorts[role]}/metrics`),
          exited,
          `temporal ${role} serves /metrics`,
        ),
    });
  }

  const stop = async (): Promise<void> => {
    // The reverse of the start order: the internal worker (a client of the frontend) first, history last.
    for (const role of ['worker', 'frontend', 'matching', 'history'] as const) await services[role].stop();
    if (!opts.keepDatabases) {
      await dropDatabase(adminUrl, databases.temporal).catch(() => undefined);
      await dropDatabase(adminUrl, databases.visibility).catch(() => undefined);
    }
  };

  try {
    // History owns the shards and must be in the ring before the frontend can route; start it first.
    for (const role of ['history', 'matching', 'frontend', 'worker'] as const) await services[role].start();
    const t0 = Date.now();
    while (!(await frontendReady(address, 'temporal-system', tls))) {
      if (Date.now() - t0 > READY_TIMEOUT_MS)
        throw new Error(`the Temporal frontend at ${address} did not answer within ${READY_TIMEOUT_MS / 1000} s`);
      await sleep(500);
    }
    await registerNamespace(address, log, tls);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }

  return {
    address,
    target: { address, namespace: 'default', ...(tls ? { tls } : {}) },
    namespace: 'default',
    shards,
    databases,
    services,
    metricsUrls: Object.fromEntries(
      TEMPORAL_ROLES.map((r) => [r, `http://127.0.0.1:${metricsPorts[r]}/metrics`]),
    ) as Record<TemporalRole, string>,
    logDir,
    stop,
  };
}

// ---------------------------------------------------------------------------------------------------
// A round-robin TCP proxy in front of the API processes (HTTP and WebSocket alike)

export interface RoundRobinProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * Each new connection goes to the next backend; a backend that refuses the connection is skipped, so
 * killing one API leaves the port serving. Keep-alive connections stay on the backend they opened on.
 */
export function startRoundRobinProxy(backends: number[], port = 0): Promise<RoundRobinProxy> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.pause();
    const attempt = (triesLeft: number): void => {
      const backendPort = backends[next++ % backends.length];
      const upstream = net.connect(backendPort, '127.0.0.1');
      upstream.once('connect', () => {
        sockets.add(upstream);
        upstream.once('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        if (upstream.connecting || !upstream.remoteAddress) {
          if (triesLeft > 1) attempt(triesLeft - 1);
          else client.destroy();
        }
      });
    };
    attempt(backends.length);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// npm run cluster

async function main(argv: string[]): Promise<void> {
  const log: Log = (m) => console.log(m);
  if (argv.includes('--ensure')) {
    process.stdout.write(`${await ensureTemporalServer(log)}\n`);
    return;
  }
  const adminUrl = process.env.LW_PG_ADMIN_URL || DEFAULT_PG_ADMIN_URL;
  const stamp = `${Date.now()}`;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-cluster-'));
  const cleanups: (() => Promise<void>)[] = [];
  let stopping = false;
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('Stopping the cluster…');
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(String(err)));
    log(`Stopped (logs in ${logDir}).`);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    await startAll(argv, adminUrl, stamp, logDir, cleanups, log);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await shutdown(1);
  }
}

/** Starts the pieces of `npm run cluster` in order; each pushes its own cleanup. */
async function startAll(
  argv: string[],
  adminUrl: string,
  stamp: string,
  logDir: string,
  cleanups: (() => Promise<void>)[],
  log: Log,
): Promise<void> {
  const keep = argv.includes('--keep-databases');
  const temporal = await startTemporalCluster({
    pgAdminUrl: adminUrl,
    databasePrefix: `temporal_cluster_${stamp}`,
    keepDatabases: keep,
    log,
    logDir,
    echo: true,
  });
  cleanups.push(() => temporal.stop());
  if (argv.includes('--temporal')) {
    log(
      `Temporal cluster on Postgres (${temporal.shards} history shards, databases ${temporal.databases.temporal}, ${temporal.databases.visibility})`,
    );
    log(`  export TEMPORAL_ADDRESS=${temporal.address}`);
    for (const role of TEMPORAL_ROLES)
      log(`  ${role.padEnd(8)} pid ${temporal.services[role].pid}  metrics ${temporal.metricsUrls[role]}`);
    log('Press Ctrl-C to stop.');
    return;
  }

  const dbName = `leadwire_cluster_${stamp}`;
  const databaseUrl = await createDatabase(adminUrl, dbName);
  if (!keep) cleanups.push(() => dropDatabase(adminUrl, dbName));
  const rootToken = process.env.LW_ROOT_TOKEN || `lw_root_${crypto.randomBytes(24).toString('base64url')}`;
  const env = (extra: NodeJS.ProcessEnv) => (): NodeJS.ProcessEnv => ({
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    LW_ROOT_TOKEN: rootToken,
    FORCE_COLOR: '0',
    ...extra,
  });
  await run(process.execPath, [TSX_CLI, path.join(ROOT, 'bin', 'migrate.ts')], env({})());

  const workers = Number(process.env.LW_CLUSTER_WORKERS || 2);
  const apis = Number(process.env.LW_CLUSTER_APIS || 2);
  const procs: ManagedProcess[] = [];
  const apiPorts: number[] = [];
  const taskQueue = process.env.LW_TASK_QUEUE || DEFAULT_TASK_QUEUE;
  const probe = Connection.lazy({ address: temporal.address });
  cleanups.push(() => probe.close());
  for (let i = 1; i <= workers; i++) {
    const metricsPort = await freePort();
    const p = managedProcess({
      name: `worker-${i}`,
      ...tsxArgs('bin/worker.ts'),
      env: env({
        LW_SERVICE: `worker-${i}`,
        LW_WORKER_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: process.env.LOG_LEVEL || 'info',
      }),
      log,
      logDir,
      echo: true,
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
    procs.push(p);
  }
  for (let i = 1; i <= apis; i++) {
    const port = await freePort();
    apiPorts.push(port);
    procs.push(
      managedProcess({
        name: `api-${i}`,
        ...tsxArgs('bin/api.ts'),
        env: env({ LW_SERVICE: `api-${i}`, PORT: String(port), LOG_LEVEL: process.env.LOG_LEVEL || 'info' }),
        log,
        logDir,
        echo: true,
        ready: ({ exited }) => until(() => httpOk(`http://127.0.0.1:${port}/readyz`), exited, 'the API is ready'),
      }),
    );
  }
  cleanups.push(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });
  await Promise.all(procs.map((p) => p.start()));
  const proxy = await startRoundRobinProxy(apiPorts, Number(process.env.PORT || 3000));
  cleanups.push(() => proxy.close());

  log('');
  log('Leadwire cluster running:');
  log(
    `  API (round-robin over ${apis}): http://127.0.0.1:${proxy.port}   (feed: ws://127.0.0.1:${proxy.port}/v1/feed)`,
  );
  apiPorts.forEach((p, i) => log(`  api-${i + 1}: http://127.0.0.1:${p}`));
  log(`  Temporal:  export TEMPORAL_ADDRESS=${temporal.address}   (${temporal.shards} history shards on Postgres)`);
  for (const role of TEMPORAL_ROLES)
    log(`    ${role.padEnd(8)} pid ${temporal.services[role].pid}  metrics ${temporal.metricsUrls[role]}`);
  log(`  DATABASE_URL=${databaseUrl}`);
  log(`  LW_ROOT_TOKEN=${rootToken}`);
  log(`  logs: ${logDir}`);
  log('Press Ctrl-C to stop everything.');
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
