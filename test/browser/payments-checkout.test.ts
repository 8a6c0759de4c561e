/**
 * The buyer's top-up by card (#21 item 2) in real headless Chromium against the real API: from the Live Leads
 * low-balance warning to the wallet, an amount outside the agency's bounds is refused naming the field (by the page,
 * and by the API when the bounds changed under the page), a valid one sends the browser to the Checkout Session's
 * url (stripe-mock's, intercepted: the test has no internet) for the right amount (seen through the recording
 * proxy). The test then posts Stripe's signed `checkout.session.completed`, and an open wallet page and an open
 * Live Leads page show the new balance through `wallet.changed` on the feed – their wallet polling blocked, no
 * reload. A buyer member sees who can top up and no button.
 */
import { eq } from 'drizzle-orm';

import { walletBalance } from '../../db/ledger';
import { paymentById } from '../../db/payments';
import { agencyPaymentSettings } from '../../db/schema';
import { apiBuyer, bearer } from '../api/harness';
import {
  agencyWithCardPayments,
  checkoutSession,
  deliver,
  newId,
  signedDelivery,
  stripeEvent,
  stripeForThisFile,
} from '../helpers/stripe';
import { browserSuite, buyerPage } from './harness';

jest.setTimeout(180_000);

const stripe = stripeForThisFile();
// The open pages hear the ledger's NOTIFY through the Postgres bus, as a deployment on Postgres does.
const suite = browserSuite({ bus: 'postgres' });
const WEBHOOK_SECRET = 'whsec_test_checkout_page_0123456789';

