/**
 * `npm start`: the whole product in one process, with nothing configured.
 * Provisions and starts the Temporal dev server (unless TEMPORAL_ADDRESS is
 * set), opens PGlite in the data dir (or Postgres at DATABASE_URL), migrates,
 * and runs the worker, the API and the Live Leads feed together.
 */
import path from 'node:path';
import { Client } from '@temporalio/client';
import { collectProcessMetrics } from '../observability/metrics';
import { installTemporalRuntime } from '../observability/temporal';
import { sweepStuckLeads } from '../worker/lead-starter';
import { createLeadwireWorker } from '../worker/worker';
import { startTemporalDevServer } from '../scripts/temporal-dev';
import { createBus, loadConfig, onShutdown, openDatabaseFor, rootTokenFor, serveApi } from './runtime';

async function main() {
  const config = loadConfig();
  installTemporalRuntime(); // the SDK's logs through pino, WARN and up
  collectProcessMetrics();
  const temporal = await startTemporalDevServer({ dataDir: path.join(config.dataDir, 'temporal'), quiet: true });
  const database = await openDatabaseFor(config);
  const bus = createBus(database);
  const { worker, connection: workerConnection } = await createLeadwireWorker({
    address: temporal.address,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    db: database.db,
    bus,
  });
  const running = worker.run();
  // One connection for the worker and the client, so intake's eager starts reach this worker.
  const client = new Client({ connection: workerConnection, namespace: config.temporalNamespace });
  const stopSweeper = sweepStuckLeads(database.db, client, config.taskQueue);
  const root = rootTokenFor(config);
  const api = await serveApi(config, { database, bus, client, rootToken: root.token, eagerStart: true });
  const port = api.port;

  console.log('');
  console.log('Leadwire is running.');
  console.log(`  API:          http://localhost:${port}/v1   (docs: http://localhost:${port}/v1/docs)`);
  console.log(`  Live Leads:   http://localhost:${port}/`);
  console.log(`  Temporal UI:  ${temporal.uiUrl ?? `(external server at ${temporal.address})`}`);
  console.log(`  Database:     ${database.driver === 'pglite' ? `PGlite in ${path.join(config.dataDir, 'pglite')}` : 'PostgreSQL (DATABASE_URL)'}`);
  console.log(`  Root token:   ${root.token}${root.generated ? '   (generated; set LW_ROOT_TOKEN to choose your own)' : ''}`);
  console.log('Press Ctrl-C to stop.');

  onShutdown([
    stopSweeper,
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
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
