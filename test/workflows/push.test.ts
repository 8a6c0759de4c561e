/**
 * Push delivery on the same campaign object: round robin (rotation survives a
 * worker restart), priority, weighted; nobody eligible falls through.
 */
import type { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';

import type { Database } from '../../db/connection';
import { createInProcessBus } from '../../db/offer-bus';
import { assignments, campaigns, offers } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { openTestPostgres } from '../helpers/db';
import { recordHistory } from '../helpers/histories';
import { assignmentsFor, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { type RunningWorker, startLead, startWorker, testClient } from '../helpers/temporal';
import { makeAgency, makeBuyers, makeCampaign, makeLead } from '../helpers/world';

let database: Database;
let worker: RunningWorker;
let client: Client;
let connection: Connection;
const bus = createInProcessBus();

beforeAll(async () => {
  database = await openTestPostgres();
  worker = await startWorker({ db: database.db, bus });
  ({ client, connection } = await testClient());
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await database?.close();
});

async function sellLeads(campaign: { id: string; agencyId: string }, n: number, concurrently = false) {
  const db = database.db;
  const ids: string[] = [];
  const one = async () => {
    const lead = await makeLead(db, campaign.agencyId, campaign.id);
    await startLead(client, worker.taskQueue, lead);
    await waitForLeadStatus(db, lead.id, 'sold', 60_000);
    ids.push(lead.id);
  };
  if (concurrently) await Promise.all(Array.from({ length: n }, one));
  else for (let i = 0; i < n; i++) await one();
  return ids;
}

async function winsPerBuyer(campaignId: string) {
  const rows = await database.db
    .select({ buyerId: assignments.buyerId })
    .from(assignments)
    .innerJoin(offers, eq(offers.id, assignments.offerId))
    .where(eq(offers.campaignId, campaignId));
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.buyerId, (counts.get(r.buyerId) ?? 0) + 1);
  return counts;
}

test('round robin: 6 leads over 3 buyers give 2 each, also across a worker restart', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyers = await makeBuyers(db, agency.id, 3, { credits: 1000 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push', pushStrategy: 'round_robin' });
  const firstLeads = await sellLeads(campaign, 3);
  await recordHistory(client, leadWorkflowId(firstLeads[0]), 'push-round-robin');
  // A new worker process picks up where the rotation stopped: the state is in the database.
  const queue = worker.taskQueue;
  await worker.stop();
  worker = await startWorker({ db, bus, taskQueue: queue });
  await sellLeads(campaign, 3);
  const counts = await winsPerBuyer(campaign.id);
  expect(buyers.map((b) => counts.get(b.id) ?? 0)).toEqual([2, 2, 2]);
});

test('round robin stays fair when leads arrive at once', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyers = await makeBuyers(db, agency.id, 3, { credits: 1000 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push', pushStrategy: 'round_robin' });
  await sellLeads(campaign, 9, true);
  const counts = await winsPerBuyer(campaign.id);
  expect(buyers.map((b) => counts.get(b.id) ?? 0)).toEqual([3, 3, 3]);
});

test('priority: the highest-priority eligible buyer gets the lead; when it cannot pay, the next one does', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const [low, high, mid] = await makeBuyers(db, agency.id, 3, { credits: 25 });
  const campaign = await makeCampaign(db, agency.id, {
    mode: 'push',
    pushStrategy: 'priority',
    price: { base: 10 },
    buyers: [
      { buyerId: low.id, priority: 1 },
      { buyerId: high.id, priority: 10 },
      { buyerId: mid.id, priority: 5 },
    ],
  });
  const sold = await sellLeads(campaign, 3);
  const owners = [];
  for (const id of sold) owners.push((await assignmentsFor(db, id))[0].buyerId);
  // high can pay for two leads (25 credits), then mid takes the third.
  expect(owners).toEqual([high.id, high.id, mid.id]);
});

test('weighted: shares follow the weights within tolerance over many leads', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyers = await makeBuyers(db, agency.id, 3, { credits: 100_000 });
  const weights = [1, 2, 3];
  const campaign = await makeCampaign(db, agency.id, {
    mode: 'push',
    pushStrategy: 'weighted',
    buyers: buyers.map((b, i) => ({ buyerId: b.id, weight: weights[i] })),
  });
  const n = 120;
  for (let i = 0; i < n; i += 20) await sellLeads(campaign, 20, true);
  const counts = await winsPerBuyer(campaign.id);
  const shares = buyers.map((b) => (counts.get(b.id) ?? 0) / n);
  // Expected 1/6, 2/6, 3/6; ±0.15 is more than three standard deviations at n = 120.
  shares.forEach((s, i) => expect(Math.abs(s - weights[i] / 6)).toBeLessThan(0.15));
  expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
}, 180_000);

test('push with nobody eligible falls through to manual review', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  await makeBuyers(db, agency.id, 2, { credits: 0 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push' });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(client, worker.taskQueue, lead);
  const row = await waitForLeadStatus(db, lead.id, 'manual_review');
  expect(row.statusReason).toBe('no_eligible_buyers');
  const offer = await waitForOffer(db, lead.id);
  expect(offer).toMatchObject({ kind: 'push', status: 'expired' });
});

test('switching a campaign from ping post to push affects new leads only', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  await makeBuyers(db, agency.id, 1, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'ping_post', claimWindowSeconds: 30 });
  const before = await makeLead(db, agency.id, campaign.id);
  await startLead(client, worker.taskQueue, before);
  const open = await waitForOffer(db, before.id);
  await db.update(campaigns).set({ mode: 'push' }).where(eq(campaigns.id, campaign.id));
  const after = await makeLead(db, agency.id, campaign.id);
  await startLead(client, worker.taskQueue, after);
  await waitForLeadStatus(db, after.id, 'sold');
  expect(open.kind).toBe('ping_post');
  expect((await waitForOffer(db, after.id)).kind).toBe('push');
  const [stillOpen] = await db.query.offers.findMany({ where: (o, { eq: e }) => e(o.id, open.id) });
  expect(stillOpen.status).toBe('open');
});
