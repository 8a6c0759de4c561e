/** The test database: the run's fresh Postgres database (see test/setup), or PGlite in memory. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { PGlite } from '@electric-sql/pglite';

import { type Database, type Db, migrateDatabase, MIGRATIONS_DIR, openDatabase } from '../../db/connection';
import * as schema from '../../db/schema';

export async function openTestPostgres(): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (test/setup/global-setup.ts)');
  return openDatabase({ url, poolSize: 20 });
}

/** What a migrated PGlite template is made of: every migration, and the PGlite release that wrote it. */
function templateKey(): string {
  const hash = crypto.createHash('sha256');
  const pglite = path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  hash.update(fs.existsSync(pglite) ? fs.readFileSync(pglite) : 'unknown pglite');
  const walk = (dir: string): void => {
    for (const f of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, f.name);
      if (f.isDirectory()) walk(p);
      else hash.update(f.name).update(fs.readFileSync(p));
    }
  };
  walk(MIGRATIONS_DIR);
  return hash.digest('hex').slice(0, 16);
}

/**
 * A migrated, empty PGlite data directory, made once per migrations version and cached on disk. A fresh PGlite runs
 * initdb in WebAssembly (10 s and more on two busy cores, then the migrations); one loaded from this dump starts in
 * a second or two, with every migration applied.
 */
async function pgliteTemplate(): Promise<Blob> {
  const file = path.join(os.tmpdir(), `leadwire-pglite-${templateKey()}.tar`);
  if (!fs.existsSync(file)) {
    const database = await openDatabase({ dataDir: 'memory://' });
    try {
      const dump = await (database.raw as PGlite).dumpDataDir('none');
      // A temporary file of this process's own, then a rename: parallel Jest processes never read half a dump.
      fs.writeFileSync(`${file}.${process.pid}.tmp`, Buffer.from(await dump.arrayBuffer()));
      fs.renameSync(`${file}.${process.pid}.tmp`, file);
    } finally {
      await database.close();
    }
  }
  return new Blob([fs.readFileSync(file)]);
}

/** A private PGlite database in memory, migrated as openDatabase does it (started from the cached template). */
export async function openTestPglite(): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const client = new PGlite('memory://', { loadDataDir: await pgliteTemplate() });
  await client.waitReady;
  const database: Database = {
    db: drizzle(client, { schema }) as unknown as Db,
    driver: 'pglite',
    url: null,
    raw: client,
    close: () => client.close(),
  };
  await migrateDatabase(database); // applies nothing when the template is current, as on a restart
  return database;
}

/** Both drivers, for data-layer tests that must behave the same on each. */
export const DRIVERS: [string, () => Promise<Database>][] = [
  ['postgres', openTestPostgres],
  ['pglite', openTestPglite],
];
