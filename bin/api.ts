/**
 * The API and feed gateway alone (production: scale horizontally). Needs
 * TEMPORAL_ADDRESS, DATABASE_URL (for cross-process feed fan-out) and LW_ROOT_TOKEN.
 */
import { logger } from '../observability/logger';
import { collectProcessMetrics } from '../observability/metrics';
import { installTracingFromEnv } from '../observability/tracing';
import { connectTemporal, describeTarget } from '../temporal/connection';
import { createBus, exitOnBadConfig, loadConfig, onShutdown, openDatabaseFor, serveApi } from './runtime';

async function main() {
  const config = loadConfig();
  installTracingFromEnv(); // OTEL_* (off by default)
  collectProcessMetrics();
  if (!config.temporal) throw new Error('TEMPORAL_ADDRESS (or a Temporal profile) is required for the API process');
  if (!config.rootToken) throw new Error('LW_ROOT_TOKEN is required for the API process');
  const database = await openDatabaseFor(config);
  const bus = createBus(database);
  const client = await connectTemporal(config.temporal);
  logger.info({ temporal: describeTarget(config.temporal) }, 'connected to Temporal');
  const api = await serveApi(config, { database, bus, client, rootToken: config.rootToken });
  logger.info({ port: api.port }, 'Leadwire API listening');
  onShutdown([() => api.close(), () => client.connection.close(), () => bus.close(), () => database.close()]);
}

main().catch((err: unknown) => {
  exitOnBadConfig(err);
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
