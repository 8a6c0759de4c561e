/**
 * A lead stored while Temporal was away (its workflow never started) is not
 * lost: the sweeper starts its routing; a lead that already ran is never
 * auctioned a second time.
 */
import type { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/connection';
import { createInProcessBus } from '../../db/offer-bus';
import { leads } from '../../db/schema';
import { restartStuckLeads, startLeadWorkflow } from '../../worker/lead-starter';
import { openTestPostgres } from '../helpers/db';
import { waitForLeadStatus } from '../helpers/lifecycle';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

let database: Database;
let worker: RunningWorker;
let client: Client;
let connection: Connection;

beforeAll(async () => {
  database = await openTestPostgres();
  worker = await startWorker({ db: database.db, bus: createInProcessBus() });
  ({ client, connection } = await testClient());
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await database?.close();
});

test('a lead whose workflow never started is routed by the sweeper, once', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push' });
  const lead = await makeLead(db, agency.id, campaign.id);
  // Stored two minutes ago, never started: what an intake during a Temporal outage leaves behind.
  await db.update(leads).set({ createdAt: new Date(Date.now() - 120_000) }).where(eq(leads.id, lead.id));

  expect(await restartStuckLeads(db, client, worker.taskQueue)).toBeGreaterThanOrEqual(1);
  await waitForLeadStatus(db, lead.id, 'sold');
  // Finished: starting it again (a retried intake) is refused, so no second auction.
  await client.workflow.getHandle(`lead-${lead.id}`).result();
  expect(await startLeadWorkflow(client, worker.taskQueue, lead)).toBe('already_started');
});
