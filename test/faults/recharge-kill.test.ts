/**
 * Auto-recharge (#21) under `kill -9` of the worker, on real processes (test/faults/harness.ts: a Temporal dev
 * server, `tsx bin/worker.ts` and `tsx bin/api.ts`): a real sale (a push lead) takes the buyer below its threshold,
 * the worker drains the outbox row into the buyer's recharge workflow, which asks "Stripe" – stripe-mock behind the
 * recording proxy, which counts requests per Idempotency-Key and adds the idempotency stateless stripe-mock lacks –
 * for the PaymentIntent. The worker is killed
 *
 * - after the PaymentIntent was made and recorded, while the workflow waits for its webhook, or
 * - while Stripe's answer to the PaymentIntent request is held by the proxy (the intent made, the worker never
 *   hears of it);
 *
 * a new worker starts, and the signed `payment_intent.succeeded` is posted to the real webhook route, twice.
 * Afterwards: one PaymentIntent for the attempt's idempotency key, one payment, one credit, the workflow completed,
 * the audit clean.
 */
import crypto from 'node:crypto';

import { and, eq } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import { walletBalance } from '../../db/ledger';
import { savePaymentSettings } from '../../db/payments';
import { ledgerEntries, payments } from '../../db/schema';
import { stripeLedgerKey } from '../../domain/payments';
import { rechargeWorkflowId } from '../../domain/recharge';
import { runAudit } from '../../ops/audit';
import { enableAutoRecharge } from '../../ops/nemesis/recharges';
import {
  deliver,
  type LocalServer,
  type RecordedRequest,
  type RecordingProxy,
  signedDelivery,
  startRecordingProxy,
  startStripeMock,
  STRIPE_MOCK_KEY,
  type StripeEventObject,
  succeededEventFor,
} from '../helpers/stripe';
import { leadFields, SERVICE_LINE } from '../helpers/world';
import { waitFor } from './harness';
import { faultSuite } from './suite';
import { must } from './traffic';

jest.setTimeout(6 * 60_000);

const WEBHOOK_SECRET = `whsec_${crypto.randomBytes(18).toString('base64url')}`;

let mock: LocalServer;
let proxy: RecordingProxy;
/** While set, Stripe's answer to a PaymentIntent request waits here (the request is passed, then released). */
let hold: { reached: (r: RecordedRequest) => void; release: Promise<void> } | null = null;

// Before the stack (registered first): its processes are pointed at the proxy.
beforeAll(async () => {
  mock = await startStripeMock();
  proxy = await startRecordingProxy(mock.url, {
    idempotency: true,
    beforeAnswer: async (r) => {
      const h = hold;
      if (!h || r.path !== '/v1/payment_intents') return;
      hold = null;
      h.reached(r);
      await h.release;
    },
  });
});
afterAll(async () => {
  await proxy?.stop();
  await mock?.stop();
});

const suite = faultSuite({ topology: 'dev', env: () => ({ LW_STRIPE_API_BASE: proxy.url }) });

interface World {
  agencyId: string;
  adminKey: string;
  buyerId: string;
  campaignId: string;
}

/** Through the API: an agency, one buyer with 60 credits, a push campaign at 40; then its Stripe settings and card. */
async function world(): Promise<World> {
  const base = suite.stack.baseUrl;
  const created = await must(base, 'POST', '/v1/agencies', suite.stack.rootToken, {
    name: `recharge-kill-${crypto.randomUUID().slice(0, 8)}`,
  });
  const adminKey = created.adminKey as string;
  const agencyId = (created.agency as { id: string }).id;
  await must(base, 'POST', '/v1/service-lines', adminKey, { key: SERVICE_LINE, name: 'Roofing' });
  const b = await must(base, 'POST', '/v1/buyers', adminKey, { name: 'recharging', serviceLines: [SERVICE_LINE] });
  const buyerId = (b.buyer as { id: string }).id;
  await must(base, 'POST', `/v1/buyers/${buyerId}/credits`, adminKey, { amount: 60 });
  const c = await must(base, 'POST', '/v1/campaigns', adminKey, {
    name: 'push',
    serviceLine: SERVICE_LINE,
    mode: 'push',
    pushStrategy: 'round_robin',
    price: { base: 40 },
  });
  await savePaymentSettings(
    suite.database.db,
    agencyId,
    {
      secretKey: STRIPE_MOCK_KEY,
      webhookSecret: WEBHOOK_SECRET,
      currency: 'usd',
      creditPrice: 250,
      minCredits: 10,
      maxCredits: 1000,
    },
    SYSTEM,
  );
  // A saved card, and auto-recharge at 50 → +100 credits.
  await enableAutoRecharge(suite.database.db, { buyerId, agencyId }, { threshold: 50, credits: 100 });
  return { agencyId, adminKey, buyerId, campaignId: (c.campaign as { id: string }).id };
}

/** A lead into the push campaign: sold to the buyer, 60 → 20, below its threshold in the sale's transaction. */
async function sellOne(w: World): Promise<void> {
  await must(suite.stack.baseUrl, 'POST', '/v1/leads', w.adminKey, { campaignId: w.campaignId, fields: leadFields() });
  expect(await waitFor(async () => (await walletBalance(suite.database.db, w.buyerId)) === 20, 60_000)).toBe(true);
}

/** The PaymentIntent requests made for this buyer's recharges, in order. */
const intentRequests = (w: World) =>
  proxy.requests.filter((r) => r.path === '/v1/payment_intents' && r.form['metadata[leadwireBuyerId]'] === w.buyerId);

