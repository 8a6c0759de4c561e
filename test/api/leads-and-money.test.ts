/**
 * Lead intake, claims, manual review and disputes through the HTTP API on the
 * real dev server and Postgres: idempotent intake and top-ups, duplicates,
 * claims on closed offers (on the timeline), a claim that outlives its
 * deadline, manual review (assign, reject, re-offer), refunds through the
 * ledger, and no hidden lead field in any buyer-facing answer before a win.
 */
import crypto from 'node:crypto';

import { Client, Connection } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';

import { assignments, idempotencyRecords, leads, offers, offerTargets } from '../../db/schema';
import { hiddenValues } from '../../domain/preview';
import { eventually } from '../helpers/temporal';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiClient,
  apiLead,
  bearer,
  type Harness,
  leadFields,
  startHarness,
} from './harness';
import { offerOfLead, winOffer } from './world';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function leadStatus(adminKey: string, leadId: string, status: string) {
  return eventually(
    async () => {
      const res = await h.http.get(`/v1/leads/${leadId}`).set(bearer(adminKey));
      return res.body.lead?.status === status ? res.body.lead : undefined;
    },
    30_000,
    `lead ${leadId} to be ${status}`,
  );
}

describe('intake', () => {
  test('the same Idempotency-Key and body answer the first result; one lead, one auction', async () => {
    const { adminKey } = await apiAgency(h);
    await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey);
    const body = { campaignId: campaign.id, fields: leadFields() };
    const key = `intake-${crypto.randomUUID()}`;
    const admin = apiClient(h, adminKey);
    const submit = (b: typeof body) =>
      admin.POST('/v1/leads', { params: { header: { 'Idempotency-Key': key } }, body: b });
    const first = await submit(body);
    const again = await submit(body);
    expect(first.response.status).toBe(202);
    const leadId = first.data!.lead.id;
    expect(first.data).toEqual({ lead: { id: expect.any(String), status: 'routing' }, workflowId: `lead-${leadId}` });
    expect(again.response.status).toBe(202);
    expect(again.data).toEqual(first.data);
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');

    const other = await submit({ ...body, fields: leadFields() });
    expect(other.response.status).toBe(409);
    expect(other.error?.code).toBe('idempotency_conflict');

    // Even when the remembered answer is lost, a retry finds the stored lead and does not route it twice.
    await h.database.db.delete(idempotencyRecords).where(eq(idempotencyRecords.key, key));
    const retried = await submit(body);
    expect(retried.response.status).toBe(202);
    expect(retried.data?.lead.id).toBe(leadId);

    await offerOfLead(h, leadId);
    await new Promise((r) => setTimeout(r, 500));
    expect(await h.database.db.select().from(leads).where(eq(leads.id, leadId))).toHaveLength(1);
    expect(await h.database.db.select().from(offers).where(eq(offers.leadId, leadId))).toHaveLength(1);
  });

  test('the same person for the same service line is a duplicate; for another line it is a new lead', async () => {
    const { adminKey } = await apiAgency(h);
    const roofing = await apiCampaign(h, adminKey);
    const fields = leadFields();
    const first = await apiLead(h, adminKey, roofing.id, fields);
    const dup = await h.http
      .post('/v1/leads')
      .set(bearer(adminKey))
      .send({
        campaignId: roofing.id,
        fields: {
          ...fields,
          phone: `+1 (${fields.phone.slice(0, 3)}) ${fields.phone.slice(3, 6)}-${fields.phone.slice(6)}`,
          email: 'other@example.com',
        },
      });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ code: 'duplicate_lead', duplicateOf: first.id });
    await h.http.post('/v1/service-lines').set(bearer(adminKey)).send({ key: 'plumbing', name: 'Plumbing' });
    const plumbing = await apiCampaign(h, adminKey, { serviceLine: 'plumbing' });
    expect(
      (await h.http.post('/v1/leads').set(bearer(adminKey)).send({ campaignId: plumbing.id, fields })).status,
    ).toBe(202);
  });

  test('a paused campaign refuses leads; another agency’s campaign is not found', async () => {
    const { adminKey } = await apiAgency(h);
    const campaign = await apiCampaign(h, adminKey, { status: 'paused' });
    const paused = await h.http
      .post('/v1/leads')
      .set(bearer(adminKey))
      .send({ campaignId: campaign.id, fields: leadFields() });
    expect(paused.status).toBe(409);
    expect(paused.body.code).toBe('campaign_paused');
    const other = await apiAgency(h);
    const foreign = await h.http
      .post('/v1/leads')
      .set(bearer(other.adminKey))
      .send({ campaignId: campaign.id, fields: leadFields() });
    expect(foreign.status).toBe(404);
    expect(foreign.body.errors).toEqual([expect.objectContaining({ path: 'campaignId' })]);
  });
});

