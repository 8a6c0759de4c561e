/**
 * The console's Scrubs page (#23 item 5) in real headless Chromium against the
 * real stack and a local server speaking RealPhoneValidation's API: the admin
 * turns the line status scrub on with a token (never shown back), a lead is
 * scrubbed (the calls this month follow), the provider goes down and the page
 * shows the circuit open; the litigator scrub's form refuses a missing username
 * on the field.
 */
import { apiAgency, apiCampaign, bearer, type Harness } from '../api/harness';
import { type ScrubProvider, startLineStatus } from '../helpers/scrub-providers';
import { eventually } from '../helpers/temporal';
import { leadFields } from '../helpers/world';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite({ api: { webhookAllowlist: '127.0.0.1' } });
let h: Harness;
let browser: import('playwright-core').Browser;
let lines: ScrubProvider;
beforeAll(async () => {
  ({ h, browser } = suite);
  lines = await startLineStatus({ token: 'rpv-token-page', statuses: {} });
});
afterAll(async () => {
  await lines?.close();
});

test('the Scrubs page turns a provider on, shows its calls and its circuit, and names a bad field', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const w = suite.track(await adminPage(browser, h, adminKey, '/admin/scrubs'));
  const form = w.page.locator('[data-testid=scrub-form-line_status]');
  await form.waitFor({ timeout: 20_000 });
  expect(await w.page.locator('[data-testid=scrub-circuit-line_status]').innerText()).toBe('closed');

  await form.locator('input[name=enabled]').check();
  await form.locator('input[name=baseUrl]').fill(lines.baseUrl);
  await form.locator('input[name=secret]').fill('rpv-token-page');
  await form.locator('input[name=monthlyBudget]').fill('100');
  await form.locator('input[name=timeoutMs]').fill('300');
  await form.locator('input[name=failureThreshold]').fill('1');
  await form.locator('button:has-text("Save")').click();
  await eventually(
    async () => {
      const res = await h.http.get('/v1/scrubs').set(bearer(adminKey));
      return res.body.scrubs[1].enabled ? res.body.scrubs[1] : undefined;
    },
    20_000,
    'saved',
  ).then((s: Record<string, unknown>) =>
    expect(s).toMatchObject({
      enabled: true,
      secretSet: true,
      monthlyBudget: 100,
      timeoutMs: 300,
      failureThreshold: 1,
    }),
  );
  expect(await w.page.content()).not.toContain('rpv-token-page');

  // A lead scrubbed: the page shows the call against the budget.
  const lead = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields() });
  expect(lead.status).toBe(202);
  await w.page.reload();
  await eventually(
    async () =>
      (await w.page.locator('[data-testid=scrub-calls-line_status]').innerText()).includes('1 / 100')
        ? true
        : undefined,
    20_000,
    'one call shown',
  );

  // The provider down: one failed call opens the circuit, and the page says so.
  lines.mode = 'down';
  const during = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields() });
  expect(during.status).toBe(202);
  await w.page.reload();
  await eventually(
    async () =>
      (await w.page.locator('[data-testid=scrub-circuit-line_status]').innerText()) === 'open' ? true : undefined,
    20_000,
    'circuit shown open',
  );
  await screenshot(w.page, 'console-scrubs');
  lines.mode = 'up';

  // The litigator scrub without a username: the field says why.
  const lit = w.page.locator('[data-testid=scrub-form-litigator]');
  await lit.locator('input[name=enabled]').check();
  await lit.locator('input[name=secret]').fill('pw');
  await lit.locator('button:has-text("Save")').click();
  await eventually(
    async () => ((await lit.innerText()).includes('required: the API username') ? true : undefined),
    20_000,
    'username error shown',
  );
  // The one console error is the browser's note of that 400 answer.
  expect(w.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
});
