/**
 * `npm start`: the whole product in one process, with nothing configured.
 * Provisions and starts the Temporal dev server (unless TEMPORAL_ADDRESS is
 * set), opens PGlite in the data dir (or Postgres at DATABASE_URL), migrates,
 * and runs the worker, the API and the Live Leads feed together. PGlite is
 * also served over the Postgres wire protocol (127.0.0.1, `LW_PGLITE_PORT`,
 * default a free port), and every address is printed and written to
 * `$LW_DATA_DIR/stack.json` for the ops tools.
 */
import path from 'node:path';

import type { PGlite } from '@electric-sql/pglite';
import { Client } from '@temporalio/client';

import { resolveDeliveryConfig } from '../activities/channels/config';
import { servePglite, type WireServer } from '../db/pglite-wire';
import { setting } from '../lib/config';
import { logger } from '../observability/logger';
import { collectProcessMetrics } from '../observability/metrics';
import { installTemporalRuntime } from '../observability/temporal';
import { installTracingFromEnv } from '../observability/tracing';
import { plainTarget } from '../temporal/connection';
import { startTemporalDevServer } from '../temporal/dev-server';
import { publicUrlFromEnv, startAlertDispatcher } from '../worker/alert-dispatcher';
import { startRechargeStarter } from '../worker/recharge-starter';
import { keepEnsuringSchedules } from '../worker/schedules';
import { createLeadwireWorker } from '../worker/worker';
import {
  createBus,
  exitOnBadConfig,
  loadConfig,
  onShutdown,
  openDatabaseFor,
  rootTokenFor,
  serveApi,
  setupLinkFor,
} from './runtime';
import { removeStackFile, stackFilePath, writeStackFile } from './stack';

async function main() {
  const config = loadConfig();
  installTracingFromEnv(); // OTEL_* (off by default)
  installTemporalRuntime(); // the SDK's logs through pino, WARN and up
  collectProcessMetrics();
  const temporal = await startTemporalDevServer({ dataDir: path.join(config.dataDir, 'temporal'), quiet: true });
  const database = await openDatabaseFor(config);
  const bus = createBus(database);
  const { worker, connection: workerConnection } = await createLeadwireWorker({
    // TEMPORAL_ADDRESS names a server to use instead of the dev server (temporal/dev-server.ts starts none then):
    // with its TLS and credentials.
    target:
      process.env.TEMPORAL_ADDRESS && config.temporal
        ? config.temporal
        : plainTarget(temporal.address, config.temporalNamespace),
    taskQueue: config.taskQueue,
    db: database.db,
    bus,
  });
  const running = worker.run();
  // One connection for the worker and the client, so intake's eager starts reach this worker.
  const client = new Client({ connection: workerConnection, namespace: config.temporalNamespace });
  // The periodic jobs as Temporal Schedules (worker/schedules.ts); this process's worker runs them.
  const schedules = keepEnsuringSchedules(client, config.taskQueue, {
    onFailure: (err, attempt, retryInMs) =>
      logger.warn({ err, attempt, retryInMs }, 'periodic job schedules not ensured yet; retrying'),
  });
  const publicUrl = publicUrlFromEnv({ PORT: String(config.port), ...process.env });
  const stopAlerts = startAlertDispatcher({ db: database.db, delivery: resolveDeliveryConfig(), publicUrl });
  // Auto-recharges from the outbox the sales' transactions write (#21).
  const stopRecharges = startRechargeStarter({ db: database.db, client, taskQueue: config.taskQueue });
  const root = rootTokenFor(config);
  const api = await serveApi(config, { database, bus, client, rootToken: root.token, eagerStart: true });
  const port = api.port;
  const setupLink = await setupLinkFor(database.db, setting('LW_PUBLIC_URL') ?? `http://localhost:${port}`);
  const pgliteDir = database.driver === 'pglite' ? path.join(config.dataDir, 'pglite') : null;
  const wire: WireServer | null = pgliteDir
    ? await servePglite(database.raw as PGlite, { port: setting('LW_PGLITE_PORT') })
    : null;
  writeStackFile(config.dataDir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    api: `http://localhost:${port}`,
    temporal: { address: temporal.address, namespace: config.temporalNamespace, ui: temporal.uiUrl ?? null },
    taskQueue: config.taskQueue,
    database: { driver: database.driver, url: wire?.url ?? config.databaseUrl, pgliteDir },
  });

  console.log('');
  console.log('Leadwire is running.');
  console.log(`  API:          http://localhost:${port}/v1   (docs: http://localhost:${port}/v1/docs)`);
  console.log(`  Live Leads:   http://localhost:${port}/`);
  console.log(`  Temporal:     ${temporal.address}   (TEMPORAL_ADDRESS for the temporal CLI and other tools)`);
  console.log(`  Temporal UI:  ${temporal.uiUrl ?? `(external server at ${temporal.address})`}`);
  console.log(
    `  Database:     ${wire ? `PGlite in ${pgliteDir}, served at ${wire.url}   (psql "${wire.url}")` : 'PostgreSQL (DATABASE_URL)'}`,
  );
  console.log(
    `  Addresses:    ${stackFilePath(config.dataDir)}   (npm run audit / replay / studio find the stack there)`,
  );
  console.log(
    `  Root token:   ${root.token}${root.generated ? '   (generated; set LW_ROOT_TOKEN to choose your own)' : ''}`,
  );
  if (setupLink) {
    console.log('');
    console.log(
      '  First run: nobody has an account yet. Open this one-time link (7 days) to create the first agency owner:',
    );
    console.log(`  Setup:        ${setupLink}`);
  }
  console.log('Press Ctrl-C to stop.');

  onShutdown([
    () => removeStackFile(config.dataDir),
    () => wire?.close(),
    stopAlerts,
    stopRecharges,
    () => schedules.stop(),
    () => api.close(),
    () => worker.getState() === 'RUNNING' && worker.shutdown(),
    () => running,
    () => workerConnection.close(),
    () => bus.close(),
    () => database.close(),
    () => temporal.stop(),
  ]);
}

main().catch((err: unknown) => {
  exitOnBadConfig(err);
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
