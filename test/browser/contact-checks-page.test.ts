/**
 * The console's lead page shows intake's contact checks (#23) in real headless
 * Chromium: the number as sent beside its E.164 form and type, and each check
 * with its result and latency.
 */
import type { Browser } from 'playwright-core';

import { apiAgency, apiCampaign, apiLead, type Harness, leadFields } from '../api/harness';
import { adminPage, browserSuite } from './harness';

jest.setTimeout(120_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
beforeAll(() => ({ h, browser } = suite));

test("the lead page shows the phone's E.164 form and type and every check with its result and latency", async () => {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey);
  const lead = await apiLead(h, A.adminKey, campaign.id, { ...leadFields(), phone: '(512) 555-0142' });

  const w = suite.track(await adminPage(browser, h, A.adminKey, `/admin/leads/${lead.id}`));
  await w.page.waitForSelector('[data-testid=contact-checks]', { timeout: 30_000 });
  expect(await w.page.locator('[data-testid=lead-phone-e164] dd').innerText()).toBe(
    '+15125550142 · fixed line or mobile',
  );
  const phone = await w.page.locator('[data-testid=contact-checks] [data-check=phone] dd').innerText();
  expect(phone).toMatch(/^passed E\.164 \+15125550142 type fixed line or mobile latency [\d.]+ ms$/);
  const email = await w.page.locator('[data-testid=contact-checks] [data-check=email] dd').innerText();
  expect(email).toMatch(/^passed domain example\.com latency [\d.]+ ms$/);
  // The harness runs without the MX look-up: recorded as skipped.
  expect(await w.page.locator('[data-testid=contact-checks] [data-check=email_mx] dd').innerText()).toMatch(
    /^skipped domain example\.com latency 0 ms$/,
  );
  // The number as the source sent it stays the lead's field.
  expect(await w.page.locator('.kv', { hasText: 'Phone' }).first().locator('dd').innerText()).toBe('(512) 555-0142');
});
