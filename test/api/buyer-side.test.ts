/**
 * The buyer's side of the market (#12) through the API on the real stack (dev
 * server, Postgres, the worker and the alert dispatcher): offer alerts on the
 * buyers' channels, hours of operation and pauses, lead filters, per-buyer
 * prices, pipeline status, low-balance alerts, and bad input on every new
 * route.
 */
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';

import { resolveDeliveryConfig } from '../../activities/channels/config';
import { Responses as OffersResponses } from '../../api/routes/offers.schemas';
import { BalanceLowV2 } from '../../api/routes/webhook-events.schemas';
import { listBuyerAlerts } from '../../db/deliveries';
import { postLedgerEntry } from '../../db/ledger';
import { buyers as buyersTable, campaignBuyerPrices, pipelineChanges } from '../../db/schema';
import { startAlertDispatcher } from '../../worker/alert-dispatcher';
import { type Recorded, startRecorder } from '../helpers/recorder';
import { eventually } from '../helpers/temporal';
import { docCurlBody } from './doc-examples';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  type Harness,
  leadFields,
  startHarness,
  unique,
} from './harness';
import { offerOfLead, winOffer } from './world';

let h: Harness;
let stopAlerts: () => void;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let received: Recorded[] = [];
let hookUrl = '';

beforeAll(async () => {
  recorder = await startRecorder((path) => (path.startsWith('/down-') ? 503 : 200));
  ({ received, url: hookUrl } = recorder);
  h = await startHarness({ api: { webhookAllowlist: '127.0.0.1' } });
  // The worker process's dispatcher, as bin/worker.ts starts it, with the test's provider and allowlist.
  stopAlerts = startAlertDispatcher({
    db: h.database.db,
    delivery: resolveDeliveryConfig({
      allowlist: '127.0.0.1',
      smsProviderUrl: `${hookUrl}/sms`,
      voiceProviderUrl: null,
      smtpUrl: null,
      timeoutMs: 2000,
    }),
    publicUrl: h.main.baseUrl,
    everyMs: 100,
    backoffMs: 50,
  });
});

