/**
 * The audit's Stripe checks (#21 item 4's audit part, item 5's `--stripe`): a world of card money made through the
 * real paths (a top-up settled as the webhook settles it, a refund, a dispute won, a dispute lost) passes; each
 * invariant broken on purpose, in a transaction rolled back afterwards, is flagged by its check. With `--stripe`,
 * Stripe (stripe-mock behind the tests' list server) is asked for the recent succeeded payments and one the ledger
 * lacks is flagged, credited by nobody.
 */
import { eq, sql } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import type { Database, DbOrTx } from '../../db/connection';
import { walletBalance } from '../../db/ledger';
import { applyStripeDispute, applyStripeRefund } from '../../db/payment-refunds';
import { createPayment, type PaymentRow, savePaymentSettings, settleSucceededPayment } from '../../db/payments';
import { ledgerEntries } from '../../db/schema';
import { stripeLedgerKey } from '../../domain/payments';
import { type AuditReport, runAudit } from '../../ops/audit';
import { auditCorrupted } from '../helpers/audit';
import { cli } from '../helpers/cli';
import { openTestPostgres } from '../helpers/db';
import { newId, paymentIntent, type PaymentIntentListServer, STRIPE_MOCK_KEY, stripeForTests } from '../helpers/stripe';
import { makeAgency, makeBuyer } from '../helpers/world';

// One case runs `npm run audit` as its own process (tsx).
jest.setTimeout(120_000);

const PRICE = 100;
let database: Database;
let stripe: PaymentIntentListServer;
const stripeServers = stripeForTests({ paymentIntentList: true });
let world: {
  agencyId: string;
  buyerId: string;
  topUp: PaymentRow;
  refunded: PaymentRow;
  disputed: PaymentRow;
  lost: PaymentRow;
  pending: PaymentRow;
  refundId: string;
  wonDisputeId: string;
};

/** A payment of `credits`, succeeded as the webhook settles it (its intent known to Stripe's list). */
async function paidTopUp(agencyId: string, buyerId: string, credits: number): Promise<PaymentRow> {
  const payment = await createPayment(database.db, {
    agencyId,
    buyerId,
    kind: 'checkout',
    credits,
    creditPrice: PRICE,
    currency: 'usd',
  });
  const intentId = newId('pi');
  const settled = await settleSucceededPayment(database.db, {
    agencyId,
    paymentId: payment.id,
    paymentIntentId: intentId,
    chargeId: newId('ch'),
    amount: payment.amount,
    currency: 'usd',
    eventId: newId('evt'),
  });
  if (settled.outcome !== 'credited') throw new Error(`not credited: ${settled.outcome}`);
  return settled.payment;
}

beforeAll(async () => {
  database = await openTestPostgres();
  await stripeServers.start();
  stripe = stripeServers.list;
  const db = database.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 50 });
  await savePaymentSettings(
    db,
    agency.id,
    {
      secretKey: STRIPE_MOCK_KEY,
      webhookSecret: 'whsec_audit',
      currency: 'usd',
      creditPrice: PRICE,
      minCredits: 1,
      maxCredits: 1000,
    },
    SYSTEM,
  );
  const topUp = await paidTopUp(agency.id, buyer.id, 30);
  const refunded = await paidTopUp(agency.id, buyer.id, 20);
  const disputed = await paidTopUp(agency.id, buyer.id, 10);
  const money = (p: PaymentRow, amount: number) => ({
    agencyId: agency.id,
    paymentId: p.id,
    paymentIntentId: p.stripePaymentIntentId,
    amount,
    currency: 'usd',
    eventId: newId('evt'),
  });
  const refundId = newId('re');
  expect((await applyStripeRefund(db, { ...money(refunded, 5 * PRICE), refundId, status: 'succeeded' })).outcome).toBe(
    'debited',
  );
  const wonDisputeId = newId('dp');
  for (const status of ['needs_response', 'won'])
    await applyStripeDispute(db, { ...money(disputed, 4 * PRICE), disputeId: wonDisputeId, status, reason: null });
  await applyStripeDispute(db, {
    ...money(disputed, 3 * PRICE),
    disputeId: newId('dp'),
    status: 'lost',
    reason: 'fraudulent',
  });
  // A payment Stripe took whose webhook never came, and one still at Checkout.
  const lost = await createPayment(db, {
    agencyId: agency.id,
    buyerId: buyer.id,
    kind: 'checkout',
    credits: 7,
    creditPrice: PRICE,
    currency: 'usd',
  });
  const pending = await createPayment(db, {
    agencyId: agency.id,
    buyerId: buyer.id,
    kind: 'checkout',
    credits: 9,
    creditPrice: PRICE,
    currency: 'usd',
  });
  world = {
    agencyId: agency.id,
    buyerId: buyer.id,
    topUp,
    refunded,
    disputed,
    lost,
    pending,
    refundId,
    wonDisputeId,
  };
});
afterAll(async () => {
  await database?.close();
  await stripeServers.stop();
});

