/**
 * A buyer's card on file and auto-recharge settings (#21): the card is saved on Stripe's hosted page (setup-mode
 * Checkout for the buyer's one Stripe Customer) and stored only from the signed webhook, whose SetupIntent and
 * payment method are read through the SDK; settings stay within the agency's limits and need a card.
 * Stripe is stripe-mock behind the recording proxy, with a small server in between that answers the SetupIntents
 * of this file (stripe-mock's are stateless and carry no payment method).
 */
import { eq } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import { billingOf } from '../../db/billing';
import { savePaymentSettings } from '../../db/payments';
import { buyerBilling, rechargeRequests } from '../../db/schema';
import { bearer } from '../../packages/client';
import {
  deliver,
  type LocalServer,
  newId,
  type RecordingProxy,
  signedDelivery,
  startRecordingProxy,
  startStripeMock,
  STRIPE_MOCK_KEY,
  stripeEvent,
} from '../helpers/stripe';
import { type SetupIntentServer, setupSession, startSetupIntentServer } from '../helpers/stripe-setup';
import { apiAgency, apiBuyer, type Harness, startHarness } from './harness';

const WEBHOOK_SECRET = 'whsec_test_billing_0123456789';
let h: Harness;
let mock: LocalServer;
let proxy: RecordingProxy;
let setupServer: SetupIntentServer;
const previousBase = process.env.LW_STRIPE_API_BASE;

beforeAll(async () => {
  mock = await startStripeMock();
  setupServer = await startSetupIntentServer(mock.url);
  proxy = await startRecordingProxy(setupServer.url);
  process.env.LW_STRIPE_API_BASE = proxy.url;
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await proxy?.stop();
  await setupServer?.stop();
  await mock?.stop();
  if (previousBase === undefined) delete process.env.LW_STRIPE_API_BASE;
  else process.env.LW_STRIPE_API_BASE = previousBase;
});

async function world(opts: { credits?: number; payments?: boolean } = {}) {
  const { agency, adminKey } = await apiAgency(h);
  const { buyer, apiKey } = await apiBuyer(h, adminKey, { credits: opts.credits ?? 100 });
  if (opts.payments !== false)
    await savePaymentSettings(
      h.database.db,
      agency.id,
      {
        secretKey: STRIPE_MOCK_KEY,
        webhookSecret: WEBHOOK_SECRET,
        currency: 'usd',
        creditPrice: 200,
        minCredits: 20,
        maxCredits: 500,
      },
      SYSTEM,
    );
  return { agencyId: agency.id, buyerId: buyer.id, key: apiKey };
}
type W = Awaited<ReturnType<typeof world>>;

const get = (w: W) => h.http.get('/v1/me/billing').set(bearer(w.key));
const saveCard = (w: W) => h.http.post('/v1/me/billing/card').set(bearer(w.key)).send({});
const setRecharge = (w: W, body: object) => h.http.put('/v1/me/billing/recharge').set(bearer(w.key)).send(body);

/** The setup-mode session Stripe reports completed for this buyer's customer, with a SetupIntent of `pm`. */
function setupCompleted(w: W, customer: string, pm = newId('pm')) {
  const session = setupSession(setupServer, w, customer, pm);
  return signedDelivery(stripeEvent('checkout.session.completed', session), WEBHOOK_SECRET);
}
const hook = (agencyId: string) => `${h.main.baseUrl}/v1/stripe/webhooks/${agencyId}`;

