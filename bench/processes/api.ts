/**
 * The API process the benchmark runs: bin/api.ts with the bench settings that
 * only ApiDeps can take (rate limits raised, intake dedupe off, quiet logs).
 * Prints `READY <port>` once it listens. Env as bin/api.ts (DATABASE_URL,
 * TEMPORAL_ADDRESS, LW_TASK_QUEUE, LW_ROOT_TOKEN, PORT: 0 for any).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { createApi } from '../../api/app';
import { createBus, listen, loadConfig, onShutdown, openDatabaseFor } from '../../bin/runtime';
import { consoleStyle, logger } from '../../observability/logger';
import { collectProcessMetrics } from '../../observability/metrics';
import { connectTemporal } from '../../temporal/connection';

const UNLIMITED = { capacity: 1_000_000, refillPerSecond: 1_000_000 };
/** Pings per source in the bench: 10,000 at once and 10,000/s, well above the supply scenario's load. */
const BENCH_SOURCE_PINGS = { capacity: 10_000, refillPerSecond: 10_000 };

async function main() {
  const config = loadConfig();
  collectProcessMetrics();
  const database = await openDatabaseFor(config);
  const bus = createBus(database);
  const client = await connectTemporal(config.temporal!);
  const { app, attachFeed } = createApi({
    db: database.db,
    bus,
    temporal: client,
    taskQueue: config.taskQueue,
    rootToken: config.rootToken!,
    // The bench source's ping limit admits the supply scenario's load (50 at once, round after round); production
    // keeps the default per-source limit.
    rateLimits: { authFailures: UNLIMITED, claims: UNLIMITED, pings: BENCH_SOURCE_PINGS },
    duplicateWindowMs: 0,
    claimTimeoutMs: 30_000,
    logger: consoleStyle(logger),
    dncFilter: { driver: database.driver },
  });
  const server = http.createServer({ keepAliveTimeout: 60_000 }, app);
  const feed = attachFeed(server);
  await bus.ready();
  await listen(server, config.port, '127.0.0.1');
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
  onShutdown([
    () => feed.close(),
    () => new Promise((r) => server.close(r)),
    () => client.connection.close(),
    () => bus.close(),
    () => database.close(),
  ]);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
