/** The Temporal worker alone (production: scale horizontally). Needs TEMPORAL_ADDRESS and DATABASE_URL. */
import type { Worker } from '@temporalio/worker';

import { resolveDeliveryConfig } from '../activities/channels/config';
import { databaseAnswers } from '../db/connection';
import { setting } from '../lib/config';
import { lastActivityAt } from '../observability/activity';
import { logger } from '../observability/logger';
import { collectProcessMetrics, serveMetrics } from '../observability/metrics';
import { installTemporalRuntime } from '../observability/temporal';
import { installTracingFromEnv } from '../observability/tracing';
import { connectTemporal, describeTarget } from '../temporal/connection';
import { publicUrlFromEnv, startAlertDispatcher } from '../worker/alert-dispatcher';
import { startRechargeStarter } from '../worker/recharge-starter';
import { keepEnsuringSchedules } from '../worker/schedules';
import { createLeadwireWorker } from '../worker/worker';
import { createBus, exitOnBadConfig, loadConfig, onShutdown, openDatabaseFor } from './runtime';

async function main() {
  const config = loadConfig();
  installTracingFromEnv(); // OTEL_* (off by default)
  installTemporalRuntime(); // the SDK's logs through pino, WARN and up
  collectProcessMetrics();
  if (!config.temporal) throw new Error('TEMPORAL_ADDRESS (or a Temporal profile) is required for the worker process');
  const database = await openDatabaseFor(config);
  let worker: Worker | null = null;
  // The worker's HTTP face: its metrics (activities, lead outcomes, deliveries, process) for Prometheus,
  // /healthz, and /readyz for orchestrators (polling both task kinds, the database answering, last task).
  const metricsPort = setting('LW_WORKER_METRICS_PORT');
  const metricsServer = metricsPort
    ? await serveMetrics(metricsPort, undefined, async () => {
        const status = worker?.getStatus();
        const polling = status?.workflowPollerState === 'POLLING' && status.activityPollerState === 'POLLING';
        const databaseUp = await databaseAnswers(database.db);
        return {
          ready: status?.runState === 'RUNNING' && polling && databaseUp,
          state: status?.runState ?? 'STARTING',
          polling,
          database: databaseUp,
          lastActivityAt: lastActivityAt()?.toISOString() ?? null,
        };
      })
    : null;
  const bus = createBus(database);
  const created = await createLeadwireWorker({
    target: config.temporal,
    taskQueue: config.taskQueue,
    db: database.db,
    bus,
  });
  worker = created.worker;
  const { connection } = created;
  const running = created.worker.run();
  const client = await connectTemporal(config.temporal);
  // The periodic jobs (stuck leads, report fold, expiry, key rotation) as Temporal Schedules: created or
  // updated here by every worker, run once across them all; retried in the background until it succeeds.
  const schedules = keepEnsuringSchedules(client, config.taskQueue, {
    onFailure: (err, attempt, retryInMs) =>
      logger.warn({ err, attempt, retryInMs }, 'periodic job schedules not ensured yet; retrying'),
  });
  void schedules.done.then((done) => done && logger.info({ schedules: done }, 'periodic job schedules ensured'));
  // Offer and low-balance alerts on buyers' channels, from the outbox (#12).
  const stopAlerts = startAlertDispatcher({
    db: database.db,
    delivery: resolveDeliveryConfig(),
    publicUrl: publicUrlFromEnv(),
  });
  // Auto-recharges from the outbox the sales' transactions write (#21).
  const stopRecharges = startRechargeStarter({ db: database.db, client, taskQueue: config.taskQueue });
  logger.info(
    { taskQueue: config.taskQueue, temporal: describeTarget(config.temporal), metricsPort: metricsPort || null },
    'Leadwire worker polling',
  );
  onShutdown([
    () => metricsServer?.close(),
    stopAlerts,
    stopRecharges,
    () => schedules.stop(),
    () => created.worker.getState() === 'RUNNING' && created.worker.shutdown(),
    () => running,
    () => connection.close(),
    () => client.connection.close(),
    () => bus.close(),
    () => database.close(),
  ]);
  await running;
}

main().catch((err: unknown) => {
  exitOnBadConfig(err);
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
