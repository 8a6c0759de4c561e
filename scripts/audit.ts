/**
 * `npm run audit`: checks every money and sale invariant across the database
 * (db/audit.ts) and exits 1 on any violation.
 *
 *   npm run audit                       DATABASE_URL, or PGlite in LW_DATA_DIR (default .data)
 *   npm run audit -- --agency <id>      one agency only
 *   npm run audit -- --json             the report as JSON
 *   npm run audit -- --no-temporal      skip the workflow checks even if TEMPORAL_ADDRESS is set
 *
 * With TEMPORAL_ADDRESS set, it also checks that every lead older than a
 * minute (`--min-age-seconds`) has a workflow and that every lead whose
 * workflow closed has a final status.
 */
import { Client, Connection } from '@temporalio/client';
import path from 'node:path';
import { formatAudit, runAudit } from '../db/audit';
import { openDatabase } from '../db/connection';
import { loadConfig } from '../bin/runtime';
import { withRunningStack } from '../bin/stack';

function arg(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  // TEMPORAL_ADDRESS / DATABASE_URL, else the running `npm start` (its stack.json).
  const { config } = withRunningStack(loadConfig());
  // Read-only: no migrations applied.
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: path.join(config.dataDir, 'pglite'),
    migrate: false,
  });
  let connection: Connection | null = null;
  try {
    const address = argv.includes('--no-temporal') ? null : config.temporalAddress;
    if (address) connection = await Connection.connect({ address });
    const report = await runAudit(database.db, {
      agencyId: arg(argv, '--agency') ?? null,
      temporal: connection ? new Client({ connection, namespace: config.temporalNamespace }) : null,
      minAgeMs: Number(arg(argv, '--min-age-seconds') ?? 60) * 1000,
    });
    console.log(argv.includes('--json') ? JSON.stringify(report, null, 2) : formatAudit(report));
    return report.ok ? 0 : 1;
  } finally {
    await connection?.close();
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(2);
  },
);