const byName = (report: AuditReport, name: string) => report.checks.find((c) => c.name === name)!;
const messages = (report: AuditReport, name: string) => byName(report, name).violations.map((v) => v.message);

const auditBroken = (corrupt: (tx: DbOrTx) => Promise<void>) => auditCorrupted(database.db, world.agencyId, corrupt);

test('card top-ups, a refund, a dispute won and one lost: every Stripe check holds', async () => {
  const report = await runAudit(database.db, { agencyId: world.agencyId });
  expect(report.violations).toEqual([]);
  // Three credits, one refund, two dispute debits and one credit back under Stripe keys.
  expect(byName(report, 'stripe_keys').checked).toBe(7);
  // Three succeeded payments, one refund, two disputes.
  expect(byName(report, 'stripe_money').checked).toBe(6);
  // 50 + 30 + 20 + 10 − 5 − 4 + 4 − 3
  expect(await walletBalance(database.db, world.buyerId)).toBe(102);
});

test('a Stripe-keyed credit without a payment, and a second credit of a payment under another key, are flagged', async () => {
  const report = await auditBroken(async (tx) => {
    await tx.insert(ledgerEntries).values({
      buyerId: world.buyerId,
      agencyId: world.agencyId,
      kind: 'top_up',
      amount: 25,
      idempotencyKey: stripeLedgerKey.payment('pi_nobody_paid'),
    });
    await tx.insert(ledgerEntries).values({
      buyerId: world.buyerId,
      agencyId: world.agencyId,
      kind: 'top_up',
      amount: 30,
      idempotencyKey: `evt_credited_again_${world.topUp.id}`,
      reference: `card payment ${world.topUp.id} (evt_again)`,
    });
  });
  expect(messages(report, 'stripe_keys')).toEqual([
    expect.stringMatching(/top_up 25 to buyer .* under stripe:pi_nobody_paid\) matches no succeeded payment/),
  ]);
  expect(messages(report, 'stripe_money')).toEqual([
    `payment ${world.topUp.id} (succeeded, 30 credits) has 2 credit(s) totalling 60; counts 0 refunded and 0 disputed, its rows 0 and 0`,
  ]);
});

test('a payment marked succeeded without its credit, and one whose credits differ from its entry, are flagged', async () => {
  const report = await auditBroken(async (tx) => {
    await tx.execute(
      sql`UPDATE payments SET status = 'succeeded', succeeded_at = now(), stripe_payment_intent_id = 'pi_never_credited' WHERE id = ${world.pending.id}`,
    );
    await tx.execute(sql`UPDATE payments SET credits = 31, amount = 31 * credit_price WHERE id = ${world.topUp.id}`);
  });
  expect(messages(report, 'stripe_money')).toEqual(
    expect.arrayContaining([
      `payment ${world.pending.id} (succeeded, 9 credits) has 0 credit(s) totalling 0; counts 0 refunded and 0 disputed, its rows 0 and 0`,
      `payment ${world.topUp.id} (succeeded, 31 credits) has 1 credit(s) totalling 30; counts 0 refunded and 0 disputed, its rows 0 and 0`,
    ]),
  );
  expect(byName(report, 'stripe_money').failed).toBe(2);
  expect(messages(report, 'stripe_keys')).toEqual([
    expect.stringContaining(
      `top_up 30 to buyer ${world.buyerId} under ${stripeLedgerKey.payment(world.topUp.stripePaymentIntentId!)})`,
    ),
  ]);
});

