/**
 * The wallet's auto-recharge section (#21) in real headless Chromium against the real API: "Save a card" opens
 * Stripe's hosted page (intercepted here: the test has no internet), the card appears once the signed setup webhook
 * stored it, the buyer turns auto-recharge on within the agency's limits, a pause shows its reason, and removing the
 * card turns recharge off. Stripe is stripe-mock behind the SetupIntent server of test/helpers/stripe-setup.ts.
 */
import { eq } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import { billingOf } from '../../db/billing';
import { savePaymentSettings } from '../../db/payments';
import { buyerBilling } from '../../db/schema';
import { apiAgency, apiBuyer } from '../api/harness';
import {
  deliver,
  type LocalServer,
  signedDelivery,
  startStripeMock,
  STRIPE_MOCK_KEY,
  stripeEvent,
} from '../helpers/stripe';
import { type SetupIntentServer, setupSession, startSetupIntentServer } from '../helpers/stripe-setup';
import { browserSuite, buyerPage, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
const WEBHOOK_SECRET = 'whsec_test_recharge_page_0123456789';
let mock: LocalServer;
let setup: SetupIntentServer;
const previousBase = process.env.LW_STRIPE_API_BASE;

beforeAll(async () => {
  mock = await startStripeMock();
  setup = await startSetupIntentServer(mock.url);
  process.env.LW_STRIPE_API_BASE = setup.url;
});
afterAll(async () => {
  await setup?.stop();
  await mock?.stop();
  if (previousBase === undefined) delete process.env.LW_STRIPE_API_BASE;
  else process.env.LW_STRIPE_API_BASE = previousBase;
});

test('a buyer saves a card on the hosted page, turns auto-recharge on, sees a pause reason and removes the card', async () => {
  const h = suite.h;
  const { agency, adminKey } = await apiAgency(h);
  const { buyer, apiKey } = await apiBuyer(h, adminKey, { credits: 200 });
  await savePaymentSettings(
    h.database.db,
    agency.id,
    {
      secretKey: STRIPE_MOCK_KEY,
      webhookSecret: WEBHOOK_SECRET,
      currency: 'usd',
      creditPrice: 150,
      minCredits: 25,
      maxCredits: 400,
    },
    SYSTEM,
  );
  const B = suite.track(await buyerPage(suite.browser, h, apiKey));
  const page = B.page;
  // Stripe's hosted page is not reachable from the test: answer its navigation with a stand-in.
  let hosted: string | null = null;
  await page.context().route('https://checkout.stripe.com/**', async (route) => {
    hosted = route.request().url();
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>Stripe Checkout (test)</h1>' });
  });
  await page.click('button.tab:has-text("Wallet")');
  await page.waitForSelector('[data-testid=auto-recharge]');
  await page.waitForSelector('[data-testid=no-card]');
  expect(await page.isDisabled('[data-testid=recharge-enabled]')).toBe(true);

  await page.click('[data-testid=save-card]');
  await page.waitForURL(/checkout\.stripe\.com/);
  expect(hosted).toMatch(/^https:\/\/checkout\.stripe\.com\//);

  // Stripe confirms the card (the signed webhook); back on the wallet the card shows.
  const customerId = (await billingOf(h.database.db, buyer.id))!.stripeCustomerId!;
  const session = setupSession(setup, { buyerId: buyer.id, agencyId: agency.id }, customerId);
  const res = await deliver(
    `${h.main.baseUrl}/v1/stripe/webhooks/${agency.id}`,
    signedDelivery(stripeEvent('checkout.session.completed', session), WEBHOOK_SECRET),
  );
  expect(res.status).toBe(200);
  await page.goto(`${h.main.baseUrl}/?card=saved`);
  await page.click('button.tab:has-text("Wallet")');
  await page.waitForSelector('[data-testid=saved-card]');
  expect(await page.textContent('[data-testid=saved-card]')).toContain('VISA ending 4242, expires 08/2030');

  // Outside the agency's limits: the API's message, nothing saved.
  await page.check('[data-testid=recharge-enabled]');
  await page.fill('[data-testid=recharge-threshold]', '50');
  await page.fill('[data-testid=recharge-credits]', '500');
  await page.click('[data-testid=save-recharge]');
  await page.waitForSelector('.toast:has-text("credits")');
  expect((await billingOf(h.database.db, buyer.id))!.rechargeEnabled).toBe(false);
  await page.fill('[data-testid=recharge-credits]', '100');
  await page.click('[data-testid=save-recharge]');
  await page.waitForSelector('.toast:has-text("Auto-recharge saved")');
  expect(await billingOf(h.database.db, buyer.id)).toMatchObject({
    rechargeEnabled: true,
    rechargeThreshold: 50,
    rechargeCredits: 100,
  });

  // A pause (as the recharge workflow writes it) shows its reason.
  await h.database.db
    .update(buyerBilling)
    .set({
      rechargePausedReason: 'Auto-recharge paused after 3 failed recharges in a row (last: card_declined).',
      rechargePausedAt: new Date(),
    })
    .where(eq(buyerBilling.buyerId, buyer.id));
  await page.reload();
  await page.click('button.tab:has-text("Wallet")');
  await page.waitForSelector('[data-testid=recharge-paused]');
  expect(await page.textContent('[data-testid=recharge-paused]')).toContain('paused after 3 failed recharges');
  await screenshot(page, 'buyer-wallet-auto-recharge', { fullPage: true });

  await page.click('[data-testid=remove-card]');
  await page.waitForSelector('[data-testid=no-card]');
  expect((await billingOf(h.database.db, buyer.id))!).toMatchObject({ paymentMethodId: null, rechargeEnabled: false });
});
