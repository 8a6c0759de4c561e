/**
 * Distribution depth through the API on the real stack: consent capture,
 * the per-agency duplicate window and "never the same person twice", returns
 * under rules with re-offer, buyer self-service within limits (audited),
 * campaign dry runs, engagement stats, SSRF checks at configuration,
 * highest-bid auctions over REST and the feed, and ping trees (#22): their
 * campaigns, and their offers kept out of the buyers' open-offer list.
 */
import { eq } from 'drizzle-orm';

import { insertLead } from '../../db/leads';
import { assignments, offers } from '../../db/schema';
import { dedupeKeys } from '../../domain/dedupe';
import { leadWorkflowId } from '../../domain/ids';
import { startLeadWorkflow } from '../../temporal/calls';
import { eventually } from '../helpers/temporal';
import { SERVICE_LINE } from '../helpers/world';
import { docCurlBody } from './doc-examples';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  feedMessagesOffSchema,
  type Harness,
  leadFields,
  startHarness,
} from './harness';
import { apiEndpoint, offerOfLead, storedOffer, winOffer } from './world';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ api: { webhookAllowlist: '' } });
});

afterAll(async () => {
  await h?.close();
});

const CONSENT = {
  text: 'I agree to be contacted about roofing',
  timestamp: '2026-03-04T05:06:07Z',
  ip: '198.51.100.23',
  userAgent: 'Mozilla/5.0 (X11)',
  certificateUrl: 'https://cert.trustedform.example/0123',
};

test('consent evidence is validated, required when the agency says so, stored, on the timeline and in the won lead', async () => {
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey);

  const bad = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({
      campaignId: campaign.id,
      fields: leadFields(),
      consent: { ...CONSENT, ip: 'not-an-ip', timestamp: 'yesterday' },
    });
  expect(bad.status).toBe(400);
  expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['consent.ip', 'consent.timestamp']);

  expect(
    (await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ requireConsent: true })).body.settings,
  ).toEqual({ requireConsent: true });
  const missing = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields() });
  expect(missing.status).toBe(422);
  expect(missing.body.code).toBe('consent_required');

  const res = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields(), consent: CONSENT });
  expect(res.status).toBe(202);
  const leadId = res.body.lead.id;
  expect((await h.http.get(`/v1/leads/${leadId}`).set(bearer(adminKey))).body.lead.consent).toEqual(CONSENT);
  const offer = await offerOfLead(h, leadId);
  const won = await winOffer(h, buyer.apiKey, offer.id);
  expect(won.lead.consent).toEqual(CONSENT);
  const mine = await h.http.get('/v1/me/leads').set(bearer(buyer.apiKey));
  expect(mine.body.leads[0].lead.consent).toEqual(CONSENT);
  const timeline = await h.http.get(`/v1/leads/${leadId}/timeline`).set(bearer(adminKey));
  expect(timeline.body.events[0]).toMatchObject({ type: 'received', data: { consent: CONSENT } });
});

test("the duplicate window is the agency's setting; a buyer never buys the same person twice inside it", async () => {
  const { agency, adminKey } = await apiAgency(h);
  const first = await apiBuyer(h, adminKey, { credits: 100 });
  const second = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 3 });
  const fields = leadFields();

  // Window off: the same person may come in twice.
  await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ duplicateWindowDays: 0 });
  const a = await apiLead(h, adminKey, campaign.id, fields);
  expect((await h.http.post('/v1/leads').set(bearer(adminKey)).send({ campaignId: campaign.id, fields })).status).toBe(
    202,
  );
  // Back to 30 days: intake refuses a third copy with a reference to the original.
  await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ duplicateWindowDays: 30 });
  const dup = await h.http.post('/v1/leads').set(bearer(adminKey)).send({ campaignId: campaign.id, fields });
  expect(dup.status).toBe(409);
  expect(dup.body).toMatchObject({ code: 'duplicate_lead' });

  await winOffer(h, first.apiKey, (await offerOfLead(h, a.id)).id);
  // The same person again (imported past intake, e.g. from another source): the first buyer is excluded, the second may buy.
  const again = await insertLead(h.database.db, {
    agencyId: agency.id,
    campaignId: campaign.id,
    fields,
    dedupeKeys: dedupeKeys({ phoneE164: `+1${fields.phone}`, email: fields.email }, SERVICE_LINE),
    workflowId: leadWorkflowId,
  });
  expect(
    await startLeadWorkflow(h.client, h.worker.taskQueue, {
      id: again.id,
      agencyId: agency.id,
      campaignId: campaign.id,
    }),
  ).toBe('started');
  const offer = await offerOfLead(h, again.id);
  const eligibility = await h.http.get(`/v1/offers/${offer.id}/eligibility`).set(bearer(adminKey));
  expect(eligibility.body.candidates.find((c: { buyerId: string }) => c.buyerId === first.buyer.id)).toMatchObject({
    eligible: false,
    reason: 'already_bought',
  });
  expect(eligibility.body.candidates.find((c: { buyerId: string }) => c.buyerId === second.buyer.id)).toMatchObject({
    eligible: true,
  });
  const refused = await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(first.apiKey)).send({});
  expect(refused.status).toBe(403);
  await winOffer(h, second.apiKey, offer.id);
});

