/**
 * Reconciliation of card payments (#21 item 5) on the real dev server and Postgres, Stripe played by stripe-mock
 * behind the tests' list server (test/helpers/stripe.ts `startPaymentIntentListServer`: stripe-mock keeps no state,
 * so `GET /v1/payment_intents` answers the PaymentIntents each test scripted, in Stripe's list shape and pages).
 * A payment whose webhook was lost is credited once – by one run, two runs, a run racing the webhook, or a webhook
 * after the run – through the webhook's own path and key; a payment Stripe reports for another amount is refused
 * and reported; another system's payments are ignored and reported; a Stripe outage fails the run retryably with
 * nothing half-done, and the workflow's retry finishes it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { and, eq } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import { walletBalance } from '../../db/ledger';
import { createPayment, paymentById, savePaymentSettings } from '../../db/payments';
import { auditLog, ledgerEntries, paymentReconciliations } from '../../db/schema';
import { stripeLedgerKey } from '../../domain/payments';
import { reconcileAgency, ReconcileFailed } from '../../payments/reconcile';
import { RECONCILE_PAYMENTS_WORKFLOW } from '../../temporal/calls';
import type * as workflows from '../../workflows';
import { apiAgency, apiBuyer, type Harness, startHarness } from '../api/harness';
import { cli } from '../helpers/cli';
import { recordHistory } from '../helpers/histories';
import {
  deliver,
  newId,
  paymentIntent,
  type PaymentIntentListServer,
  signedDelivery,
  STRIPE_MOCK_KEY,
  stripeEvent,
  stripeForTests,
} from '../helpers/stripe';
import { eventually } from '../helpers/temporal';

// The walkthrough and the CLI case spawn tsx (four processes); the outage case waits for a retry.
jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../..');
const WEBHOOK_SECRET = 'whsec_test_reconcile_0123456789';
const PRICE = 250;
let h: Harness;
let stripe: PaymentIntentListServer;
const stripeServers = stripeForTests({ paymentIntentList: true });

beforeAll(async () => {
  await stripeServers.start();
  stripe = stripeServers.list;
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await stripeServers.stop();
});
beforeEach(() => {
  stripe.intents = [];
  stripe.unavailable = false;
});

interface World {
  agencyId: string;
  buyerId: string;
}

async function world(): Promise<World> {
  const { agency, adminKey } = await apiAgency(h);
  const { buyer } = await apiBuyer(h, adminKey, { credits: 5 });
  await savePaymentSettings(
    h.database.db,
    agency.id,
    {
      secretKey: STRIPE_MOCK_KEY,
      webhookSecret: WEBHOOK_SECRET,
      currency: 'usd',
      creditPrice: PRICE,
      minCredits: 10,
      maxCredits: 1000,
    },
    SYSTEM,
  );
  return { agencyId: agency.id, buyerId: buyer.id };
}

/** A buyer's Checkout top-up, pending: Leadwire made the session, Stripe took the money, the webhook never came. */
async function lostTopUp(w: World, credits: number, opts: { amount?: number } = {}) {
  const payment = await createPayment(h.database.db, {
    agencyId: w.agencyId,
    buyerId: w.buyerId,
    kind: 'checkout',
    credits,
    creditPrice: PRICE,
    currency: 'usd',
    stripeCheckoutSessionId: newId('cs_test'),
  });
  // As Checkout makes it: the session's payment_intent_data.metadata is on the intent (api/routes/checkout.ts).
  const intent = paymentIntent({
    amount: opts.amount ?? payment.amount,
    metadata: { leadwirePaymentId: payment.id, leadwireBuyerId: w.buyerId, leadwireAgencyId: w.agencyId },
    brand: 'mastercard',
    last4: '4444',
  });
  stripe.intents.push(intent);
  return { payment, intent };
}

const lastHour = () => ({ since: new Date(Date.now() - 3_600_000), until: new Date(Date.now() + 1000) });

const reconcile = (w: World, dryRun = false) =>
  reconcileAgency(h.database.db, { agencyId: w.agencyId, window: lastHour(), dryRun, runBy: 'test' });

async function creditsUnder(intentId: string) {
  return h.database.db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.idempotencyKey, stripeLedgerKey.payment(intentId)));
}

function webhook(w: World, intent: ReturnType<typeof paymentIntent>) {
  const evt = stripeEvent('payment_intent.succeeded', { ...intent });
  return deliver(`${h.main.baseUrl}/v1/stripe/webhooks/${w.agencyId}`, signedDelivery(evt, WEBHOOK_SECRET)).then(
    async (r) => ({ status: r.status, body: (await r.json()) as { outcome?: string } }),
  );
}

