/**
 * What an agency admin configures through the API, and how it shows: service
 * lines, buyer status and profile, campaign pools, mode switches and
 * fallbacks, lead lists; and an unexpected failure answered without internals.
 */
import type { Db } from '../../db/connection';
import { eventually } from '../helpers/temporal';
import { apiAgency, apiBuyer, apiCampaign, apiLead, bearer, type Harness, ROOT_TOKEN, startHarness } from './harness';
import { offerOfLead } from './world';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

test('an agency has its own time zone and service lines; a key is unique per agency', async () => {
  const res = await h.http
    .post('/v1/agencies')
    .set(bearer(ROOT_TOKEN))
    .send({ name: 'Roofs R Us', timeZone: 'America/Chicago' });
  expect(res.status).toBe(201);
  expect(res.body.agency).toMatchObject({ name: 'Roofs R Us', timeZone: 'America/Chicago' });
  const key = res.body.adminKey;
  expect((await h.http.post('/v1/service-lines').set(bearer(key)).send({ key: 'solar', name: 'Solar' })).status).toBe(
    201,
  );
  const dup = await h.http.post('/v1/service-lines').set(bearer(key)).send({ key: 'solar', name: 'Solar again' });
  expect(dup.status).toBe(409);
  expect(dup.body.code).toBe('conflict');
  const other = await apiAgency(h);
  expect(
    (await h.http.post('/v1/service-lines').set(bearer(other.adminKey)).send({ key: 'solar', name: 'Solar' })).status,
  ).toBe(201);
  const me = await h.http.get('/v1/me').set(bearer(key));
  expect(me.body).toEqual({
    kind: 'admin',
    agency: expect.objectContaining({ id: res.body.agency.id, timeZone: 'America/Chicago' }),
  });
});

test('a paused buyer is excluded from new offers with the reason; resuming clears it', async () => {
  const { adminKey } = await apiAgency(h);
  const { buyer } = await apiBuyer(h, adminKey, { credits: 100 });
  const paused = await h.http
    .patch(`/v1/buyers/${buyer.id}`)
    .set(bearer(adminKey))
    .send({ status: 'paused', pauseReason: 'invoice overdue' });
  expect(paused.status).toBe(200);
  expect(paused.body.buyer).toMatchObject({ status: 'paused', pauseReason: 'invoice overdue', balance: 100 });
  const campaign = await apiCampaign(h, adminKey);
  const lead = await apiLead(h, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id, null);
  const why = await h.http.get(`/v1/offers/${offer.id}/eligibility?buyerId=${buyer.id}`).set(bearer(adminKey));
  expect(why.body.candidates).toEqual([
    expect.objectContaining({ buyerId: buyer.id, eligible: false, reason: 'paused', detail: 'buyer is paused' }),
  ]);
  const resumed = await h.http.patch(`/v1/buyers/${buyer.id}`).set(bearer(adminKey)).send({ status: 'active' });
  expect(resumed.body.buyer).toMatchObject({ status: 'active', pauseReason: null });
  const listed = await h.http.get('/v1/buyers?status=active').set(bearer(adminKey));
  expect(listed.body.buyers.map((b: { id: string }) => b.id)).toEqual([buyer.id]);
});

test('a buyer profile change is validated and kept', async () => {
  const { adminKey } = await apiAgency(h);
  const { buyer } = await apiBuyer(h, adminKey);
  const res = await h.http
    .patch(`/v1/buyers/${buyer.id}`)
    .set(bearer(adminKey))
    .send({
      zipCodes: ['78701', '78702-1234'],
      states: ['tx'],
      caps: { daily: 5, monthly: 100 },
      delivery: { webhookUrl: 'https://buyer.example/hook', email: 'ops@buyer.example' },
    });
  expect(res.status).toBe(200);
  expect(res.body.buyer).toMatchObject({
    zipCodes: ['78701', '78702-1234'],
    states: ['TX'],
    caps: { daily: 5, monthly: 100 },
    delivery: { webhookUrl: 'https://buyer.example/hook' },
  });
  const bad = await h.http
    .patch(`/v1/buyers/${buyer.id}`)
    .set(bearer(adminKey))
    .send({ delivery: { webhookUrl: 'javascript:alert(1)' }, states: ['Texas'] });
  expect(bad.status).toBe(400);
  expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['delivery.webhookUrl', 'states.0']);
});

