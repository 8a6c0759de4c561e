/**
 * The engine floor's worker (bench/floor/): its own process, so its CPU and
 * memory are measured like the stack's worker, on its own task queue, with the
 * same NativeConnection kind and the same concurrency and cache settings as
 * `createLeadwireWorker` (worker/worker.ts), and a Postgres pool of the same
 * size. Prints `FLOOR READY` once it polls. Env: TEMPORAL_ADDRESS,
 * DATABASE_URL, DATABASE_POOL_SIZE, LW_FLOOR_TASK_QUEUE.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { Pool } from 'pg';

import { installTemporalRuntime } from '../../observability/temporal';
import { DEFAULT_MAX_CACHED_WORKFLOWS, WORKER_CONCURRENCY } from '../../worker/worker';
import { createFloorActivities } from '../floor/activities';

async function main() {
  installTemporalRuntime(); // as bin/worker.ts: the SDK's logs through pino, WARN and up
  const pool = new Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(process.env.DATABASE_POOL_SIZE ?? 20),
  });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: process.env.LW_FLOOR_TASK_QUEUE!,
    activities: createFloorActivities(pool),
    workflowsPath: require.resolve('../floor/workflow'),
    ...WORKER_CONCURRENCY,
    maxCachedWorkflows: Number(process.env.LW_MAX_CACHED_WORKFLOWS ?? DEFAULT_MAX_CACHED_WORKFLOWS),
  });
  const running = worker.run();
  process.stdout.write('FLOOR READY\n');
  const stop = () => worker.getState() === 'RUNNING' && worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await running;
  await connection.close();
  await pool.end();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
