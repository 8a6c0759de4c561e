/**
 * The Stripe webhook receiver and the payments foundation (#21): a signed event credits a payment exactly once,
 * whatever arrives twice, concurrently or in the other order; anything that does not check out moves nothing.
 */
import { and, eq } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import { walletBalance } from '../../db/ledger';
import { createPayment, paymentById, savePaymentSettings } from '../../db/payments';
import { ledgerEntries, stripeEvents } from '../../db/schema';
import { stripeLedgerKey } from '../../domain/payments';
import { checkoutSession, paymentIntent, signedDelivery, stripeEvent, type StripeEventObject } from '../helpers/stripe';
import { apiAgency, apiBuyer, type Harness, startHarness } from './harness';

const WEBHOOK_SECRET = 'whsec_test_foundation_0123456789';
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Delivers an event as Stripe would: its exact bytes, signed by the SDK's own test header (test/helpers/stripe.ts). */
function deliver(agencyId: string, evt: StripeEventObject, opts: { secret?: string; timestamp?: number } = {}) {
  const d = signedDelivery(evt, opts.secret ?? WEBHOOK_SECRET, opts);
  return h.http.post(`/v1/stripe/webhooks/${agencyId}`).set(d.headers).send(d.body);
}

async function paymentWorld(credits = 50, creditPrice = 250) {
  const { agency, adminKey } = await apiAgency(h);
  const { buyer } = await apiBuyer(h, adminKey);
  await savePaymentSettings(
    h.database.db,
    agency.id,
    {
      secretKey: 'sk_test_foundation',
      webhookSecret: WEBHOOK_SECRET,
      currency: 'usd',
      creditPrice,
      minCredits: 10,
      maxCredits: 1000,
    },
    SYSTEM,
  );
  const payment = await createPayment(h.database.db, {
    agencyId: agency.id,
    buyerId: buyer.id,
    kind: 'checkout',
    credits,
    creditPrice,
    currency: 'usd',
    stripeCheckoutSessionId: `cs_test_${payment_seq++}`,
  });
  return { agency, buyer, payment };
}
let payment_seq = Date.now();

function completedSession(p: { id: string; amount: number; stripeCheckoutSessionId: string | null }, pi: string) {
  return checkoutSession({
    id: p.stripeCheckoutSessionId!,
    amountTotal: p.amount,
    clientReferenceId: p.id,
    metadata: { leadwirePaymentId: p.id },
    paymentIntent: pi,
  });
}

async function creditsOf(buyerId: string) {
  return h.database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.buyerId, buyerId), eq(ledgerEntries.kind, 'top_up')));
}

test('a signed checkout.session.completed credits the payment once, even delivered twenty times at once', async () => {
  const { agency, buyer, payment } = await paymentWorld(40, 250);
  expect(payment.amount).toBe(10_000);
  const evt = stripeEvent('checkout.session.completed', completedSession(payment, 'pi_foundation_1'));
  const answers = await Promise.all(Array.from({ length: 20 }, () => deliver(agency.id, evt)));
  expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
  expect(answers.filter((a) => a.body.outcome === 'applied').length).toBeGreaterThanOrEqual(1);
  const entries = await creditsOf(buyer.id);
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ amount: 40, idempotencyKey: stripeLedgerKey.payment('pi_foundation_1') });
  expect(await walletBalance(h.database.db, buyer.id)).toBe(40);
  expect(await paymentById(h.database.db, payment.id)).toMatchObject({
    status: 'succeeded',
    stripePaymentIntentId: 'pi_foundation_1',
  });

  // The other event of the same payment, and the first again later: nothing more.
  const pi = stripeEvent(
    'payment_intent.succeeded',
    paymentIntent({ id: 'pi_foundation_1', amount: 10_000, metadata: { leadwirePaymentId: payment.id } }),
  );
  expect((await deliver(agency.id, pi)).body).toEqual({ received: true, outcome: 'applied' });
  expect((await deliver(agency.id, evt)).body).toEqual({ received: true, outcome: 'duplicate' });
  // The payment intent's event carried its charge: the card and the receipt are kept for statements.
  expect(await paymentById(h.database.db, payment.id)).toMatchObject({
    cardBrand: expect.any(String),
    cardLast4: expect.stringMatching(/^\d{4}$/),
    receiptUrl: expect.stringMatching(/^https:/),
  });
  expect(await creditsOf(buyer.id)).toHaveLength(1);
  expect(await walletBalance(h.database.db, buyer.id)).toBe(40);
});

test('payment_intent.succeeded before checkout.session.completed credits once too', async () => {
  const { agency, buyer, payment } = await paymentWorld(12, 100);
  const pi = stripeEvent(
    'payment_intent.succeeded',
    paymentIntent({ id: 'pi_foundation_2', amount: 1200, metadata: { leadwirePaymentId: payment.id } }),
  );
  expect((await deliver(agency.id, pi)).body.outcome).toBe('applied');
  const cs = stripeEvent('checkout.session.completed', completedSession(payment, 'pi_foundation_2'));
  expect((await deliver(agency.id, cs)).body.outcome).toBe('applied');
  expect(await creditsOf(buyer.id)).toHaveLength(1);
  expect(await walletBalance(h.database.db, buyer.id)).toBe(12);
});

