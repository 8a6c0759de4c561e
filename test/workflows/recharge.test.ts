/**
 * Auto-recharge (#21) on the real dev server and Postgres, Stripe played by stripe-mock behind the tests' error
 * server (scripted declines) and the recording proxy (counts requests per Idempotency-Key): a balance crossing
 * below the threshold writes the outbox row in its own transaction, the drain starts the buyer's workflow, the
 * workflow makes one off-session PaymentIntent per attempt and credits only when the signed webhook arrives.
 */
import { eq } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import { billingOf } from '../../db/billing';
import { listBuyerAlerts } from '../../db/deliveries';
import { postLedgerEntry, walletBalance } from '../../db/ledger';
import { createInProcessBus } from '../../db/offer-bus';
import { savePaymentSettings } from '../../db/payments';
import { buyerBilling, buyers, payments, rechargeRequests } from '../../db/schema';
import { rechargeIdempotencyKey, rechargeWorkflowId } from '../../domain/recharge';
import { startDueRecharges } from '../../worker/recharge-starter';
import { apiAgency, apiBuyer, apiCampaign, apiLead, type Harness, startHarness } from '../api/harness';
import { offerOfLead, winOffer } from '../api/world';
import {
  deliver,
  type LocalServer,
  type RecordingProxy,
  signedDelivery,
  startRecordingProxy,
  startStripeErrorServer,
  startStripeMock,
  STRIPE_MOCK_KEY,
  type StripeErrorServer,
  stripeEvent,
} from '../helpers/stripe';
import { eventually, type RunningWorker, startWorker } from '../helpers/temporal';

const WEBHOOK_SECRET = 'whsec_test_recharge_0123456789';
const PRICE = 250;
let h: Harness;
let mock: LocalServer;
let stripe: StripeErrorServer;
let proxy: RecordingProxy;
let flaky: RunningWorker;
let failNextIntent = 0;
const previousBase = process.env.LW_STRIPE_API_BASE;

beforeAll(async () => {
  mock = await startStripeMock();
  stripe = await startStripeErrorServer({ forwardTo: mock.url });
  proxy = await startRecordingProxy(stripe.url);
  process.env.LW_STRIPE_API_BASE = proxy.url;
  h = await startHarness();
  // A second worker whose recharge activity fails once after its PaymentIntent was made and recorded.
  flaky = await startWorker({
    db: h.database.db,
    bus: createInProcessBus(),
    faults: {
      afterRechargeIntent: () => {
        if (failNextIntent > 0) {
          failNextIntent--;
          throw new Error('injected: the activity dies after the PaymentIntent');
        }
      },
    },
  });
});
afterAll(async () => {
  await flaky?.stop();
  await h?.close();
  await proxy?.stop();
  await stripe?.stop();
  await mock?.stop();
  if (previousBase === undefined) delete process.env.LW_STRIPE_API_BASE;
  else process.env.LW_STRIPE_API_BASE = previousBase;
});

interface World {
  agencyId: string;
  buyerId: string;
  adminKey: string;
  buyerKey: string;
}

/** An agency with Stripe settings and a buyer with `credits`, a saved card and auto-recharge at 50 → +100 credits. */
async function world(opts: { credits?: number; maxFailures?: number } = {}): Promise<World> {
  const db = h.database.db;
  const { agency, adminKey } = await apiAgency(h);
  const { buyer, apiKey } = await apiBuyer(h, adminKey, { credits: opts.credits ?? 60 });
  await savePaymentSettings(
    db,
    agency.id,
    {
      secretKey: STRIPE_MOCK_KEY,
      webhookSecret: WEBHOOK_SECRET,
      currency: 'usd',
      creditPrice: PRICE,
      minCredits: 10,
      maxCredits: 1000,
      rechargeMaxFailures: opts.maxFailures ?? 3,
    },
    SYSTEM,
  );
  await db
    .update(buyers)
    .set({ alerts: { channels: ['email'] } })
    .where(eq(buyers.id, buyer.id));
  await db.insert(buyerBilling).values({
    buyerId: buyer.id,
    agencyId: agency.id,
    stripeCustomerId: 'cus_recharge_test',
    paymentMethodId: 'pm_card_visa',
    cardBrand: 'visa',
    cardLast4: '4242',
    cardExp: '12/2030',
    rechargeEnabled: true,
    rechargeThreshold: 50,
    rechargeCredits: 100,
  });
  return { agencyId: agency.id, buyerId: buyer.id, adminKey, buyerKey: apiKey };
}

