/**
 * Timeline events decided inside a workflow (a refused claim, a fall-through)
 * are queued and written by one background loop, so a buyer who lost the race
 * is answered without waiting for a database round trip. Each event carries a
 * key derived from the workflow id and its position, so a retried write, or a
 * replay, never duplicates it.
 */
import { condition, proxyActivities, workflowInfo } from '@temporalio/workflow';

import type { LeadActivities } from '../../activities';
import type { TimelineEventInput } from '../../claims/vocabulary';
import { DB_ACTIVITY_OPTIONS } from '../options';

const { recordEvents } = proxyActivities<LeadActivities>(DB_ACTIVITY_OPTIONS);

export class EventQueue {
  private readonly pending: TimelineEventInput[] = [];
  private writing = false;
  private seq = 0;

  constructor() {
    void this.loop();
  }

  push(events: TimelineEventInput[]): void {
    const { workflowId, runId } = workflowInfo();
    for (const e of events)
      this.pending.push({
        at: new Date(Date.now()).toISOString(),
        ...e,
        dedupeKey: `wf:${workflowId}:${runId}:${this.seq++}`,
      });
  }

  /** Resolves when everything queued so far is written. */
  async drained(): Promise<void> {
    await condition(() => this.pending.length === 0 && !this.writing);
  }

  private async loop(): Promise<void> {
    for (;;) {
      await condition(() => this.pending.length > 0);
      this.writing = true;
      try {
        await recordEvents(this.pending.splice(0));
      } finally {
        this.writing = false;
      }
    }
  }
}