test('returns follow the agency rules; an approved return is refunded and re-offered without the returning buyer', async () => {
  const { adminKey } = await apiAgency(h);
  const returner = await apiBuyer(h, adminKey, { credits: 100 });
  const other = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, {
    claimWindowSeconds: 60,
    price: { base: 20 },
    buyerIds: [returner.buyer.id],
  });
  const reofferCampaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60, price: { base: 20 } });
  await h.http
    .patch('/v1/settings')
    .set(bearer(adminKey))
    .send({ returns: { windowDays: 7, allowedReasons: ['wrong_number', 'duplicate'], maxReturnRate: 0.5 } });

  const leadA = await apiLead(h, adminKey, campaign.id);
  const winA = await winOffer(h, returner.apiKey, (await offerOfLead(h, leadA.id)).id);
  const leadB = await apiLead(h, adminKey, campaign.id);
  const winB = await winOffer(h, returner.apiKey, (await offerOfLead(h, leadB.id)).id);

  const noCode = await h.http
    .post(`/v1/assignments/${winA.assignmentId}/disputes`)
    .set(bearer(returner.apiKey))
    .send({ reason: 'bad' });
  expect(noCode.status).toBe(422);
  expect(noCode.body.code).toBe('reason_not_allowed');
  const ok = await h.http
    .post(`/v1/assignments/${winA.assignmentId}/disputes`)
    .set(bearer(returner.apiKey))
    .send({ reason: 'nobody answers', code: 'wrong_number' });
  expect(ok.status).toBe(201);
  expect(ok.body.dispute.code).toBe('wrong_number');
  // 1 of 2 returned: a second return would make 100% > 50%.
  const over = await h.http
    .post(`/v1/assignments/${winB.assignmentId}/disputes`)
    .set(bearer(returner.apiKey))
    .send({ reason: 'again', code: 'duplicate' });
  expect(over.status).toBe(422);
  expect(over.body.code).toBe('return_rate_exceeded');
  // The window: a sale older than 7 days cannot be returned.
  await h.database.db
    .update(assignments)
    .set({ createdAt: new Date(Date.now() - 8 * 86_400_000) })
    .where(eq(assignments.id, winB.assignmentId));
  await h.http
    .patch('/v1/settings')
    .set(bearer(adminKey))
    .send({ returns: { windowDays: 7 } });
  const late = await h.http
    .post(`/v1/assignments/${winB.assignmentId}/disputes`)
    .set(bearer(returner.apiKey))
    .send({ reason: 'late' });
  expect(late.body.code).toBe('return_window_closed');

  const resolved = await h.http
    .post(`/v1/disputes/${ok.body.dispute.id}/resolve`)
    .set(bearer(adminKey))
    .send({ approve: true, reoffer: true, campaignId: reofferCampaign.id });
  expect(resolved.status).toBe(200);
  expect(resolved.body.refund.entry.amount).toBe(20);
  expect(resolved.body.reoffer).toMatchObject({ leadId: leadA.id, campaignId: reofferCampaign.id });
  const reoffered = await eventually(async () => {
    const rows = await h.database.db.select().from(offers).where(eq(offers.leadId, leadA.id));
    return rows.find((o) => o.campaignId === reofferCampaign.id);
  });
  const eligibility = await h.http.get(`/v1/offers/${reoffered.id}/eligibility`).set(bearer(adminKey));
  expect(eligibility.body.candidates.find((c: { buyerId: string }) => c.buyerId === returner.buyer.id)).toMatchObject({
    eligible: false,
    reason: 'already_bought',
  });
  const second = await winOffer(h, other.apiKey, reoffered.id);
  expect(second.lead.id).toBe(leadA.id);
  expect((await h.http.get(`/v1/leads/${leadA.id}`).set(bearer(adminKey))).body.lead.status).toBe('sold');
});