let seq = 0;
/** A debit through the ledger (the trigger path a sale takes): the balance crosses below the threshold. */
async function spend(w: World, credits: number) {
  await postLedgerEntry(h.database.db, {
    buyerId: w.buyerId,
    agencyId: w.agencyId,
    kind: 'charge',
    amount: -credits,
    idempotencyKey: `test-spend-${Date.now()}-${seq++}`,
  });
}

const fast = { retryDelaysMs: [300, 300], settleWaitMs: 30_000, settlePollMs: 100 };

function drain(taskQueue = h.worker.taskQueue) {
  return startDueRecharges({ db: h.database.db, client: h.client, taskQueue, ...fast });
}

const handle = (w: World) => h.client.workflow.getHandle(rechargeWorkflowId(w.buyerId));

/** The PaymentIntent Stripe answered for this idempotency key (the error server's record, by its payment's id). */
function intentFor(key: string) {
  const req = stripe.requests.find((r) => r.idempotencyKey === key && r.path === '/v1/payment_intents');
  if (!req) return undefined;
  const paymentId = req.form['metadata[leadwirePaymentId]'];
  return [...stripe.paymentIntents.values()].find((pi) => pi.metadata.leadwirePaymentId === paymentId);
}

async function requestIdOf(w: World): Promise<string> {
  const rows = await h.database.db.select().from(rechargeRequests).where(eq(rechargeRequests.buyerId, w.buyerId));
  expect(rows).toHaveLength(1);
  return rows[0]!.id;
}

function webhookUrl(w: World) {
  return `${h.main.baseUrl}/v1/stripe/webhooks/${w.agencyId}`;
}

async function paymentsOf(w: World) {
  return h.database.db.select().from(payments).where(eq(payments.buyerId, w.buyerId)).orderBy(payments.createdAt);
}

