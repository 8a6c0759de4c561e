/**
 * The API and feed gateway alone (production: scale horizontally). Needs
 * TEMPORAL_ADDRESS, DATABASE_URL (for cross-process feed fan-out) and LW_ROOT_TOKEN.
 */
import http from 'node:http';
import { createApi } from '../api/app';
import { consoleStyle, logger } from '../observability/logger';
import { collectProcessMetrics } from '../observability/metrics';
import { connectTemporal, createBus, loadConfig, onShutdown, openDatabaseFor } from './runtime';

async function main() {
  const config = loadConfig();
  collectProcessMetrics();
  if (!config.temporalAddress) throw new Error('TEMPORAL_ADDRESS is required for the API process');
  if (!config.rootToken) throw new Error('LW_ROOT_TOKEN is required for the API process');
  const database = await openDatabaseFor(config);
  const bus = createBus(database);
  const client = await connectTemporal(config.temporalAddress, config.temporalNamespace);
  const { app, attachFeed } = createApi({
    db: database.db,
    bus,
    temporal: client,
    taskQueue: config.taskQueue,
    rootToken: config.rootToken,
    logger: consoleStyle(logger),
    requestLogger: logger.child({ component: 'api' }),
  });
  const server = http.createServer(app);
  const feed = attachFeed(server);
  server.listen(config.port, () => logger.info({ port: config.port }, 'Leadwire API listening'));
  onShutdown([() => new Promise((r) => server.close(r)), () => feed.close(), () => client.connection.close(), () => bus.close(), () => database.close()]);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
