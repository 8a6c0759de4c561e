/**
 * A lead stored while Temporal was away (its workflow never started) is not
 * lost: the sweeper starts its routing; a lead that already ran is never
 * auctioned a second time.
 */
import { eq } from 'drizzle-orm';

import { leads } from '../../db/schema';
import { leadWorkflowHandle, startLeadWorkflow } from '../../temporal/calls';
import { restartStuckLeads } from '../../worker/lead-starter';
import { waitForLeadStatus } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

test('a lead whose workflow never started is routed by the sweeper, once', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { mode: 'push' });
  const lead = await makeLead(db, agency.id, campaign.id);
  // Stored two minutes ago, never started: what an intake during a Temporal outage leaves behind.
  await db
    .update(leads)
    .set({ createdAt: new Date(Date.now() - 120_000) })
    .where(eq(leads.id, lead.id));

  expect(await restartStuckLeads(db, suite.client, suite.worker.taskQueue)).toBeGreaterThanOrEqual(1);
  await waitForLeadStatus(db, lead.id, 'sold');
  // Finished: starting it again (a retried intake) is refused, so no second auction.
  await leadWorkflowHandle(suite.client, lead.id).result();
  expect(await startLeadWorkflow(suite.client, suite.worker.taskQueue, lead)).toBe('already_started');
});
