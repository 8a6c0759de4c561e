/**
 * What a lead costs the engine, on the real dev server: workflow tasks,
 * history events and the history's size in bytes are deterministic, so their
 * bounds are asserted here and a change that adds a round trip, or a row to
 * an activity's input or result, fails first in this file. Also: claims the
 * workflow can refuse without a sale leave no history, and a lead started by
 * the previous release's code finishes under the current worker.
 */
import type { Client } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';

import { MAX_TARGETS_IN_HISTORY } from '../../activities/offers';
import { leadWorkflowId } from '../../domain/ids';
import { claimRefusalOf, claimUpdate, manualActionUpdate } from '../../workflows/messages';
import { BEHAVIOURS, makeEndpointBuyer, type Script, startEndpointFleet } from '../helpers/endpoint-fleet';
import { encodedHistory, recordHistory } from '../helpers/histories';
import { assignmentsFor, balanceOf, claim, placeBid, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { firstLifecycleBundle, startLead, startWorker } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeBuyers, makeCampaign, makeLead } from '../helpers/world';

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

test('a sold first-claim lead’s history is at most 8 kB and holds ids, not the lead’s fields; the buyer still gets them', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  // The most eligible buyers whose ids the workflow keeps (its claim validator), and a lead with long answers: neither
  // the candidate list past that bound nor the lead's fields reach the history, so this is its largest size.
  const buyers = await makeBuyers(db, agency.id, MAX_TARGETS_IN_HISTORY, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 60, price: { base: 25 } });
  const lead = await makeLead(db, agency.id, campaign.id, { answers: { homeowner: 'yes', notes: 'n'.repeat(4_000) } });
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  const won = await claim(suite.client, offer, buyers[0]!.id);
  expect(won).toMatchObject({ result: 'won', charged: 25, lead: { id: lead.id, ...lead.fields } });

  // 5.1 kB (13.9 kB before small histories, #26: the whole route, every eligible id, the lead twice).
  const history = await encodedHistory(suite.client, leadWorkflowId(lead.id));
  expect(history.length).toBeLessThanOrEqual(8 * 1024);
  for (const value of [lead.fields.email, lead.fields.phone, lead.fields.lastName, lead.fields.city, 'n'.repeat(100)])
    expect(history.includes(value!)).toBe(false);
  await waitForLeadStatus(db, lead.id, 'sold');
  await recordHistory(suite.client, leadWorkflowId(lead.id), 'first-claim-small-history');
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
    const endpointBuyer = (script: Script) => makeEndpointBuyer(db, fleet, agency.id, script);
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
    // Its history: 7.5 kB (8.0 before small histories, #26), the engine's own events most of it.
    expect((await encodedHistory(suite.client, leadWorkflowId(lead.id))).length).toBeLessThanOrEqual(8 * 1024);
    await waitForLeadStatus(db, lead.id, 'sold');
    expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: t2.id, price: 30 })]);
  } finally {
    await fleet.close();
  }
});

test('a highest-bid lead with two endpoint bidders and a feed bid, sold to an endpoint, costs 5 workflow tasks and at most 40 history events', async () => {
  const db = suite.db;
  const fleet = startEndpointFleet();
  try {
    const agency = await makeAgency(db);
    const top = await makeEndpointBuyer(db, fleet, agency.id, BEHAVIOURS.bid(40));
    const other = await makeEndpointBuyer(db, fleet, agency.id, BEHAVIOURS.bid(25));
    const feed = await makeBuyer(db, agency.id, { credits: 100 });
    const campaign = await makeCampaign(db, agency.id, {
      auction: 'highest_bid',
      floorPrice: 20,
      claimWindowSeconds: 3,
      endpointBidders: [top.id, other.id],
    });
    const lead = await makeLead(db, agency.id, campaign.id);
    await startLead(suite.client, suite.worker.taskQueue, lead);
    const offer = await waitForOffer(db, lead.id);
    expect(await placeBid(suite.client, offer, feed.id, 30)).toMatchObject({ result: 'accepted' });
    // Start (route, open, ping activity, window timer); the feed bid's Update (its record); the pings answered (both
    // bids recorded); the window's end (rank, reserve, post activity); the post answered (the sale, completion).
    const cost = await costOf(suite.client, leadWorkflowId(lead.id));
    expect(cost.tasks).toBeLessThanOrEqual(5);
    expect(cost.events).toBeLessThanOrEqual(40);
    // Its history: 8.3–8.7 kB with its three bids (9.3 before small histories, #26).
    expect((await encodedHistory(suite.client, leadWorkflowId(lead.id))).length).toBeLessThanOrEqual(10 * 1024);
    await waitForLeadStatus(db, lead.id, 'sold');
    expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: top.id, price: 40 })]);
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
