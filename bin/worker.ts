/** The Temporal worker alone (production: scale horizontally). Needs TEMPORAL_ADDRESS and DATABASE_URL. */
import { sweepStuckLeads } from '../worker/lead-starter';
import { createLeadwireWorker } from '../worker/worker';
import { connectTemporal, createBus, loadConfig, onShutdown, openDatabaseFor } from './runtime';

async function main() {
  const config = loadConfig();
  if (!config.temporalAddress) throw new Error('TEMPORAL_ADDRESS is required for the worker process');
  const database = await openDatabaseFor(config);
  const bus = createBus(database);
  const { worker, connection } = await createLeadwireWorker({
    address: config.temporalAddress,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    db: database.db,
    bus,
  });
  const running = worker.run();
  // Leads stored while Temporal was away get their routing started once it is back.
  const client = await connectTemporal(config.temporalAddress, config.temporalNamespace);
  const stopSweeper = sweepStuckLeads(database.db, client, config.taskQueue, 30_000, (n) => console.log(`restarted routing for ${n} stuck lead(s)`));
  console.log(`Leadwire worker polling task queue ${config.taskQueue} on ${config.temporalAddress}`);
  onShutdown([stopSweeper, () => worker.getState() === 'RUNNING' && worker.shutdown(), () => running, () => connection.close(), () => client.connection.close(), () => bus.close(), () => database.close()]);
  await running;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