test('a bad signature, a stale timestamp, an agency without payments: refused, nothing credited', async () => {
  const { agency, buyer, payment } = await paymentWorld();
  const evt = stripeEvent('checkout.session.completed', completedSession(payment, 'pi_foundation_3'));

  const forged = await deliver(agency.id, evt, { secret: 'whsec_someone_else' });
  expect(forged.status).toBe(400);
  expect(forged.body.code).toBe('stripe_signature_invalid');

  const stale = await deliver(agency.id, evt, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
  expect(stale.status).toBe(400);
  expect(stale.body.code).toBe('stripe_signature_invalid');

  // A body changed after signing.
  const signed = signedDelivery(evt, WEBHOOK_SECRET);
  expect(signed.body).toContain(`"amount_total": ${payment.amount}`);
  const tampered = await h.http
    .post(`/v1/stripe/webhooks/${agency.id}`)
    .set(signed.headers)
    .send(signed.body.replace(`"amount_total": ${payment.amount}`, '"amount_total": 1'));
  expect(tampered.status).toBe(400);

  const unsigned = await h.http
    .post(`/v1/stripe/webhooks/${agency.id}`)
    .set('Content-Type', 'application/json')
    .send(signed.body);
  expect(unsigned.status).toBe(400);

  const { agency: other } = await apiAgency(h);
  const nowhere = await deliver(other.id, evt);
  expect(nowhere.status).toBe(404);
  expect(nowhere.body.code).toBe('payments_not_configured');

  expect(await creditsOf(buyer.id)).toHaveLength(0);
  expect(await paymentById(h.database.db, payment.id)).toMatchObject({ status: 'pending' });
});

test('an event for another amount, currency or account is refused (422) and credits nothing', async () => {
  const { agency, buyer, payment } = await paymentWorld(50, 100);
  const wrongAmount = stripeEvent('checkout.session.completed', {
    ...completedSession(payment, 'pi_foundation_4'),
    amount_total: 1,
  });
  const a = await deliver(agency.id, wrongAmount);
  expect(a.status).toBe(422);
  expect(a.body).toMatchObject({ code: 'stripe_event_refused', reason: 'amount_mismatch' });

  const wrongCurrency = stripeEvent('checkout.session.completed', {
    ...completedSession(payment, 'pi_foundation_4'),
    currency: 'eur',
  });
  expect((await deliver(agency.id, wrongCurrency)).body.reason).toBe('currency_mismatch');

  const unknown = stripeEvent('payment_intent.succeeded', paymentIntent({ amount: 5000 }));
  expect((await deliver(agency.id, unknown)).body.reason).toBe('unknown_payment');

  await h.database.db.execute(
    `UPDATE agency_payment_settings SET stripe_account_id = 'acct_agency' WHERE agency_id = '${agency.id}'` as never,
  );
  const foreign = stripeEvent('checkout.session.completed', completedSession(payment, 'pi_foundation_4'), {
    account: 'acct_stranger',
  });
  expect((await deliver(agency.id, foreign)).body.reason).toBe('unknown_account');

  expect(await creditsOf(buyer.id)).toHaveLength(0);
  const refused = await h.database.db.select().from(stripeEvents).where(eq(stripeEvents.agencyId, agency.id));
  expect(refused.map((r) => r.outcome)).toEqual(['refused', 'refused', 'refused', 'refused']);

  // The right event still credits afterwards.
  const right = stripeEvent('checkout.session.completed', completedSession(payment, 'pi_foundation_4'), {
    account: 'acct_agency',
  });
  expect((await deliver(agency.id, right)).body.outcome).toBe('applied');
  expect(await walletBalance(h.database.db, buyer.id)).toBe(50);
});

test('an event type without a handler is acknowledged as ignored; a non-event body is a 400', async () => {
  const { agency } = await paymentWorld();
  const r = await deliver(agency.id, stripeEvent('customer.created', { id: 'cus_1', object: 'customer' }));
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ received: true, outcome: 'ignored' });
  const notEvent = await h.http
    .post(`/v1/stripe/webhooks/${agency.id}`)
    .set('Content-Type', 'application/json')
    .set('Stripe-Signature', 't=1,v1=00')
    .send('{"hello":1}');
  expect(notEvent.status).toBe(400);
  expect(notEvent.body.code).toBe('validation_failed');
  const notJson = await h.http
    .post(`/v1/stripe/webhooks/${agency.id}`)
    .set('Content-Type', 'application/json')
    .set('Stripe-Signature', 't=1,v1=00')
    .send('{not json');
  expect(notJson.body.code).toBe('malformed_json');
});
