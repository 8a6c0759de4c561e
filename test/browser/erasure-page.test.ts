/**
 * The console's erasure page and retention setting (#23 item 6) in real headless Chromium against the real stack:
 * the settings page sets and clears the retention period; the erasure form erases a person named by phone (and
 * lists them on do_not_contact), and the list of past requests shows the counts and who asked, never the person.
 */
import type { Pool } from 'pg';

import { apiAgency, apiCampaign, bearer, type Harness, leadFields } from '../api/harness';
import { eventually } from '../helpers/temporal';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: import('playwright-core').Browser;
beforeAll(() => ({ h, browser } = suite));

test('the settings page sets the retention period; the erasure page erases a person and lists the request without them', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const lead = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({
      campaignId: campaign.id,
      fields: leadFields({ firstName: 'Gwendolyn', lastName: 'Throckmorton', phone: '(737) 555-0164' }),
    });
  expect(lead.status).toBe(202);

  const w = suite.track(await adminPage(browser, h, adminKey, '/admin/settings'));
  await w.page.locator('[data-testid=retention-days]').waitFor({ timeout: 20_000 });
  await w.page.fill('[data-testid=retention-days]', '90');
  await w.page.click('button:has-text("Save retention")');
  const settings = () => h.http.get('/v1/settings').set(bearer(adminKey));
  await eventually(async () => (await settings()).body.settings.retentionDays === 90 || undefined, 20_000, 'saved');
  await w.page.fill('[data-testid=retention-days]', '');
  await w.page.click('button:has-text("Save retention")');
  await eventually(
    async () => (await settings()).body.settings.retentionDays === undefined || undefined,
    20_000,
    'cleared',
  );

  w.page.on('dialog', (d) => void d.accept());
  await w.page.goto(`${h.main.baseUrl}/admin/erasure`);
  await w.page.locator('[data-testid=erasure-value]').waitFor({ timeout: 20_000 });
  await w.page.fill('[data-testid=erasure-value]', '737-555-0164');
  await w.page.check('[data-testid=erasure-suppress]');
  await w.page.click('[data-testid=erasure-form] button:has-text("Erase")');
  const row = w.page.locator('[data-testid=erasure-request]');
  await row.first().waitFor({ timeout: 20_000 });
  const text = await row.first().innerText();
  expect(text).toMatch(/phone\s+1\s/);
  expect(text).toMatch(/do not contact/i);
  expect(await w.page.locator('main').innerText()).not.toMatch(/555.?0164|Gwendolyn|Throckmorton/);
  await screenshot(w.page, 'console-erasure');

  const [stored] = (
    await (h.database.raw as Pool).query(`SELECT fields->>'lastName' AS last, erased_at FROM leads WHERE id = $1`, [
      lead.body.lead.id,
    ])
  ).rows as { last: string; erased_at: Date | null }[];
  expect(stored!.last).toBe('[erased]');
  expect(stored!.erased_at).not.toBeNull();
  expect(w.errors).toEqual([]);
});
