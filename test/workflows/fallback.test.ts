/**
 * No claim: the offer expires, the lead falls through the campaign's fallback
 * chain (child workflows) and, with nothing left, lands in manual review,
 * where an admin re-offers, assigns or rejects it.
 */
import { eq } from 'drizzle-orm';

import { leadTimeline } from '../../db/offers';
import { campaigns } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { cancelOfferSignal, manualActionUpdate } from '../../workflows/messages';
import { recordHistory } from '../helpers/histories';
import { balanceOf, claim, timelineCounts, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { lifecycleSuite } from '../helpers/suite';
import { eventually, startLead } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const suite = lifecycleSuite();

test('no claim: the offer expires and the fallback campaign offers it to a second pool, where it is won', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const first = await makeBuyer(db, agency.id, { credits: 50 });
  const second = await makeBuyer(db, agency.id, { credits: 50 });
  const fallback = await makeCampaign(db, agency.id, { claimWindowSeconds: 30, buyers: [{ buyerId: second.id }] });
  const primary = await makeCampaign(db, agency.id, {
    claimWindowSeconds: 1,
    buyers: [{ buyerId: first.id }],
    fallbackCampaignId: fallback.id,
  });
  const lead = await makeLead(db, agency.id, primary.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);

  const offer1 = await waitForOffer(db, lead.id, 0);
  const offer2 = await waitForOffer(db, lead.id, 1);
  expect(offer1.campaignId).toBe(primary.id);
  expect(offer2.campaignId).toBe(fallback.id);
  expect(offer2.workflowId).not.toBe(leadWorkflowId(lead.id)); // a child workflow runs the fallback
  expect(offer2.depth).toBe(1);
  // The first buyer is not in the fallback's pool.
  expect(await claim(suite.client, offer2, first.id)).toEqual({ result: 'failed', reason: 'not_targeted' });
  expect(await claim(suite.client, offer2, second.id)).toMatchObject({ result: 'won' });
  await waitForLeadStatus(db, lead.id, 'sold');
  expect(await balanceOf(db, second.id)).toBe(40);

  const types = await eventually(
    async () => {
      const t = (await leadTimeline(db, lead.id)).map((e) => e.type);
      return t.includes('delivered') && t;
    },
    10_000,
    'delivery',
  );
  expect(types).toEqual(expect.arrayContaining(['targeted', 'expired', 'lost', 'fell_through', 'won', 'delivered']));
  expect(types.indexOf('expired')).toBeLessThan(types.indexOf('fell_through'));
  expect(await timelineCounts(db, offer1.id)).toMatchObject({ targeted: 1, expired: 1, lost: 1 });
  await recordHistory(suite.client, offer2.workflowId, 'expired-fallback-won.child');
  await recordHistory(suite.client, offer1.workflowId, 'expired-fallback-won');
});

test('a two-step chain with no buyer ends in manual review, then an admin assigns it (charged like a claim)', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 50, zipCodes: ['99999'] }); // outside every lead's area
  const third = await makeCampaign(db, agency.id, { claimWindowSeconds: 1 });
  const second = await makeCampaign(db, agency.id, { claimWindowSeconds: 1, fallbackCampaignId: third.id });
  const first = await makeCampaign(db, agency.id, { claimWindowSeconds: 1, fallbackCampaignId: second.id });
  const lead = await makeLead(db, agency.id, first.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);

  const inReview = await waitForLeadStatus(db, lead.id, 'manual_review');
  expect(inReview.statusReason).toBe('no_eligible_buyers');
  const types = (await leadTimeline(db, lead.id)).map((e) => e.type);
  expect(types.filter((t) => t === 'fell_through')).toHaveLength(2);
  expect(types.at(-1)).toBe('manual_review');

  const handle = suite.client.workflow.getHandle(leadWorkflowId(lead.id));
  const result = await handle.executeUpdate(manualActionUpdate, { args: [{ action: 'assign', buyerId: buyer.id }] });
  expect(result).toMatchObject({ action: 'assign', sale: { result: 'won', charged: 10 } });
  await waitForLeadStatus(db, lead.id, 'sold');
  expect(await balanceOf(db, buyer.id)).toBe(40);
  expect(await handle.result()).toMatchObject({ status: 'sold' });
  await recordHistory(suite.client, handle.workflowId, 'manual-review-assign');
  // Not in review any more: the Update's validator refuses another action.
  await expect(
    handle.executeUpdate(manualActionUpdate, { args: [{ action: 'reject', reason: 'late' }] }),
  ).rejects.toThrow();
});

test('a fallback cycle A → B → A stops and goes to manual review', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const a = await makeCampaign(db, agency.id, { claimWindowSeconds: 1 });
  const b = await makeCampaign(db, agency.id, { claimWindowSeconds: 1, fallbackCampaignId: a.id });
  await db.update(campaigns).set({ fallbackCampaignId: b.id }).where(eq(campaigns.id, a.id));
  const lead = await makeLead(db, agency.id, a.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const row = await waitForLeadStatus(db, lead.id, 'manual_review');
  expect(row.statusReason).toBe('fallback_cycle');
  const fell = (await leadTimeline(db, lead.id)).filter((e) => e.type === 'fell_through');
  expect(fell).toHaveLength(1);
});

test('manual review: re-offer runs a new auction; reject ends the lead', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 1 });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  await waitForLeadStatus(db, lead.id, 'manual_review');

  // A buyer signs up; the admin re-offers and the buyer wins the new auction.
  const buyer = await makeBuyer(db, agency.id, { credits: 30 });
  await db.update(campaigns).set({ claimWindowSeconds: 30 }).where(eq(campaigns.id, campaign.id));
  const handle = suite.client.workflow.getHandle(leadWorkflowId(lead.id));
  await handle.executeUpdate(manualActionUpdate, { args: [{ action: 'reoffer' }] });
  const offer = await waitForOffer(db, lead.id, 1);
  expect(await claim(suite.client, offer, buyer.id)).toMatchObject({ result: 'won' });
  await waitForLeadStatus(db, lead.id, 'sold');

  const other = await makeLead(
    db,
    agency.id,
    (await makeCampaign(db, agency.id, { claimWindowSeconds: 1, buyers: [] })).id,
  );
  await startLead(suite.client, suite.worker.taskQueue, other);
  await waitForLeadStatus(db, other.id, 'manual_review');
  const h2 = suite.client.workflow.getHandle(leadWorkflowId(other.id));
  await h2.executeUpdate(manualActionUpdate, { args: [{ action: 'reject', reason: 'spam' }] });
  expect(await h2.result()).toMatchObject({ status: 'rejected' });
  const rejected = await waitForLeadStatus(db, other.id, 'rejected');
  expect(rejected.statusReason).toBe('spam');
});

test('an admin cancels an open offer with a reason: it closes and the lead goes to manual review', async () => {
  const db = suite.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 30 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 60 });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.client, suite.worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  await suite.client.workflow
    .getHandle(offer.workflowId)
    .signal(cancelOfferSignal, { offerId: offer.id, reason: 'duplicate lead' });
  const row = await waitForLeadStatus(db, lead.id, 'manual_review');
  expect(row.statusReason).toBe('cancelled: duplicate lead');
  expect(await claim(suite.client, offer, buyer.id)).toEqual({ result: 'lost', reason: 'offer_closed' });
  await eventually(async () => (await timelineCounts(db, offer.id)).cancelled === 1, 10_000, 'cancelled event');
});
