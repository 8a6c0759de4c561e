/**
 * One database handle per process: node-postgres when DATABASE_URL is set
 * (production, several processes), PGlite in the data dir otherwise (the
 * zero-setup default, one process). Both run the same SQL migrations.
 */
import fs from 'node:fs';
import path from 'node:path';

import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

import { setting } from '../lib/config';
import { backfillCapCounters } from './cap-counters';
import * as schema from './schema';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle has the same query surface as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database {
  db: Db;
  driver: 'postgres' | 'pglite';
  /** The connection string, for LISTEN/NOTIFY; null on PGlite. */
  url: string | null;
  /** Low-level access for the feed bus (LISTEN/NOTIFY on Postgres, live queries nowhere). */
  raw: unknown;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

export interface OpenOptions {
  /** Postgres connection string; when absent, PGlite in `dataDir`. */
  url?: string | null;
  /** PGlite directory; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  poolSize?: number;
  migrate?: boolean;
}

export async function openDatabase(opts: OpenOptions = {}): Promise<Database> {
  const database = opts.url
    ? await openPostgres(opts.url, opts.poolSize)
    : await openPglite(opts.dataDir ?? defaultPgliteDir());
  if (opts.migrate !== false) await migrateDatabase(database);
  return database;
}

/** Where PGlite keeps its files when nothing is configured. */
function defaultPgliteDir(): string {
  return path.join(path.resolve(setting('LW_DATA_DIR')), 'pglite');
}

async function openPostgres(url: string, poolSize?: number): Promise<Database> {
  const { Pool } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const pool = new Pool({ connectionString: url, max: poolSize ?? setting('DATABASE_POOL_SIZE') });
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor may a client checked out for a transaction: the pool stops listening for its errors while it is out,
  // so a connection lost between two statements would be an unhandled 'error' event. The statements still
  // fail (and the transaction with them), and the pool drops the broken client when it comes back.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = drizzle(pool, { schema }) as unknown as Db;
  return { db, driver: 'postgres', url, raw: pool, close: () => pool.end() };
}

async function openPglite(dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  if (!dataDir.startsWith('memory://')) fs.mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  await client.waitReady;
  const db = drizzle(client, { schema }) as unknown as Db;
  return { db, driver: 'pglite', url: null, raw: client, close: () => client.close() };
}

/**
 * Applies db/migrations. On Postgres several processes may start at once, so
 * the migrator runs under an advisory lock; the second one finds nothing to do.
 */
export async function migrateDatabase(database: Database): Promise<void> {
  if (database.driver === 'pglite') {
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(database.db as never, { migrationsFolder: MIGRATIONS_DIR });
    await backfillCapCounters(database.db);
    return;
  }
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const pool = database.raw as import('pg').Pool;
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(872364501)');
    const locked = drizzle(client, { schema });
    await migrate(locked, { migrationsFolder: MIGRATIONS_DIR });
    // Migration 0031's one-off step (the counters' period boundaries are the application's), under the same lock.
    await backfillCapCounters(locked as unknown as Db);
  } finally {
    await client.query('SELECT pg_advisory_unlock(872364501)').catch(() => undefined);
    client.release();
  }
}

/** True when the database answers a trivial query (readiness probe). */
export async function databaseAnswers(db: Db): Promise<boolean> {
  try {
    await db.execute(sql`SELECT 1`);
    return true;
  } catch {
    return false;
  }
}
