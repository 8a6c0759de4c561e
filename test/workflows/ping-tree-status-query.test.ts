/**
 * A ping tree on the real dev server, real Postgres and real local endpoint servers (#22 item 4): tier 1's winner's
 * post times out and its status query says accepted – the lead is sold to it, charged once, the reserve released,
 * and the timeline reads posted → post_accepted → won; no second buyer is posted, and the post is not resent.
 */
import { leadTimeline } from '../../db/offers';
import {
  BEHAVIOURS,
  endpointFleetForFile,
  makeEndpointBuyer,
  postsTo,
  statusQueriesTo,
} from '../helpers/endpoint-fleet';
import { assignmentsFor, balanceOf, ledgerOf, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { startLead } from '../helpers/temporal';
import { makeAgency, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite({ delivery: { allowlist: '127.0.0.1' } });
const fleet = endpointFleetForFile();

test("tier 1's winner's post times out, its status query says accepted: the lead is sold to it, charged once, the timeline posted → post_accepted → won", async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const winner = await makeEndpointBuyer(db, fleet, agency.id, BEHAVIOURS.postTimesOut({ answer: 'accept' }, 50), {
    timeoutMs: 400,
    statusQuery: true,
  });
  const next = await makeEndpointBuyer(db, fleet, agency.id, BEHAVIOURS.bid(30));
  const campaign = await makeCampaign(db, agency.id, {
    auction: 'ping_tree',
    pingTree: { tiers: [{ buyerIds: [winner.id, next.id], floor: 20 }] },
    price: { base: 10 },
  });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  await waitForLeadStatus(db, lead.id, 'sold', 30_000);
  await suite.client.workflow.getHandle(offer.workflowId).result();

  const key = `sale:${offer.id}:${winner.id}`;
  // One post (answered by nobody), one status query under its key: accepted, so never resent.
  expect(postsTo(winner.server).map((p) => p.headers['idempotency-key'])).toEqual([key]);
  expect(statusQueriesTo(winner.server).map((q) => q.path)).toEqual([
    `/status?idempotency_key=${encodeURIComponent(key)}`,
  ]);
  expect(postsTo(next.server)).toHaveLength(0);

  expect(await assignmentsFor(db, lead.id)).toEqual([expect.objectContaining({ buyerId: winner.id, price: 50 })]);
  expect((await ledgerOf(db, lead.id)).sort()).toEqual(
    [
      [winner.id, 'reserve', -50],
      [winner.id, 'release', 50],
      [winner.id, 'charge', -50],
    ].sort(),
  );
  expect(await balanceOf(db, winner.id)).toBe(50);
  expect(await balanceOf(db, next.id)).toBe(100);

  const timeline = await leadTimeline(db, lead.id);
  expect(
    timeline
      .filter((e) => e.buyerId === winner.id && ['posted', 'post_accepted', 'won', 'post_rejected'].includes(e.type))
      .map((e) => e.type),
  ).toEqual(['posted', 'post_accepted', 'won']);
  expect(timeline.filter((e) => e.type === 'manual_review')).toEqual([]);
});
