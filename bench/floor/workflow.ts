/**
 * The engine floor's workflow: start, run ONE local activity (one small
 * Postgres transaction), complete. On the stack's dev server and with the
 * Leadwire worker's concurrency settings, this is what a workflow costs at
 * the least: `engine_floor` measures how many a second it sustains, and
 * Leadwire's sold leads per second are reported as a ratio to it.
 */
import { proxyLocalActivities } from '@temporalio/workflow';

import type { FloorActivities } from './activities';

const { floorInsert } = proxyLocalActivities<FloorActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});

export async function engineFloorWorkflow(id: string, step: number): Promise<void> {
  await floorInsert(id, step);
}