test('a payment whose webhook was lost is credited once by the run, not again by a second run or the late webhook', async () => {
  const w = await world();
  const { payment, intent } = await lostTopUp(w, 40);

  const first = await reconcile(w);
  expect(first).toMatchObject({
    status: 'completed',
    checked: 1,
    credited: 1,
    alreadyCredited: 0,
    ignored: 0,
    errors: 0,
  });
  expect(first!.findings).toEqual([
    {
      paymentIntentId: intent.id,
      outcome: 'credited',
      paymentId: payment.id,
      detail: `credited 40 credits to buyer ${w.buyerId}`,
    },
  ]);
  const entries = await creditsUnder(intent.id);
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ kind: 'top_up', amount: 40, buyerId: w.buyerId });
  expect(entries[0]!.reference).toContain('(reconciled)');
  expect(await walletBalance(h.database.db, w.buyerId)).toBe(45);
  // The payment is what the webhook would have made of it, the card read from the listed intent's charge.
  expect(await paymentById(h.database.db, payment.id)).toMatchObject({
    status: 'succeeded',
    stripePaymentIntentId: intent.id,
    cardBrand: 'mastercard',
    cardLast4: '4444',
    receiptUrl: expect.stringMatching(/^https:/),
  });
  // One audit entry, the system's, for the credit.
  const audit = await h.database.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.objectId, payment.id), eq(auditLog.action, 'credited')));
  expect(audit).toHaveLength(1);
  expect(audit[0]).toMatchObject({ actorType: 'system', objectType: 'payment', buyerId: w.buyerId });
  expect(audit[0]!.changes).toMatchObject({ credits: { from: null, to: 40 } });

  const second = await reconcile(w);
  expect(second).toMatchObject({ checked: 1, credited: 0, alreadyCredited: 1, findings: [] });
  const late = await webhook(w, intent);
  expect(late).toEqual({ status: 200, body: { received: true, outcome: 'applied' } });
  expect(await creditsUnder(intent.id)).toHaveLength(1);
  expect(await walletBalance(h.database.db, w.buyerId)).toBe(45);
  const runs = await h.database.db
    .select()
    .from(paymentReconciliations)
    .where(eq(paymentReconciliations.agencyId, w.agencyId));
  expect(runs.map((r) => [r.status, r.credited, r.alreadyCredited])).toEqual(
    expect.arrayContaining([
      ['completed', 1, 0],
      ['completed', 0, 1],
    ]),
  );
  expect(await h.database.db.select().from(auditLog).where(eq(auditLog.objectId, payment.id))).toHaveLength(1);
});

test('a run racing the webhooks of the same payment credits it once', async () => {
  const w = await world();
  const { intent } = await lostTopUp(w, 12);
  const [runA, hookA, hookB, runB] = await Promise.all([
    reconcile(w),
    webhook(w, intent),
    webhook(w, intent),
    reconcile(w),
  ]);
  expect([hookA.status, hookB.status]).toEqual([200, 200]);
  expect([runA!.checked, runB!.checked]).toEqual([1, 1]);
  expect(await creditsUnder(intent.id)).toHaveLength(1);
  expect(await walletBalance(h.database.db, w.buyerId)).toBe(17);
  const runs = await h.database.db
    .select()
    .from(paymentReconciliations)
    .where(eq(paymentReconciliations.agencyId, w.agencyId));
  // Whoever got there first credited; the others found the entry.
  expect(runs.reduce((n, r) => n + r.credited, 0)).toBeLessThanOrEqual(1);
});

test('a payment Stripe reports for another amount is refused and reported, nothing credited', async () => {
  const w = await world();
  const { payment, intent } = await lostTopUp(w, 10, { amount: 10 * PRICE + 1 });
  const run = await reconcile(w);
  expect(run).toMatchObject({ checked: 1, credited: 0, errors: 1 });
  expect(run!.findings).toEqual([
    {
      paymentIntentId: intent.id,
      outcome: 'refused',
      paymentId: payment.id,
      detail: `amount_mismatch: Stripe says 2501, the payment is 2500 (10 credits × 250)`,
    },
  ]);
  expect(await creditsUnder(intent.id)).toHaveLength(0);
  expect(await paymentById(h.database.db, payment.id)).toMatchObject({ status: 'pending' });
  expect(await walletBalance(h.database.db, w.buyerId)).toBe(5);
});

