/**
 * What a lead costs the engine, on the real dev server: workflow tasks and
 * history events are deterministic, so their bounds are asserted here and a
 * change that adds a round trip fails first in this file. Also: claims the
 * workflow can refuse without a sale leave no history, and a lead started by
 * the previous release's code finishes under the current worker.
 */
import type { Client } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';

import { SYSTEM } from '../../db/audit';
import { saveEndpoint } from '../../db/endpoints';
import { leadWorkflowId } from '../../domain/ids';
import { claimRefusalOf, claimUpdate, manualActionUpdate } from '../../workflows/messages';
import { BEHAVIOURS, fleetEndpointSettings, type Script, startEndpointFleet } from '../helpers/endpoint-fleet';
import { assignmentsFor, balanceOf, claim, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { firstLifecycleBundle, startLead, startWorker } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite({ delivery: { allowlist: '127.0.0.1' } });

/** Workflow tasks (completed) and history events of a workflow, once it has finished. */
async function costOf(client: Client, workflowId: string): Promise<{ tasks: number; events: number }> {
  const handle = client.workflow.getHandle(workflowId);
  await handle.result();
  const events = (await handle.fetchHistory()).events ?? [];
  return { tasks: events.filter((e) => e.workflowTaskCompletedEventAttributes).length, events: events.length };
}

async function historyLength(client: Client, workflowId: string): Promise<number> {
  return ((await client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).length;
}

test('a sold first-claim lead costs 2 workflow tasks and at most 16 history events', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 60, price: { base: 25 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  expect(await claim(suite.client, offer, buyer.id)).toMatchObject({ result: 'won', charged: 25 });
  // Start (route, open, timer) + the claim's Update (sale, answer, completion): nothing else.
  const cost = await costOf(suite.client, leadWorkflowId(lead.id));
  expect(cost.tasks).toBeLessThanOrEqual(2);
  expect(cost.events).toBeLessThanOrEqual(16);
  await waitForLeadStatus(db, lead.id, 'sold');
});

test('claims the workflow refuses without a sale leave no history event and are answered with the true reason', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const [a, b] = [await makeBuyer(db, agency.id, { credits: 100 }), await makeBuyer(db, agency.id, { credits: 100 })];
  const outside = await makeBuyer(db, agency.id, { credits: 100, zipCodes: ['10001'] });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 60, price: { base: 10 }, maxWinners: 2 });
  const lead = await makeLead(db, agency.id, campaign.id);
  const workflowId = leadWorkflowId(lead.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  expect(await claim(suite.client, offer, a.id)).toMatchObject({ result: 'won' });

  const before = await historyLength(suite.client, workflowId);
  // Straight to the workflow, without the API's own checks: its validator refuses, no event is written.
  const err = await suite.client.workflow
    .getHandle(workflowId)
    .executeUpdate(claimUpdate, { args: [{ offerId: offer.id, buyerId: outside.id, requestId: 'r-outside' }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(claimRefusalOf(err)).toBe('not_targeted');
  expect(await historyLength(suite.client, workflowId)).toBe(before);

  // The winner asking again: the same answer from the workflow, charged once.
  expect(await claim(suite.client, offer, a.id)).toMatchObject({ result: 'won', charged: 10 });
  expect(await balanceOf(db, a.id)).toBe(90);

  expect(await claim(suite.client, offer, b.id)).toMatchObject({ result: 'won' });
  expect(await assignmentsFor(db, lead.id)).toHaveLength(2);
});

test('an expired lead falls through to its fallback and then manual review, within the stated cost', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  await makeBuyer(db, agency.id, { credits: 100 });
  const fallback = await makeCampaign(db, agency.id, { claimWindowSeconds: 1 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 1, fallbackCampaignId: fallback.id });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  await waitForLeadStatus(db, lead.id, 'manual_review');
  const workflowId = leadWorkflowId(lead.id);
  // Parent: start (route, open, timer); expiry (close, fall-through, start the child); child started; child done (review).
  const parent = ((await suite.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).filter(
    (e) => e.workflowTaskCompletedEventAttributes,
  ).length;
  expect(parent).toBeLessThanOrEqual(4);
  // The child: start (route, open, timer) and expiry (close, complete).
  const child = await costOf(suite.client, `${workflowId}-offer-1`);
  expect(child.tasks).toBeLessThanOrEqual(2);
  expect(child.events).toBeLessThanOrEqual(14);
  await suite.client.workflow
    .getHandle(workflowId)
    .executeUpdate(manualActionUpdate, { args: [{ action: 'reject', reason: 'test over' }] });
  await waitForLeadStatus(db, lead.id, 'rejected');
});

test('a push lead is assigned in the workflow task that starts it', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, {
    mode: 'push',
    pushStrategy: 'round_robin',
    price: { base: 15 },
  });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const cost = await costOf(suite.client, leadWorkflowId(lead.id));
  expect(cost.tasks).toBe(1);
  expect(cost.events).toBeLessThanOrEqual(9);
  await waitForLeadStatus(db, lead.id, 'sold');
});

test('a two-tier ping-tree lead (tier 1 bids nothing, tier 2 sells) costs 4 workflow tasks and at most 30 history events', async () => {
  const db = suite.db;
  const fleet = startEndpointFleet();
  try {
    const agency = await makeAgency(db);
    const endpointBuyer = async (script: Script) => {
      const server = await fleet.add(script);
      const buyer = await makeBuyer(db, agency.id, { credits: 100 });
      const settings = fleetEndpointSettings(server);
      await saveEndpoint(db, { agencyId: agency.id, buyerId: buyer.id, settings, by: SYSTEM });
      return buyer;
    };
    const [t1a, t1b, t2] = [
      await endpointBuyer(BEHAVIOURS.reject()),
      await endpointBuyer(BEHAVIOURS.bid(10)),
      await endpointBuyer(BEHAVIOURS.bid(30)),
    ];
    const campaign = await makeCampaign(db, agency.id, {
      auction: 'ping_tree',
      pingTree: {
        tiers: [
          { buyerIds: [t1a.id, t1b.id], floor: 20 },
          { buyerIds: [t2.id], floor: 20 },
        ],
      },
    });
    const lead = await makeLead(db, agency.id, campaign.id);
    await startLead(suite.client, suite.worker.taskQueue, lead);
    // Start (route, open, ping tier 1); tier 1 answered (ping tier 2); tier 2 answered (reserve, post); the post
    // answered (the sale, completion). Three activities, three local activities, two patch markers.
    const cost = await costOf(suite.client, leadWorkflowId(lead.id));
    expect(cost.tasks).toBeLessThanOrEqual(4);
    expect(cost.events).toBeLessThanOrEqual(30);
    await waitForLeadStatus(db, lead.id, 'sold');
    expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: t2.id, price: 30 })]);
  } finally {
    await fleet.close();
  }
});

