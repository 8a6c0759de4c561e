/**
 * The buyer's side pages (#12) in real headless Chromium against the real
 * API, worker, Temporal and Postgres: the buyer's Settings tab (hours,
 * pauses, alerts, low-balance threshold) saved through the API, the Pipeline
 * board, the low-balance warning on Live Leads, an alert's claim link opening
 * the page on its offer, and the console's buyer page with the same settings
 * and the new exclusion reason on the timeline. Screenshots of the new buyer
 * pages land in docs/screenshots/ with LW_DOCS_SCREENSHOTS=1.
 */
import { bearer, ROOT_TOKEN } from '../api/harness';
import { offerOfLead, winOffer } from '../api/world';
import { SERVICE_LINE } from '../helpers/world';
import { adminPage, browserSuite, buyerPage, openPage, screenshot, signInAs } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
const track = suite.track;

async function post<T = Record<string, unknown>>(key: string, path: string, body: unknown, status = 201): Promise<T> {
  const res = await suite.h.http
    .post(path)
    .set(bearer(key))
    .send(body as object);
  if (res.status !== status) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

let phone = 2000 + Math.floor(Math.random() * 4000);
const person = (firstName: string, lastName: string, city: string, zip: string) => ({
  firstName,
  lastName,
  city,
  zip,
  state: 'TX',
  phone: `512-555-${phone++}`,
  email: `${firstName.toLowerCase()}.${phone}@example.com`,
  answers: { homeowner: 'yes' },
});

test('a buyer sets its hours, a pause, alerts and a low-balance threshold; marks its pipeline; the console shows the same settings and outside_hours on the timeline', async () => {
  const { adminKey } = await post<{ adminKey: string }>(ROOT_TOKEN, '/v1/agencies', {
    name: 'Summit Home Leads',
    timeZone: 'America/Chicago',
  });
  await post(adminKey, '/v1/service-lines', { key: SERVICE_LINE, name: 'Roofing' });
  const { buyer, apiKey } = await post<{ buyer: { id: string }; apiKey: string }>(adminKey, '/v1/buyers', {
    name: 'Apex Roofing Co.',
    serviceLines: [SERVICE_LINE],
    delivery: { smsTo: '+15125550123' },
  });
  await post(adminKey, `/v1/buyers/${buyer.id}/credits`, { amount: 120 });
  const { campaign } = await post<{ campaign: { id: string } }>(adminKey, '/v1/campaigns', {
    name: 'Roofing – Texas exclusive',
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    claimWindowSeconds: 60,
    previewFields: ['city', 'state', 'zip'],
    price: { base: 30 },
  });
  // Three leads bought, for the pipeline board.
  const people = [
    person('Ada', 'Lovelace', 'Austin', '78701'),
    person('Grace', 'Hopper', 'Round Rock', '78664'),
    person('Alan', 'Turing', 'Houston', '77002'),
  ];
  for (const fields of people) {
    const lead = await post<{ lead: { id: string } }>(adminKey, '/v1/leads', { campaignId: campaign.id, fields }, 202);
    await winOffer(suite.h, apiKey, (await offerOfLead(suite.h, lead.lead.id)).id);
  }

  // Settings: hours Mon–Fri 08:00–17:00, SMS alerts from 20 credits, quiet at night, a low-balance alert below 50.
  const B = track(await buyerPage(suite.browser, suite.h, apiKey));
  await B.page.click('button.tab:has-text("Settings")');
  await B.page.waitForSelector('[data-testid=buyer-side-form]');
  await B.page.uncheck('[data-testid=always-open]');
  for (const d of ['mon', 'tue', 'wed', 'thu', 'fri']) await B.page.fill(`[data-testid=day-${d}]`, '08:00-17:00');
  await B.page.fill('[data-testid=time-zone]', 'America/Chicago');
  await B.page.check('[data-testid=alert-sms]');
  await B.page.fill('[data-testid=min-price]', '20');
  await B.page.fill('[data-testid=quiet-from]', '21:00');
  await B.page.fill('[data-testid=quiet-to]', '07:00');
  await B.page.fill('[data-testid=low-balance-threshold]', '50');
  await B.page.click('[data-testid=save-buyer-side]');
  await B.page.waitForSelector('.toast:has-text("Settings saved")');
  const me = (await suite.h.http.get('/v1/me').set(bearer(apiKey))).body.buyer;
  expect(me).toMatchObject({
    timeZone: 'America/Chicago',
    schedule: { mon: [{ from: '08:00', to: '17:00' }], fri: [{ from: '08:00', to: '17:00' }] },
    alerts: { channels: ['sms'], minPrice: 20, quietHours: { from: '21:00', to: '07:00' } },
    lowBalanceThreshold: 50,
  });
  expect(await B.page.locator('[data-testid=availability]').innerText()).toMatch(
    me.availability.open ? /Taking leads now/ : /Outside your hours – opens again/,
  );
  // The balance (30) is below the threshold: Live Leads warns and says how to top up.
  await B.page.click('button.tab:has-text("Live Leads")');
  expect(await B.page.locator('[data-testid=low-balance-banner]').innerText()).toContain(
    'below your alert threshold of 50',
  );
  await screenshot(B.page, 'buyer-low-balance');
  await B.page.click('button.tab:has-text("Settings")');
  await B.page.waitForSelector('[data-testid=buyer-side-form]');
  await screenshot(B.page, 'buyer-settings', { docs: true, fullPage: true });

  // The pipeline: mark one won with a job value, one contacted; a move back is refused and shown.
  await B.page.click('button.tab:has-text("Pipeline")');
  await B.page.waitForSelector('[data-testid=pipeline-row]');
  const rows = B.page.locator('[data-testid=pipeline-row]');
  expect(await rows.count()).toBe(3);
  await rows.nth(0).locator('[data-testid=pipeline-status]').selectOption('won_job');
  await rows.nth(0).locator('input[aria-label="Job value"]').fill('12000');
  await rows.nth(0).locator('[data-testid=pipeline-save]').click();
  await B.page.waitForSelector('[data-testid=pipeline-row][data-status=won_job]');
  await B.page
    .locator('[data-testid=pipeline-row][data-status=new]')
    .first()
    .locator('[data-testid=pipeline-status]')
    .selectOption('quoted');
  await B.page
    .locator('[data-testid=pipeline-row][data-status=new]')
    .first()
    .locator('[data-testid=pipeline-save]')
    .click();
  await B.page.waitForSelector('[data-testid=pipeline-row][data-status=quoted]');
  const quoted = B.page.locator('[data-testid=pipeline-row][data-status=quoted]');
  await quoted.locator('[data-testid=pipeline-status]').selectOption('contacted');
  await quoted.locator('[data-testid=pipeline-save]').click();
  await B.page.waitForSelector('.note-bad:has-text("cannot go back from quoted to contacted")');
  const counts = await B.page
    .locator('[data-testid=pipeline-counts] [data-status]')
    .evaluateAll((els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute('data-status'), e.querySelector('.pipeline-n')!.textContent])),
    );
  expect(counts).toEqual({ new: '1', contacted: '0', appointment: '0', quoted: '1', won_job: '1', lost_job: '0' });
  await screenshot(B.page, 'buyer-pipeline', { docs: true });

  // A pause now: the next lead excludes it with outside_hours, shown on the console's timeline with its wording.
  await suite.h.http
    .patch(`/v1/buyers/${buyer.id}`)
    .set(bearer(adminKey))
    .send({ schedule: null, pauses: [{ until: new Date(Date.now() + 3_600_000).toISOString(), note: 'on a roof' }] });
  const lead = await post<{ lead: { id: string } }>(
    adminKey,
    '/v1/leads',
    { campaignId: campaign.id, fields: person('Katherine', 'Johnson', 'Dallas', '75201') },
    202,
  );
  const offer = await offerOfLead(suite.h, lead.lead.id, null);
  const A = track(await adminPage(suite.browser, suite.h, adminKey, `/admin/offers/${offer.id}`));
  await A.page.waitForSelector('text=outside its hours of operation');
  await screenshot(A.page, 'timeline-outside-hours');
  // The console's buyer page: the same settings form, with the pause and the availability.
  await A.page.goto(`${suite.h.main.baseUrl}/admin/buyers/${buyer.id}`);
  await A.page.waitForSelector('[data-testid=buyer-side-form]');
  expect(await A.page.locator('[data-testid=availability]').innerText()).toMatch(/^Paused – opens again/);
  expect(await A.page.locator('[data-testid=pauses]').innerText()).toContain('on a roof');
  expect(await A.page.locator('[data-testid=alert-sms]').isChecked()).toBe(true);
  // Its close rate: 1 won job of 3 leads bought.
  expect(await A.page.locator('[data-testid=close-rates]').innerText()).toContain(
    '33.3% close rate · 3 bought · 1 won',
  );
  await screenshot(A.page, 'console-buyer-side', { fullPage: true });
  // The campaign page sets the buyer's own price; new offers price it so.
  await A.page.goto(`${suite.h.main.baseUrl}/admin/campaigns/${campaign.id}`);
  await A.page.waitForSelector('text=Per-buyer prices');
  const panel = A.page.locator('.panel:has-text("Per-buyer prices")');
  await panel.locator('select').first().selectOption({ label: 'Apex Roofing Co.' });
  await panel.locator('select').nth(1).selectOption('percent');
  await panel.locator('input').fill('20');
  await panel.locator('button:has-text("Set price")').click();
  await A.page.waitForSelector('[data-testid=buyer-prices]:has-text("+20% on the campaign price")');
  expect(
    (await suite.h.http.get(`/v1/campaigns/${campaign.id}/buyer-prices`).set(bearer(adminKey))).body.buyerPrices,
  ).toMatchObject([{ buyerId: buyer.id, kind: 'percent', value: 20 }]);
  expect(A.errors).toEqual([]);
  // The one refused move back is the browser's only logged failure (a 409 answer).
  expect(B.errors).toEqual([expect.stringContaining('status of 409')]);
});

