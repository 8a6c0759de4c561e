/**
 * What every entry point needs: configuration from the environment, the
 * database, the feed bus and the Temporal client. One of each per process.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import type { Client } from '@temporalio/client';

import { createApi } from '../api/app';
import type { InFlightLimits } from '../api/in-flight';
import { anyUserExists, issueOneTimeToken, revokeUnusedTokens } from '../db/accounts';
import { type Database, type Db, openDatabase } from '../db/connection';
import { prepareKeyStore } from '../db/key-store';
import { createInProcessBus, createPostgresBus, type OfferBus } from '../db/offer-bus';
import { ConfigError, readConfig } from '../lib/config';
import { installKeyStore, KeyStore, masterKeysFromEnv } from '../lib/key-store';
import { consoleStyle, logger } from '../observability/logger';
import { shutdownTracing } from '../observability/tracing';
import { type TemporalTarget, temporalTargetFromEnv } from '../temporal/connection';

export interface Config {
  port: number;
  databaseUrl: string | null;
  /**
   * The Temporal frontend from TEMPORAL_ADDRESS or a Temporal profile (temporal/connection.ts), with its TLS
   * and credentials; null: none named (`npm start` runs a dev server).
   */
  temporal: TemporalTarget | null;
  /** The namespace: the target's, or `default` on the dev server. */
  temporalNamespace: string;
  taskQueue: string;
  dataDir: string;
  rootToken: string | null;
  /** Express's `trust proxy` from LW_TRUST_PROXY: unset (trust none), `true`, a hop count, or addresses/subnets. */
  trustProxy: boolean | number | string | undefined;
  inFlight: InFlightLimits;
  /** How long an accepted ping may be posted (LW_PING_TTL_SECONDS, default 60). */
  pingTtlMs: number;
}

/**
 * The process's configuration, validated once at start against the one schema (lib/config.ts): a bad
 * value throws a ConfigError naming every bad variable and what it expects; `exitOnBadConfig` turns that
 * into a plain message and exit code 78 (EX_CONFIG) in the entry points.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const c = readConfig(env);
  const temporal = temporalTargetFromEnv(env);
  return {
    port: c.PORT,
    databaseUrl: c.DATABASE_URL,
    temporal,
    temporalNamespace: temporal?.namespace ?? c.TEMPORAL_NAMESPACE,
    taskQueue: c.LW_TASK_QUEUE,
    dataDir: path.resolve(c.LW_DATA_DIR),
    rootToken: c.LW_ROOT_TOKEN,
    trustProxy: c.LW_TRUST_PROXY,
    inFlight: { perConnection: c.LW_MAX_IN_FLIGHT_PER_CONNECTION, perKey: c.LW_MAX_IN_FLIGHT_PER_KEY },
    pingTtlMs: c.LW_PING_TTL_SECONDS * 1000,
  };
}

/** An entry point's last word on a bad configuration: the message alone (no stack) and exit code 78. */
export function exitOnBadConfig(err: unknown): void {
  if (!(err instanceof ConfigError)) return;
  console.error(err.message);
  process.exit(78);
}

/**
 * The database, migrated, with its secrets ready: the master keys are resolved first (LEADWIRE_MASTER_KEYS; outside
 * production a dev key in the data dir, generated and announced on first start; in production none is a refusal),
 * then every stored secret's key is checked and any left in clear is sealed (db/key-store.ts `prepareKeyStore`).
 */
