/**
 * The periodic jobs' schedules (worker/schedules.ts) on a test worker's own task queue, so a test drives its
 * own schedules (trigger, pause) on the run's dev server without touching another file's; `remove` deletes them.
 * Unless `everyMs` is given they fire hourly: a test runs them with `trigger()`.
 */
import type { Client, ScheduleHandle } from '@temporalio/client';

import { ensureSchedules, PERIODIC_JOBS, type PeriodicJob, scheduleIdOf } from '../../worker/schedules';

export interface TestSchedules {
  jobs: PeriodicJob[];
  handle(name: PeriodicJob['name']): ScheduleHandle;
  remove(): Promise<void>;
}

export async function testSchedules(
  client: Client,
  taskQueue: string,
  opts: { only?: PeriodicJob['name'][]; everyMs?: number } = {},
): Promise<TestSchedules> {
  const jobs = PERIODIC_JOBS.filter((j) => !opts.only || opts.only.includes(j.name)).map((j) => ({
    ...j,
    everyMs: opts.everyMs ?? 3_600_000,
  }));
  await ensureSchedules(client, taskQueue, jobs);
  const handle = (name: PeriodicJob['name']) =>
    client.schedule.getHandle(
      scheduleIdOf(
        taskQueue,
        jobs.find((j) => j.name === name)!,
      ),
    );
  return {
    jobs,
    handle,
    async remove() {
      for (const j of jobs)
        await handle(j.name)
          .delete()
          .catch(() => undefined);
    },
  };
}