test('buyers change their caps, area and pause within the agency limits; every change is audited', async () => {
  const { adminKey } = await apiAgency(h);
  const b = await apiBuyer(h, adminKey);
  await h.http
    .patch('/v1/settings')
    .set(bearer(adminKey))
    .send({ selfService: { maxCaps: { daily: 10 }, allowedStates: ['TX', 'OK'] } });

  const tooMuch = await h.http
    .patch('/v1/me')
    .set(bearer(b.apiKey))
    .send({ caps: { daily: 50 }, states: ['TX', 'CA'] });
  expect(tooMuch.status).toBe(422);
  expect(tooMuch.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['caps.daily', 'states.1']);
  const ok = await h.http
    .patch('/v1/me')
    .set(bearer(b.apiKey))
    .send({ caps: { daily: 8, weekly: 30 }, states: ['tx'] });
  expect(ok.status).toBe(200);
  expect(ok.body.buyer).toMatchObject({ caps: { daily: 8, weekly: 30 }, states: ['TX'] });
  const paused = await h.http.patch('/v1/me').set(bearer(b.apiKey)).send({ status: 'paused', pauseReason: 'vacation' });
  expect(paused.body.buyer).toMatchObject({ status: 'paused', pauseReason: 'vacation', pausedBy: 'buyer' });
  expect((await h.http.patch('/v1/me').set(bearer(b.apiKey)).send({ status: 'active' })).body.buyer.status).toBe(
    'active',
  );

  // A pause by the agency is the agency's to lift.
  await h.http
    .patch(`/v1/buyers/${b.buyer.id}`)
    .set(bearer(adminKey))
    .send({ status: 'paused', pauseReason: 'unpaid invoice' });
  const locked = await h.http.patch('/v1/me').set(bearer(b.apiKey)).send({ status: 'active' });
  expect(locked.status).toBe(409);
  expect(locked.body.code).toBe('pause_locked');

  const audit = await h.http.get(`/v1/buyers/${b.buyer.id}/changes`).set(bearer(adminKey));
  expect(audit.status).toBe(200);
  expect(audit.body.changes.map((c: { actor: string }) => c.actor)).toEqual(['admin', 'buyer', 'buyer', 'buyer']);
  expect(audit.body.changes[3].changes).toMatchObject({
    caps: { from: {}, to: { daily: 8, weekly: 30 } },
    states: { from: [], to: ['TX'] },
  });
  expect(audit.body.changes[0].changes).toMatchObject({
    status: { from: 'active', to: 'paused' },
    pauseReason: { to: 'unpaid invoice' },
  });

  await h.http
    .patch('/v1/settings')
    .set(bearer(adminKey))
    .send({ selfService: { enabled: false } });
  expect(
    (
      await h.http
        .patch('/v1/me')
        .set(bearer(b.apiKey))
        .send({ caps: { daily: 1 } })
    ).status,
  ).toBe(403);
});