export async function openDatabaseFor(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<Database> {
  const { keys, source } = masterKeysFromEnv({ ...env, LW_DATA_DIR: config.dataDir });
  installKeyStore(new KeyStore(keys));
  if (source.from === 'file' && source.generated)
    console.log(
      `Generated a development master key in ${source.file} (it seals webhook secrets at rest; ` +
        'production sets LEADWIRE_MASTER_KEYS instead, see docs/security.md).',
    );
  const database = await openDatabase({ url: config.databaseUrl, dataDir: path.join(config.dataDir, 'pglite') });
  try {
    const { sealed } = await prepareKeyStore(database.db);
    if (sealed > 0) console.log(`Sealed ${sealed} secret(s) that were stored in clear.`);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}

/** LISTEN/NOTIFY across processes on Postgres; in-process with PGlite (one process holds it). */
export function createBus(database: Database): OfferBus {
  if (database.driver === 'postgres' && database.url)
    return createPostgresBus(database.url, database.raw as import('pg').Pool);
  // PGlite's own listen() hears the ledger trigger's wallet NOTIFYs (the feed's `wallet.changed`).
  return createInProcessBus(
    database.driver === 'pglite' ? { pglite: database.raw as import('@electric-sql/pglite').PGlite } : {},
  );
}

/**
 * The first-run setup link (#20): while nobody has an account, each start
 * issues a new one-time link (7 days) that creates the first agency owner,
 * and revokes the older ones; null once somebody has an account.
 */
export async function setupLinkFor(db: Db, publicUrl: string): Promise<string | null> {
  if (await anyUserExists(db)) return null;
  const secret = await db.transaction(async (tx) => {
    await revokeUnusedTokens(tx, 'setup');
    return (await issueOneTimeToken(tx, { purpose: 'setup' })).secret;
  });
  return `${publicUrl.replace(/\/+$/, '')}/setup?token=${secret}`;
}

/**
 * The root token: LW_ROOT_TOKEN, or one generated on first start and kept in
 * the data dir, so a restart does not lock the operator out.
 */
export function rootTokenFor(config: Config): { token: string; generated: boolean } {
  if (config.rootToken) return { token: config.rootToken, generated: false };
  const file = path.join(config.dataDir, 'root-token');
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, 'utf8').trim(), generated: true };
  fs.mkdirSync(config.dataDir, { recursive: true });
  const token = `lw_root_${crypto.randomBytes(32).toString('base64url')}`;
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generated: true };
}

/** Runs the cleanups once on SIGINT/SIGTERM, in order, then exits. */
export function onShutdown(cleanups: (() => Promise<unknown> | unknown)[]): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: shutting down…`);
    for (const c of cleanups) {
      try {
        await c();
      } catch (err) {
        console.error('shutdown step failed:', err instanceof Error ? err.message : err);
      }
    }
    await shutdownTracing().catch(() => undefined); // flushes the last spans
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** The API and its Live Leads feed on one HTTP server, listening on `config.port` (0: a free port). */
/**
 * The accept queue the API asks the kernel for (Node's default is 511; Linux caps it at net.core.somaxconn, 4096 on
 * current kernels). A claim storm opens connections faster than a busy event loop accepts them; past the queue the
 * kernel drops the SYN and the client retries it 1 s, then 3 s later, so a short queue turns a burst of a few hundred
 * new connections into multi-second answers (the storm-over-many-offers benchmark: 8,000 overflows in one run).
 */
export const LISTEN_BACKLOG = 4096;

/** Starts listening with the API's accept queue; resolves once it listens. */
export function listen(server: http.Server, port: number, host?: string): Promise<void> {
  return new Promise<void>((resolve) => server.listen({ port, host, backlog: LISTEN_BACKLOG }, resolve));
}

export async function serveApi(
  config: Config,
  deps: { database: Database; bus: OfferBus; client: Client; rootToken: string; eagerStart?: boolean },
): Promise<{ port: number; close(): Promise<void> }> {
  const { app, attachFeed } = createApi({
    db: deps.database.db,
    bus: deps.bus,
    temporal: deps.client,
    taskQueue: config.taskQueue,
    eagerStart: deps.eagerStart,
    rootToken: deps.rootToken,
    pingTtlMs: config.pingTtlMs,
    logger: consoleStyle(logger),
    requestLogger: logger.child({ component: 'api' }),
    trustProxy: config.trustProxy,
    inFlight: config.inFlight,
    // Several API processes share one Postgres: they share the limits too. PGlite is one process.
    sharedRateLimits: deps.database.driver === 'postgres',
    dncFilter: { driver: deps.database.driver },
  });
  const server = http.createServer(app);
  const feed = attachFeed(server);
  await listen(server, config.port);
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      await new Promise((r) => server.close(r));
      await feed.close();
    },
  };
}