afterAll(async () => {
  stopAlerts?.();
  await h?.close();
  await recorder?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timelineOf = async (adminKey: string, offerId: string) =>
  (await h.http.get(`/v1/offers/${offerId}/timeline`).set(bearer(adminKey))).body.events as {
    type: string;
    buyerId?: string;
    reason?: string;
    data?: Record<string, unknown>;
  }[];
const candidate = async (adminKey: string, offerId: string, buyerId: string) =>
  (
    (await h.http.get(`/v1/offers/${offerId}/eligibility`).set(bearer(adminKey))).body.candidates as {
      buyerId: string;
      eligible: boolean;
      reason: string | null;
      detail: string | null;
      snapshot: Record<string, unknown>;
    }[]
  ).find((c) => c.buyerId === buyerId)!;

async function buyerWith(adminKey: string, body: Record<string, unknown>, credits = 100) {
  const res = await h.http
    .post('/v1/buyers')
    .set(bearer(adminKey))
    .send({ name: unique('buyer'), serviceLines: ['roofing'], ...body });
  if (res.status !== 201) throw new Error(`buyer: ${res.status} ${JSON.stringify(res.body)}`);
  await h.http.post(`/v1/buyers/${res.body.buyer.id}/credits`).set(bearer(adminKey)).send({ amount: credits });
  return {
    id: res.body.buyer.id as string,
    apiKey: res.body.apiKey as string,
    webhookSecret: res.body.webhookSecret as string,
  };
}

test('an offer alerts the two opted-in buyers once each (SMS, webhook), preview only, on the timeline; the third gets none; the claim link wins', async () => {
  const { adminKey } = await apiAgency(h);
  const sms = await buyerWith(adminKey, { delivery: { smsTo: '+15125550101' }, alerts: { channels: ['sms'] } });
  const hook = await buyerWith(adminKey, {
    delivery: { webhookUrl: `${hookUrl}/hook-${unique('b')}` },
    alerts: { channels: ['webhook'] },
  });
  const quiet = await buyerWith(adminKey, { delivery: { webhookUrl: `${hookUrl}/quiet-${unique('c')}` } });
  const campaign = await apiCampaign(h, adminKey, {
    claimWindowSeconds: 60,
    previewFields: ['city', 'state', 'zip'],
    price: { base: 20 },
  });
  const fields = leadFields();
  const lead = await apiLead(h, adminKey, campaign.id, fields);
  const offer = await offerOfLead(h, lead.id);

  const mine = () => received.filter((r) => r.body.includes(offer.id));
  await eventually(async () => mine().length >= 2, 20_000, 'two alerts');
  await sleep(600); // a few more dispatcher rounds: nothing else goes out
  const alerts = mine();
  expect(alerts).toHaveLength(2);
  const smsAlert = alerts.find((a) => a.path === '/sms')!;
  const hookAlert = alerts.find((a) => a.path.startsWith('/hook-'))!;
  expect(smsAlert).toBeDefined();
  expect(hookAlert).toBeDefined();
  expect(received.some((r) => r.path.startsWith('/quiet-') && r.body.includes(offer.id))).toBe(false);

  // Preview only: never a hidden field of the lead.
  for (const a of alerts)
    for (const hidden of [fields.firstName, fields.lastName, fields.phone, fields.email])
      expect(a.body).not.toContain(hidden);
  const link = `${h.main.baseUrl}/?offer=${offer.id}`;
  expect(JSON.parse(smsAlert.body)).toMatchObject({
    channel: 'sms',
    to: '+15125550101',
    message: expect.stringContaining(link),
  });
  const payload = JSON.parse(hookAlert.body);
  expect(payload).toEqual({
    type: 'offer.opened',
    offer: {
      id: offer.id,
      preview: { city: fields.city, state: fields.state, zip: fields.zip },
      price: 20,
      closesAt: expect.any(String),
      secondsLeft: expect.any(Number),
      claimUrl: link,
    },
  });
  expect(payload.offer.secondsLeft).toBeGreaterThan(0);
  // Signed per Standard Webhooks: the stock library verifies it with the buyer's secret.
  expect(new Webhook(hook.webhookSecret).verify(hookAlert.body, hookAlert.headers as Record<string, string>)).toEqual(
    payload,
  );

  const notified = (await timelineOf(adminKey, offer.id)).filter((e) => e.type === 'notified');
  expect(notified.map((e) => [e.buyerId, e.data?.channel, e.data?.outcome]).sort()).toEqual(
    [
      [sms.id, 'sms', 'sent'],
      [hook.id, 'webhook', 'sent'],
    ].sort(),
  );
  expect((await h.http.get('/v1/me/alerts').set(bearer(quiet.apiKey))).body.alerts).toEqual([]);
  expect((await h.http.get('/v1/me/alerts').set(bearer(sms.apiKey))).body.alerts).toMatchObject([
    { kind: 'offer_opened', channel: 'sms', offerId: offer.id, status: 'sent', attempts: 1 },
  ]);

  // The claim link opens Live Leads on the offer; claiming it wins the lead.
  const offerId = new URL(payload.offer.claimUrl).searchParams.get('offer')!;
  const won = await winOffer(h, hook.apiKey, offerId);
  expect(won.charged).toBe(20);
  // Used after the window, the same link answers what a late claim answers.
  const late = await h.http.post(`/v1/offers/${offerId}/claim`).set(bearer(sms.apiKey)).send({});
  expect(late.status).toBe(409);
  expect(late.body).toMatchObject({ result: 'lost' });
});

test('an alert whose channel keeps failing is retried with backoff a bounded number of times, then recorded failed on the timeline', async () => {
  const { adminKey } = await apiAgency(h);
  const path = `/down-${unique('b')}`;
  const down = await buyerWith(adminKey, {
    delivery: { webhookUrl: `${hookUrl}${path}` },
    alerts: { channels: ['webhook'] },
  });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
  const offer = await offerOfLead(h, (await apiLead(h, adminKey, campaign.id)).id);
  const notified = await eventually(
    async () => (await timelineOf(adminKey, offer.id)).find((e) => e.type === 'notified'),
    20_000,
    'the failed alert',
  );
  // 5 attempts (the dispatcher's bound), 50 ms doubling between them.
  expect(notified).toMatchObject({
    buyerId: down.id,
    reason: 'failed',
    data: { channel: 'webhook', outcome: 'failed', attempts: 5, detail: expect.stringContaining('HTTP 503') },
  });
  expect(received.filter((r) => r.path === path)).toHaveLength(5);
  expect((await h.http.get('/v1/me/alerts').set(bearer(down.apiKey))).body.alerts).toMatchObject([
    { status: 'failed', attempts: 5, lastError: expect.stringContaining('HTTP 503') },
  ]);
});

test('outside its hours a buyer is excluded with outside_hours and when it opens; back inside them it is targeted; a claim after hours is refused', async () => {
  const { adminKey } = await apiAgency(h);
  const b = await buyerWith(adminKey, {});
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
  // A schedule open only on the day after tomorrow (UTC): closed now, opening then at 09:00.
  const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(new Date().getUTCDay() + 2) % 7]!;
  const set = await h.http
    .patch(`/v1/buyers/${b.id}`)
    .set(bearer(adminKey))
    .send({ timeZone: 'UTC', schedule: { [day]: [{ from: '09:00', to: '17:00' }] } });
  expect(set.status).toBe(200);
  expect(set.body.buyer.availability).toMatchObject({ open: false, why: 'schedule' });
  const opens = new Date();
  opens.setUTCDate(opens.getUTCDate() + 2);
  opens.setUTCHours(9, 0, 0, 0);
  expect(set.body.buyer.availability.opensAt).toBe(opens.toISOString());

  const first = await apiLead(h, adminKey, campaign.id);
  const offer1 = await offerOfLead(h, first.id, null);
  expect(await candidate(adminKey, offer1.id, b.id)).toMatchObject({
    eligible: false,
    reason: 'outside_hours',
    snapshot: { opensAt: opens.toISOString() },
  });

  // A pause of 3 seconds instead of the schedule: excluded now, targeted once it has ended.
  const until = new Date(Date.now() + 3000).toISOString();
  await h.http
    .patch(`/v1/buyers/${b.id}`)
    .set(bearer(adminKey))
    .send({ schedule: null, pauses: [{ until, note: 'on a roof' }] });
  const second = await apiLead(h, adminKey, campaign.id);
  const offer2 = await offerOfLead(h, second.id, null);
  expect(await candidate(adminKey, offer2.id, b.id)).toMatchObject({
    eligible: false,
    reason: 'outside_hours',
    snapshot: { opensAt: until },
  });
  await sleep(Math.max(0, Date.parse(until) - Date.now()) + 200);
  const third = await apiLead(h, adminKey, campaign.id);
  const offer3 = await offerOfLead(h, third.id);
  expect(await candidate(adminKey, offer3.id, b.id)).toMatchObject({ eligible: true });

  // Paused again (by itself, "back in an hour") while the offer is open: the claim is refused, the timeline says why.
  const me = await h.http
    .patch('/v1/me')
    .set(bearer(b.apiKey))
    .send({ pauses: [{ until: new Date(Date.now() + 3_600_000).toISOString(), note: 'back in an hour' }] });
  expect(me.status).toBe(200);
  expect(me.body.buyer.availability).toMatchObject({ open: false, why: 'pause' });
  const claim = await h.http.post(`/v1/offers/${offer3.id}/claim`).set(bearer(b.apiKey)).send({});
  expect(claim.status).toBe(403);
  expect(claim.body).toEqual({
    result: 'failed',
    reason: 'eligibility_changed',
    message: 'No longer eligible for this lead',
  });
  const failed = (await timelineOf(adminKey, offer3.id)).find((e) => e.type === 'claim_failed')!;
  expect(String(failed.data?.detail)).toMatch(/^paused \(back in an hour\); opens again/);
  // The buyer's own view of its exclusion says when, not the lead's data.
  const own = (await h.http.get(`/v1/offers/${offer2.id}/eligibility`).set(bearer(b.apiKey))).body.candidates[0];
  expect(own).toMatchObject({ reason: 'outside_hours', snapshot: { opensAt: until } });
});

test('filter_mismatch names every failing rule in the order of the rules (the first the one that excluded), as docs/distribution.md says, with its documented filters', async () => {
  const { adminKey } = await apiAgency(h);
  const buyer = await buyerWith(adminKey, {});
  await buyerWith(adminKey, {}); // takes every lead, so each lead gets its offer
  const documented = docCurlBody('docs/distribution.md', 'answers.squareFeet') as { filters: unknown };
  const patched = await h.http.patch(`/v1/buyers/${buyer.id}`).set(bearer(adminKey)).send(documented);
  expect(patched.status).toBe(200);
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
  const eligibility = async (answers: Record<string, string | number>) => {
    const lead = await apiLead(h, adminKey, campaign.id, { ...leadFields(), answers });
    const offer = await offerOfLead(h, lead.id);
    const res = await h.http.get(`/v1/offers/${offer.id}/eligibility`).set(bearer(adminKey));
    return OffersResponses.Eligibility.parse(res.body).candidates.find((c) => c.buyerId === buyer.id)!;
  };
  const both = await eligibility({ roofType: 'repair', squareFeet: 800 });
  expect(both).toMatchObject({
    eligible: false,
    reason: 'filter_mismatch',
    detail: 'filter rules 1, 2 failed: answers.roofType in [replace, new]; answers.squareFeet in range 1200..∞',
  });
  expect(both.snapshot.failedRules).toEqual([
    { index: 0, rule: 'answers.roofType in [replace, new]' },
    { index: 1, rule: 'answers.squareFeet in range 1200..∞' },
  ]);
  const second = await eligibility({ roofType: 'new', squareFeet: 800 });
  expect(second).toMatchObject({
    detail: 'filter rule 2 failed: answers.squareFeet in range 1200..∞',
    snapshot: { failedRules: [{ index: 1, rule: 'answers.squareFeet in range 1200..∞' }] },
  });
  expect(await eligibility({ roofType: 'replace', squareFeet: 2000 })).toMatchObject({ eligible: true });
});

test('lead filters set by the agency exclude with filter_mismatch naming the rule; a buyer sets its own only where allowed; the dry run counts passes', async () => {
  const { adminKey } = await apiAgency(h);
  const picky = await buyerWith(adminKey, {});
  const any = await buyerWith(adminKey, {});
  const filters = {
    match: 'all',
    rules: [
      { field: 'answers.roofType', op: 'in', values: ['replace', 'new'] },
      { field: 'state', op: 'equals', value: 'TX' },
    ],
  };
  expect(
    (await h.http.patch(`/v1/buyers/${picky.id}`).set(bearer(adminKey)).send({ filters })).body.buyer.filters,
  ).toEqual(filters);
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });

  const repair = await apiLead(h, adminKey, campaign.id, {
    ...leadFields(),
    state: 'TX',
    answers: { roofType: 'repair' },
  });
  const offer = await offerOfLead(h, repair.id);
  expect(await candidate(adminKey, offer.id, picky.id)).toMatchObject({
    eligible: false,
    reason: 'filter_mismatch',
    detail: 'filter rule 1 failed: answers.roofType in [replace, new]',
    snapshot: { failedRules: [{ index: 0, rule: 'answers.roofType in [replace, new]' }] },
  });
  expect(await candidate(adminKey, offer.id, any.id)).toMatchObject({ eligible: true });
  const replace = await apiLead(h, adminKey, campaign.id, {
    ...leadFields(),
    state: 'TX',
    answers: { roofType: 'Replace' },
  });
  expect(await candidate(adminKey, (await offerOfLead(h, replace.id)).id, picky.id)).toMatchObject({ eligible: true });

  // Self-service: refused until the agency allows it, audited when it does.
  const refused = await h.http.patch('/v1/me').set(bearer(any.apiKey)).send({ filters });
  expect(refused.status).toBe(422);
  expect(refused.body.errors).toEqual([
    { in: 'body', path: 'filters', message: 'your agency sets your lead filters; ask it' },
  ]);
  expect(
    (
      await h.http
        .patch('/v1/settings')
        .set(bearer(adminKey))
        .send({ selfService: { allowFilters: true } })
    ).status,
  ).toBe(200);
  const own = { match: 'any', rules: [{ field: 'answers.roofType', op: 'equals', value: 'repair' }] };
  expect((await h.http.patch('/v1/me').set(bearer(any.apiKey)).send({ filters: own })).body.buyer.filters).toEqual(own);
  const changes = (await h.http.get(`/v1/buyers/${any.id}/changes`).set(bearer(adminKey))).body.changes;
  expect(changes[0]).toMatchObject({ actor: 'buyer', changes: { filters: { from: null, to: own } } });

  const dry = await h.http
    .post('/v1/campaigns/dry-run')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, lastN: 10 });
  expect(dry.status).toBe(200);
  expect(dry.body.summary.filterPassesByBuyer).toEqual({ [picky.id]: 1, [any.id]: 1 });
});

