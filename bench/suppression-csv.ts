/**
 * The suppression CSV upload's rate (#23 item 3: "a million numbers in under a
 * minute, constant memory"): streams N generated US numbers through
 * `loadSuppressionCsv` into a fresh database and prints lines per second and
 * the process's peak RSS (bench/lib/suppression-csv.ts, the measurement the
 * harness's `suppression_csv` scenario records). A measurement, never a test bound.
 *
 *   npm run bench:suppression -- [--lines 1000000] [--dnc]
 *
 * Postgres at DATABASE_URL (a scratch database: the script migrates it and adds
 * an agency), else PGlite in memory. `--dnc` loads the registry's format into
 * national_dnc instead.
 */
import { parseArgs } from 'node:util';

import { createAgency } from '../db/agencies';
import { openDatabase } from '../db/connection';
import { prepareKeyStore } from '../db/key-store';
import { measureCsvLoad } from './lib/suppression-csv';

async function main() {
  const { values } = parseArgs({
    options: { lines: { type: 'string', default: '1000000' }, dnc: { type: 'boolean', default: false } },
  });
  const database = await openDatabase({ url: process.env.DATABASE_URL || null, dataDir: 'memory://' });
  await prepareKeyStore(database.db);
  const agency = await createAgency(database.db, { name: 'Bench agency' });
  const figures = await measureCsvLoad(database.db, {
    agencyId: agency.id,
    lines: Number(values.lines),
    dnc: values.dnc,
    progress: (lines) => console.log(`  … ${lines} lines`),
  });
  console.log(JSON.stringify({ database: process.env.DATABASE_URL ? 'postgres' : 'pglite', ...figures }, null, 2));
  await database.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
