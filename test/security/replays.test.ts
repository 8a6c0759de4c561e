/**
 * Replayed and duplicated requests change nothing: the same Idempotency-Key
 * sent ten times at once (top-ups, lead intake), the same claim requestId
 * sent ten times at once, again later, through the feed and through another
 * API instance, all end in one ledger entry, one lead, one auction, one
 * charge, and identical answers. A requestId is the buyer's own: another
 * buyer replaying it learns nothing of the lead.
 */
import crypto from 'node:crypto';

import { and, eq } from 'drizzle-orm';

import { assignments, leads, ledgerEntries, offers } from '../../db/schema';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  type ApiInstance,
  bearer,
  connectFeed,
  type Harness,
  leadFields,
  startHarness,
} from '../api/harness';
import { offerOfLead } from '../api/world';

jest.setTimeout(120_000);

let h: Harness;
let second: ApiInstance;

beforeAll(async () => {
  h = await startHarness();
  second = await h.startInstance();
});

afterAll(async () => {
  await second?.close();
  await h?.close();
});

/** Retries while the answer is "still running" (409 idempotency_in_progress, 503 pending), as a client is told to. */
async function settle<T extends { status: number; body: Record<string, unknown> }>(send: () => Promise<T>): Promise<T> {
  let res = await send();
  for (
    let i = 0;
    i < 60 && (res.status === 503 || (res.status === 409 && res.body.code === 'idempotency_in_progress'));
    i++
  ) {
    await new Promise((r) => setTimeout(r, 250));
    res = await send();
  }
  return res;
}

test('ten identical top-ups at once (one Idempotency-Key) credit once; every later replay answers the first result', async () => {
  const { adminKey } = await apiAgency(h);
  const { buyer } = await apiBuyer(h, adminKey);
  const topUp = (via = h.http) =>
    via
      .post(`/v1/buyers/${buyer.id}/credits`)
      .set(bearer(adminKey))
      .set('Idempotency-Key', 'replay-topup')
      .send({ amount: 70, reference: 'inv-7' });
  const burst = await Promise.all(Array.from({ length: 10 }, () => topUp()));
  for (const r of burst) expect([201, 409]).toContain(r.status);
  const first = burst.find((r) => r.status === 201)!;
  expect(first.body).toMatchObject({ balance: 70 });
  const later = [await settle(() => topUp()), await settle(() => topUp(second.http))];
  for (const r of later) {
    expect(r.status).toBe(201);
    expect(r.body).toEqual(first.body);
    expect(r.headers['idempotent-replayed']).toBe('true');
  }
  const entries = await h.database.db.select().from(ledgerEntries).where(eq(ledgerEntries.buyerId, buyer.id));
  expect(entries.map((e) => e.amount)).toEqual([70]);
  expect((await h.http.get(`/v1/buyers/${buyer.id}`).set(bearer(adminKey))).body).toMatchObject({
    buyer: { balance: 70 },
  });
});

test('ten identical lead intakes at once (one Idempotency-Key): one lead, one auction, one answer', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 30 });
  const body = { campaignId: campaign.id, fields: leadFields() };
  const post = (via = h.http) =>
    via.post('/v1/leads').set(bearer(adminKey)).set('Idempotency-Key', 'replay-lead').send(body);
  const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => post(i % 2 ? second.http : h.http)));
  for (const r of burst) expect([202, 409]).toContain(r.status);
  const answers = [
    ...burst.filter((r) => r.status === 202),
    await settle(() => post()),
    await settle(() => post(second.http)),
  ];
  const ids = new Set(answers.map((r) => r.body.lead.id as string));
  expect(ids.size).toBe(1);
  const [leadId] = [...ids];
  await offerOfLead(h, leadId!, null); // nobody can buy it: its one offer closes at once
  expect(await h.database.db.select().from(leads).where(eq(leads.id, leadId!))).toHaveLength(1);
  expect(await h.database.db.select().from(offers).where(eq(offers.leadId, leadId!))).toHaveLength(1);
  const conflict = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .set('Idempotency-Key', 'replay-lead')
    .send({ ...body, fields: leadFields() });
  expect([conflict.status, conflict.body.code]).toEqual([409, 'idempotency_conflict']);
});

test('the same claim requestId, ten times at once, then again on the feed, another instance and after the close: one charge, one answer', async () => {
  const { adminKey } = await apiAgency(h);
  const winner = await apiBuyer(h, adminKey, { credits: 100 });
  const other = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 3, price: { base: 30 } });
  const lead = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields() });
  const offer = await offerOfLead(h, lead.body.lead.id);
  const requestId = crypto.randomUUID();
  const claim = (key = winner.apiKey, via = h.http) =>
    via.post(`/v1/offers/${offer.id}/claim`).set(bearer(key)).send({ requestId });

  const burst = await Promise.all(
    Array.from({ length: 10 }, (_, i) => settle(() => claim(winner.apiKey, i % 2 ? second.http : h.http))),
  );
  const won = burst[0]!.body;
  expect(won).toMatchObject({ result: 'won', charged: 30, balance: 70 });
  for (const r of burst) expect([r.status, r.body]).toEqual([200, won]);

  // Another buyer sending the same requestId is making its own claim: it lost, and learns nothing of the lead.
  const thief = await claim(other.apiKey);
  expect([thief.status, thief.body]).toEqual([
    409,
    { result: 'lost', reason: thief.body.reason, message: expect.any(String) },
  ]);
  expect(['lost_race', 'offer_closed']).toContain(thief.body.reason);

  const feed = await connectFeed(h.main.wsUrl, winner.apiKey);
  await feed.next((m) => m.type === 'snapshot');
  feed.send({ type: 'claim', offerId: offer.id, requestId });
  feed.send({ type: 'claim', offerId: offer.id, requestId });
  const frames = [
    await feed.next((m) => m.type === 'claim.result'),
    await feed.next(
      (m) => m.type === 'claim.result' && feed.messages.filter((x) => x.type === 'claim.result').length === 2,
    ),
  ];
  for (const f of frames) expect(f).toEqual({ type: 'claim.result', requestId, ...won });
  await feed.close();

  await offerOfLead(h, lead.body.lead.id, 'won');
  const late = await claim(winner.apiKey, second.http);
  expect([late.status, late.body]).toEqual([200, won]);

  const charges = await h.database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.offerId, offer.id), eq(ledgerEntries.kind, 'charge')));
  expect(charges).toHaveLength(1);
  expect(await h.database.db.select().from(assignments).where(eq(assignments.offerId, offer.id))).toHaveLength(1);
  expect((await h.http.get('/v1/me/wallet').set(bearer(winner.apiKey))).body).toMatchObject({ balance: 70 });
  expect((await h.http.get('/v1/me/wallet').set(bearer(other.apiKey))).body).toMatchObject({ balance: 100 });
});