test("per-buyer prices: two buyers see different prices on one offer; the charge and the ledger use the buyer's own; the snapshot records the rule", async () => {
  const { adminKey } = await apiAgency(h);
  const premium = await buyerWith(adminKey, {});
  const discount = await buyerWith(adminKey, {});
  const plain = await buyerWith(adminKey, {});
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60, price: { base: 20 } });
  expect(
    (
      await h.http
        .post(`/v1/campaigns/${campaign.id}/buyer-prices`)
        .set(bearer(adminKey))
        .send({ buyerId: premium.id, rule: { kind: 'fixed', value: 35 } })
    ).body.buyerPrice,
  ).toMatchObject({ kind: 'fixed', value: 35 });
  await h.http
    .post(`/v1/campaigns/${campaign.id}/buyer-prices`)
    .set(bearer(adminKey))
    .send({ buyerId: discount.id, rule: { kind: 'percent', value: -25 } });
  const listed = await h.http.get(`/v1/campaigns/${campaign.id}/buyer-prices`).set(bearer(adminKey));
  expect(listed.body.buyerPrices).toHaveLength(2);

  const feed = await connectFeed(h.main.wsUrl, premium.apiKey);
  const lead = await apiLead(h, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id);
  const opened = await feed.next((m) => m.type === 'offer.opened' && (m.offer as { id: string }).id === offer.id);
  expect((opened.offer as { price: number }).price).toBe(35);
  await feed.close();
  const priceFor = async (key: string) =>
    ((await h.http.get('/v1/offers?status=open').set(bearer(key))).body.offers as { id: string; price: number }[]).find(
      (o) => o.id === offer.id,
    )!.price;
  expect(await priceFor(premium.apiKey)).toBe(35);
  expect(await priceFor(discount.apiKey)).toBe(15);
  expect(await priceFor(plain.apiKey)).toBe(20);
  expect(await candidate(adminKey, offer.id, premium.id)).toMatchObject({
    snapshot: { price: 35, campaignPrice: 20, priceRule: { kind: 'fixed', value: 35 } },
  });

  const won = await winOffer(h, premium.apiKey, offer.id);
  expect(won).toMatchObject({ charged: 35, balance: 65 });
  const ledger = (await h.http.get(`/v1/buyers/${premium.id}/ledger`).set(bearer(adminKey))).body.entries;
  expect(ledger[0]).toMatchObject({ kind: 'charge', amount: -35, balanceAfter: 65, offerId: offer.id });
  expect((await h.http.get('/v1/me/leads').set(bearer(premium.apiKey))).body.leads[0]).toMatchObject({ price: 35 });

  // Removing the rule: the next offer prices the buyer at the campaign's price again.
  await h.http
    .post(`/v1/campaigns/${campaign.id}/buyer-prices`)
    .set(bearer(adminKey))
    .send({ buyerId: premium.id, rule: null });
  const next = await apiLead(h, adminKey, campaign.id);
  const offer2 = await offerOfLead(h, next.id);
  expect(await candidate(adminKey, offer2.id, premium.id)).toMatchObject({ snapshot: { price: 20 } });
});

