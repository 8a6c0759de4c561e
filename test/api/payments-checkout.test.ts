/**
 * Card top-ups through Stripe Checkout (#21 items 1 and 2), against stripe-mock (Stripe's official mock of its
 * API) behind the recording proxy: the agency's Stripe settings and "test connection" (secrets never come back,
 * nor reach a log or the audit log), a buyer's checkout route (bounds, the pending payment first, the session
 * carrying the payment's ids), and the credits landing only by the signed webhook – before or after the browser
 * comes back, once across an API restart.
 */
import { and, eq } from 'drizzle-orm';

import { createApiKey } from '../../db/keys';
import { walletBalance } from '../../db/ledger';
import { paymentById } from '../../db/payments';
import { auditLog, ledgerEntries } from '../../db/schema';
import { stripeLedgerKey } from '../../domain/payments';
import {
  checkoutSession,
  deliver,
  type LocalServer,
  newId,
  paymentIntent,
  type RecordingProxy,
  signedDelivery,
  startRecordingProxy,
  startStripeMock,
  STRIPE_MOCK_KEY,
  stripeEvent,
} from '../helpers/stripe';
import { runDocWalkthrough } from './doc-examples';
import { apiAgency, apiBuyer, type ApiInstance, bearer, type Harness, startHarness } from './harness';

const PUBLIC_URL = 'https://leads.example.com';
const WEBHOOK_SECRET = 'whsec_checkoutTestSecret0123456789';
const SETTINGS = { currency: 'usd', creditPrice: 250, minCredits: 10, maxCredits: 500 };

let h: Harness;
let mock: LocalServer;
let proxy: RecordingProxy;
let logged: ApiInstance;
const lines: string[] = [];
const capture = (...args: unknown[]) => {
  lines.push(
    args
      .map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a)))
      .join(' '),
  );
};
const savedBase = process.env.LW_STRIPE_API_BASE;

beforeAll(async () => {
  mock = await startStripeMock();
  proxy = await startRecordingProxy(mock.url);
  // lib/config `setting()` reads the environment at each call: the API's Stripe client goes to the proxy.
  process.env.LW_STRIPE_API_BASE = proxy.url;
  h = await startHarness({ api: { publicUrl: PUBLIC_URL } });
  logged = await h.startInstance({
    logger: { error: capture, warn: capture },
    requestLogger: { info: capture, warn: capture },
  });
});
afterAll(async () => {
  await h?.close();
  await proxy?.stop();
  await mock?.stop();
  if (savedBase === undefined) delete process.env.LW_STRIPE_API_BASE;
  else process.env.LW_STRIPE_API_BASE = savedBase;
});

async function ownerKeyOf(agencyId: string) {
  return (await createApiKey(h.database.db, { kind: 'admin', agencyId, role: 'owner' })).key;
}

/** An agency with card payments (through the API, as its owner) and a buyer of it. */
async function world(settings: Partial<typeof SETTINGS> = {}) {
  const { agency, adminKey } = await apiAgency(h);
  const ownerKey = await ownerKeyOf(agency.id);
  const put = await h.http
    .put('/v1/payments/settings')
    .set(bearer(ownerKey))
    .send({ secretKey: STRIPE_MOCK_KEY, webhookSecret: WEBHOOK_SECRET, ...SETTINGS, ...settings });
  expect(put.status).toBe(200);
  const { buyer, apiKey: buyerKey } = await apiBuyer(h, adminKey);
  return { agency, adminKey, ownerKey, buyer, buyerKey };
}

const webhookUrl = (on: { baseUrl: string }, agencyId: string) => `${on.baseUrl}/v1/stripe/webhooks/${agencyId}`;

async function topUps(buyerId: string) {
  return h.database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.buyerId, buyerId), eq(ledgerEntries.kind, 'top_up')));
}

/** The `checkout.session.completed` Stripe sends for a session the checkout route created. */
function completed(p: { paymentId: string; sessionId: string; amount: number; buyerId: string; agencyId: string }) {
  const pi = newId('pi');
  return {
    pi,
    event: stripeEvent(
      'checkout.session.completed',
      checkoutSession({
        id: p.sessionId,
        amountTotal: p.amount,
        clientReferenceId: p.paymentId,
        paymentIntent: pi,
        metadata: { leadwirePaymentId: p.paymentId, leadwireBuyerId: p.buyerId, leadwireAgencyId: p.agencyId },
      }),
    ),
  };
}