test('a dry run shows who would be eligible, excluded and why, at what price, and sells nothing', async () => {
  const { adminKey } = await apiAgency(h);
  const texan = await apiBuyer(h, adminKey, { credits: 100 });
  const nyc = await apiBuyer(h, adminKey, { credits: 100, zipCodes: ['10001'] });
  const broke = await apiBuyer(h, adminKey, { credits: 5 });
  const paused = await apiCampaign(h, adminKey, { status: 'paused' });
  const live = await apiCampaign(h, adminKey);
  const leadIds = [];
  for (let i = 0; i < 3; i++) {
    const lead = await apiLead(h, adminKey, live.id);
    leadIds.push(lead.id);
    await offerOfLead(h, lead.id);
  }
  const offersBefore = (await h.database.db.select().from(offers).where(eq(offers.campaignId, live.id))).length;

  const res = await h.http
    .post('/v1/campaigns/dry-run')
    .set(bearer(adminKey))
    .send({
      campaignId: paused.id,
      campaign: { price: { base: 40, zipTiers: [{ zips: ['787'], price: 60 }] } },
      lastN: 2,
    });
  expect(res.status).toBe(200);
  expect(res.body.leads).toHaveLength(2);
  expect(res.body.leads.map((l: { leadId: string }) => l.leadId)).toEqual([leadIds[2], leadIds[1]]);
  const one = res.body.leads[0];
  expect(one.price).toBe(60);
  expect(one.eligible.map((e: { buyerId: string }) => e.buyerId)).toEqual([texan.buyer.id]);
  expect(one.excluded).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ buyerId: nyc.buyer.id, reason: 'outside_service_area' }),
      expect.objectContaining({ buyerId: broke.buyer.id, reason: 'insufficient_credits' }),
    ]),
  );
  expect(res.body.summary).toMatchObject({
    leads: 2,
    withEligibleBuyers: 2,
    exclusions: { outside_service_area: 2, insufficient_credits: 2 },
    price: { min: 60, max: 60, total: 120 },
  });

  const draft = await h.http
    .post('/v1/campaigns/dry-run')
    .set(bearer(adminKey))
    .send({ campaign: { serviceLine: SERVICE_LINE, price: { base: 1 }, buyerIds: [broke.buyer.id] }, lastN: 1 });
  expect(draft.body.leads[0]).toMatchObject({ price: 1, eligible: [{ buyerId: broke.buyer.id }] });
  expect(draft.body.summary.exclusions).toMatchObject({ not_in_campaign_pool: 2 });
  const noPrice = await h.http
    .post('/v1/campaigns/dry-run')
    .set(bearer(adminKey))
    .send({ campaign: { serviceLine: SERVICE_LINE } });
  expect(noPrice.status).toBe(400);

  expect((await h.database.db.select().from(offers).where(eq(offers.campaignId, live.id))).length).toBe(offersBefore);
  expect(await h.database.db.select().from(offers).where(eq(offers.campaignId, paused.id))).toEqual([]);
});

test('stats: claim latency, won and lost claims, viewed but ignored, delivery success', async () => {
  const { adminKey } = await apiAgency(h);
  const fast = await apiBuyer(h, adminKey, { credits: 100 });
  const slow = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 2 });
  const l1 = await apiLead(h, adminKey, campaign.id);
  const o1 = await offerOfLead(h, l1.id);
  await winOffer(h, fast.apiKey, o1.id);
  expect((await h.http.post(`/v1/offers/${o1.id}/claim`).set(bearer(slow.apiKey)).send({})).status).toBe(409);
  const l2 = await apiLead(h, adminKey, campaign.id);
  await offerOfLead(h, l2.id);
  await h.http.get('/v1/offers').set(bearer(slow.apiKey)); // viewed, never claimed

  const s = await h.http.get(`/v1/buyers/${slow.buyer.id}/stats?days=7`).set(bearer(adminKey));
  expect(s.status).toBe(200);
  expect(s.body.claims).toMatchObject({ attempts: 1, won: 0, lost: 1, byReason: { lost_race: 1 } });
  expect(s.body.offers).toMatchObject({ targeted: 2, viewedButIgnored: 1 });
  expect(s.body.claimLatencyMs.count).toBe(1);
  const f = await h.http.get(`/v1/buyers/${fast.buyer.id}/stats`).set(bearer(adminKey));
  expect(f.body.claims).toMatchObject({ won: 1, lost: 0 });
  expect(f.body.claimLatencyMs.p50).toBeGreaterThanOrEqual(0);
  expect(f.body.deliveries).toMatchObject({ delivered: 0, failed: 0, successRate: null });
});