describe('auto-recharge', () => {
  test('end to end: a real sale runs the buyer low, the recharge credits from the webhook, the next claim wins', async () => {
    const w = await world({ credits: 60 });
    const campaign = await apiCampaign(h, w.adminKey, { price: { base: 40 } });
    // The first sale: 60 → 20, below the threshold of 50, in the sale's own transaction.
    const first = await apiLead(h, w.adminKey, campaign.id);
    await winOffer(h, w.buyerKey, (await offerOfLead(h, first.id)).id);
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(20);
    const requestId = await requestIdOf(w);
    await drain();
    const key = rechargeIdempotencyKey(rechargeWorkflowId(w.buyerId), requestId, 1);
    const pi = await eventually(async () => intentFor(key), 20_000, 'the PaymentIntent');
    const res = await deliver(
      webhookUrl(w),
      signedDelivery(stripeEvent('payment_intent.succeeded', pi), WEBHOOK_SECRET),
    );
    expect(res.status).toBe(200);
    await expect(handle(w).result()).resolves.toMatchObject({ outcome: 'succeeded' });
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(120);
    // The buyer's next lead: offered to it and won.
    const third = await apiLead(h, w.adminKey, campaign.id);
    await winOffer(h, w.buyerKey, (await offerOfLead(h, third.id)).id);
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(80);
    expect(proxy.countByIdempotencyKey(key)).toBe(1);
  });

  test('a crossing starts one workflow that makes one PaymentIntent and credits only on the signed webhook', async () => {
    const w = await world();
    await spend(w, 15); // 60 → 45, below 50
    const requestId = await requestIdOf(w);
    expect(await drain()).toBeGreaterThanOrEqual(1);
    const key = rechargeIdempotencyKey(rechargeWorkflowId(w.buyerId), requestId, 1);
    const pi = await eventually(async () => intentFor(key), 20_000, 'the PaymentIntent');
    const [req] = proxy.requests.filter((r) => r.idempotencyKey === key);
    expect(req!.form).toMatchObject({
      amount: String(100 * PRICE),
      currency: 'usd',
      customer: 'cus_recharge_test',
      payment_method: 'pm_card_visa',
      confirm: 'true',
      off_session: 'true',
      'metadata[leadwireBuyerId]': w.buyerId,
      'metadata[leadwireAgencyId]': w.agencyId,
    });
    // Stripe answered "succeeded", but nothing is credited before the webhook. (Stripe's answer is seen here before
    // the activity records its intent id on the payment: wait for that write.)
    const pending = await eventually(
      async () => (await paymentsOf(w)).find((p) => p.stripePaymentIntentId === pi.id),
      20_000,
      "the payment's intent id",
    );
    expect(pending).toMatchObject({ kind: 'auto_recharge', status: 'pending', stripeIdempotencyKey: key });
    await new Promise((r) => setTimeout(r, 500));
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(45);

    const res = await deliver(
      webhookUrl(w),
      signedDelivery(stripeEvent('payment_intent.succeeded', pi), WEBHOOK_SECRET),
    );
    expect(res.status).toBe(200);
    await expect(handle(w).result()).resolves.toMatchObject({ outcome: 'succeeded', attempts: 1 });
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(145);
    expect(proxy.countByIdempotencyKey(key)).toBe(1);
    const [paid] = await paymentsOf(w);
    expect(paid).toMatchObject({ status: 'succeeded', credits: 100, amount: 100 * PRICE });

    // The happy path's history: three workflow tasks, two activities, nothing else.
    const history = await handle(w).fetchHistory();
    const types = (history.events ?? []).map((e) => e.eventType);
    expect(types.filter((t) => t === 5 /* WORKFLOW_TASK_SCHEDULED */)).toHaveLength(3);
    expect(types.filter((t) => t === 10 /* ACTIVITY_TASK_SCHEDULED */)).toHaveLength(2);
    expect(types).toHaveLength(17);
  });

  test('an activity that dies after the PaymentIntent is retried without a second request to Stripe', async () => {
    const w = await world();
    await spend(w, 15);
    const requestId = await requestIdOf(w);
    failNextIntent = 1;
    await drain(flaky.taskQueue);
    const key = rechargeIdempotencyKey(rechargeWorkflowId(w.buyerId), requestId, 1);
    const pi = await eventually(async () => intentFor(key), 20_000, 'the PaymentIntent');
    await eventually(async () => failNextIntent === 0 && (await paymentsOf(w)).length === 1, 20_000, 'the retry');
    await deliver(webhookUrl(w), signedDelivery(stripeEvent('payment_intent.succeeded', pi), WEBHOOK_SECRET));
    await expect(handle(w).result()).resolves.toMatchObject({ outcome: 'succeeded', attempts: 1 });
    expect(proxy.countByIdempotencyKey(key)).toBe(1);
    expect(await paymentsOf(w)).toHaveLength(1);
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(145);
  });

  test('a second request while one runs joins it: one PaymentIntent', async () => {
    const w = await world();
    await spend(w, 15);
    await drain();
    const firstKey = rechargeIdempotencyKey(rechargeWorkflowId(w.buyerId), await requestIdOf(w), 1);
    const pi = await eventually(async () => intentFor(firstKey), 20_000, 'the PaymentIntent');
    // Another crossing's row while the first waits for its webhook.
    await h.database.db.insert(rechargeRequests).values({ buyerId: w.buyerId, agencyId: w.agencyId, balance: 40 });
    await drain();
    const rows = await h.database.db.select().from(rechargeRequests).where(eq(rechargeRequests.buyerId, w.buyerId));
    expect(rows.every((r) => r.startedAt !== null)).toBe(true);
    await deliver(webhookUrl(w), signedDelivery(stripeEvent('payment_intent.succeeded', pi), WEBHOOK_SECRET));
    await expect(handle(w).result()).resolves.toMatchObject({ outcome: 'succeeded' });
    expect(await paymentsOf(w)).toHaveLength(1);
    expect(proxy.requests.filter((r) => r.form['metadata[leadwireBuyerId]'] === w.buyerId)).toHaveLength(1);
  });

  test('declines are retried on the schedule, alerted each time, and pause auto-recharge after the maximum', async () => {
    const w = await world({ maxFailures: 3 });
    await spend(w, 15);
    const requestId = await requestIdOf(w);
    stripe.script('declined', 'declined', 'declined');
    await drain();
    await expect(handle(w).result()).resolves.toMatchObject({ outcome: 'failed', attempts: 3, paused: true });
    const id = rechargeWorkflowId(w.buyerId);
    for (const n of [1, 2, 3]) expect(proxy.countByIdempotencyKey(rechargeIdempotencyKey(id, requestId, n))).toBe(1);
    const rows = await paymentsOf(w);
    expect(rows).toHaveLength(3);
    for (const p of rows)
      expect(p).toMatchObject({ status: 'failed', failureCode: 'card_declined', kind: 'auto_recharge' });
    const billing = await billingOf(h.database.db, w.buyerId);
    expect(billing).toMatchObject({ rechargeFailures: 3, rechargeEnabled: true });
    expect(billing!.rechargePausedReason).toMatch(/paused after 3 failed recharges in a row.*card_declined/);
    expect(billing!.rechargePausedAt).toBeInstanceOf(Date);
    const alerts = (await listBuyerAlerts(h.database.db, w.buyerId)).filter((a) => a.kind === 'recharge_failed');
    expect(alerts).toHaveLength(3);
    expect(alerts.map((a) => a.payload.failures).sort()).toEqual([1, 2, 3]);
    expect(alerts.find((a) => a.payload.failures === 3)!.payload).toMatchObject({
      paused: true,
      code: 'card_declined',
    });
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(45);

    // Paused: the next crossing writes no request.
    await postLedgerEntry(h.database.db, {
      buyerId: w.buyerId,
      agencyId: w.agencyId,
      kind: 'top_up',
      amount: 20,
      idempotencyKey: `test-topup-${seq++}`,
    });
    await spend(w, 20);
    expect(
      await h.database.db.select().from(rechargeRequests).where(eq(rechargeRequests.buyerId, w.buyerId)),
    ).toHaveLength(1);
  });

  test('authentication_required pauses at once: an off-session retry cannot authenticate', async () => {
    const w = await world({ maxFailures: 5 });
    await spend(w, 15);
    stripe.script('authentication_required');
    await drain();
    await expect(handle(w).result()).resolves.toMatchObject({ outcome: 'failed', attempts: 1, paused: true });
    const [p] = await paymentsOf(w);
    expect(p).toMatchObject({ status: 'failed', failureCode: 'authentication_required' });
    const billing = await billingOf(h.database.db, w.buyerId);
    expect(billing!.rechargeFailures).toBe(1);
    expect(billing!.rechargePausedReason).toMatch(/authenticate/);
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(45);
  });

  test('a payment_intent.payment_failed webhook fails the attempt; the retry succeeds and resets the failures', async () => {
    const w = await world();
    await spend(w, 15);
    const requestId = await requestIdOf(w);
    await drain();
    const id = rechargeWorkflowId(w.buyerId);
    const first = await eventually(async () => intentFor(rechargeIdempotencyKey(id, requestId, 1)), 20_000, 'first');
    const failed = {
      ...first,
      status: 'requires_payment_method' as const,
      amount_received: 0,
      latest_charge: null,
      last_payment_error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
    };
    const res = await deliver(
      webhookUrl(w),
      signedDelivery(stripeEvent('payment_intent.payment_failed', failed), WEBHOOK_SECRET),
    );
    expect(res.status).toBe(200);
    const second = await eventually(async () => intentFor(rechargeIdempotencyKey(id, requestId, 2)), 20_000, 'second');
    expect((await billingOf(h.database.db, w.buyerId))!.rechargeFailures).toBe(1);
    await deliver(webhookUrl(w), signedDelivery(stripeEvent('payment_intent.succeeded', second), WEBHOOK_SECRET));
    await expect(handle(w).result()).resolves.toMatchObject({ outcome: 'succeeded', attempts: 2 });
    const rows = await paymentsOf(w);
    expect(rows.map((p) => p.status)).toEqual(['failed', 'succeeded']);
    expect(rows[0]!.failureCode).toBe('card_declined');
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(145);
    expect((await billingOf(h.database.db, w.buyerId))!.rechargeFailures).toBe(0);
  });
});
