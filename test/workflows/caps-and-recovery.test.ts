/**
 * Caps hold under concurrent claims; crashes and retries neither lose a lead
 * nor charge twice.
 */
import type { Client, Connection } from '@temporalio/client';

import type { Database } from '../../db/connection';
import { createInProcessBus } from '../../db/offer-bus';
import { openTestPostgres } from '../helpers/db';
import {
  assignmentsFor,
  balanceOf,
  chargesFor,
  claim,
  targetsOf,
  useClaimsDb,
  waitForLeadStatus,
  waitForOffer,
} from '../helpers/lifecycle';
import { type RunningWorker, startLead, startWorker, testClient } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

let database: Database;
let client: Client;
let connection: Connection;
const bus = createInProcessBus();
const workers: RunningWorker[] = [];

async function worker(opts: Partial<Parameters<typeof startWorker>[0]> = {}) {
  const w = await startWorker({ db: database.db, bus, ...opts });
  workers.push(w);
  return w;
}

beforeAll(async () => {
  database = await openTestPostgres();
  useClaimsDb(database.db);
  ({ client, connection } = await testClient());
});

afterAll(async () => {
  for (const w of workers) await w.stop();
  await connection?.close();
  await database?.close();
});

test('a buyer at its daily cap is excluded with cap_reached', async () => {
  const db = database.db;
  const w = await worker();
  const agency = await makeAgency(db, { timeZone: 'America/New_York' });
  const buyer = await makeBuyer(db, agency.id, { credits: 100, caps: { daily: 1 } });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push' });
  const first = await makeLead(db, agency.id, campaign.id);
  await startLead(client, w.taskQueue, first);
  await waitForLeadStatus(db, first.id, 'sold');
  const second = await makeLead(db, agency.id, campaign.id);
  await startLead(client, w.taskQueue, second);
  await waitForLeadStatus(db, second.id, 'manual_review');
  const offer = await waitForOffer(db, second.id);
  const [target] = await targetsOf(db, offer.id);
  expect(target).toMatchObject({
    buyerId: buyer.id,
    eligible: false,
    reason: 'cap_reached',
    detail: 'daily cap of 1 reached',
  });
});

test('a cap can never be overrun by concurrent claims on different offers', async () => {
  const db = database.db;
  const w = await worker();
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 1000, caps: { daily: 2 } });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 30 });
  const leads = [];
  for (let i = 0; i < 5; i++) {
    const lead = await makeLead(db, agency.id, campaign.id);
    await startLead(client, w.taskQueue, lead);
    leads.push(lead);
  }
  const offers = await Promise.all(leads.map((l) => waitForOffer(db, l.id)));
  const results = await Promise.all(offers.map((o) => claim(client, o, buyer.id)));
  expect(results.filter((r) => r.result === 'won')).toHaveLength(2);
  expect(results.filter((r) => r.result === 'failed' && r.reason === 'cap_reached')).toHaveLength(3);
  expect(await balanceOf(db, buyer.id)).toBe(1000 - 2 * 10);
});

test('an activity that fails after its transaction committed is retried without a second charge', async () => {
  const db = database.db;
  let failures = 0;
  const w = await worker({
    faults: {
      afterSaleCommitted: () => {
        if (failures++ === 0) throw new Error('worker lost its connection right after the commit');
      },
    },
  });
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 50 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 30, price: { base: 20 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(client, w.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  const result = await claim(client, offer, buyer.id);
  expect(result).toMatchObject({ result: 'won', charged: 20 });
  expect(failures).toBe(2); // the first attempt failed after committing; the retry found the sale
  expect(await chargesFor(db, offer.id)).toHaveLength(1);
  expect(await assignmentsFor(db, lead.id)).toHaveLength(1);
  expect(await balanceOf(db, buyer.id)).toBe(30);
});

test('with the worker down while an offer is open, the offer still expires and falls through after restart', async () => {
  const db = database.db;
  const w = await worker();
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 50 });
  const fallback = await makeCampaign(db, agency.id, { claimWindowSeconds: 30 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 2, fallbackCampaignId: fallback.id });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(client, w.taskQueue, lead);
  await waitForOffer(db, lead.id);
  await w.stop();
  await new Promise((r) => setTimeout(r, 3000)); // the window passes with no worker at all
  const again = await worker({ taskQueue: w.taskQueue });
  const second = await waitForOffer(db, lead.id, 1, 30_000);
  expect(second.campaignId).toBe(fallback.id);
  expect(await claim(client, second, buyer.id)).toMatchObject({ result: 'won' });
  await waitForLeadStatus(db, lead.id, 'sold');
  void again;
});
