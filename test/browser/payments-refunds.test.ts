/**
 * The console's Payments page (#21 items 4 and 7) in real headless Chromium against the real API: an agency owner
 * refunds part of a card top-up – the refund is asked of stripe-mock (seen through the recording proxy), shown
 * pending, and once the test posts Stripe's signed `refund.updated` the page shows it refunded and the buyer's
 * ledger has exactly one debit. A refund of more than is refundable shows the route's error and stores nothing. A
 * dispute shows with its status and the buyer's `payment_disputed` pause. An analyst reads the payments with no
 * Refund button and the API refuses its refund (403); a dispatcher has no Payments page at all.
 */
import { and, eq } from 'drizzle-orm';

import { walletBalance } from '../../db/ledger';
import { ledgerEntries, paymentRefunds } from '../../db/schema';
import { apiBuyer } from '../api/harness';
import {
  agencyWithCardPayments,
  deliver,
  dispute,
  paidPayment,
  refund,
  signedDelivery,
  stripeEvent,
  stripeForThisFile,
} from '../helpers/stripe';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(180_000);

const stripe = stripeForThisFile();
const suite = browserSuite();
const WEBHOOK_SECRET = 'whsec_test_console_refunds_0123456789';

test('an owner refunds part of a top-up: asked of Stripe, pending, refunded on the webhook, one debit; too much is refused', async () => {
  const h = suite.h;
  const db = h.database.db;
  const { agency, adminKey } = await agencyWithCardPayments(h, {
    webhookSecret: WEBHOOK_SECRET,
    currency: 'usd',
    creditPrice: 250,
    minCredits: 10,
    maxCredits: 1000,
  });
  const { buyer } = await apiBuyer(h, adminKey);
  const paid = await paidPayment(db, { agencyId: agency.id, buyerId: buyer.id, credits: 50, creditPrice: 250 });
  // A second buyer whose card payment is disputed after it spent the credits: paused, payment_disputed.
  const { buyer: disputed } = await apiBuyer(h, adminKey);
  const other = await paidPayment(db, { agencyId: agency.id, buyerId: disputed.id, credits: 40, creditPrice: 250 });
  await db.insert(ledgerEntries).values({
    buyerId: disputed.id,
    agencyId: agency.id,
    kind: 'charge',
    amount: -30,
    idempotencyKey: `test-spend-${disputed.id}`,
  });
  const send = (type: Parameters<typeof stripeEvent>[0], object: object) =>
    deliver(
      `${h.main.baseUrl}/v1/stripe/webhooks/${agency.id}`,
      signedDelivery(stripeEvent(type, object), WEBHOOK_SECRET),
    );
  const opened = dispute({ amount: 10_000, charge: other.chargeId, paymentIntent: other.paymentIntentId });
  expect((await send('charge.dispute.created', opened)).status).toBe(200);

  const { page } = suite.track(await adminPage(suite.browser, h, adminKey, '/admin/payments'));
  const row = (id: string) => `[data-testid=payment-row][data-payment-id="${id}"]`;
  await page.waitForSelector(row(paid.payment.id));
  expect(await page.textContent(row(paid.payment.id))).toContain('$125.00');
  expect(await page.textContent(row(paid.payment.id))).toContain('VISA ·4242');
  expect(await page.textContent(`${row(other.payment.id)} [data-testid=payment-disputed]`)).toContain('40 credits');

  // The dispute, with its status and the buyer's pause.
  await page.click(`${row(other.payment.id)} [data-testid=payment-details]`);
  await page.waitForSelector('[data-testid=dispute-line]');
  expect(await page.textContent('[data-testid=dispute-line]')).toContain('needs response');
  expect(await page.textContent('[data-testid=buyer-dispute-pause]')).toContain('-30 credits');
  // Nothing of a disputed payment is refundable: no button.
  expect(await page.$(`${row(other.payment.id)} [data-testid=payment-refund]`)).toBeNull();

  // More than the payment has: the route's problem detail, nothing asked of Stripe, nothing stored.
  const asked = () => stripe.proxy.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
  await page.click(`${row(paid.payment.id)} [data-testid=payment-refund]`);
  await page.fill('[data-testid=refund-credits]', '80');
  await page.click('[data-testid=refund-submit]');
  await page.waitForSelector('[data-testid=refund-form] .field-msg');
  expect(await page.textContent('[data-testid=refund-form] .field-msg')).toContain(
    "50 of the payment's 50 credits can still be refunded",
  );
  expect(asked()).toEqual([]);
  expect(await db.select().from(paymentRefunds).where(eq(paymentRefunds.paymentId, paid.payment.id))).toEqual([]);

  // Part of it: the confirmation says what the wallet loses.
  await page.fill('[data-testid=refund-credits]', '20');
  expect(await page.textContent('[data-testid=refund-confirmation]')).toContain('$50.00 goes back to the card');
  expect(await page.textContent('[data-testid=refund-confirmation]')).toContain('50 credits → 30 credits');
  await page.click('[data-testid=refund-submit]');
  await page.waitForSelector(`${row(paid.payment.id)} [data-testid=payment-refunded]:has-text("20 credits pending")`);
  const [stored] = await db.select().from(paymentRefunds).where(eq(paymentRefunds.paymentId, paid.payment.id));
  expect(stored).toMatchObject({ status: 'pending', credits: 20, amount: 5000 });
  expect(asked()).toHaveLength(1);
  expect(asked()[0]).toMatchObject({
    idempotencyKey: `leadwire-refund-${stored!.id}`,
    status: 200,
    form: expect.objectContaining({ payment_intent: paid.paymentIntentId, amount: '5000' }),
  });
  expect(await walletBalance(db, buyer.id)).toBe(50);

  // Stripe says it succeeded (twice): the page, polling, shows it refunded; the ledger has one debit.
  const succeeded = refund({
    id: stored!.stripeRefundId!,
    amount: 5000,
    paymentIntent: paid.paymentIntentId,
    charge: paid.chargeId,
    status: 'succeeded',
  });
  expect((await send('refund.updated', succeeded)).status).toBe(200);
  expect((await send('refund.updated', succeeded)).status).toBe(200);
  const refunded = `${row(paid.payment.id)} [data-testid=payment-refunded]`;
  await page.waitForFunction(
    (sel) => {
      const t = document.querySelector(sel)?.textContent ?? '';
      return t.includes('20 credits') && !t.includes('pending');
    },
    refunded,
    { timeout: 30_000 },
  );
  const debits = await db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.buyerId, buyer.id), eq(ledgerEntries.kind, 'card_refund')));
  expect(debits.map((d) => d.amount)).toEqual([-20]);
  expect(await walletBalance(db, buyer.id)).toBe(30);
  await page.click(`${row(paid.payment.id)} [data-testid=payment-details]`);
  await page.waitForSelector('[data-testid=refund-line]:has-text("succeeded")');
  await screenshot(page, 'console-payments', { docs: true });

  // An analyst reads the payments but has no Refund button, and the API refuses its refund.
  const analyst = suite.track(await adminPage(suite.browser, h, adminKey, '/admin/payments', 'analyst'));
  await analyst.page.waitForSelector(row(paid.payment.id));
  expect(await analyst.page.$('[data-testid=payment-refund]')).toBeNull();
  const refused = await analyst.page.evaluate(
    async ({ id }) => {
      const { csrfToken } = (await (await fetch('/v1/session')).json()) as { csrfToken: string };
      const res = await fetch(`/v1/payments/${id}/refunds`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ credits: 1 }),
      });
      return { status: res.status, body: (await res.json()) as { code: string } };
    },
    { id: paid.payment.id },
  );
  expect(refused).toMatchObject({ status: 403, body: { code: 'forbidden' } });
  expect(asked()).toHaveLength(1);

  // A dispatcher works leads: no Payments page in its console.
  const dispatcher = suite.track(await adminPage(suite.browser, h, adminKey, '/admin/leads', 'dispatcher'));
  expect(await dispatcher.page.$('.sidenav a[href="/admin/payments"]')).toBeNull();
});
