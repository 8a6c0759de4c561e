/**
 * Starting a lead's workflow, from the API's intake and from the sweeper that
 * restarts routing for leads whose start was lost (Temporal away at intake).
 * The workflow id is the lead's business id and a closed workflow's id is
 * never reused, so however often this runs a lead gets one auction.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { leads } from '../db/schema';
import { leadWorkflowId } from '../domain/ids';
import { leadSearchAttributes } from '../workflows/search-attributes';

export async function startLeadWorkflow(
  client: Client,
  taskQueue: string,
  lead: { id: string; agencyId: string; campaignId: string },
  opts: { eager?: boolean } = {},
): Promise<'started' | 'already_started'> {
  try {
    await client.workflow.start('leadWorkflow', {
      taskQueue,
      // With a worker in this process (npm start; the client shares its NativeConnection), the server hands the
      // first workflow task straight back in the start's answer: route-and-open runs without a trip through matching.
      requestEagerStart: opts.eager ?? false,
      workflowId: leadWorkflowId(lead.id),
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: [{ leadId: lead.id, agencyId: lead.agencyId, campaignId: lead.campaignId }],
      typedSearchAttributes: leadSearchAttributes(lead.id, lead.campaignId, lead.agencyId),
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
    throw err;
  }
}

/**
 * Leads still `routing` after `olderThanMs` whose workflow may never have
 * started: start it (a no-op for those that did). Returns how many it started.
 */
export async function restartStuckLeads(db: Db, client: Client, taskQueue: string, olderThanMs = 60_000): Promise<number> {
  const stuck = await db
    .select({ id: leads.id, agencyId: leads.agencyId, campaignId: leads.campaignId })
    .from(leads)
    .where(and(eq(leads.status, 'routing'), lt(leads.createdAt, new Date(Date.now() - olderThanMs))))
    .limit(500);
  let started = 0;
  for (const lead of stuck) if ((await startLeadWorkflow(client, taskQueue, lead)) === 'started') started++;
  return started;
}

/** Runs `restartStuckLeads` every `everyMs` until stopped; failures wait for the next round. */
export function sweepStuckLeads(db: Db, client: Client, taskQueue: string, everyMs = 30_000, onStarted?: (n: number) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    restartStuckLeads(db, client, taskQueue)
      .then((n) => n > 0 && onStarted?.(n))
      .catch(() => undefined)
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
