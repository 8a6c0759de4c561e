/**
 * Retiring a patched workflow branch: which open workflows still need it.
 *
 * `patched(id)` records a marker (`core_patch`, with the patch id in its
 * details) in the first workflow task that calls it and takes the new branch;
 * a workflow that completed a task without recording it started before the
 * patch and replays the old branch. The lifecycle's two patched workflows call
 * `patched(LEAN_LIFECYCLE_PATCH)` first thing, so every open `leadWorkflow` or
 * `offerWorkflow` with a completed task and no such marker runs the frozen
 * workflows/v1 code. While this lists any, v1 must stay; once it lists none,
 * the patch can be deprecated, released, and v1 deleted (docs/operations.md,
 * "Retiring the first lifecycle").
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';

import type * as workflows from '../workflows';
import { LEAN_LIFECYCLE_PATCH } from '../workflows/options';

type HistoryEvent = NonNullable<History['events']>[number];

/** The workflows that branch on the lean-lifecycle patch. */
export const PATCHED_WORKFLOW_TYPES = [
  'leadWorkflow',
  'offerWorkflow',
] as const satisfies readonly (keyof typeof workflows)[];

const PATCH_MARKER = 'core_patch';

/** The patch ids a history's markers record (each `patched()` that took its new branch). */
export function patchesRecorded(events: readonly HistoryEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const event of events) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== PATCH_MARKER) continue;
    for (const payload of marker.details?.['patch-data']?.payloads ?? []) {
      const data = defaultPayloadConverter.fromPayload<{ id?: unknown }>(payload);
      if (typeof data?.id === 'string') ids.add(data.id);
    }
  }
  return ids;
}

/**
 * Whether a workflow with these events replays the branch from before `patchId`: it has completed a workflow
 * task (so its first `patched()` call is decided) and no task recorded the patch. A workflow whose first task
 * has not completed yet will take the new branch.
 */
export function needsOldBranch(events: readonly HistoryEvent[], patchId: string = LEAN_LIFECYCLE_PATCH): boolean {
  const decided = events.some((e) => e.workflowTaskCompletedEventAttributes);
  return decided && !patchesRecorded(events).has(patchId);
}

/** The visibility query for the open workflows that branch on the patch. */
export function openPatchedWorkflowsQuery(): string {
  const types = PATCHED_WORKFLOW_TYPES.map((t) => `WorkflowType = '${t}'`).join(' OR ');
  return `ExecutionStatus = 'Running' AND (${types})`;
}

export interface RetirementBlocker {
  workflowId: string;
}

/** Every open workflow whose history still needs the first lifecycle (workflows/v1). */
export async function openWorkflowsNeedingV1(
  client: Client,
  query = openPatchedWorkflowsQuery(),
): Promise<RetirementBlocker[]> {
  const blockers: RetirementBlocker[] = [];
  for await (const { workflowId, history } of client.workflow
    .list({ query })
    .intoHistories({ concurrency: 8, bufferLimit: 64 })) {
    if (needsOldBranch((history as History).events ?? [])) blockers.push({ workflowId });
  }
  return blockers.sort((a, b) => a.workflowId.localeCompare(b.workflowId));
}