test("another system's payments are ignored and reported; the list is read page by page", async () => {
  const w = await world();
  const other = await world();
  const { intent: ours } = await lostTopUp(w, 20);
  // 120 payments of a shop on the same Stripe account (no Leadwire metadata): two pages of 100.
  for (let i = 0; i < 120; i++) stripe.intents.push(paymentIntent({ amount: 999, metadata: { order: `shop-${i}` } }));
  const theirs = paymentIntent({
    amount: 2500,
    metadata: { leadwirePaymentId: crypto.randomUUID(), leadwireAgencyId: other.agencyId },
  });
  const unknown = paymentIntent({
    amount: 2500,
    metadata: { leadwirePaymentId: crypto.randomUUID(), leadwireAgencyId: w.agencyId },
  });
  // Not succeeded: not counted at all.
  const pending = paymentIntent({ amount: 2500, status: 'requires_payment_method' });
  stripe.intents.push(theirs, unknown, pending);
  const listsBefore = stripe.requests.filter((r) => r.path.startsWith('/v1/payment_intents?')).length;

  const run = await reconcile(w);
  expect(run).toMatchObject({ checked: 123, credited: 1, ignored: 122, errors: 0 });
  expect(stripe.requests.filter((r) => r.path.startsWith('/v1/payment_intents?')).length - listsBefore).toBe(2);
  const byIntent = new Map(run!.findings.map((f) => [f.paymentIntentId, f]));
  expect(byIntent.get(ours.id)).toMatchObject({ outcome: 'credited' });
  expect(byIntent.get(theirs.id)).toMatchObject({
    outcome: 'ignored',
    detail: `its metadata names agency ${other.agencyId}`,
  });
  expect(byIntent.get(unknown.id)).toMatchObject({
    outcome: 'ignored',
    detail: expect.stringContaining('does not have'),
  });
  expect(byIntent.get(stripe.intents[1]!.id)).toMatchObject({
    outcome: 'ignored',
    detail: 'no Leadwire metadata and no payment of this agency has this intent',
  });
  expect(byIntent.has(pending.id)).toBe(false);
  expect(await walletBalance(h.database.db, w.buyerId)).toBe(25);
  expect(await walletBalance(h.database.db, other.buyerId)).toBe(5);
});

test('a dry run decides the same and moves nothing', async () => {
  const w = await world();
  const { payment, intent } = await lostTopUp(w, 30);
  const dry = await reconcile(w, true);
  expect(dry).toMatchObject({ dryRun: true, checked: 1, credited: 1 });
  expect(dry!.findings).toEqual([expect.objectContaining({ outcome: 'would_credit', paymentId: payment.id })]);
  expect(await creditsUnder(intent.id)).toHaveLength(0);
  expect(await paymentById(h.database.db, payment.id)).toMatchObject({ status: 'pending' });
  expect(await h.database.db.select().from(auditLog).where(eq(auditLog.objectId, payment.id))).toHaveLength(0);
  expect(await walletBalance(h.database.db, w.buyerId)).toBe(5);
});

test('Stripe unavailable: the run fails retryably, is recorded, credits nothing', async () => {
  const w = await world();
  const { intent } = await lostTopUp(w, 10);
  stripe.unavailable = true;
  const failed = await reconcile(w).catch((err: unknown) => err);
  expect(failed).toBeInstanceOf(ReconcileFailed);
  expect((failed as ReconcileFailed).retryable).toBe(true);
  expect((failed as ReconcileFailed).message).toMatch(/^Stripe could not be listed: /);
  const [row] = await h.database.db
    .select()
    .from(paymentReconciliations)
    .where(eq(paymentReconciliations.agencyId, w.agencyId));
  expect(row).toMatchObject({
    status: 'failed',
    checked: 0,
    credited: 0,
    error: expect.stringContaining('unavailable'),
  });
  expect(await creditsUnder(intent.id)).toHaveLength(0);
});

