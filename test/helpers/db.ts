/** The test database: the run's fresh Postgres database (see test/setup), or PGlite in memory. */
import { type Database, openDatabase } from '../../db/connection';

export async function openTestPostgres(): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (test/setup/global-setup.ts)');
  return openDatabase({ url, poolSize: 20 });
}

async function openTestPglite(): Promise<Database> {
  return openDatabase({ dataDir: 'memory://' });
}

/** Both drivers, for data-layer tests that must behave the same on each. */
export const DRIVERS: [string, () => Promise<Database>][] = [
  ['postgres', openTestPostgres],
  ['pglite', openTestPglite],
];