test('webhook URLs on private, loopback or link-local addresses are refused at configuration', async () => {
  const { adminKey } = await apiAgency(h);
  for (const url of [
    'http://127.0.0.1:8080/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/x',
    'http://[::ffff:10.0.0.1]/x',
    'http://localhost/x',
    'http://10.1.2.3/x',
  ]) {
    const res = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .send({ name: 'b', serviceLines: [SERVICE_LINE], delivery: { webhookUrl: url } });
    expect([url, res.status, res.body.errors?.[0]?.path]).toEqual([url, 400, 'delivery.webhookUrl']);
  }
  const created = await h.http
    .post('/v1/buyers')
    .set(bearer(adminKey))
    .send({ name: 'b', serviceLines: [SERVICE_LINE], delivery: { webhookUrl: 'https://203.0.114.10/hook' } });
  expect(created.status).toBe(201);
  expect(created.body.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/); // Standard Webhooks: base64
  expect(JSON.stringify(created.body.buyer)).not.toContain(created.body.webhookSecret);
  const patched = await h.http
    .patch(`/v1/buyers/${created.body.buyer.id}`)
    .set(bearer(adminKey))
    .send({ delivery: { webhookUrl: 'http://192.168.1.10/' } });
  expect(patched.status).toBe(400);
  const rotated = await h.http.post(`/v1/buyers/${created.body.buyer.id}/webhook-secret`).set(bearer(adminKey));
  expect(rotated.status).toBe(201);
  expect(rotated.body.webhookSecret).not.toBe(created.body.webhookSecret);
});

test('highest-bid offers take sealed bids over REST and the feed; claims are told to bid', async () => {
  const { adminKey } = await apiAgency(h);
  const a = await apiBuyer(h, adminKey, { credits: 100 });
  const b = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, {
    claimWindowSeconds: 4,
    auction: 'highest_bid',
    floorPrice: 20,
    pricing: 'second_price',
  });
  const feed = await connectFeed(h.main.wsUrl, b.apiKey);
  try {
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    const opened = await feed.next((m) => m.type === 'offer.opened');
    expect(opened.offer).toMatchObject({ id: offer.id, price: 20, auction: 'highest_bid' });

    const claimRes = await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(a.apiKey)).send({});
    expect(claimRes.status).toBe(409);
    expect(claimRes.body.code).toBe('bid_required');
    const low = await h.http.post(`/v1/offers/${offer.id}/bids`).set(bearer(a.apiKey)).send({ amount: 10 });
    expect(low.status).toBe(422);
    expect(low.body).toEqual({
      result: 'refused',
      reason: 'below_floor',
      message: 'Below the floor – bid at least the floor price',
    });
    const rich = await h.http.post(`/v1/offers/${offer.id}/bids`).set(bearer(a.apiKey)).send({ amount: 500 });
    expect(rich.status).toBe(402);
    expect(
      (await h.http.post(`/v1/offers/${offer.id}/bids`).set(bearer(a.apiKey)).send({ amount: 30, requestId: 'a-1' }))
        .body,
    ).toMatchObject({ result: 'accepted', amount: 30 });
    feed.send({ type: 'bid', offerId: offer.id, amount: 45, requestId: 'b-1' });
    expect(await feed.next((m) => m.type === 'bid.result')).toMatchObject({
      requestId: 'b-1',
      result: 'accepted',
      amount: 45,
    });

    const closed = await feed.next((m) => m.type === 'offer.closed', 20_000);
    expect(closed.outcome).toBe('won_by_you');
    const mine = await h.http.get('/v1/me/leads').set(bearer(b.apiKey));
    expect(mine.body.leads[0]).toMatchObject({ price: 30, lead: { id: lead.id } });
  } finally {
    await feed.close();
  }
});

test('every message the gateway sent in this file is one its schemas admit (api/feed-messages.ts)', () => {
  expect(feedMessagesOffSchema()).toEqual([]);
});

/** Creates ping-post campaigns with `extra` fields; `refusal` expects a 400 problem and answers the paths it names. */
function campaignCreator(adminKey: string) {
  const create = (extra: Record<string, unknown>) =>
    h.http
      .post('/v1/campaigns')
      .set(bearer(adminKey))
      .send({ name: 'endpoints', serviceLine: SERVICE_LINE, mode: 'ping_post', price: { base: 10 }, ...extra });
  const refusal = async (extra: Record<string, unknown>) => {
    const res = await create(extra);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    return (res.body.errors as { path: string }[]).map((e) => e.path);
  };
  return { create, refusal };
}