describe('credits', () => {
  test('a top-up with the same Idempotency-Key adds once; another amount under that key is 409', async () => {
    const { adminKey } = await apiAgency(h);
    const { buyer } = await apiBuyer(h, adminKey);
    const key = `topup-${crypto.randomUUID()}`;
    const first = await h.http
      .post(`/v1/buyers/${buyer.id}/credits`)
      .set(bearer(adminKey))
      .set('Idempotency-Key', key)
      .send({ amount: 50, reference: 'inv-7' });
    const again = await h.http
      .post(`/v1/buyers/${buyer.id}/credits`)
      .set(bearer(adminKey))
      .set('Idempotency-Key', key)
      .send({ reference: 'inv-7', amount: 50 });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      balance: 50,
      entry: { kind: 'top_up', amount: 50, balanceAfter: 50, reference: 'inv-7' },
    });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    const other = await h.http
      .post(`/v1/buyers/${buyer.id}/credits`)
      .set(bearer(adminKey))
      .set('Idempotency-Key', key)
      .send({ amount: 60 });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('idempotency_conflict');
    const got = await h.http.get(`/v1/buyers/${buyer.id}`).set(bearer(adminKey));
    expect(got.body.buyer.balance).toBe(50);
    const ledger = await h.http.get(`/v1/buyers/${buyer.id}/ledger`).set(bearer(adminKey));
    expect(ledger.body.entries).toHaveLength(1);
  });

  test('a balance beyond what a wallet holds is refused, not a 500', async () => {
    const { adminKey } = await apiAgency(h);
    const { buyer } = await apiBuyer(h, adminKey);
    for (let i = 0; i < 25; i++) {
      const res = await h.http
        .post(`/v1/buyers/${buyer.id}/credits`)
        .set(bearer(adminKey))
        .send({ amount: 100_000_000 });
      if (res.status !== 201) {
        expect(res.status).toBe(422);
        expect(res.body.errors).toEqual([expect.objectContaining({ path: 'amount' })]);
        return;
      }
    }
    throw new Error('the wallet never overflowed');
  });
});

