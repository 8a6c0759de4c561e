/**
 * Refunds and card disputes (#21 item 4): an agency refunds part of a payment through the Stripe SDK (stripe-mock
 * behind the recording proxy), the credits leave the wallet only when the refund webhook lands, once; a dispute
 * debits once, may overdraw and pauses the buyer, and a won dispute credits back, whatever the order of events.
 */
import { and, eq } from 'drizzle-orm';

import { postLedgerEntry, walletBalance } from '../../db/ledger';
import { createPayment, paymentById } from '../../db/payments';
import { auditLog, buyers, ledgerEntries, paymentRefunds } from '../../db/schema';
import { PAYMENT_DISPUTED_REASON, stripeLedgerKey } from '../../domain/payments';
import {
  agencyWithCardPayments,
  charge,
  deliver,
  dispute,
  newId,
  paidPayment,
  refund,
  signedDelivery,
  startStripeErrorServer,
  stripeEvent,
  stripeForTests,
} from '../helpers/stripe';
import { runDocWalkthrough } from './doc-examples';
import { apiBuyer, bearer, type Harness, startHarness } from './harness';

const WEBHOOK_SECRET = 'whsec_test_refunds_0123456789';
let h: Harness;
const stripe = stripeForTests();

beforeAll(async () => {
  await stripe.start();
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await stripe.stop();
});

/** An agency with card payments, a buyer, and a succeeded payment of `credits` credited through the one path. */
async function paidWorld(credits = 50, creditPrice = 250) {
  const { agency, adminKey } = await agencyWithCardPayments(h, {
    webhookSecret: WEBHOOK_SECRET,
    currency: 'usd',
    creditPrice,
    minCredits: 1,
    maxCredits: 1000,
  });
  const { buyer } = await apiBuyer(h, adminKey);
  const paid = await paidPayment(h.database.db, { agencyId: agency.id, buyerId: buyer.id, credits, creditPrice });
  return { agency, adminKey, buyer, ...paid };
}

function send(agencyId: string, type: Parameters<typeof stripeEvent>[0], object: object) {
  return deliver(
    `${h.main.baseUrl}/v1/stripe/webhooks/${agencyId}`,
    signedDelivery(stripeEvent(type, object), WEBHOOK_SECRET),
  );
}
async function sendOk(agencyId: string, type: Parameters<typeof stripeEvent>[0], object: object) {
  const res = await send(agencyId, type, object);
  const body = (await res.json()) as { outcome?: string };
  expect(res.status).toBe(200);
  return body.outcome;
}

const entriesOf = (buyerId: string, kind: 'card_refund' | 'card_refund_reversal' | 'dispute' | 'dispute_reversal') =>
  h.database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.buyerId, buyerId), eq(ledgerEntries.kind, kind)));

const buyerRow = async (id: string) => (await h.database.db.select().from(buyers).where(eq(buyers.id, id)))[0]!;