test("an alert's claim link opens Live Leads on its offer; once closed, the page says so", async () => {
  const { adminKey } = await post<{ adminKey: string }>(ROOT_TOKEN, '/v1/agencies', { name: 'Lone Star Leads' });
  await post(adminKey, '/v1/service-lines', { key: SERVICE_LINE, name: 'Roofing' });
  const { buyer, apiKey } = await post<{ buyer: { id: string }; apiKey: string }>(adminKey, '/v1/buyers', {
    name: 'Bluebird Exteriors',
    serviceLines: [SERVICE_LINE],
  });
  await post(adminKey, `/v1/buyers/${buyer.id}/credits`, { amount: 200 });
  const { campaign } = await post<{ campaign: { id: string } }>(adminKey, '/v1/campaigns', {
    name: 'Roofing',
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    claimWindowSeconds: 60,
    price: { base: 25 },
  });
  const lead = await post<{ lead: { id: string } }>(
    adminKey,
    '/v1/leads',
    { campaignId: campaign.id, fields: person('Margaret', 'Hamilton', 'El Paso', '79901') },
    202,
  );
  const offer = await offerOfLead(suite.h, lead.lead.id);

  const W = track(await openPage(suite.browser, `${suite.h.main.baseUrl}/?offer=${offer.id}`));
  await signInAs(W.page, suite.h, apiKey, '.conn-online');
  await W.page.waitForSelector(`[data-offer-id="${offer.id}"].is-focus`);
  await W.page.click(`[data-testid=offer-card][data-offer-id="${offer.id}"] button.btn-primary`);
  await W.page.waitForSelector(`[data-offer-id="${offer.id}"][data-state=won]`);
  // The same link again after the sale: the offer is no longer open.
  await W.page.goto(`${suite.h.main.baseUrl}/?offer=${offer.id}`);
  await W.page.waitForSelector('[data-testid=focus-gone]');
  expect(W.errors).toEqual([]);
});