test('a campaign switches mode, takes a weighted pool and a fallback, and the next lead follows', async () => {
  const { adminKey } = await apiAgency(h);
  const first = await apiBuyer(h, adminKey, { credits: 100 });
  const second = await apiBuyer(h, adminKey, { credits: 100 });
  const fallback = await apiCampaign(h, adminKey);
  const campaign = await apiCampaign(h, adminKey);
  const patched = await h.http
    .patch(`/v1/campaigns/${campaign.id}`)
    .set(bearer(adminKey))
    .send({
      mode: 'push',
      pushStrategy: 'priority',
      buyers: [
        { buyerId: second.buyer.id, priority: 1 },
        { buyerId: first.buyer.id, priority: 2, weight: 3 },
      ],
      fallbackCampaignId: fallback.id,
    });
  expect(patched.status).toBe(200);
  expect(patched.body.campaign).toMatchObject({
    mode: 'push',
    pushStrategy: 'priority',
    fallbackCampaignId: fallback.id,
  });
  expect(patched.body.campaign.buyers).toEqual([
    { buyerId: second.buyer.id, priority: 1, weight: 1 },
    { buyerId: first.buyer.id, priority: 2, weight: 3 },
  ]);
  const got = await h.http.get(`/v1/campaigns/${campaign.id}`).set(bearer(adminKey));
  expect(got.body.campaign).toEqual(patched.body.campaign);

  const lead = await apiLead(h, adminKey, campaign.id);
  const sold = await eventually(
    async () => {
      const res = await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey));
      // The sale marks the lead sold; closing the offer follows in the next activity.
      return res.body.lead.status === 'sold' && res.body.lead.offers[0]?.status === 'won' ? res.body.lead : undefined;
    },
    20_000,
    'the pushed lead to be sold and its offer closed',
  );
  expect(sold.offers[0]).toMatchObject({ kind: 'push', status: 'won' });
  expect(sold.assignments).toHaveLength(1);

  const byCampaign = await h.http.get(`/v1/leads?campaignId=${campaign.id}`).set(bearer(adminKey));
  expect(byCampaign.body.leads.map((l: { id: string }) => l.id)).toEqual([lead.id]);
  const cleared = await h.http
    .patch(`/v1/campaigns/${campaign.id}`)
    .set(bearer(adminKey))
    .send({ buyerIds: [], fallbackCampaignId: null, mode: 'ping_post' });
  expect(cleared.body.campaign).toMatchObject({ buyers: [], fallbackCampaignId: null, mode: 'ping_post' });
});

test('price rules with tiers, multipliers and adjustments are kept; the preview defaults to city, state and zip', async () => {
  const { adminKey } = await apiAgency(h);
  const res = await h.http
    .post('/v1/campaigns')
    .set(bearer(adminKey))
    .send({
      name: 'c',
      serviceLine: 'roofing',
      mode: 'ping_post',
      price: {
        base: 10,
        zipTiers: [{ zips: ['787'], price: 15 }],
        multipliers: { roofing: 1.5 },
        adjustments: [{ question: 'homeowner', equals: 'yes', add: 5 }],
      },
    });
  expect(res.status).toBe(201);
  expect(res.body.campaign.price).toEqual({
    base: 10,
    zipTiers: [{ zips: ['787'], price: 15 }],
    multipliers: { roofing: 1.5 },
    adjustments: [{ question: 'homeowner', equals: 'yes', add: 5 }],
  });
  expect(res.body.campaign.previewFields).toEqual(['city', 'state', 'zip']);
});

test('an unexpected failure is a 500 problem without internals, and the process keeps serving', async () => {
  const broken = new Proxy({} as Db, {
    get() {
      throw new Error('connection to 10.0.0.7 refused: password authentication failed for user "lw"');
    },
  });
  const instance = await h.startInstance({ db: broken });
  const res = await instance.http.post('/v1/agencies').set(bearer(ROOT_TOKEN)).send({ name: 'x' });
  expect(res.status).toBe(500);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(res.body).toEqual({
    type: 'urn:leadwire:problem:internal_error',
    title: 'Internal error',
    status: 500,
    detail: expect.any(String),
    code: 'internal_error',
    errorId: expect.any(String),
  });
  expect(JSON.stringify(res.body)).not.toMatch(/10\.0\.0\.7|password|Error:|at /);
  expect((await instance.http.get('/healthz')).status).toBe(200);
  await instance.close();
});