describe('claims', () => {
  test('a claim on a closed offer is 409 offer_closed and lands on the timeline', async () => {
    const { adminKey } = await apiAgency(h);
    const { apiKey, buyer } = await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 1 });
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id, 'expired');
    const res = await apiClient(h, apiKey).POST('/v1/offers/{id}/claim', {
      params: { path: { id: offer.id } },
      body: { requestId: 'late-1' },
    });
    expect(res.response.status).toBe(409);
    expect(res.error).toEqual({ result: 'lost', reason: 'offer_closed', message: 'Closed – the claim window ended' });
    const timeline = await apiClient(h, adminKey).GET('/v1/offers/{id}/timeline', {
      params: { path: { id: offer.id } },
    });
    expect(timeline.response.status).toBe(200);
    const mine = timeline.data!.events.filter((e) => e.buyerId === buyer.id).map((e) => [e.type, e.reason ?? null]);
    expect(mine).toEqual(
      expect.arrayContaining([
        ['claim_attempted', null],
        ['claim_failed', 'offer_closed'],
      ]),
    );
    // The same late request again does not write the attempt twice.
    await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(apiKey)).send({ requestId: 'late-1' });
    const again = await h.http.get(`/v1/offers/${offer.id}/timeline`).set(bearer(adminKey));
    expect(again.body.events.filter((e: { type: string }) => e.type === 'claim_failed')).toHaveLength(1);
    // The lead, unsold, waits in the review queue.
    await leadStatus(adminKey, lead.id, 'manual_review');
    const queue = await h.http.get('/v1/leads?status=manual_review').set(bearer(adminKey));
    expect(queue.body.leads.map((l: { id: string }) => l.id)).toContain(lead.id);
  });

  test('an open offer whose workflow is gone answers offer_closed', async () => {
    const { adminKey } = await apiAgency(h);
    const { apiKey, buyer } = await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey);
    const [lead] = await h.database.db
      .insert(leads)
      .values({
        agencyId: (await h.http.get('/v1/me').set(bearer(adminKey))).body.agency.id,
        campaignId: campaign.id,
        fields: leadFields(),
        workflowId: 'lead-gone',
      })
      .returning();
    const [offer] = await h.database.db
      .insert(offers)
      .values({
        leadId: lead!.id,
        agencyId: lead!.agencyId,
        campaignId: campaign.id,
        kind: 'ping_post',
        workflowId: `no-such-workflow-${crypto.randomUUID()}`,
        price: 10,
        preview: {},
        closesAt: new Date(Date.now() + 60_000),
      })
      .returning();
    await h.database.db.insert(offerTargets).values({ offerId: offer!.id, buyerId: buyer.id, eligible: true });
    const res = await h.http.post(`/v1/offers/${offer!.id}/claim`).set(bearer(apiKey)).send({});
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ result: 'lost', reason: 'offer_closed', message: 'Closed – the claim window ended' });
  });

  test('a claim past its deadline answers 503 claim_pending; the retry with the same requestId is the same attempt', async () => {
    const impatient = await h.startInstance({ claimTimeoutMs: 1 });
    const { adminKey } = await apiAgency(h);
    const { apiKey, buyer } = await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey, { price: { base: 30 } });
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    const pending = await impatient.http
      .post(`/v1/offers/${offer.id}/claim`)
      .set(bearer(apiKey))
      .send({ requestId: 'slow-1' });
    expect(pending.status).toBe(503);
    expect(pending.body).toMatchObject({ code: 'claim_pending', requestId: 'slow-1' });
    expect(pending.headers['retry-after']).toBe('1');
    // A client retries while it hears 503 (the first attempt may still be settling in Temporal).
    let retry = await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(apiKey)).send({ requestId: 'slow-1' });
    for (let i = 0; retry.status === 503 && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      retry = await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(apiKey)).send({ requestId: 'slow-1' });
    }
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ result: 'won', charged: 30, balance: 70 });
    expect(
      await h.database.db
        .select()
        .from(assignments)
        .where(and(eq(assignments.offerId, offer.id), eq(assignments.buyerId, buyer.id))),
    ).toHaveLength(1);
    await impatient.close();
  });

  test('the claim answers map to 200, 409 lost_race, 403 not_targeted, 402 insufficient_credits', async () => {
    const { adminKey } = await apiAgency(h);
    const first = await apiBuyer(h, adminKey, { credits: 100 });
    const second = await apiBuyer(h, adminKey, { credits: 100 });
    const outside = await apiBuyer(h, adminKey, { credits: 100, zipCodes: ['10001'] });
    const poor = await apiBuyer(h, adminKey, { credits: 25 });
    const campaign = await apiCampaign(h, adminKey, { price: { base: 20 }, maxWinners: 3 });
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    // The poor buyer was targeted, then spent its credits on another lead.
    const other = await apiLead(h, adminKey, campaign.id);
    await winOffer(h, poor.apiKey, (await offerOfLead(h, other.id)).id);
    const claim = (key: string) => h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(key)).send({});
    expect((await claim(first.apiKey)).status).toBe(200);
    expect(await claim(outside.apiKey).then((r) => [r.status, r.body])).toEqual([
      403,
      { result: 'failed', reason: 'not_targeted', message: 'No longer eligible for this lead' },
    ]);
    expect(await claim(poor.apiKey).then((r) => [r.status, r.body])).toEqual([
      402,
      {
        result: 'failed',
        reason: 'insufficient_credits',
        message: 'Insufficient credits – ask your agency to top up your wallet to claim',
      },
    ]);
    expect((await claim(second.apiKey)).status).toBe(200);
    await h.http.patch(`/v1/campaigns/${campaign.id}`).set(bearer(adminKey)).send({ maxWinners: 1 }); // later leads only
    const exclusive = await apiLead(h, adminKey, campaign.id);
    const xOffer = await offerOfLead(h, exclusive.id);
    const [a, b] = await Promise.all(
      [first, second].map((x) => h.http.post(`/v1/offers/${xOffer.id}/claim`).set(bearer(x.apiKey)).send({})),
    );
    expect([a!.status, b!.status].sort()).toEqual([200, 409]);
    // Another buyer won it: lost_race, however late the loser's request came (offer_closed is for expired or cancelled offers).
    expect([a!.body, b!.body].find((x) => x.result === 'lost')).toEqual({
      result: 'lost',
      reason: 'lost_race',
      message: 'Taken by another buyer',
    });
  });

  test('20 buyers claiming one offer at once: one wins, every one of the 19 losers is told lost_race, each attempt on the timeline', async () => {
    const { adminKey } = await apiAgency(h);
    const buyers = await Promise.all(Array.from({ length: 20 }, () => apiBuyer(h, adminKey, { credits: 100 })));
    const campaign = await apiCampaign(h, adminKey, { price: { base: 10 } });
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    const answers = await Promise.all(
      buyers.map((b) => h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(b.apiKey)).send({})),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    const losers = answers.filter((r) => r.status !== 200);
    expect(losers.map((r) => [r.status, r.body])).toEqual(
      Array(19).fill([409, { result: 'lost', reason: 'lost_race', message: 'Taken by another buyer' }]),
    );
    const timeline = await h.http.get(`/v1/offers/${offer.id}/timeline`).set(bearer(adminKey));
    const count = (type: string) => timeline.body.events.filter((e: { type: string }) => e.type === type).length;
    expect([count('claim_attempted'), count('claim_failed'), count('won')]).toEqual([20, 19, 1]);
  });

  test('no buyer-facing answer before a win holds a hidden field; the win holds them all', async () => {
    const { adminKey } = await apiAgency(h);
    const winner = await apiBuyer(h, adminKey, { credits: 100 });
    const loser = await apiBuyer(h, adminKey, { credits: 100 });
    const outsider = await apiBuyer(h, adminKey, { credits: 100, zipCodes: ['10001'] });
    const previewFields = ['city', 'zip', 'answers.homeowner'];
    const campaign = await apiCampaign(h, adminKey, { previewFields });
    const fields = leadFields({ address: '12 Secret Lane', answers: { homeowner: 'yes', budget: 'a-secret-budget' } });
    const lead = await apiLead(h, adminKey, campaign.id, fields);
    const offer = await offerOfLead(h, lead.id);
    const hidden = hiddenValues(fields, previewFields);
    expect(hidden).toEqual(
      expect.arrayContaining([
        fields.phone,
        fields.email,
        fields.firstName,
        fields.lastName,
        '12 Secret Lane',
        'a-secret-budget',
      ]),
    );

    const seen: unknown[] = [];
    for (const b of [winner, loser, outsider]) {
      for (const path of [
        '/v1/offers',
        '/v1/offers?status=open',
        `/v1/offers/${offer.id}/eligibility`,
        '/v1/me',
        '/v1/me/wallet',
        '/v1/me/ledger',
        '/v1/me/leads',
        '/v1/disputes',
      ]) {
        const res = await h.http.get(path).set(bearer(b.apiKey));
        expect(res.status).toBeLessThan(500);
        seen.push(res.body);
      }
    }
    seen.push((await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(outsider.apiKey)).send({})).body);
    const listed = (await h.http.get('/v1/offers').set(bearer(loser.apiKey))).body.offers.find(
      (o: { id: string }) => o.id === offer.id,
    );
    expect(Object.keys(listed).sort()).toEqual(['auction', 'closesAt', 'id', 'leadId', 'preview', 'price']);
    expect(listed.preview).toEqual({ city: fields.city, zip: fields.zip, answers: { homeowner: 'yes' } });

    const won = await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(winner.apiKey)).send({});
    seen.push((await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(loser.apiKey)).send({})).body);
    seen.push((await h.http.get('/v1/me/leads').set(bearer(loser.apiKey))).body);
    const text = JSON.stringify(seen);
    for (const value of hidden) expect(text).not.toContain(value);

    expect(won.status).toBe(200);
    expect(won.body.lead).toEqual({ id: lead.id, ...fields });
    const mine = await h.http.get('/v1/me/leads').set(bearer(winner.apiKey));
    expect(mine.body.leads[0]).toMatchObject({
      offerId: offer.id,
      price: 10,
      status: 'active',
      lead: { id: lead.id, phone: fields.phone, email: fields.email },
    });
  });

  test('viewing offers through the API records viewed once per buyer', async () => {
    const { adminKey } = await apiAgency(h);
    const b = await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey);
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    for (let i = 0; i < 3; i++) await h.http.get('/v1/offers').set(bearer(b.apiKey));
    const timeline = await h.http.get(`/v1/offers/${offer.id}/timeline`).set(bearer(adminKey));
    const viewed = timeline.body.events.filter((e: { type: string }) => e.type === 'viewed');
    expect(viewed).toEqual([expect.objectContaining({ buyerId: b.buyer.id, data: { channel: 'api' } })]);
  });
});

