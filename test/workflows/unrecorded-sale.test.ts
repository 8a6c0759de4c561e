/**
 * A sale is a local activity inside the claim's workflow task: when a crash
 * loses that task (a worker or history process killed after the sale
 * committed), the workflow replays without any record of the sale. The
 * database is the arbiter then: a sale that reaches an offer its workflow has
 * since closed is refused, and a workflow that closes an offer learns the
 * sales it has no record of, so the lead is sold once and stays sold.
 * (Found by the cluster fault suite: an exclusive lead sold twice.)
 */
import { eq } from 'drizzle-orm';

import { offerActivities } from '../../activities/offers';
import { createInProcessBus } from '../../db/offer-bus';
import { offerTimeline } from '../../db/offers';
import { sellOffer } from '../../db/sales';
import { offers } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { assignmentsFor, balanceOf, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { startLead } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();
const offersIo = () => offerActivities({ db: suite.db, bus: createInProcessBus() });

test('a sale that reaches an offer after its workflow closed it is refused, charging nothing', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 60, price: { base: 20 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  // The replayed workflow expires the offer first; the stale sale's transaction comes after it.
  expect(await offersIo().closeOffer({ offerId: offer.id, outcome: 'expired', at: new Date().toISOString() })).toEqual({
    closedNow: true,
    assignments: [],
  });
  expect(await sellOffer(db, { offerId: offer.id, buyerId: buyer.id, requestId: 'stale', sale: 'claim' })).toEqual({
    result: 'lost',
    reason: 'offer_closed',
  });
  expect(await balanceOf(db, buyer.id)).toBe(100);
  expect(await assignmentsFor(db, lead.id)).toHaveLength(0);
  await suite.client.workflow.getHandle(leadWorkflowId(lead.id)).terminate('test over');
});

test('a sale committed without the workflow knowing is found when the window closes: the lead is sold, not sent on', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const other = await makeBuyer(db, agency.id, { credits: 100 });
  const fallback = await makeCampaign(db, agency.id, { claimWindowSeconds: 30 });
  const campaign = await makeCampaign(db, agency.id, {
    claimWindowSeconds: 2,
    price: { base: 20 },
    fallbackCampaignId: fallback.id,
  });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  // The sale commits as its lost workflow task had it; the workflow never hears of it.
  expect(
    await sellOffer(db, { offerId: offer.id, buyerId: buyer.id, requestId: 'unrecorded', sale: 'claim' }),
  ).toMatchObject({ result: 'won', charged: 20 });
  const outcome = await suite.client.workflow.getHandle(leadWorkflowId(lead.id)).result();
  expect(outcome).toMatchObject({ status: 'sold', offers: [offer.id] });
  await waitForLeadStatus(db, lead.id, 'sold');
  expect((await assignmentsFor(db, lead.id)).map((a) => a.buyerId)).toEqual([buyer.id]);
  expect([await balanceOf(db, buyer.id), await balanceOf(db, other.id)]).toEqual([80, 100]);
});

test('an offer with room left whose one sale the workflow never heard of closes won, not expired', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const other = await makeBuyer(db, agency.id, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 2, price: { base: 20 }, maxWinners: 2 });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  // One of two places sold by a sale whose workflow task was lost: the offer stays open, and the timer ends it.
  expect(
    await sellOffer(db, { offerId: offer.id, buyerId: buyer.id, requestId: 'unrecorded-shared', sale: 'claim' }),
  ).toMatchObject({ result: 'won', charged: 20 });
  expect(await suite.client.workflow.getHandle(leadWorkflowId(lead.id)).result()).toMatchObject({
    status: 'sold',
    offers: [offer.id],
  });
  const [closed] = await db.select().from(offers).where(eq(offers.id, offer.id));
  expect(closed).toMatchObject({ status: 'won', closeReason: null });
  const events = await offerTimeline(db, offer.id);
  expect(events.filter((e) => e.type === 'expired')).toEqual([]);
  expect(events.filter((e) => e.type === 'lost').map((e) => [e.buyerId, e.reason])).toEqual([[other.id, 'taken']]);
  expect([await balanceOf(db, buyer.id), await balanceOf(db, other.id)]).toEqual([80, 100]);
});
