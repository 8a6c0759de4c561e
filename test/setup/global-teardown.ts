/** Jest globalTeardown: stops the Temporal dev server and drops the database that globalSetup made. */
import * as fs from 'node:fs';

import { dropTestDatabase, testInfra } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const infra = testInfra();
  if (!infra) return;
  // Clean-up problems are reported but do not fail a run whose tests passed.
  if (infra.temporal) {
    await infra.temporal.stop().catch((err) => console.warn(`[test teardown] stopping Temporal: ${err}`));
  }
  if (infra.temporalDataDir) fs.rmSync(infra.temporalDataDir, { recursive: true, force: true });
  await dropTestDatabase(infra.pgAdminUrl, infra.dbName).catch((err) =>
    console.warn(`[test teardown] dropping database ${infra.dbName}: ${err}`),
  );
}