describe('the agency’s Stripe settings', () => {
  test('owners set them, owners and admins read them, the secrets never come back; test connection reads the account', async () => {
    const { agency, adminKey } = await apiAgency(h);
    const ownerKey = await ownerKeyOf(agency.id);
    const analystKey = (await createApiKey(h.database.db, { kind: 'admin', agencyId: agency.id, role: 'analyst' })).key;

    expect((await h.http.get('/v1/payments/settings').set(bearer(adminKey))).body).toEqual({ settings: null });
    const untested = await h.http.post('/v1/payments/settings/test').set(bearer(ownerKey));
    expect(untested.status).toBe(404);
    expect(untested.body.code).toBe('payments_not_configured');

    // The first save needs both secrets, and names the missing one.
    const first = await h.http.put('/v1/payments/settings').set(bearer(ownerKey)).send(SETTINGS);
    expect(first.status).toBe(400);
    expect(first.body.errors.map((e: { path: string }) => e.path)).toEqual(['secretKey']);

    // Shapes refused, naming the field.
    for (const [body, field] of [
      [{ secretKey: 'pk_test_publishable', webhookSecret: WEBHOOK_SECRET }, 'secretKey'],
      [{ secretKey: STRIPE_MOCK_KEY, webhookSecret: 'not-a-secret' }, 'webhookSecret'],
      [{ secretKey: STRIPE_MOCK_KEY, webhookSecret: WEBHOOK_SECRET, currency: 'USD' }, 'currency'],
      [{ secretKey: STRIPE_MOCK_KEY, webhookSecret: WEBHOOK_SECRET, creditPrice: 0 }, 'creditPrice'],
      [{ secretKey: STRIPE_MOCK_KEY, webhookSecret: WEBHOOK_SECRET, creditPrice: 2.5 }, 'creditPrice'],
      [{ secretKey: STRIPE_MOCK_KEY, webhookSecret: WEBHOOK_SECRET, minCredits: 600 }, 'maxCredits'],
    ] as const) {
      const res = await h.http
        .put('/v1/payments/settings')
        .set(bearer(ownerKey))
        .send({ ...SETTINGS, ...body });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }

    // An admin (not an owner) may not change them.
    const byAdmin = await h.http
      .put('/v1/payments/settings')
      .set(bearer(adminKey))
      .send({ secretKey: STRIPE_MOCK_KEY, webhookSecret: WEBHOOK_SECRET, ...SETTINGS });
    expect(byAdmin.status).toBe(403);

    const saved = await h.http
      .put('/v1/payments/settings')
      .set(bearer(ownerKey))
      .send({ secretKey: STRIPE_MOCK_KEY, webhookSecret: WEBHOOK_SECRET, ...SETTINGS });
    expect(saved.status).toBe(200);
    expect(saved.body.settings).toMatchObject({
      ...SETTINGS,
      rechargeMaxFailures: 3,
      stripeAccountId: null,
      secretKeyHint: `sk_test_…${STRIPE_MOCK_KEY.slice(-4)}`,
      mode: 'test',
      webhookUrl: `${PUBLIC_URL}/v1/stripe/webhooks/${agency.id}`,
    });

    // Test connection: the SDK reads the account the key belongs to, through the proxy to stripe-mock.
    const before = proxy.requests.length;
    const tested = await h.http.post('/v1/payments/settings/test').set(bearer(adminKey));
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({ ok: true, error: null });
    expect(tested.body.accountId).toMatch(/^acct_/);
    expect(proxy.requests.slice(before)).toEqual([
      expect.objectContaining({ method: 'GET', path: '/v1/account', status: 200 }),
    ]);
    // Owners and admins read them; an analyst does not.
    expect((await h.http.get('/v1/payments/settings').set(bearer(analystKey))).status).toBe(403);
    const read = await h.http.get('/v1/payments/settings').set(bearer(adminKey));
    expect(read.status).toBe(200);
    expect(read.body.settings.stripeAccountId).toBe(tested.body.accountId);

    // Omitting the secrets keeps them; the price changes.
    const repriced = await h.http
      .put('/v1/payments/settings')
      .set(bearer(ownerKey))
      .send({ ...SETTINGS, creditPrice: 300 });
    expect(repriced.status).toBe(200);
    expect(repriced.body.settings).toMatchObject({ creditPrice: 300, stripeAccountId: tested.body.accountId });
  });

  test('a key Stripe refuses: test connection answers Stripe’s message; no secret in any answer, log line or audit entry', async () => {
    const { agency } = await apiAgency(h);
    const ownerKey = await ownerKeyOf(agency.id);
    // stripe-mock refuses a key that is not exactly three parts (sk_test_<one part>) with a 401.
    const badKey = 'sk_test_refusedKey_leakcheck9876';
    const hookSecret = 'whsec_leakcheck_5544332211';
    const answers: string[] = [];
    const keep = (res: { status: number; text: string }) => {
      answers.push(res.text);
      return res;
    };
    const http = logged.http;
    expect(
      keep(
        await http
          .put('/v1/payments/settings')
          .set(bearer(ownerKey))
          .send({ secretKey: badKey, webhookSecret: hookSecret, ...SETTINGS }),
      ).status,
    ).toBe(200);
    const tested = keep(await http.post('/v1/payments/settings/test').set(bearer(ownerKey)));
    expect(tested.status).toBe(200);
    const body = JSON.parse(tested.text);
    expect(body).toMatchObject({ ok: false, accountId: null });
    expect(body.error).toEqual(expect.any(String));
    expect(body.error.length).toBeGreaterThan(0);
    keep(await http.get('/v1/payments/settings').set(bearer(ownerKey)));
    keep(await http.get('/v1/audit-log').set(bearer(ownerKey)));
    // A second key replacing the first, and a bad body carrying a secret.
    const secondKey = 'sk_live_secondLeakCheck1234';
    keep(
      await http
        .put('/v1/payments/settings')
        .set(bearer(ownerKey))
        .send({ secretKey: secondKey, webhookSecret: hookSecret, ...SETTINGS }),
    );
    keep(
      await http
        .put('/v1/payments/settings')
        .set(bearer(ownerKey))
        .send({ secretKey: secondKey, ...SETTINGS, currency: 'not a currency' }),
    );
    expect((await http.get('/v1/payments/settings').set(bearer(ownerKey))).body.settings).toMatchObject({
      mode: 'live',
      secretKeyHint: 'sk_live_…1234',
      stripeAccountId: null,
    });

    const audit = await h.database.db.select().from(auditLog).where(eq(auditLog.agencyId, agency.id));
    expect(audit.filter((a) => a.objectType === 'payment_settings')).toHaveLength(2);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).toContain('test connection failed');
    const everything = [...answers, ...lines, JSON.stringify(audit)].join('\n');
    for (const secret of [badKey, hookSecret, secondKey]) expect(everything).not.toContain(secret);
  });
});