test('pipeline: forward moves with note and job value, never back; another buyer cannot read or change it; close rates in the stats; money untouched', async () => {
  const { adminKey } = await apiAgency(h);
  const owner = await apiBuyer(h, adminKey, { credits: 100 });
  const other = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, {
    claimWindowSeconds: 60,
    price: { base: 10 },
    buyerIds: [owner.buyer.id],
  });
  const a1 = (await winOffer(h, owner.apiKey, (await offerOfLead(h, (await apiLead(h, adminKey, campaign.id)).id)).id))
    .assignmentId;
  const a2 = (await winOffer(h, owner.apiKey, (await offerOfLead(h, (await apiLead(h, adminKey, campaign.id)).id)).id))
    .assignmentId;
  const balance = (await h.http.get('/v1/me/wallet').set(bearer(owner.apiKey))).body.balance;

  const mark = (key: string, id: string, body: object) =>
    h.http.post(`/v1/me/leads/${id}/pipeline`).set(bearer(key)).send(body);
  expect((await mark(owner.apiKey, a1, { status: 'contacted', note: 'left a voicemail' })).status).toBe(201);
  expect((await mark(owner.apiKey, a1, { status: 'quoted' })).status).toBe(201);
  const back = await mark(owner.apiKey, a1, { status: 'contacted' });
  expect(back.status).toBe(409);
  expect(back.body).toMatchObject({ code: 'invalid_transition', detail: 'cannot go back from quoted to contacted' });
  expect((await mark(owner.apiKey, a1, { status: 'won_job', jobValue: 12000, note: 'full roof' })).status).toBe(201);
  expect((await mark(owner.apiKey, a1, { status: 'lost_job' })).status).toBe(409);
  expect((await mark(owner.apiKey, a2, { status: 'lost_job' })).status).toBe(201);

  // Another buyer: 404 on read and write, nothing recorded.
  expect((await mark(other.apiKey, a1, { status: 'lost_job' })).status).toBe(404);
  expect((await h.http.get(`/v1/me/leads/${a1}/pipeline`).set(bearer(other.apiKey))).status).toBe(404);

  const history = await h.http.get(`/v1/me/leads/${a1}/pipeline`).set(bearer(owner.apiKey));
  expect(history.body.status).toBe('won_job');
  expect(history.body.changes.map((c: { status: string }) => c.status)).toEqual(['won_job', 'quoted', 'contacted']);
  expect(history.body.changes[0]).toMatchObject({
    jobValue: 12000,
    note: 'full roof',
    authorKeyId: expect.any(String),
    at: expect.any(String),
  });
  const board = await h.http.get('/v1/me/pipeline').set(bearer(owner.apiKey));
  expect(board.body.counts).toEqual({ new: 0, contacted: 0, appointment: 0, quoted: 0, won_job: 1, lost_job: 1 });

  const stats = await h.http.get(`/v1/buyers/${owner.buyer.id}/stats`).set(bearer(adminKey));
  expect(stats.body.pipeline).toEqual({
    bought: 2,
    byStatus: { new: 0, contacted: 0, appointment: 0, quoted: 0, won_job: 1, lost_job: 1 },
    closeRate: 0.5,
    jobValue: 12000,
    byCampaign: { [campaign.id]: { bought: 2, won: 1, lost: 1, closeRate: 0.5 } },
  });
  expect((await h.http.get('/v1/me/wallet').set(bearer(owner.apiKey))).body.balance).toBe(balance);
});