describe('manual review', () => {
  test('a lead nobody can buy waits for review; an admin assigns, rejects or re-offers it', async () => {
    const { adminKey } = await apiAgency(h);
    const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 30, price: { base: 15 } });
    const [toAssign, toReject, toReoffer] = [
      await apiLead(h, adminKey, campaign.id),
      await apiLead(h, adminKey, campaign.id),
      await apiLead(h, adminKey, campaign.id),
    ];
    for (const l of [toAssign, toReject, toReoffer]) await leadStatus(adminKey, l.id, 'manual_review');
    const { apiKey, buyer } = await apiBuyer(h, adminKey, { credits: 100 });

    const assigned = await h.http
      .post(`/v1/leads/${toAssign.id}/assign`)
      .set(bearer(adminKey))
      .send({ buyerId: buyer.id });
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({
      result: 'won',
      charged: 15,
      balance: 85,
      lead: { id: toAssign.id, phone: toAssign.fields.phone },
    });
    const sold = await leadStatus(adminKey, toAssign.id, 'sold');
    expect(sold.assignments).toEqual([expect.objectContaining({ buyerId: buyer.id, price: 15, status: 'active' })]);
    const again = await h.http
      .post(`/v1/leads/${toAssign.id}/assign`)
      .set(bearer(adminKey))
      .send({ buyerId: buyer.id });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('not_in_manual_review');

    const rejected = await h.http
      .post(`/v1/leads/${toReject.id}/reject`)
      .set(bearer(adminKey))
      .send({ reason: 'fake name' });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toEqual({ lead: { id: toReject.id, status: 'rejected' }, action: 'reject' });
    await leadStatus(adminKey, toReject.id, 'rejected');
    expect(
      (await h.http.post(`/v1/leads/${toReject.id}/reject`).set(bearer(adminKey)).send({ reason: 'again' })).status,
    ).toBe(409);

    const reoffered = await h.http.post(`/v1/leads/${toReoffer.id}/reoffer`).set(bearer(adminKey)).send({});
    expect(reoffered.status).toBe(202);
    expect(reoffered.body).toMatchObject({
      lead: { id: toReoffer.id, status: 'routing' },
      action: 'reoffer',
      campaignId: campaign.id,
    });
    const offer = await offerOfLead(h, toReoffer.id, 'open');
    expect((await winOffer(h, apiKey, offer.id)).charged).toBe(15);
    await leadStatus(adminKey, toReoffer.id, 'sold');
    const timeline = await h.http.get(`/v1/leads/${toReoffer.id}/timeline`).set(bearer(adminKey));
    expect(timeline.body.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['manual_review', 'reoffered', 'targeted', 'won']),
    );
  });

  test('assigning to a buyer without credits answers 402 and leaves the lead in review', async () => {
    const { adminKey } = await apiAgency(h);
    const campaign = await apiCampaign(h, adminKey, { price: { base: 50 } });
    const lead = await apiLead(h, adminKey, campaign.id);
    await leadStatus(adminKey, lead.id, 'manual_review');
    const { buyer } = await apiBuyer(h, adminKey, { credits: 10 });
    const res = await h.http.post(`/v1/leads/${lead.id}/assign`).set(bearer(adminKey)).send({ buyerId: buyer.id });
    expect(res.status).toBe(402);
    expect(res.body).toEqual({
      result: 'failed',
      reason: 'insufficient_credits',
      message: 'Insufficient credits – ask your agency to top up your wallet to claim',
    });
    const rejected = await h.http
      .post(`/v1/leads/${lead.id}/reject`)
      .set(bearer(adminKey))
      .send({ reason: 'no taker' });
    expect(rejected.status).toBe(200);
  });

  test('an admin cancels an open auction; the lead goes to review', async () => {
    const { adminKey } = await apiAgency(h);
    await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    const res = await h.http.post(`/v1/offers/${offer.id}/cancel`).set(bearer(adminKey)).send({ reason: 'bad data' });
    expect(res.status).toBe(202);
    await leadStatus(adminKey, lead.id, 'manual_review');
    const again = await h.http.post(`/v1/offers/${offer.id}/cancel`).set(bearer(adminKey)).send({ reason: 'bad data' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('offer_not_open');
  });
});