test('a ping-tree campaign lists endpoint buyers of the agency, each once; anything else is a 400 naming the place', async () => {
  const { adminKey } = await apiAgency(h);
  const withEndpoint = (await apiBuyer(h, adminKey, { credits: 100 })).buyer;
  const without = (await apiBuyer(h, adminKey, { credits: 100 })).buyer;
  await apiEndpoint(h, adminKey, withEndpoint.id);
  const other = await apiAgency(h);
  const foreign = (await apiBuyer(h, other.adminKey, { credits: 100 })).buyer;
  await apiEndpoint(h, other.adminKey, foreign.id);
  const { create, refusal } = campaignCreator(adminKey);
  expect(await refusal({ auction: 'ping_tree' })).toEqual(['pingTree']);
  expect(await refusal({ auction: 'ping_tree', mode: 'push', pingTree: { tiers: [] } })).toEqual(['pingTree.tiers']);
  const tier = (buyerIds: string[]) => ({ auction: 'ping_tree', pingTree: { tiers: [{ buyerIds, floor: 20 }] } });
  expect(await refusal(tier([without.id]))).toEqual(['pingTree.tiers.0.buyerIds.0']);
  expect(await refusal(tier([withEndpoint.id, foreign.id]))).toEqual(['pingTree.tiers.0.buyerIds.1']);
  expect(
    await refusal({
      auction: 'ping_tree',
      pingTree: {
        tiers: [
          { buyerIds: [withEndpoint.id], floor: 20 },
          { buyerIds: [withEndpoint.id], floor: 10 },
        ],
      },
    }),
  ).toEqual(['pingTree.tiers.1.buyerIds.0']);

  const created = await create(tier([withEndpoint.id]));
  expect(created.status).toBe(201);
  expect(created.body.campaign).toMatchObject({
    auction: 'ping_tree',
    pingTree: { tiers: [{ buyerIds: [withEndpoint.id], floor: 20 }] },
  });
  // A patch that leaves the tree alone keeps it; one that drops the tree from a ping_tree campaign is refused.
  const id = created.body.campaign.id as string;
  expect((await h.http.patch(`/v1/campaigns/${id}`).set(bearer(adminKey)).send({ name: 'renamed' })).status).toBe(200);
  const dropped = await h.http.patch(`/v1/campaigns/${id}`).set(bearer(adminKey)).send({ pingTree: null });
  expect(dropped.status).toBe(400);
});