test('a low-balance alert fires once when the balance crosses the threshold, again only after a top-up above it', async () => {
  const { agency, adminKey } = await apiAgency(h);
  const path = `/low-${unique('b')}`;
  const b = await buyerWith(
    adminKey,
    { delivery: { webhookUrl: `${hookUrl}${path}` }, alerts: { channels: ['webhook'] }, lowBalanceThreshold: 50 },
    100,
  );
  const charge = (amount: number, n: number) =>
    postLedgerEntry(h.database.db, {
      buyerId: b.id,
      agencyId: agency.id,
      kind: 'charge',
      amount: -amount,
      idempotencyKey: `test-charge:${b.id}:${n}`,
    });
  const lows = () => received.filter((r) => r.path === path);

  await charge(30, 1); // 70: above
  await charge(30, 2); // 40: crossed
  await charge(30, 3); // 10: still below, no second alert
  await eventually(async () => lows().length >= 1, 10_000, 'the low-balance alert');
  await sleep(500);
  expect(lows()).toHaveLength(1);
  expect(JSON.parse(lows()[0]!.body)).toMatchObject({ type: 'balance.low', balance: 40, threshold: 50 });
  const me = await h.http.get('/v1/me').set(bearer(b.apiKey));
  expect(me.body.buyer).toMatchObject({ balance: 10, lowBalanceThreshold: 50, lowBalance: true });

  // A top-up that stays below does not re-arm; one above does; the next crossing alerts again.
  await h.http.post(`/v1/buyers/${b.id}/credits`).set(bearer(adminKey)).send({ amount: 20 }); // 30
  await charge(10, 4); // 20
  await h.http.post(`/v1/buyers/${b.id}/credits`).set(bearer(adminKey)).send({ amount: 80 }); // 100: re-armed
  expect(
    (
      await h.database.db
        .select({ armed: buyersTable.lowBalanceArmed })
        .from(buyersTable)
        .where(eq(buyersTable.id, b.id))
    )[0]!.armed,
  ).toBe(true);
  await charge(60, 5); // 40: crossed again
  await eventually(async () => lows().length >= 2, 10_000, 'the second low-balance alert');
  await sleep(500);
  expect(lows()).toHaveLength(2);
  expect((await listBuyerAlerts(h.database.db, b.id)).map((a) => [a.kind, a.status])).toEqual([
    ['low_balance', 'sent'],
    ['low_balance', 'sent'],
  ]);
});

