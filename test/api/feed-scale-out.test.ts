/**
 * Two API instances on one Postgres, fanned out through LISTEN/NOTIFY
 * (createPostgresBus): a buyer connected to instance B hears an offer whose
 * lead came in through instance A, and claims it there.
 */
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  connectFeed,
  type FeedClient,
  feedMessagesOffSchema,
  type Harness,
  startHarness,
} from './harness';

let h: Harness;
const clients: FeedClient[] = [];

beforeAll(async () => {
  h = await startHarness({ bus: 'postgres' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await h?.close();
});

test('an offer opened through instance A reaches a buyer on instance B, and its close reaches both', async () => {
  const a = h.main;
  const b = await h.startInstance();
  const { adminKey } = await apiAgency(a);
  const onB = await apiBuyer(a, adminKey, { credits: 100 });
  const onA = await apiBuyer(b, adminKey, { credits: 100 });
  const campaign = await apiCampaign(a, adminKey);
  const feedB = await connectFeed(b.wsUrl, onB.apiKey);
  const feedA = await connectFeed(a.wsUrl, onA.apiKey);
  clients.push(feedA, feedB);
  await feedB.next((m) => m.type === 'snapshot');
  await feedA.next((m) => m.type === 'snapshot');

  const lead = await apiLead(a, adminKey, campaign.id);
  const opened = await feedB.next((m) => m.type === 'offer.opened');
  const offer = opened.offer as { id: string; leadId: string };
  expect(offer.leadId).toBe(lead.id);
  expect(await feedA.next((m) => m.type === 'offer.opened')).toEqual(opened);

  feedB.send({ type: 'claim', offerId: offer.id, requestId: 'on-b' });
  expect(await feedB.next((m) => m.type === 'claim.result')).toMatchObject({ result: 'won', lead: { id: lead.id } });
  expect(await feedA.next((m) => m.type === 'offer.closed')).toEqual({
    type: 'offer.closed',
    offerId: offer.id,
    outcome: 'taken',
    seq: expect.any(Number),
  });
  expect(await feedB.next((m) => m.type === 'offer.closed')).toEqual({
    type: 'offer.closed',
    offerId: offer.id,
    outcome: 'won_by_you',
    seq: expect.any(Number),
  });
});

test('every message the gateway sent in this file is one its schemas admit (api/feed-messages.ts)', () => {
  expect(feedMessagesOffSchema()).toEqual([]);
});