test("a ping tree's offer is not in the open-offer list of a buyer eligible for it (nor among its closed ones); a first-claim offer of the same agency is", async () => {
  const { agency, adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  await apiEndpoint(h, adminKey, buyer.buyer.id);
  const tree = await apiCampaign(h, adminKey, {
    auction: 'ping_tree',
    pingTree: { tiers: [{ buyerIds: [buyer.buyer.id], floor: 20 }] },
  });
  const plain = await apiCampaign(h, adminKey, { claimWindowSeconds: 120 });
  const stored = (campaignId: string, auction: 'ping_tree' | 'first_claim', closed = false) =>
    storedOffer(h, { agencyId: agency.id, campaignId, auction, buyerIds: [buyer.buyer.id], closed });
  const treeOpen = await stored(tree.id, 'ping_tree');
  const treeClosed = await stored(tree.id, 'ping_tree', true);
  const plainClosed = await stored(plain.id, 'first_claim', true);
  const lead = await apiLead(h, adminKey, plain.id);
  const plainOpen = await offerOfLead(h, lead.id);

  const listed = async (status: string) => {
    const res = await h.http.get(`/v1/offers?status=${status}`).set(bearer(buyer.apiKey));
    expect(res.status).toBe(200);
    return (res.body.offers as { id: string }[]).map((o) => o.id);
  };
  await eventually(
    async () => (await listed('open')).includes(plainOpen.id) || undefined,
    20_000,
    'the first-claim offer in the open-offer list (its verdict rows written)',
  );
  expect(await listed('open')).toEqual([plainOpen.id]);
  expect(await listed('expired')).toEqual([plainClosed]);
  // Listing records `viewed`: never on the ping tree's offers, which were not shown.
  for (const offerId of [treeOpen, treeClosed]) {
    const timeline = await h.http.get(`/v1/offers/${offerId}/timeline`).set(bearer(adminKey));
    expect(timeline.body.events.map((e: { type: string }) => e.type)).not.toContain('viewed');
  }
  // Nor claimed or bid on: an offer the buyer is not shown is not found, open or closed, and leaves no attempt.
  for (const offerId of [treeOpen, treeClosed]) {
    const claimed = await h.http.post(`/v1/offers/${offerId}/claim`).set(bearer(buyer.apiKey)).send({});
    expect([claimed.status, claimed.body.code]).toEqual([404, 'not_found']);
    const bid = await h.http.post(`/v1/offers/${offerId}/bids`).set(bearer(buyer.apiKey)).send({ amount: 50 });
    expect([bid.status, bid.body.code]).toEqual([404, 'not_found']);
    const timeline = await h.http.get(`/v1/offers/${offerId}/timeline`).set(bearer(adminKey));
    expect(timeline.body.events.map((e: { type: string }) => e.type)).not.toContain('claim_attempted');
  }
});

test('a highest-bid campaign names endpoint bidders (as docs/distribution.md shows): buyers of the agency with an endpoint, each once; anything else, or another auction, is a 400 naming the place', async () => {
  const { adminKey } = await apiAgency(h);
  const [a, b] = [(await apiBuyer(h, adminKey, { credits: 100 })).buyer, (await apiBuyer(h, adminKey)).buyer];
  await apiEndpoint(h, adminKey, a.id);
  await apiEndpoint(h, adminKey, b.id);
  const without = (await apiBuyer(h, adminKey)).buyer;
  const other = await apiAgency(h);
  const foreign = (await apiBuyer(h, other.adminKey)).buyer;
  await apiEndpoint(h, other.adminKey, foreign.id);
  const { create, refusal } = campaignCreator(adminKey);
  const bidders = (endpointBidders: unknown) => ({ auction: 'highest_bid', endpointBidders });
  expect(await refusal(bidders([a.id, without.id]))).toEqual(['endpointBidders.1']);
  expect(await refusal(bidders([foreign.id]))).toEqual(['endpointBidders.0']);
  expect(await refusal(bidders([a.id, b.id, a.id]))).toEqual(['endpointBidders.2']);
  expect(await refusal(bidders(['not-an-id']))).toEqual(['endpointBidders.0']);
  expect(await refusal(bidders([]))).toEqual(['endpointBidders']);
  expect(await refusal({ endpointBidders: [a.id] })).toEqual(['endpointBidders']);
  expect(await refusal({ ...bidders([a.id]), maxWinners: 2 })).toEqual(['endpointBidders']);
  expect(
    await refusal({
      auction: 'ping_tree',
      endpointBidders: [a.id],
      pingTree: { tiers: [{ buyerIds: [b.id], floor: 9 }] },
    }),
  ).toEqual(['endpointBidders']);

  // docs/distribution.md's example, as written.
  const documented = docCurlBody('docs/distribution.md', 'endpointBidders', {
    AGGREGATOR_ID: a.id,
    CALL_CENTRE_ID: b.id,
  });
  const created = await h.http.post('/v1/campaigns').set(bearer(adminKey)).send(documented);
  expect(created.status).toBe(201);
  expect(created.body.campaign).toMatchObject({
    auction: 'highest_bid',
    pricing: 'second_price',
    floorPrice: 20,
    endpointBidders: [a.id, b.id],
  });
  const id = created.body.campaign.id as string;
  const patch = (body: Record<string, unknown>) => h.http.patch(`/v1/campaigns/${id}`).set(bearer(adminKey)).send(body);
  // A patch that leaves them alone keeps them; leaving highest_bid must drop them; a first-claim campaign has none.
  expect((await patch({ name: 'renamed' })).body.campaign.endpointBidders).toEqual([a.id, b.id]);
  for (const change of [{ auction: 'first_claim' }, { maxWinners: 3 }]) {
    const refused = await patch(change);
    expect(refused.status).toBe(400);
    expect((refused.body.errors as { path: string }[]).map((e) => e.path)).toEqual(['endpointBidders']);
  }
  expect((await patch({ endpointBidders: [without.id] })).body.errors).toEqual([
    expect.objectContaining({ path: 'endpointBidders.0' }),
  ]);
  const dropped = await patch({ auction: 'first_claim', endpointBidders: null });
  expect(dropped.status).toBe(200);
  expect(dropped.body.campaign).toMatchObject({ auction: 'first_claim', endpointBidders: null });
  const plain = await create({});
  expect(plain.body.campaign.endpointBidders).toBeNull();
});