const paymentsOf = (w: World) => suite.database.db.select().from(payments).where(eq(payments.buyerId, w.buyerId));

/** Delivers one event (the same event again: Stripe's retry of it), signed anew. */
async function postWebhook(w: World, event: StripeEventObject): Promise<string> {
  const res = await deliver(
    `${suite.stack.baseUrl}/v1/stripe/webhooks/${w.agencyId}`,
    signedDelivery(event, WEBHOOK_SECRET),
  );
  const body = (await res.json()) as { outcome?: string };
  return `${res.status} ${body.outcome}`;
}

/** The activity the buyer's recharge workflow is waiting on now, if any. */
async function pendingActivity(w: World): Promise<string | null> {
  const d = await suite.temporal.workflow.getHandle(rechargeWorkflowId(w.buyerId)).describe();
  return d.raw.pendingActivities?.[0]?.activityType?.name ?? null;
}

/** What must hold once the recharge is over: one PaymentIntent for the key, one payment, one credit, a clean audit. */
async function expectOneChargeOneCredit(w: World, key: string, intentId: string): Promise<void> {
  const result = await suite.temporal.workflow.getHandle(rechargeWorkflowId(w.buyerId)).result();
  expect(result).toMatchObject({ outcome: 'succeeded', attempts: 1 });
  // At Stripe: every request of the buyer carried the attempt's key and was answered with the same intent.
  const asked = intentRequests(w);
  expect(new Set(asked.map((r) => r.idempotencyKey))).toEqual(new Set([key]));
  expect(new Set(asked.map((r) => r.answeredId))).toEqual(new Set([intentId]));
  expect(asked.filter((r) => !r.replayed)).toHaveLength(1);
  const [payment, ...more] = await paymentsOf(w);
  expect(more).toEqual([]);
  expect(payment).toMatchObject({
    kind: 'auto_recharge',
    status: 'succeeded',
    credits: 100,
    stripeIdempotencyKey: key,
    stripePaymentIntentId: intentId,
  });
  const credits = await suite.database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.buyerId, w.buyerId), eq(ledgerEntries.kind, 'top_up')));
  expect(credits.map((e) => [e.amount, e.idempotencyKey])).toEqual([
    [60, expect.anything()],
    [100, stripeLedgerKey.payment(intentId)],
  ]);
  expect(await walletBalance(suite.database.db, w.buyerId)).toBe(120);
  const audit = await runAudit(suite.database.db, { agencyId: w.agencyId, temporal: suite.temporal, minAgeMs: 0 });
  expect(audit.violations).toEqual([]);
}

test('kill -9 of the worker between the PaymentIntent and its webhook: one charge, one credit after the restart', async () => {
  const w = await world();
  await sellOne(w);
  // The attempt's PaymentIntent made and recorded; the workflow waits for the webhook.
  expect(await waitFor(() => intentRequests(w).some((r) => r.status === 200), 60_000)).toBe(true);
  expect(
    await waitFor(async () => (await pendingActivity(w).catch(() => null)) === 'awaitRechargeSettled', 60_000),
  ).toBe(true);
  const [asked] = intentRequests(w);
  const [pending] = await paymentsOf(w);
  expect(pending).toMatchObject({ status: 'pending', stripePaymentIntentId: asked!.answeredId });
  await suite.stack.worker.kill9();

  // Stripe delivers while no worker runs, and the same event again once one is back.
  const event = succeededEventFor(asked!);
  expect(await postWebhook(w, event)).toBe('200 applied');
  await suite.stack.worker.start();
  expect(await postWebhook(w, event)).toBe('200 duplicate');
  await expectOneChargeOneCredit(w, asked!.idempotencyKey!, asked!.answeredId!);
  expect(proxy.countByIdempotencyKey(asked!.idempotencyKey!)).toBe(1);
});

test('kill -9 of the worker while Stripe’s answer to the PaymentIntent request is held: the retry gets the same intent', async () => {
  const w = await world();
  let release!: () => void;
  const reached = new Promise<RecordedRequest>((resolve) => {
    hold = { reached: resolve, release: new Promise<void>((r) => (release = r)) };
  });
  await sellOne(w);
  // The intent is made at Stripe; its answer has not reached the worker.
  const first = await reached;
  const [unanswered] = await paymentsOf(w);
  expect(unanswered).toMatchObject({ status: 'pending', stripePaymentIntentId: null });
  await suite.stack.worker.kill9();
  release();
  await suite.stack.worker.start();

  // The activity's retry (once its start-to-close timeout passed) asks again under the same key: the same intent.
  expect(await waitFor(() => intentRequests(w).length === 2 && intentRequests(w)[1]!.status === 200, 150_000)).toBe(
    true,
  );
  const second = intentRequests(w)[1]!;
  expect(second).toMatchObject({ idempotencyKey: first.idempotencyKey, answeredId: first.answeredId, replayed: true });
  expect(await waitFor(async () => (await paymentsOf(w))[0]?.stripePaymentIntentId === first.answeredId, 30_000)).toBe(
    true,
  );
  // Two deliveries of the event at once.
  const event = succeededEventFor(second);
  const answers = await Promise.all([postWebhook(w, event), postWebhook(w, event)]);
  expect(answers.sort()).toEqual(['200 applied', '200 duplicate']);
  await expectOneChargeOneCredit(w, first.idempotencyKey!, first.answeredId!);
  expect(proxy.countByIdempotencyKey(first.idempotencyKey!)).toBe(2);
});