describe('refunds', () => {
  test('a partial refund asks Stripe once, stays pending, and debits once when its webhook lands', async () => {
    const { agency, adminKey, buyer, payment, paymentIntentId, chargeId } = await paidWorld(50, 250);
    const res = await h.http
      .post(`/v1/payments/${payment.id}/refunds`)
      .set(bearer(adminKey))
      .send({ credits: 20, reason: 'unused credits' });
    expect(res.status).toBe(201);
    const created = res.body.refund;
    expect(created).toMatchObject({ paymentId: payment.id, credits: 20, amount: 5000, status: 'pending' });
    expect(created.stripeRefundId).toMatch(/^re_/);

    // Stripe was asked exactly once: this payment intent, credits × price, the refund row's idempotency key.
    const asked = stripe.proxy.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    const mine = asked.filter((r) => r.form['metadata[leadwireRefundId]'] === created.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      idempotencyKey: `leadwire-refund-${created.id}`,
      status: 200,
      form: expect.objectContaining({
        payment_intent: paymentIntentId,
        amount: '5000',
        'metadata[leadwirePaymentId]': payment.id,
      }),
    });
    // Nothing leaves the wallet before Stripe says the refund succeeded.
    expect(await walletBalance(h.database.db, buyer.id)).toBe(50);
    const audit = await h.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.objectId, payment.id), eq(auditLog.action, 'refund_requested')));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ objectType: 'payment', buyerId: buyer.id, note: 'unused credits' });

    // A pending refund of Stripe's: recorded, nothing moves.
    const stripeRefund = (status: string) =>
      refund({ id: created.stripeRefundId, amount: 5000, paymentIntent: paymentIntentId, charge: chargeId, status });
    expect(await sendOk(agency.id, 'refund.created', stripeRefund('pending'))).toBe('ignored');
    expect(await walletBalance(h.database.db, buyer.id)).toBe(50);

    // It succeeds: refund.updated twice and charge.refunded listing it; one debit.
    const succeeded = stripeRefund('succeeded');
    const outcomes = await Promise.all([
      sendOk(agency.id, 'refund.updated', succeeded),
      sendOk(agency.id, 'refund.updated', succeeded),
      sendOk(agency.id, 'charge.refunded', {
        ...charge({ id: chargeId, amount: 12_500, paymentIntent: paymentIntentId, amountRefunded: 5000 }),
        refunds: { object: 'list', data: [succeeded], has_more: false, url: `/v1/charges/${chargeId}/refunds` },
      }),
    ]);
    expect(outcomes.every((o) => o === 'applied')).toBe(true);
    const debits = await entriesOf(buyer.id, 'card_refund');
    expect(debits).toHaveLength(1);
    expect(debits[0]).toMatchObject({ amount: -20, idempotencyKey: stripeLedgerKey.refund(created.stripeRefundId) });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(30);

    const detail = await h.http.get(`/v1/payments/${payment.id}`).set(bearer(adminKey));
    expect(detail.status).toBe(200);
    expect(detail.body.payment).toMatchObject({ refundedCredits: 20, amountDisplay: '125.00 USD', cardLast4: '4242' });
    expect(detail.body.refunds).toEqual([
      expect.objectContaining({ id: created.id, status: 'succeeded', credits: 20 }),
    ]);

    const list = await h.http.get(`/v1/payments?status=succeeded&buyerId=${buyer.id}`).set(bearer(adminKey));
    expect(list.status).toBe(200);
    expect(list.body.payments).toEqual([expect.objectContaining({ id: payment.id, refundedCredits: 20 })]);
    const none = await h.http.get(`/v1/payments?status=failed&buyerId=${buyer.id}`).set(bearer(adminKey));
    expect(none.body.payments).toEqual([]);
  });

  test('refusals ask Stripe nothing: over the refundable credits (pending refunds count), over the balance, not succeeded, another agency', async () => {
    const { adminKey, buyer, payment } = await paidWorld(30, 100);
    const before = stripe.proxy.requests.length;
    const over = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 31 });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ code: 'refund_exceeds_payment', refundable: 30 });

    const first = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 25 });
    expect(first.status).toBe(201);
    const second = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 6 });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 'refund_exceeds_payment', refundable: 5 });
    expect(stripe.proxy.requests.length - before).toBe(1);

    // The buyer spent credits: a refund never takes back more than the buyer has.
    await postLedgerEntry(h.database.db, {
      buyerId: buyer.id,
      agencyId: payment.agencyId,
      kind: 'charge',
      amount: -27,
      idempotencyKey: `test-spend-${buyer.id}`,
    });
    const poor = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 5 });
    expect(poor.status).toBe(409);
    expect(poor.body).toMatchObject({ code: 'refund_exceeds_balance', balance: 3 });

    const pending = await createPayment(h.database.db, {
      agencyId: payment.agencyId,
      buyerId: buyer.id,
      kind: 'checkout',
      credits: 10,
      creditPrice: 100,
      currency: 'usd',
    });
    const notPaid = await h.http.post(`/v1/payments/${pending.id}/refunds`).set(bearer(adminKey)).send({ credits: 1 });
    expect(notPaid.status).toBe(409);
    expect(notPaid.body.code).toBe('payment_not_refundable');

    const bad = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 0 });
    expect(bad.status).toBe(400);

    const other = await paidWorld(10, 100);
    const theirs = await h.http
      .post(`/v1/payments/${payment.id}/refunds`)
      .set(bearer(other.adminKey))
      .send({ credits: 1 });
    expect(theirs.status).toBe(404);
    expect((await h.http.get(`/v1/payments/${payment.id}`).set(bearer(other.adminKey))).status).toBe(404);
    expect(stripe.proxy.requests.length - before).toBe(1);
    expect(await walletBalance(h.database.db, buyer.id)).toBe(3);
  });

  test('Stripe refusing the refund answers 502 and stores nothing', async () => {
    const { adminKey, payment } = await paidWorld(10, 100);
    // The error server knows no /v1/refunds: Stripe's resource_missing error, as the SDK sees it.
    const errors = await startStripeErrorServer();
    process.env.LW_STRIPE_API_BASE = errors.url;
    try {
      const res = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 5 });
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({ code: 'stripe_unavailable', stripeCode: 'resource_missing' });
      expect(errors.requests.filter((r) => r.path === '/v1/refunds')).toHaveLength(1);
    } finally {
      process.env.LW_STRIPE_API_BASE = stripe.proxy.url;
      await errors.stop();
    }
    const rows = await h.database.db.select().from(paymentRefunds).where(eq(paymentRefunds.paymentId, payment.id));
    expect(rows).toEqual([]);
    const audit = await h.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.objectId, payment.id), eq(auditLog.action, 'refund_requested')));
    expect(audit).toEqual([]);
  });

  test('a refund made in the Stripe dashboard gets its row from the webhook and debits once', async () => {
    const { agency, buyer, payment, paymentIntentId } = await paidWorld(40, 100);
    const dashboard = refund({ amount: 1050, paymentIntent: paymentIntentId, status: 'succeeded' });
    expect(await sendOk(agency.id, 'refund.created', dashboard)).toBe('applied');
    expect(await sendOk(agency.id, 'refund.updated', dashboard)).toBe('applied');
    // 10.50 of money is 11 credits at 1.00 (rounded up: the buyer keeps no credits for money that has left).
    expect((await entriesOf(buyer.id, 'card_refund')).map((e) => e.amount)).toEqual([-11]);
    expect(await paymentById(h.database.db, payment.id)).toMatchObject({ refundedCredits: 11 });
  });

  test('a refund Stripe reports failed after it succeeded credits the buyer back once; repeats and a late success move nothing', async () => {
    const { agency, adminKey, buyer, payment, paymentIntentId, chargeId } = await paidWorld(40, 100);
    const res = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 15 });
    expect(res.status).toBe(201);
    const re = (status: string) =>
      refund({
        id: res.body.refund.stripeRefundId,
        amount: 1500,
        paymentIntent: paymentIntentId,
        charge: chargeId,
        status,
      });
    expect(await sendOk(agency.id, 'refund.updated', re('succeeded'))).toBe('applied');
    expect(await walletBalance(h.database.db, buyer.id)).toBe(25);

    // The bank sent the money back: twenty deliveries of the failure at once (and a repeat) credit once.
    const failed = re('failed');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => sendOk(agency.id, 'refund.updated', failed)));
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(await sendOk(agency.id, 'refund.updated', failed)).toBe('ignored');
    const back = await entriesOf(buyer.id, 'card_refund_reversal');
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({
      amount: 15,
      idempotencyKey: stripeLedgerKey.refundFailed(res.body.refund.stripeRefundId),
    });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(40);
    // A success delivered late (out of order) does not debit again: failed is final.
    expect(await sendOk(agency.id, 'refund.updated', re('succeeded'))).toBe('ignored');
    expect(await entriesOf(buyer.id, 'card_refund')).toHaveLength(1);
    expect(await walletBalance(h.database.db, buyer.id)).toBe(40);
    // The credits are refundable again, and the payment and its refund say what happened.
    const detail = await h.http.get(`/v1/payments/${payment.id}`).set(bearer(adminKey));
    expect(detail.body.payment).toMatchObject({ refundedCredits: 0, pendingRefundCredits: 0 });
    expect(detail.body.refunds).toEqual([expect.objectContaining({ status: 'failed', credits: 15 })]);
    const again = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 40 });
    expect(again.status).toBe(201);
  });

  test('a failure reported before the success debits nothing at all', async () => {
    const { agency, buyer, payment, paymentIntentId } = await paidWorld(20, 100);
    const id = newId('re');
    const re = (status: string) => refund({ id, amount: 500, paymentIntent: paymentIntentId, status });
    expect(await sendOk(agency.id, 'refund.updated', re('failed'))).toBe('ignored');
    expect(await sendOk(agency.id, 'refund.created', re('succeeded'))).toBe('ignored');
    expect(await entriesOf(buyer.id, 'card_refund')).toEqual([]);
    expect(await entriesOf(buyer.id, 'card_refund_reversal')).toEqual([]);
    expect(await walletBalance(h.database.db, buyer.id)).toBe(20);
    expect(await paymentById(h.database.db, payment.id)).toMatchObject({ refundedCredits: 0 });
  });

  test('a refund of an unknown payment is refused (422) and moves nothing', async () => {
    const { agency, buyer } = await paidWorld(10, 100);
    const res = await send(agency.id, 'refund.updated', refund({ amount: 100, paymentIntent: newId('pi') }));
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: 'stripe_event_refused', reason: 'unknown_payment' });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(10);
  });
});