describe('a buyer’s top-up by card', () => {
  test('options, and bad amounts refused naming the field; members and agencies without payments refused', async () => {
    const { agency: bare, adminKey: bareAdmin } = await apiAgency(h);
    const { apiKey: bareBuyer } = await apiBuyer(h, bareAdmin);
    expect((await h.http.get('/v1/me/payments/options').set(bearer(bareBuyer))).body).toEqual({
      enabled: false,
      currency: null,
      creditPrice: null,
      minCredits: null,
      maxCredits: null,
    });
    const nowhere = await h.http.post('/v1/me/payments/checkout').set(bearer(bareBuyer)).send({ credits: 20 });
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.code).toBe('payments_not_configured');
    expect(bare.id).toBeTruthy();

    const { agency, buyer, buyerKey } = await world();
    expect((await h.http.get('/v1/me/payments/options').set(bearer(buyerKey))).body).toEqual({
      enabled: true,
      ...SETTINGS,
    });
    const before = proxy.requests.length;
    for (const [body, field] of [
      [{ credits: 9 }, 'credits'],
      [{ credits: 501 }, 'credits'],
      [{ credits: -20 }, 'credits'],
      [{ credits: 0 }, 'credits'],
      [{ credits: 20.5 }, 'credits'],
      [{ credits: '20' }, 'credits'],
      [{}, 'credits'],
      [{ credits: 20, currency: 'eur' }, 'currency'],
      [{ credits: 20, amount: 5000 }, 'amount'],
    ] as const) {
      const res = await h.http.post('/v1/me/payments/checkout').set(bearer(buyerKey)).send(body);
      expect([JSON.stringify(body), res.status, res.headers['content-type']]).toEqual([
        JSON.stringify(body),
        400,
        expect.stringContaining('application/problem+json'),
      ]);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([field]);
    }
    // Nothing was asked of Stripe, and no payment written.
    expect(proxy.requests.length).toBe(before);
    expect((await h.http.get('/v1/me/payments').set(bearer(buyerKey))).body.payments).toEqual([]);

    const member = (
      await createApiKey(h.database.db, { kind: 'buyer', agencyId: agency.id, buyerId: buyer.id, role: 'member' })
    ).key;
    expect((await h.http.post('/v1/me/payments/checkout').set(bearer(member)).send({ credits: 20 })).status).toBe(403);
    expect((await h.http.get('/v1/me/payments/options').set(bearer(member))).status).toBe(200);
    expect((await h.http.get('/v1/me/payments').set(bearer(member))).status).toBe(200);
  });

  test('the whole path: checkout route → Stripe session → the browser back (nothing) → signed webhook → balance', async () => {
    const { agency, buyer, buyerKey } = await world();
    const before = proxy.requests.length;
    const started = await h.http
      .post('/v1/me/payments/checkout')
      .set(bearer(buyerKey))
      .send({ credits: 40, currency: 'usd' });
    expect(started.status).toBe(201);
    const { paymentId, url } = started.body;
    expect(url).toMatch(/^https:\/\/checkout\.stripe\.com\//);

    // One request to Stripe: the session, carrying the payment's ids.
    const sent = proxy.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      method: 'POST',
      path: '/v1/checkout/sessions',
      status: 200,
      idempotencyKey: expect.stringContaining(paymentId),
    });
    const successUrl = `${PUBLIC_URL}/?checkout=success&payment=${paymentId}#wallet`;
    expect(sent[0]!.form).toEqual({
      mode: 'payment',
      'line_items[0][quantity]': '40',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][unit_amount]': '250',
      'line_items[0][price_data][product_data][name]': 'Lead credits',
      client_reference_id: paymentId,
      'metadata[leadwirePaymentId]': paymentId,
      'metadata[leadwireBuyerId]': buyer.id,
      'metadata[leadwireAgencyId]': agency.id,
      'payment_intent_data[metadata][leadwirePaymentId]': paymentId,
      'payment_intent_data[metadata][leadwireBuyerId]': buyer.id,
      'payment_intent_data[metadata][leadwireAgencyId]': agency.id,
      success_url: successUrl,
      cancel_url: `${PUBLIC_URL}/?checkout=cancel&payment=${paymentId}#wallet`,
    });
    const payment = (await paymentById(h.database.db, paymentId))!;
    expect(payment).toMatchObject({
      status: 'pending',
      kind: 'checkout',
      credits: 40,
      creditPrice: 250,
      amount: 10_000,
      currency: 'usd',
      buyerId: buyer.id,
    });
    expect(payment.stripeCheckoutSessionId).toMatch(/^cs_/);

    // The browser comes back to the success URL (the page, whatever the query says): nothing is credited.
    const back = new URL(successUrl);
    await h.http.get(`${back.pathname}${back.search}`);
    await h.http.get('/v1/me/wallet').query({ checkout: 'success', payment: paymentId }).set(bearer(buyerKey));
    expect(await walletBalance(h.database.db, buyer.id)).toBe(0);
    expect((await paymentById(h.database.db, paymentId))!.status).toBe('pending');

    // Stripe's signed webhook credits it.
    const { pi, event } = completed({
      paymentId,
      sessionId: payment.stripeCheckoutSessionId!,
      amount: 10_000,
      buyerId: buyer.id,
      agencyId: agency.id,
    });
    const res = await deliver(webhookUrl(h.main, agency.id), signedDelivery(event, WEBHOOK_SECRET));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, outcome: 'applied' });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(40);
    const wallet = await h.http.get('/v1/me/wallet').set(bearer(buyerKey));
    expect(wallet.body.balance).toBe(40);
    const list = await h.http.get('/v1/me/payments').set(bearer(buyerKey));
    expect(list.body.payments).toEqual([
      expect.objectContaining({ id: paymentId, status: 'succeeded', credits: 40, amount: 10_000, currency: 'usd' }),
    ]);
    expect(await topUps(buyer.id)).toEqual([
      expect.objectContaining({ amount: 40, idempotencyKey: stripeLedgerKey.payment(pi) }),
    ]);
  });

  test('the webhook arriving before the browser comes back credits once; the redirect adds nothing', async () => {
    const { agency, buyer, buyerKey } = await world({ creditPrice: 100 });
    const started = await h.http.post('/v1/me/payments/checkout').set(bearer(buyerKey)).send({ credits: 15 });
    expect(started.status).toBe(201);
    const { paymentId } = started.body;
    const payment = (await paymentById(h.database.db, paymentId))!;
    const { pi, event } = completed({
      paymentId,
      sessionId: payment.stripeCheckoutSessionId!,
      amount: 1500,
      buyerId: buyer.id,
      agencyId: agency.id,
    });
    // payment_intent.succeeded first, then the session: one credit.
    const intent = stripeEvent(
      'payment_intent.succeeded',
      paymentIntent({
        id: pi,
        amount: 1500,
        status: 'succeeded',
        metadata: { leadwirePaymentId: paymentId, leadwireBuyerId: buyer.id, leadwireAgencyId: agency.id },
      }),
    );
    expect((await deliver(webhookUrl(h.main, agency.id), signedDelivery(intent, WEBHOOK_SECRET))).status).toBe(200);
    expect((await deliver(webhookUrl(h.main, agency.id), signedDelivery(event, WEBHOOK_SECRET))).status).toBe(200);
    expect(await walletBalance(h.database.db, buyer.id)).toBe(15);
    await h.http.get(`/?checkout=success&payment=${paymentId}`);
    expect(await walletBalance(h.database.db, buyer.id)).toBe(15);
    expect(await topUps(buyer.id)).toHaveLength(1);
  });

  test('the same webhook twice across an API restart: credited once', async () => {
    const { agency, buyer, buyerKey } = await world();
    const started = await h.http.post('/v1/me/payments/checkout').set(bearer(buyerKey)).send({ credits: 10 });
    expect(started.status).toBe(201);
    const { paymentId } = started.body;
    const payment = (await paymentById(h.database.db, paymentId))!;
    const { event } = completed({
      paymentId,
      sessionId: payment.stripeCheckoutSessionId!,
      amount: 2500,
      buyerId: buyer.id,
      agencyId: agency.id,
    });
    const first = await h.startInstance();
    const a = await deliver(webhookUrl(first, agency.id), signedDelivery(event, WEBHOOK_SECRET));
    expect(await a.json()).toEqual({ received: true, outcome: 'applied' });
    await first.close();
    const second = await h.startInstance();
    const b = await deliver(webhookUrl(second, agency.id), signedDelivery(event, WEBHOOK_SECRET));
    expect(b.status).toBe(200);
    expect(await b.json()).toEqual({ received: true, outcome: 'duplicate' });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(10);
    expect(await topUps(buyer.id)).toHaveLength(1);
    await second.close();
  });
});

test("docs/payments.md's top-up walkthrough runs as written", async () => {
  const { buyer, buyerKey } = await world();
  const out = await runDocWalkthrough('docs/payments.md', 'top-up', { LW: h.main.baseUrl, KEY: buyerKey });
  expect(out).toEqual(['usd 250 10-500', 'true', 'credits', 'pending 100 250.00 USD']);
  expect(await walletBalance(h.database.db, buyer.id)).toBe(0);
});