describe('saving a card', () => {
  test("a setup-mode Checkout for the buyer's one Stripe Customer; the card lands from the signed webhook", async () => {
    const w = await world();
    const before = await get(w).expect(200);
    expect(before.body.billing).toEqual({
      card: null,
      recharge: { enabled: false, threshold: null, credits: null, failures: 0, pausedReason: null, pausedAt: null },
      payments: { currency: 'usd', creditPrice: 200, minCredits: 20, maxCredits: 500 },
    });

    const first = await saveCard(w).expect(201);
    expect(first.body.url).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    const again = await saveCard(w).expect(201);
    expect(again.body.sessionId).toEqual(expect.any(String));
    // One Customer per buyer, made once under its own idempotency key.
    const customers = proxy.requests.filter((r) => r.path === '/v1/customers' && r.method === 'POST');
    expect(customers.filter((r) => r.form['metadata[leadwireBuyerId]'] === w.buyerId)).toHaveLength(1);
    expect(proxy.countByIdempotencyKey(`customer:${w.buyerId}`)).toBe(1);
    const customerId = (await billingOf(h.database.db, w.buyerId))!.stripeCustomerId!;
    const sessions = proxy.requests.filter(
      (r) => r.path === '/v1/checkout/sessions' && r.form['metadata[leadwireBuyerId]'] === w.buyerId,
    );
    expect(sessions).toHaveLength(2);
    expect(sessions[0]!.form).toMatchObject({ mode: 'setup', customer: customerId, currency: 'usd' });
    // Nothing stored before Stripe confirms it.
    expect((await get(w).expect(200)).body.billing.card).toBeNull();

    // A paused recharge resumes with the new card.
    await h.database.db
      .update(buyerBilling)
      .set({ rechargePausedReason: 'paused for the test', rechargePausedAt: new Date(), rechargeFailures: 3 })
      .where(eq(buyerBilling.buyerId, w.buyerId));
    const res = await deliver(hook(w.agencyId), setupCompleted(w, customerId));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: 'applied' });
    const after = (await get(w).expect(200)).body.billing;
    // stripe-mock's payment method: a visa ending 4242, 8/2030.
    expect(after.card).toEqual({ brand: 'visa', last4: '4242', exp: '08/2030' });
    expect(after.recharge).toMatchObject({ failures: 0, pausedReason: null, pausedAt: null });
  });

  test("a setup event for another customer, or sent to another agency's endpoint, stores nothing", async () => {
    const w = await world();
    const other = await world();
    await saveCard(w).expect(201);
    const customerId = (await billingOf(h.database.db, w.buyerId))!.stripeCustomerId!;
    const wrongCustomer = await deliver(hook(w.agencyId), setupCompleted(w, 'cus_somebody_else'));
    expect(wrongCustomer.status).toBe(422);
    expect(await wrongCustomer.json()).toMatchObject({ code: 'stripe_event_refused', reason: 'unknown_buyer' });
    // Agency `other` signs with the same test secret; its endpoint must still not touch w's buyer.
    const elsewhere = await deliver(hook(other.agencyId), setupCompleted(w, customerId));
    expect(elsewhere.status).toBe(422);
    expect((await get(w).expect(200)).body.billing.card).toBeNull();
  });

  test('removing the card turns auto-recharge off and detaches it at Stripe', async () => {
    const w = await world();
    await saveCard(w).expect(201);
    const customerId = (await billingOf(h.database.db, w.buyerId))!.stripeCustomerId!;
    const pm = newId('pm');
    await deliver(hook(w.agencyId), setupCompleted(w, customerId, pm));
    await setRecharge(w, { enabled: true, threshold: 10, credits: 50 }).expect(200);
    const res = await h.http.delete('/v1/me/billing/card').set(bearer(w.key)).expect(200);
    expect(res.body.billing.card).toBeNull();
    expect(res.body.billing.recharge.enabled).toBe(false);
    expect(proxy.requests.some((r) => r.method === 'POST' && r.path === `/v1/payment_methods/${pm}/detach`)).toBe(true);
  });

  test('an agency without card payments answers 409 payments_not_configured', async () => {
    const w = await world({ payments: false });
    const res = await saveCard(w).expect(409);
    expect(res.body.code).toBe('payments_not_configured');
    expect((await get(w).expect(200)).body.billing.payments).toBeNull();
  });
});

describe('auto-recharge settings', () => {
  test("need a saved card, stay within the agency's limits, and start at once below the threshold", async () => {
    const w = await world({ credits: 30 });
    const noCard = await setRecharge(w, { enabled: true, threshold: 50, credits: 100 }).expect(409);
    expect(noCard.body.code).toBe('no_saved_card');
    // Off with no card is fine (the buyer prepares the numbers).
    await setRecharge(w, { enabled: false, threshold: 50, credits: 100 }).expect(200);

    await saveCard(w).expect(201);
    const customerId = (await billingOf(h.database.db, w.buyerId))!.stripeCustomerId!;
    await deliver(hook(w.agencyId), setupCompleted(w, customerId));

    const tooMany = await setRecharge(w, { enabled: true, threshold: 50, credits: 501 }).expect(400);
    expect(tooMany.body.errors).toEqual([expect.objectContaining({ path: 'credits' })]);
    await setRecharge(w, { enabled: true, threshold: 50, credits: 19 }).expect(400);
    await setRecharge(w, { enabled: true, threshold: -1, credits: 100 }).expect(400);
    await setRecharge(w, { enabled: true, threshold: 50, credits: 100, extra: 1 }).expect(400);

    // The balance (30) is already below 50: a recharge is asked for now, once.
    const ok = await setRecharge(w, { enabled: true, threshold: 50, credits: 100 }).expect(200);
    expect(ok.body.billing.recharge).toMatchObject({ enabled: true, threshold: 50, credits: 100 });
    await setRecharge(w, { enabled: true, threshold: 50, credits: 100 }).expect(200);
    const requests = await h.database.db.select().from(rechargeRequests).where(eq(rechargeRequests.buyerId, w.buyerId));
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ balance: 30, agencyId: w.agencyId });
  });
});
