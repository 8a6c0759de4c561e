/**
 * Retiring the first lifecycle: `npm run replay -- --retirable` lists the open workflows whose history still
 * needs workflows/v1, read from the histories themselves (no lean-lifecycle patch marker after a completed task).
 */
import fs from 'node:fs';
import path from 'node:path';

import { historyFromJSON } from '@temporalio/common/lib/proto-utils';

import { leadWorkflowId } from '../../domain/ids';
import {
  needsOldBranch,
  openPatchedWorkflowsQuery,
  openWorkflowsNeedingV1,
  PATCHED_WORKFLOW_TYPES,
} from '../../ops/retirable';
import { manualActionUpdate } from '../../workflows/messages';
import { cli } from '../helpers/cli';
import { HISTORIES_DIR } from '../helpers/histories';
import { waitForLeadStatus } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { firstLifecycleBundle, startLead, startWorker } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

function fixtureEvents(name: string) {
  const json = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, name), 'utf8'));
  return historyFromJSON(json).events ?? [];
}

/** The workflow type a saved history ran. */
const typeOf = (name: string) =>
  fixtureEvents(name)[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '';

test('every saved first-lifecycle history needs v1, and no current one does', () => {
  // The lifecycle's workflows only: another workflow's history (the payments reconciliation) never branched on the patch.
  const files = fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json') && (PATCHED_WORKFLOW_TYPES as readonly string[]).includes(typeOf(f)));
  expect(files.length).toBeGreaterThan(10);
  const v1 = files.filter((f) => f.startsWith('v1-'));
  expect(v1.length).toBeGreaterThan(0);
  for (const f of files) expect([f, needsOldBranch(fixtureEvents(f))]).toEqual([f, f.startsWith('v1-')]);
});

test('a workflow whose first task has not completed yet is not held to the old branch', () => {
  const started = fixtureEvents('v1-ping-post-won.json').slice(0, 3); // started, task scheduled, task started
  expect(started.some((e) => e.workflowTaskCompletedEventAttributes)).toBe(false);
  expect(needsOldBranch(started)).toBe(false);
});

/** The listing as the command sees it, narrowed to this test's leads (the dev server is shared by the run). */
async function blockersAmong(workflowIds: string[]): Promise<string[]> {
  const ids = workflowIds.map((id) => `'${id}'`).join(', ');
  const query = `${openPatchedWorkflowsQuery()} AND WorkflowId IN (${ids})`;
  return (await openWorkflowsNeedingV1(suite.client, query)).map((b) => b.workflowId);
}

/** Visibility is eventually consistent: ask until the listing settles on the expected answer. */
async function eventually(workflowIds: string[], expected: string[]): Promise<string[]> {
  let seen: string[] = [];
  for (let i = 0; i < 50; i++) {
    seen = await blockersAmong(workflowIds);
    if (JSON.stringify(seen) === JSON.stringify(expected)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return seen;
}

test('an open lead of the previous release is listed until it finishes; an open current lead never is', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 1, price: { base: 30 } });
  const oldLead = await makeLead(db, agency.id, campaign.id);
  const newLead = await makeLead(db, agency.id, campaign.id);
  const taskQueue = `retirable-${oldLead.id}`;
  const previous = await startWorker({ db, bus: suite.bus, taskQueue, workflowBundle: await firstLifecycleBundle() });
  try {
    await startLead(suite.client, taskQueue, oldLead);
    await waitForLeadStatus(db, oldLead.id, 'manual_review');
  } finally {
    await previous.stop();
  }
  const current = await startWorker({ db, bus: suite.bus, taskQueue });
  try {
    await startLead(suite.client, taskQueue, newLead);
    await waitForLeadStatus(db, newLead.id, 'manual_review');
    const both = [leadWorkflowId(oldLead.id), leadWorkflowId(newLead.id)];
    // Both wait in manual review, open; only the one started by the previous release needs v1.
    for (const id of both) expect((await suite.client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
    expect(await eventually(both, [leadWorkflowId(oldLead.id)])).toEqual([leadWorkflowId(oldLead.id)]);
    // The command an operator runs says so, and exits 1 while anything needs v1.
    const listed = await cli('ops/replay.ts', ['--retirable', '--json']);
    expect(listed.code).toBe(1);
    const answer = JSON.parse(listed.stdout) as { retirable: boolean; needV1: { workflowId: string }[] };
    expect(answer.retirable).toBe(false);
    expect(answer.needV1.map((b) => b.workflowId)).toContain(leadWorkflowId(oldLead.id));
    expect(answer.needV1.map((b) => b.workflowId)).not.toContain(leadWorkflowId(newLead.id));

    await suite.client.workflow
      .getHandle(leadWorkflowId(oldLead.id))
      .executeUpdate(manualActionUpdate, { args: [{ action: 'assign', buyerId: buyer.id }] });
    await suite.client.workflow.getHandle(leadWorkflowId(oldLead.id)).result();
    expect(await eventually(both, [])).toEqual([]);
  } finally {
    await current.stop();
  }
});
