/**
 * A returned lead's re-offer is another run of the lead's workflow
 * (`lead-<id>-return-<dispute>`); its fallback children are named after it, so
 * they never collide with the first run's children, even one still open. A
 * re-offer recorded before that (`return-reoffer-fallback.legacy-child-ids`,
 * whose child reused the first run's id) replays against the current code
 * (test/workflows/replay.test.ts) and took the old naming.
 */
import fs from 'node:fs';
import path from 'node:path';

import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { eq } from 'drizzle-orm';

import { openDispute, resolveDispute } from '../../db/disputes';
import { campaigns } from '../../db/schema';
import { offerWorkflowId, parseWorkflowId } from '../../domain/ids';
import { startReofferWorkflow } from '../../temporal/calls';
import { HISTORIES_DIR, recordHistory } from '../helpers/histories';
import { assignmentsFor, claim, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { startLead } from '../helpers/temporal';
import { makeAgency, makeBuyers, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

const status = async (workflowId: string) => (await suite.client.workflow.getHandle(workflowId).describe()).status.name;

test("a return's re-offer falls back to a child of its own while the first run's child is still open", async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const [first, second] = await makeBuyers(db, agency.id, 2, { credits: 50 });
  // The fallback is shared (two places): after one sale its child stays open for the window, waiting for a second.
  const shared = await makeCampaign(db, agency.id, { claimWindowSeconds: 120, maxWinners: 2 });
  const primary = await makeCampaign(db, agency.id, {
    claimWindowSeconds: 1,
    buyers: [],
    fallbackCampaignId: shared.id,
  });
  const lead = await makeLead(db, agency.id, primary.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const child = await waitForOffer(db, lead.id, 1);
  expect(child.workflowId).toBe(offerWorkflowId(lead.id, 1));
  const won = await claim(suite.client, child, first!.id);
  if (won.result !== 'won') throw new Error(`the first claim should win: ${JSON.stringify(won)}`);
  await waitForLeadStatus(db, lead.id, 'sold');

  // The buyer returns it; the agency approves with a re-offer while the first run's child is still open.
  const opened = await openDispute(db, { assignmentId: won.assignmentId, buyerId: first!.id, reason: 'wrong number' });
  if (!opened.ok) throw new Error(`dispute refused: ${opened.error}`);
  const disputeId = opened.dispute.id;
  const resolved = await resolveDispute(db, {
    agencyId: agency.id,
    disputeId,
    approve: true,
    reoffer: { campaignId: null },
  });
  expect(resolved.ok).toBe(true);
  expect(await status(child.workflowId)).toBe('RUNNING');
  // One place this time, so the re-offer's child ends with its sale.
  await db.update(campaigns).set({ maxWinners: 1 }).where(eq(campaigns.id, shared.id));
  const { workflowId } = await startReofferWorkflow(suite.client, suite.worker.taskQueue, lead, disputeId);

  const again = await waitForOffer(db, lead.id, 3);
  expect(again.campaignId).toBe(shared.id);
  expect(again.workflowId).toBe(offerWorkflowId(lead.id, 1, disputeId));
  expect(again.workflowId).toBe(`${workflowId}-offer-1`);
  expect(parseWorkflowId(again.workflowId)).toEqual({ kind: 'offer', leadId: lead.id, seq: 1, disputeId });
  expect(await claim(suite.client, again, second!.id)).toMatchObject({ result: 'won' });
  expect(await suite.client.workflow.getHandle(workflowId).result()).toMatchObject({ status: 'sold' });
  // Two children of one lead open side by side, each its own offer: the first still waits for its second place.
  expect(await status(child.workflowId)).toBe('RUNNING');
  expect((await assignmentsFor(db, lead.id)).map((a) => [a.offerId, a.buyerId]).sort()).toEqual(
    [
      [child.id, first!.id],
      [again.id, second!.id],
    ].sort(),
  );
  await recordHistory(suite.client, workflowId, 'return-reoffer-fallback');
});

/** The workflow id of each child a saved history started. */
function childrenStarted(file: string): string[] {
  const json = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
  return (historyFromJSON(json).events ?? []).flatMap((e) => {
    const id = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    return id ? [id] : [];
  });
}

test('the saved re-offers: before the patch a child took the first run’s id, after it the re-offer’s own', () => {
  const [legacy] = childrenStarted('return-reoffer-fallback.legacy-child-ids.json');
  expect(parseWorkflowId(legacy!)).toEqual({ kind: 'offer', leadId: expect.any(String), seq: 1 });
  const [current] = childrenStarted('return-reoffer-fallback.json');
  expect(parseWorkflowId(current!)).toEqual({
    kind: 'offer',
    leadId: expect.any(String),
    seq: 1,
    disputeId: expect.any(String),
  });
});
