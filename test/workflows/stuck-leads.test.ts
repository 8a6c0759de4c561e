/**
 * A lead stored while Temporal was away (its workflow never started) is not
 * lost: the stuck-leads job (worker/schedules.ts) starts its routing; a lead that already ran is never
 * auctioned a second time.
 */
import { leadWorkflowHandle, startLeadWorkflow } from '../../temporal/calls';
import { restartStuckLeads } from '../../worker/lead-starter';
import { waitForLeadStatus } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { makeStuckLead } from '../helpers/world';

const suite = lifecycleSuite();

test('a lead whose workflow never started is routed by the stuck-leads job, once', async () => {
  const db = suite.db;
  const lead = await makeStuckLead(db);

  expect(await restartStuckLeads(db, suite.client, suite.worker.taskQueue)).toBeGreaterThanOrEqual(1);
  await waitForLeadStatus(db, lead.id, 'sold');
  // Finished: starting it again (a retried intake) is refused, so no second auction.
  await leadWorkflowHandle(suite.client, lead.id).result();
  expect(await startLeadWorkflow(suite.client, suite.worker.taskQueue, lead)).toBe('already_started');
});
