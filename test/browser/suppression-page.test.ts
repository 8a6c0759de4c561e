/**
 * The console's suppression lists page (#23 item 3) in real headless Chromium
 * against the real stack: a CSV uploaded from the page loads its good lines
 * and reports the bad one by line number, the counts follow, a search tells
 * which list holds a number and takes it off; and the campaign editor sets
 * the campaign's Do-Not-Call rule.
 */
import { apiAgency, apiCampaign, bearer, type Harness } from '../api/harness';
import { eventually } from '../helpers/temporal';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: import('playwright-core').Browser;
beforeAll(() => ({ h, browser } = suite));

test('the suppression page uploads a CSV with its report, counts the lists, searches and removes; the campaign editor sets the DNC rule', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey, { name: 'Roofing – Travis County' });
  // 20,000 numbers and one bad line (line 5,002).
  const lines = ['phone'];
  for (let i = 0; i < 20_000; i++)
    lines.push(`(512) ${200 + (i % 700)}-${String(1000 + Math.floor(i / 700)).padStart(4, '0')}`);
  lines.splice(5001, 0, 'call me maybe');

  const w = suite.track(await adminPage(browser, h, adminKey, '/admin/suppression'));
  const count = (list: string) => w.page.locator(`[data-testid=suppression-counts] [data-list=${list}] td.num`);
  await count('do_not_contact').waitFor({ timeout: 20_000 });
  expect(await count('do_not_contact').innerText()).toBe('0');

  await w.page.setInputFiles('[data-testid=upload-file]', {
    name: 'opt-outs.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(lines.join('\n')),
  });
  await w.page.click('button:has-text("Upload")');
  const report = w.page.locator('[data-testid=upload-report]');
  await report.waitFor({ timeout: 60_000 }).catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n${await w.page.locator('main').innerText()}`);
  });
  expect(await report.innerText()).toMatch(/20002 lines: 20000 added, 0 already listed, 1 refused \(header skipped\)/);
  expect(await report.innerText()).toMatch(/line 5002: not a phone number/);
  await eventually(
    async () => ((await count('do_not_contact').innerText()) === '20000' ? true : undefined),
    20_000,
    'count',
  );
  await screenshot(w.page, 'console-suppression');

  // Search a number of the file (another format), then take it off.
  await w.page.fill('[data-testid=search-value]', '+1 512 200 1000');
  await w.page.click('button:has-text("Search")');
  const entry = w.page.locator('[data-testid=search-entry]');
  await entry.waitFor({ timeout: 20_000 });
  expect(await entry.innerText()).toMatch(/Do not contact · csv/i);
  await entry.locator('button:has-text("Remove")').click();
  await eventually(
    async () =>
      (await w.page.locator('[data-testid=search-result]').innerText()).includes('not listed') ? true : undefined,
    20_000,
    'removed',
  );
  const found = await h.http.post('/v1/suppression/search').set(bearer(adminKey)).send({ value: '5122001000' });
  expect(found.body.suppressed).toBe(false);

  // The campaign's Do-Not-Call rule, set in the editor.
  await w.page.goto(`${h.main.baseUrl}/admin/campaigns/${campaign.id}`);
  await w.page.locator('[data-testid=dnc-rule]').waitFor({ timeout: 20_000 });
  await w.page.selectOption('[data-testid=dnc-rule]', 'consent_passes');
  await w.page.click('button:has-text("Save campaign")');
  await eventually(
    async () =>
      (await h.http.get(`/v1/campaigns/${campaign.id}`).set(bearer(adminKey))).body.campaign.dncRule ===
        'consent_passes' || undefined,
    20_000,
    'the rule saved',
  );
  expect(w.errors).toEqual([]);
});