describe('disputes', () => {
  test('approval refunds through the ledger: refund entry, balance restored, assignment refunded, on the timeline', async () => {
    const { adminKey } = await apiAgency(h);
    const b = await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey, { price: { base: 40 } });
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    const win = await winOffer(h, b.apiKey, offer.id);
    expect(win.balance).toBe(60);

    const opened = await h.http
      .post(`/v1/assignments/${win.assignmentId}/disputes`)
      .set(bearer(b.apiKey))
      .send({ reason: 'disconnected number' });
    expect(opened.status).toBe(201);
    expect(opened.body.dispute).toMatchObject({
      assignmentId: win.assignmentId,
      buyerId: b.buyer.id,
      status: 'open',
      refundEntryId: null,
    });
    const twice = await h.http
      .post(`/v1/assignments/${win.assignmentId}/disputes`)
      .set(bearer(b.apiKey))
      .send({ reason: 'again' });
    expect(twice.status).toBe(409);
    const queue = await h.http.get('/v1/disputes?status=open').set(bearer(adminKey));
    expect(queue.body.disputes.map((d: { id: string }) => d.id)).toEqual([opened.body.dispute.id]);

    const resolved = await h.http
      .post(`/v1/disputes/${opened.body.dispute.id}/resolve`)
      .set(bearer(adminKey))
      .send({ approve: true, note: 'verified' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.dispute).toMatchObject({ status: 'approved', refundEntryId: resolved.body.refund.entry.id });
    expect(resolved.body.refund).toMatchObject({
      balance: 100,
      entry: { kind: 'refund', amount: 40, balanceAfter: 100, offerId: offer.id, leadId: lead.id },
    });

    const wallet = await h.http.get('/v1/me/wallet').set(bearer(b.apiKey));
    expect(wallet.body.balance).toBe(100);
    expect(wallet.body.entries.map((e: { kind: string; amount: number }) => [e.kind, e.amount])).toEqual([
      ['refund', 40],
      ['charge', -40],
      ['top_up', 100],
    ]);
    const detail = await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey));
    expect(detail.body.lead.assignments).toEqual([
      expect.objectContaining({ id: win.assignmentId, status: 'refunded' }),
    ]);
    const timeline = await h.http.get(`/v1/offers/${offer.id}/timeline`).set(bearer(adminKey));
    expect(timeline.body.events).toContainEqual(
      expect.objectContaining({ type: 'refunded', buyerId: b.buyer.id, reason: 'dispute_approved' }),
    );

    const again = await h.http
      .post(`/v1/disputes/${opened.body.dispute.id}/resolve`)
      .set(bearer(adminKey))
      .send({ approve: true });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('dispute_not_open');
    const afterRefund = await h.http
      .post(`/v1/assignments/${win.assignmentId}/disputes`)
      .set(bearer(b.apiKey))
      .send({ reason: 'more' });
    expect(afterRefund.status).toBe(409);
    expect((await h.http.get('/v1/me/wallet').set(bearer(b.apiKey))).body.balance).toBe(100);
  });

  test('rejection closes the dispute and moves no money', async () => {
    const { adminKey } = await apiAgency(h);
    const b = await apiBuyer(h, adminKey, { credits: 100 });
    const campaign = await apiCampaign(h, adminKey);
    const lead = await apiLead(h, adminKey, campaign.id);
    const win = await winOffer(h, b.apiKey, (await offerOfLead(h, lead.id)).id);
    const opened = await h.http
      .post(`/v1/assignments/${win.assignmentId}/disputes`)
      .set(bearer(b.apiKey))
      .send({ reason: 'meh' });
    const res = await h.http
      .post(`/v1/disputes/${opened.body.dispute.id}/resolve`)
      .set(bearer(adminKey))
      .send({ approve: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dispute: { status: 'rejected', refundEntryId: null }, refund: null });
    expect((await h.http.get('/v1/me/wallet').set(bearer(b.apiKey))).body.balance).toBe(90);
    const mine = await h.http.get('/v1/disputes').set(bearer(b.apiKey));
    expect(mine.body.disputes).toEqual([expect.objectContaining({ id: opened.body.dispute.id, status: 'rejected' })]);
  });
});