test('an alert to a buyer on payload version 2 comes as {type, timestamp, data}, as the document declares', async () => {
  const { agency, adminKey } = await apiAgency(h);
  const path = `/low-v2-${unique('b')}`;
  const b = await buyerWith(
    adminKey,
    {
      delivery: { webhookUrl: `${hookUrl}${path}`, payloadVersion: 2 },
      alerts: { channels: ['webhook'] },
      lowBalanceThreshold: 50,
    },
    100,
  );
  await postLedgerEntry(h.database.db, {
    buyerId: b.id,
    agencyId: agency.id,
    kind: 'charge',
    amount: -60,
    idempotencyKey: `test-charge:${b.id}:v2`,
  });
  await eventually(async () => received.some((r) => r.path === path), 10_000, 'the low-balance alert');
  const body = JSON.parse(received.find((r) => r.path === path)!.body) as Record<string, unknown>;
  expect(body).toEqual({ type: 'balance.low', timestamp: expect.any(String), data: { balance: 40, threshold: 50 } });
  expect(BalanceLowV2.strict().safeParse(body).error).toBeUndefined();
});

test('bad input to every new route is a 400 naming the field, and nothing is stored', async () => {
  const { adminKey } = await apiAgency(h);
  const b = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60, buyerIds: [b.buyer.id] });
  const assignmentId = (
    await winOffer(h, b.apiKey, (await offerOfLead(h, (await apiLead(h, adminKey, campaign.id)).id)).id)
  ).assignmentId;
  const before = (await h.http.get(`/v1/buyers/${b.buyer.id}`).set(bearer(adminKey))).body.buyer;

  const cases: [string, () => Promise<{ status: number; body: { errors?: { path: string }[] } }>, string][] = [
    [
      'schedule time',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ schedule: { mon: [{ from: '9am', to: '17:00' }] } }),
      'schedule.mon.0.from',
    ],
    [
      'schedule order',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ schedule: { tue: [{ from: '17:00', to: '08:00' }] } }),
      'schedule.tue.0.to',
    ],
    [
      'schedule day',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ schedule: { funday: [] } }),
      'schedule.funday',
    ],
    [
      'pause end',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ pauses: [{ until: 'next monday' }] }),
      'pauses.0.until',
    ],
    [
      'filter field',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ filters: { match: 'all', rules: [{ field: 'shoeSize', op: 'equals', value: 9 }] } }),
      'filters.rules.0.field',
    ],
    [
      'filter op',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ filters: { match: 'all', rules: [{ field: 'zip', op: 'like', value: '9' }] } }),
      'filters.rules.0.op',
    ],
    [
      'filter range',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ filters: { match: 'any', rules: [{ field: 'answers.sqft', op: 'range' }] } }),
      'filters.rules.0.min',
    ],
    [
      'alert channel',
      () =>
        h.http
          .patch(`/v1/buyers/${b.buyer.id}`)
          .set(bearer(adminKey))
          .send({ alerts: { channels: ['pigeon'] } }),
      'alerts.channels.0',
    ],
    [
      'threshold',
      () => h.http.patch(`/v1/buyers/${b.buyer.id}`).set(bearer(adminKey)).send({ lowBalanceThreshold: -1 }),
      'lowBalanceThreshold',
    ],
    [
      'time zone',
      () => h.http.patch(`/v1/buyers/${b.buyer.id}`).set(bearer(adminKey)).send({ timeZone: 'Mars/Olympus' }),
      'timeZone',
    ],
    [
      'me quiet hours',
      () =>
        h.http
          .patch('/v1/me')
          .set(bearer(b.apiKey))
          .send({ alerts: { quietHours: { from: '22:00', to: 'late' } } }),
      'alerts.quietHours.to',
    ],
    [
      'price rule',
      () =>
        h.http
          .post(`/v1/campaigns/${campaign.id}/buyer-prices`)
          .set(bearer(adminKey))
          .send({ buyerId: b.buyer.id, rule: { kind: 'percent', value: 5000 } }),
      'rule.value',
    ],
    [
      'price kind',
      () =>
        h.http
          .post(`/v1/campaigns/${campaign.id}/buyer-prices`)
          .set(bearer(adminKey))
          .send({ buyerId: b.buyer.id, rule: { kind: 'free', value: 1 } }),
      'rule.kind',
    ],
    [
      'price buyer',
      () =>
        h.http
          .post(`/v1/campaigns/${campaign.id}/buyer-prices`)
          .set(bearer(adminKey))
          .send({ buyerId: '00000000-0000-4000-8000-000000000000', rule: null }),
      'buyerId',
    ],
    [
      'pipeline status',
      () => h.http.post(`/v1/me/leads/${assignmentId}/pipeline`).set(bearer(b.apiKey)).send({ status: 'sold' }),
      'status',
    ],
    [
      'pipeline value',
      () =>
        h.http
          .post(`/v1/me/leads/${assignmentId}/pipeline`)
          .set(bearer(b.apiKey))
          .send({ status: 'won_job', jobValue: -5 }),
      'jobValue',
    ],
    [
      'pipeline id',
      () => h.http.post('/v1/me/leads/not-an-id/pipeline').set(bearer(b.apiKey)).send({ status: 'contacted' }),
      'id',
    ],
    ['pipeline read id', () => h.http.get('/v1/me/leads/not-an-id/pipeline').set(bearer(b.apiKey)), 'id'],
    ['prices id', () => h.http.get('/v1/campaigns/nope/buyer-prices').set(bearer(adminKey)), 'id'],
  ];
  for (const [name, call, path] of cases) {
    const res = await call();
    expect([name, res.status]).toEqual([name, 400]);
    expect([name, (res.body.errors ?? []).map((e) => e.path)]).toEqual([name, expect.arrayContaining([path])]);
  }
  const after = (await h.http.get(`/v1/buyers/${b.buyer.id}`).set(bearer(adminKey))).body.buyer;
  expect({ ...after, updatedAt: null }).toEqual({ ...before, updatedAt: null });
  expect(
    await h.database.db.select().from(campaignBuyerPrices).where(eq(campaignBuyerPrices.campaignId, campaign.id)),
  ).toEqual([]);
  expect(
    await h.database.db.select().from(pipelineChanges).where(eq(pipelineChanges.assignmentId, assignmentId)),
  ).toEqual([]);
});