test('a lead started by the previous release waits in manual review and is sold by the current worker', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 1, price: { base: 30 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  const taskQueue = `previous-release-${lead.id}`;
  const previous = await startWorker({ db, bus: suite.bus, taskQueue, workflowBundle: await firstLifecycleBundle() });
  try {
    await startLead(suite.client, taskQueue, lead);
    await waitForLeadStatus(db, lead.id, 'manual_review');
  } finally {
    await previous.stop();
  }
  // The upgrade: the current code takes over the same task queue and replays the lead's history.
  const current = await startWorker({ db, bus: suite.bus, taskQueue });
  try {
    const answer = await suite.client.workflow
      .getHandle(leadWorkflowId(lead.id))
      .executeUpdate(manualActionUpdate, { args: [{ action: 'assign', buyerId: buyer.id }] });
    expect(answer).toMatchObject({ action: 'assign', sale: { result: 'won', charged: 30 } });
    expect(await suite.client.workflow.getHandle(leadWorkflowId(lead.id)).result()).toMatchObject({ status: 'sold' });
    expect(await balanceOf(db, buyer.id)).toBe(70);
    const history = (await suite.client.workflow.getHandle(leadWorkflowId(lead.id)).fetchHistory()).events ?? [];
    // It ran the first lifecycle to the end: no lean-lifecycle marker, its activities were scheduled the old way.
    expect(JSON.stringify(history)).not.toContain('lean-lifecycle');
  } finally {
    await current.stop();
  }
});