test("a refund whose row says it did not happen, and a payment's refunded credits that are not its refunds', are flagged", async () => {
  const report = await auditBroken(async (tx) => {
    await tx.execute(sql`UPDATE payment_refunds SET status = 'failed' WHERE stripe_refund_id = ${world.refundId}`);
  });
  expect(messages(report, 'stripe_keys')).toEqual([
    expect.stringContaining(`card_refund -5 to buyer ${world.buyerId} under ${stripeLedgerKey.refund(world.refundId)}`),
  ]);
  expect(messages(report, 'stripe_money')).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        new RegExp(`^refund .* of payment ${world.refunded.id} \\(failed, 5 credits\\) has 1 debit`),
      ),
      `payment ${world.refunded.id} (succeeded, 20 credits) has 1 credit(s) totalling 20; counts 5 refunded and 0 disputed, its rows 0 and 0`,
    ]),
  );
});

test('a dispute credited back though not won, and one without its debit, are flagged', async () => {
  const report = await auditBroken(async (tx) => {
    await tx.execute(sql`UPDATE payment_disputes SET status = 'lost' WHERE stripe_dispute_id = ${world.wonDisputeId}`);
    await tx.execute(
      sql`INSERT INTO payment_disputes (payment_id, agency_id, buyer_id, stripe_dispute_id, credits, amount, status)
          VALUES (${world.disputed.id}, ${world.agencyId}, ${world.buyerId}, 'dp_never_debited', 2, 200, 'needs_response')`,
    );
  });
  expect(messages(report, 'stripe_keys')).toEqual([
    expect.stringContaining(
      `dispute_reversal 4 to buyer ${world.buyerId} under ${stripeLedgerKey.disputeReversal(world.wonDisputeId)}`,
    ),
  ]);
  expect(messages(report, 'stripe_money')).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^dispute .* \(lost, 4 credits\) has 1 debit\(s\) and 1 credit\(s\) back$/),
      expect.stringMatching(/^dispute .* \(needs_response, 2 credits\) has 0 debit\(s\) and 0 credit\(s\) back$/),
      // The payment counts 3 disputed (the lost one); its rows now say 3 + 4 + 2.
      `payment ${world.disputed.id} (succeeded, 10 credits) has 1 credit(s) totalling 10; counts 0 refunded and 3 disputed, its rows 0 and 9`,
    ]),
  );
});

describe('--stripe', () => {
  const listed = (p: PaymentRow, intentId = p.stripePaymentIntentId!) =>
    paymentIntent({
      id: intentId,
      amount: p.amount,
      metadata: { leadwirePaymentId: p.id, leadwireBuyerId: p.buyerId, leadwireAgencyId: p.agencyId },
    });

  test("flags a payment Stripe lists as succeeded that the ledger lacks, credits nothing, ignores others'", async () => {
    const lostIntent = listed(world.lost, newId('pi'));
    stripe.intents = [
      listed(world.topUp),
      listed(world.refunded),
      lostIntent,
      paymentIntent({ amount: 1234, metadata: { order: 'shop-1' } }),
    ];
    const skipped = await runAudit(database.db, { agencyId: world.agencyId });
    expect(byName(skipped, 'stripe').skipped).toBe('not asked (--stripe)');
    const report = await runAudit(database.db, { agencyId: world.agencyId, stripe: { hours: 1 } });
    expect(byName(report, 'stripe')).toMatchObject({ checked: 4, failed: 1 });
    expect(messages(report, 'stripe')).toEqual([
      `agency ${world.agencyId}: Stripe says ${lostIntent.id} (payment ${world.lost.id}, 7.00 USD) succeeded; no ledger entry credits it`,
    ]);
    expect(report.ok).toBe(false);
    const credited = await database.db
      .select()
      .from(ledgerEntries)
      .where(eq(ledgerEntries.idempotencyKey, stripeLedgerKey.payment(lostIntent.id)));
    expect(credited).toEqual([]);

    const run = await cli('ops/audit.ts', [
      '--agency',
      world.agencyId,
      '--no-temporal',
      '--stripe',
      '--stripe-hours',
      '1',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`! agency ${world.agencyId}: Stripe says ${lostIntent.id}`);
  });

  test('a Stripe that cannot be asked is a violation: the audit cannot vouch for the agency', async () => {
    stripe.unavailable = true;
    try {
      const report = await runAudit(database.db, { agencyId: world.agencyId, stripe: { hours: 1 } });
      expect(messages(report, 'stripe')).toEqual([
        expect.stringMatching(new RegExp(`^agency ${world.agencyId}: Stripe could not be listed: `)),
      ]);
    } finally {
      stripe.unavailable = false;
    }
  });
});