describe('disputes', () => {
  test('a dispute debits once, overdraws and pauses the buyer; won, it credits back; the agency resumes the buyer', async () => {
    const { agency, adminKey, buyer, payment, paymentIntentId, chargeId } = await paidWorld(50, 250);
    await postLedgerEntry(h.database.db, {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'charge',
      amount: -45,
      idempotencyKey: `test-spend-${buyer.id}`,
    });
    const opened = dispute({ amount: 12_500, charge: chargeId, paymentIntent: paymentIntentId });
    const outcomes = await Promise.all([
      sendOk(agency.id, 'charge.dispute.created', opened),
      sendOk(agency.id, 'charge.dispute.created', opened),
    ]);
    expect(outcomes).toContain('applied');
    const debits = await entriesOf(buyer.id, 'dispute');
    expect(debits).toHaveLength(1);
    expect(debits[0]).toMatchObject({ amount: -50, idempotencyKey: stripeLedgerKey.dispute(opened.id) });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(-45);
    expect(await buyerRow(buyer.id)).toMatchObject({
      status: 'paused',
      pauseReason: PAYMENT_DISPUTED_REASON,
      pausedBy: 'system',
    });
    // While disputed, nothing of the payment is refundable.
    const refundNow = await h.http
      .post(`/v1/payments/${payment.id}/refunds`)
      .set(bearer(adminKey))
      .send({ credits: 1 });
    expect(refundNow.status).toBe(409);

    expect(await sendOk(agency.id, 'charge.dispute.updated', { ...opened, status: 'under_review' })).toBe('ignored');
    expect(await sendOk(agency.id, 'charge.dispute.closed', { ...opened, status: 'won' })).toBe('applied');
    expect(await sendOk(agency.id, 'charge.dispute.closed', { ...opened, status: 'won' })).toBe('ignored');
    const back = await entriesOf(buyer.id, 'dispute_reversal');
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ amount: 50, idempotencyKey: stripeLedgerKey.disputeReversal(opened.id) });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(5);
    expect(await paymentById(h.database.db, payment.id)).toMatchObject({ disputedCredits: 0 });
    const detail = await h.http.get(`/v1/payments/${payment.id}`).set(bearer(adminKey));
    expect(detail.body.disputes).toEqual([
      expect.objectContaining({
        stripeDisputeId: opened.id,
        status: 'won',
        credits: 50,
        resolvedAt: expect.any(String),
      }),
    ]);

    // Winning does not lift the pause: the agency does, through the buyer update.
    expect((await buyerRow(buyer.id)).status).toBe('paused');
    const resumed = await h.http.patch(`/v1/buyers/${buyer.id}`).set(bearer(adminKey)).send({ status: 'active' });
    expect(resumed.status).toBe(200);
    expect(await buyerRow(buyer.id)).toMatchObject({ status: 'active' });
  });

  test('a dispute while a refund is pending takes what the refund leaves; the refund then succeeds within the payment', async () => {
    const { agency, adminKey, buyer, payment, paymentIntentId, chargeId } = await paidWorld(50, 100);
    const res = await h.http.post(`/v1/payments/${payment.id}/refunds`).set(bearer(adminKey)).send({ credits: 20 });
    expect(res.status).toBe(201);
    // The cardholder disputes the whole charge while the refund is on its way.
    const whole = dispute({ amount: 5000, charge: chargeId, paymentIntent: paymentIntentId });
    expect(await sendOk(agency.id, 'charge.dispute.created', whole)).toBe('applied');
    expect((await entriesOf(buyer.id, 'dispute')).map((e) => e.amount)).toEqual([-30]);
    expect(await paymentById(h.database.db, payment.id)).toMatchObject({ disputedCredits: 30, refundedCredits: 0 });

    const re = refund({
      id: res.body.refund.stripeRefundId,
      amount: 2000,
      paymentIntent: paymentIntentId,
      charge: chargeId,
      status: 'succeeded',
    });
    expect(await sendOk(agency.id, 'refund.updated', re)).toBe('applied');
    expect((await entriesOf(buyer.id, 'card_refund')).map((e) => e.amount)).toEqual([-20]);
    expect(await paymentById(h.database.db, payment.id)).toMatchObject({ disputedCredits: 30, refundedCredits: 20 });
    expect(await walletBalance(h.database.db, buyer.id)).toBe(0);

    // A second dispute of the same charge finds nothing left: refused, nothing moves.
    const more = await send(agency.id, 'charge.dispute.created', dispute({ amount: 100, charge: chargeId }));
    expect(res.status).toBe(201);
    expect(more.status).toBe(422);
    expect(await more.json()).toMatchObject({ reason: 'nothing_left' });
    // Won, the dispute gives back exactly what it took.
    expect(await sendOk(agency.id, 'charge.dispute.closed', { ...whole, status: 'won' })).toBe('applied');
    expect(await walletBalance(h.database.db, buyer.id)).toBe(30);
    expect(await paymentById(h.database.db, payment.id)).toMatchObject({ disputedCredits: 0, refundedCredits: 20 });
  });

  test('closed before created: debit and credit back net to nothing; created later changes nothing; lost stays debited', async () => {
    const { agency, buyer, paymentIntentId, chargeId } = await paidWorld(20, 100);
    const d = dispute({ amount: 1999, charge: chargeId, paymentIntent: null });
    expect(await sendOk(agency.id, 'charge.dispute.closed', { ...d, status: 'won' })).toBe('applied');
    expect(await sendOk(agency.id, 'charge.dispute.created', d)).toBe('ignored');
    expect((await entriesOf(buyer.id, 'dispute')).map((e) => e.amount)).toEqual([-20]);
    expect((await entriesOf(buyer.id, 'dispute_reversal')).map((e) => e.amount)).toEqual([20]);
    expect(await walletBalance(h.database.db, buyer.id)).toBe(20);
    expect((await buyerRow(buyer.id)).status).toBe('active');

    const { agency: a2, buyer: b2, paymentIntentId: pi2 } = await paidWorld(20, 100);
    const lost = dispute({ amount: 500, charge: newId('ch'), paymentIntent: pi2 });
    expect(await sendOk(a2.id, 'charge.dispute.created', lost)).toBe('applied');
    expect(await sendOk(a2.id, 'charge.dispute.closed', { ...lost, status: 'lost' })).toBe('ignored');
    expect(await walletBalance(h.database.db, b2.id)).toBe(15);
    expect(await entriesOf(b2.id, 'dispute_reversal')).toEqual([]);
    // Never below zero here: the buyer stays active.
    expect((await buyerRow(b2.id)).status).toBe('active');
    expect(paymentIntentId).toMatch(/^pi_/);
  });
});

test("docs/payments.md's console refund walkthrough runs as written", async () => {
  const { adminKey, buyer, payment } = await paidWorld(30, 250);
  const out = await runDocWalkthrough('docs/payments.md', 'console-refund', {
    LW: h.main.baseUrl,
    KEY: adminKey,
    BUYER: buyer.id,
    PAYMENT: payment.id,
  });
  expect(out).toEqual(['30 0 0', 'pending 5000 20', '409 refund_exceeds_payment 10', 'pending 20']);
  expect(await walletBalance(h.database.db, buyer.id)).toBe(30);
});