test('a buyer owner tops up from the low-balance warning; the credits land on the webhook and every open page shows them live', async () => {
  const h = suite.h;
  const db = h.database.db;
  const { agency, adminKey } = await agencyWithCardPayments(h, {
    webhookSecret: WEBHOOK_SECRET,
    currency: 'usd',
    creditPrice: 150,
    minCredits: 25,
    maxCredits: 400,
  });
  const { buyer, apiKey } = await apiBuyer(h, adminKey, { credits: 5 });
  const patched = await h.http.patch(`/v1/buyers/${buyer.id}`).set(bearer(adminKey)).send({ lowBalanceThreshold: 20 });
  expect(patched.status).toBe(200);

  // Two pages stay open and watch: the wallet, and Live Leads. Their wallet polling is blocked, so only the feed
  // can move their balance.
  const watchers = [];
  for (const tab of ['wallet', 'live'] as const) {
    const w = suite.track(await buyerPage(suite.browser, h, apiKey));
    if (tab === 'wallet') {
      await w.page.click('button.tab:has-text("Wallet")');
      await w.page.waitForSelector('[data-testid=wallet-balance]:has-text("5")');
    } else await w.page.waitForSelector('[data-testid=low-balance-banner]');
    await w.page.route('**/v1/me/wallet', (route) => route.abort());
    await w.page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));
    watchers.push(w.page);
  }

  // The payer comes from the Live Leads warning.
  const { page } = suite.track(await buyerPage(suite.browser, h, apiKey));
  let hosted: string | null = null;
  await page.context().route('https://checkout.stripe.com/**', async (route) => {
    hosted = route.request().url();
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>Stripe Checkout (test)</h1>' });
  });
  expect(await page.textContent('[data-testid=low-balance-banner]')).toContain('below your alert threshold of 20');
  await page.click('[data-testid=low-balance-topup]');
  await page.waitForSelector('[data-testid=wallet-topup]');
  expect(await page.textContent('[data-testid=wallet-topup]')).toContain('One credit costs $1.50');

  // Outside the bounds: the field says so and nothing can be paid.
  const credits = '[data-testid=wallet-topup] .field';
  for (const bad of ['10', '401', '2.5']) {
    await page.fill('[data-testid=topup-credits]', bad);
    expect(await page.textContent(`${credits} .field-msg`)).toBe('A whole number from 25 to 400');
    expect(await page.isDisabled('[data-testid=topup-pay]')).toBe(true);
  }
  // The agency raised its minimum after the page loaded: the API refuses, naming the field, and the page shows it.
  await db.update(agencyPaymentSettings).set({ minCredits: 50 }).where(eq(agencyPaymentSettings.agencyId, agency.id));
  const sessions = () => stripe.proxy.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions');
  await page.fill('[data-testid=topup-credits]', '30');
  await page.click('[data-testid=topup-pay]');
  await page.waitForSelector(`${credits} .field-msg:has-text("between 50 and 400")`);
  expect(await page.textContent(`${credits} .field-label`)).toBe('Credits');
  expect(sessions()).toEqual([]);

  // A valid amount: Stripe is asked for a session of 100 credits at 1.50, the browser goes to its page.
  await page.fill('[data-testid=topup-credits]', '100');
  await page.click('[data-testid=topup-pay]');
  await page.waitForURL(/checkout\.stripe\.com/);
  expect(hosted).toMatch(/^https:\/\/checkout\.stripe\.com\//);
  expect(sessions()).toHaveLength(1);
  const asked = sessions()[0]!;
  const paymentId = asked.form.client_reference_id!;
  expect(asked).toMatchObject({
    idempotencyKey: `leadwire-checkout-${paymentId}`,
    status: 200,
    form: expect.objectContaining({
      mode: 'payment',
      'line_items[0][quantity]': '100',
      'line_items[0][price_data][unit_amount]': '150',
      'line_items[0][price_data][currency]': 'usd',
      'metadata[leadwireBuyerId]': buyer.id,
    }),
  });
  expect(await paymentById(db, paymentId)).toMatchObject({ status: 'pending', credits: 100, amount: 15_000 });
  expect(await walletBalance(db, buyer.id)).toBe(5);

  // Stripe's signed webhook: the credits land once, and the open pages follow without a reload.
  const session = checkoutSession({
    id: (await paymentById(db, paymentId))!.stripeCheckoutSessionId!,
    amountTotal: 15_000,
    clientReferenceId: paymentId,
    paymentIntent: newId('pi'),
    metadata: { leadwirePaymentId: paymentId, leadwireBuyerId: buyer.id, leadwireAgencyId: agency.id },
  });
  const delivery = signedDelivery(stripeEvent('checkout.session.completed', session), WEBHOOK_SECRET);
  const url = `${h.main.baseUrl}/v1/stripe/webhooks/${agency.id}`;
  expect((await deliver(url, delivery)).status).toBe(200);
  expect((await deliver(url, delivery)).status).toBe(200);
  expect(await walletBalance(db, buyer.id)).toBe(105);
  const [wallet, live] = watchers as [(typeof watchers)[number], (typeof watchers)[number]];
  await wallet.waitForSelector('[data-testid=wallet-balance]:has-text("105")');
  await live.waitForSelector('[data-testid=balance]:has-text("105")');
  await live.waitForSelector('[data-testid=low-balance-banner]', { state: 'detached' });
  for (const w of watchers)
    expect(await w.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
});

test('a buyer member sees who can top up, and no button', async () => {
  const h = suite.h;
  const { adminKey } = await agencyWithCardPayments(h, {
    webhookSecret: WEBHOOK_SECRET,
    currency: 'eur',
    creditPrice: 200,
    minCredits: 10,
    maxCredits: 100,
  });
  const { apiKey } = await apiBuyer(h, adminKey);
  const { page } = suite.track(await buyerPage(suite.browser, h, apiKey, { role: 'member' }));
  await page.click('button.tab:has-text("Wallet")');
  await page.waitForSelector('[data-testid=topup-member]');
  expect(await page.textContent('[data-testid=topup-member]')).toContain('owners can top up');
  expect(await page.textContent('[data-testid=wallet-topup]')).toContain('One credit costs €2.00');
  expect(await page.$('[data-testid=topup-pay]')).toBeNull();
  expect(await page.$('[data-testid=topup-credits]')).toBeNull();
});