describe('reconcilePaymentsWorkflow', () => {
  const start = (input: Parameters<typeof workflows.reconcilePaymentsWorkflow>[0], id = `reconcile-${newId('t')}`) =>
    h.client.workflow.start<typeof workflows.reconcilePaymentsWorkflow>(RECONCILE_PAYMENTS_WORKFLOW, {
      taskQueue: h.worker.taskQueue,
      workflowId: id,
      args: [input],
    });

  test('credits a lost payment once per agency, and reports each run', async () => {
    const w = await world();
    const { intent } = await lostTopUp(w, 16);
    const handle = await start({ agencyId: w.agencyId, hours: 1 });
    const result = await handle.result();
    expect(result.failed).toEqual([]);
    expect(result.reconciled).toEqual([
      { agencyId: w.agencyId, runId: expect.any(String), checked: 1, credited: 1, ignored: 0, errors: 0 },
    ]);
    expect(new Date(result.until).getTime() - new Date(result.since).getTime()).toBe(3_600_000);
    const [row] = await h.database.db
      .select()
      .from(paymentReconciliations)
      .where(eq(paymentReconciliations.id, result.reconciled[0]!.runId!));
    expect(row).toMatchObject({ runBy: `workflow:${handle.workflowId}`, credited: 1 });
    expect(await creditsUnder(intent.id)).toHaveLength(1);
    await recordHistory(h.client, handle.workflowId, 'reconcile-payments');

    const again = await (await start({ agencyId: w.agencyId, hours: 1 })).result();
    expect(again.reconciled[0]).toMatchObject({ checked: 1, credited: 0 });
    expect(await creditsUnder(intent.id)).toHaveLength(1);
    expect(await walletBalance(h.database.db, w.buyerId)).toBe(21);
  });

  test('Stripe down: the agency is retried (each failed attempt recorded, nothing credited) and credited once Stripe is back', async () => {
    const w = await world();
    const { intent } = await lostTopUp(w, 11);
    stripe.unavailable = true;
    const handle = await start({ agencyId: w.agencyId, hours: 1, retryIntervalMs: 1000 });
    await eventually(
      async () => {
        const rows = await h.database.db
          .select()
          .from(paymentReconciliations)
          .where(eq(paymentReconciliations.agencyId, w.agencyId));
        return rows.some((r) => r.status === 'failed');
      },
      60_000,
      'a failed attempt',
    );
    expect(await creditsUnder(intent.id)).toHaveLength(0);
    stripe.unavailable = false;
    const result = await handle.result();
    expect(result.failed).toEqual([]);
    expect(result.reconciled[0]).toMatchObject({ checked: 1, credited: 1 });
    expect(await creditsUnder(intent.id)).toHaveLength(1);
    const rows = await h.database.db
      .select()
      .from(paymentReconciliations)
      .where(eq(paymentReconciliations.agencyId, w.agencyId));
    expect(rows.filter((r) => r.status === 'completed')).toHaveLength(1);
    expect(rows.filter((r) => r.status === 'failed').length).toBeGreaterThanOrEqual(1);
  });
});

test("docs/payments.md's reconcile walkthrough runs as written: a dry run says what it would credit, the run credits it, the audit asking Stripe finds nothing missing", async () => {
  const w = await world();
  const { payment, intent } = await lostTopUp(w, 24);
  const doc = fs.readFileSync(path.join(ROOT, 'docs/payments.md'), 'utf8');
  const script = /<!-- walkthrough: reconcile[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(script).toBeDefined();
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script!], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL!, LOG_LEVEL: 'warn', AGENCY: w.agencyId },
  });
  const [dry, run] = stdout.split(/^(?=Reconciliation of Stripe payments)/m);
  expect(dry).toContain('(dry run: nothing credited)');
  expect(dry).toContain(`+ ${intent.id} would_credit (payment ${payment.id}): would credit 24 credits`);
  expect(run).toMatch(new RegExp(`${w.agencyId} +1 +1 +0 +0 +0`));
  expect(run).toContain(`+ ${intent.id} credited (payment ${payment.id}): credited 24 credits`);
  expect(stdout.trim().split('\n').at(-1)).toBe('All invariants hold.');
  expect(await creditsUnder(intent.id)).toHaveLength(1);
  expect(await walletBalance(h.database.db, w.buyerId)).toBe(29);
});

test('npx leadwire reconcile exits 1 on a refused payment, naming it', async () => {
  const w = await world();
  const { intent: wrong } = await lostTopUp(w, 10, { amount: 1 });
  const run = await cli('ops/reconcile.ts', ['--agency', w.agencyId, '--hours', '1']);
  expect(run.code).toBe(1);
  expect(run.stdout).toContain(`! ${wrong.id} refused`);
  expect(run.stdout).toContain('amount_mismatch: Stripe says 1, the payment is 2500');
  expect(await creditsUnder(wrong.id)).toHaveLength(0);
});