describe('limits and probes', () => {
  test('failed authentications are limited per address; claims per key', async () => {
    const strict = await h.startInstance({
      rateLimits: {
        authFailures: { capacity: 3, refillPerSecond: 0.001 },
        claims: { capacity: 2, refillPerSecond: 0.001 },
      },
    });
    const { adminKey } = await apiAgency(h);
    const { apiKey } = await apiBuyer(h, adminKey);
    for (let i = 0; i < 3; i++)
      expect((await strict.http.get('/v1/me').set(bearer(`lw_buyer_guess${i}`))).status).toBe(401);
    const blocked = await strict.http.get('/v1/me').set(bearer('lw_buyer_guess4'));
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Failing attempts are throttled, not valid ones (issue 16): the buyer's own key still works from here.
    expect((await strict.http.get('/v1/me').set(bearer(apiKey))).status).toBe(200);
    await strict.close();

    const claims = await h.startInstance({ rateLimits: { claims: { capacity: 2, refillPerSecond: 0.001 } } });
    const unknown = () => claims.http.post(`/v1/offers/${crypto.randomUUID()}/claim`).set(bearer(apiKey)).send({});
    expect((await unknown()).status).toBe(404);
    expect((await unknown()).status).toBe(404);
    const limited = await unknown();
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    await claims.close();
  });

  test('readiness needs the database and Temporal; liveness needs neither', async () => {
    expect((await h.http.get('/readyz')).body).toEqual({ status: 'ready', database: true, temporal: true, bus: true });
    const deadTemporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const blind = await h.startInstance({ temporal: deadTemporal });
    const res = await blind.http.get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'not_ready', database: true, temporal: false, bus: true });
    expect((await blind.http.get('/healthz')).status).toBe(200);
    await blind.close();
  });

  test('metrics count requests and claims', async () => {
    const res = await h.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/leadwire_http_requests_total\{method="GET",route="\/readyz",status="200"\} \d+/);
    expect(res.text).toMatch(/leadwire_claims_total\{via="api",outcome="won"\} \d+/);
    expect(res.text).toMatch(/leadwire_feed_connections_open \d+/);
  });
});
