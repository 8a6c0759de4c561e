/**
 * Jest globalSetup: one fresh Postgres database and one Temporal dev server for the whole run.
 * The tests find them through env vars (inherited, we run --runInBand):
 *   TEST_DATABASE_URL, TEST_PG_ADMIN_URL, TEMPORAL_ADDRESS, LW_TEST_TEMPORAL_DATA_DIR, and
 *   LEADWIRE_MASTER_KEYS (a master key of the run's own, unless set).
 * Set DATABASE_URL or TEMPORAL_ADDRESS to use servers of your own; LW_TEST_TEMPORAL_LOGS=1 shows the
 * dev server's warnings.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Client } from 'pg';

import { generateMasterKey } from '../../lib/key-store';
import { ensureTemporalServer } from '../../scripts/temporal-cluster';
import { startTemporalDevServer, type TemporalDevServer } from '../../temporal/dev-server';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** What teardown must undo; globalSetup and globalTeardown share globalThis. */
export interface TestInfra {
  pgAdminUrl: string;
  dbName: string;
  temporal?: TemporalDevServer;
  temporalDataDir?: string;
}
const INFRA_KEY = '__leadwireTestInfra';
export function testInfra(): TestInfra | undefined {
  return (globalThis as Record<string, unknown>)[INFRA_KEY] as TestInfra | undefined;
}

/** Null when the server answers, else why not. */
async function pgProblem(url: string): Promise<Error | null> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    await client.end().catch(() => {});
  }
}

/** For messages: DATABASE_URL may carry a password. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

async function createTestDatabase(adminUrl: string): Promise<{ dbName: string; url: string }> {
  const firstProblem = await pgProblem(adminUrl);
  if (firstProblem) {
    // Fresh machine: start (or install) PostgreSQL once, then try again.
    try {
      execFileSync('bash', [path.join(__dirname, '../../scripts/ensure-postgres.sh')], { stdio: 'inherit' });
    } catch {
      throw new Error(
        `PostgreSQL at ${redact(adminUrl)} does not answer (${firstProblem.message}), and ` +
          'scripts/ensure-postgres.sh could not fix that (its output is above).',
      );
    }
    const problem = await pgProblem(adminUrl);
    if (problem) throw new Error(`PostgreSQL at ${redact(adminUrl)} does not answer: ${problem.message}`);
  }
  const dbName = `leadwire_test_${Date.now()}_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  return { dbName, url: url.toString() };
}

export async function dropTestDatabase(adminUrl: string, dbName: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Whether this run may reach the Temporal server program: the whole suite, or any test under test/faults or
 * test/ops (the cluster, TLS and fault tests). A run of other named files does not wait for its first build.
 */
function runNeedsServerProgram(testPathPattern: string | undefined): boolean {
  return !testPathPattern || /faults|ops|cluster|nemesis|tls/.test(testPathPattern);
}

export default async function globalSetup(globalConfig?: { testPathPattern?: string }): Promise<void> {
  const pgAdminUrl = process.env.DATABASE_URL || DEFAULT_PG_URL;
  const { dbName, url } = await createTestDatabase(pgAdminUrl);
  const infra: TestInfra = { pgAdminUrl, dbName };
  (globalThis as Record<string, unknown>)[INFRA_KEY] = infra;
  process.env.TEST_DATABASE_URL = url;
  process.env.TEST_PG_ADMIN_URL = pgAdminUrl;
  // Real encryption of secrets at rest in every test, under this run's own master key (child processes inherit it).
  process.env.LEADWIRE_MASTER_KEYS ||= generateMasterKey('test');

  // The cluster tests (test/ops/cluster, test/faults/cluster) run the Temporal server program: build it here, once
  // and cached, so that a test's own time limit never has to cover a first build (several minutes on two cores).
  if (runNeedsServerProgram(globalConfig?.testPathPattern)) await ensureTemporalServer();

  let temporalLine: string;
  if (process.env.TEMPORAL_ADDRESS) {
    temporalLine = `Temporal at TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS} (not started by us)`;
  } else {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-test-temporal-'));
    try {
      infra.temporal = await startTemporalDevServer({
        dataDir,
        headless: true,
        quiet: !process.env.LW_TEST_TEMPORAL_LOGS,
      });
    } catch (err) {
      // Jest skips globalTeardown when globalSetup throws: undo what we made.
      await dropTestDatabase(pgAdminUrl, dbName).catch(() => {});
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    infra.temporalDataDir = dataDir;
    process.env.TEMPORAL_ADDRESS = infra.temporal.address;
    process.env.LW_TEST_TEMPORAL_DATA_DIR = dataDir;
    temporalLine = `Temporal dev server ${infra.temporal.address} (pid ${infra.temporal.pid}, data ${dataDir})`;
  }
  console.log(`\n[test setup] Postgres database ${dbName}; ${temporalLine}`);
}
