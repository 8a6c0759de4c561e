/**
 * The supply side's pages in real headless Chromium against the real stack:
 * the agency creates a source in its console, sets its payout rule and
 * rotates its key; the source pings and posts a lead with the new key
 * through the API and a buyer buys it; the console then shows the payout,
 * the report row and its CSV, and the source portal the lead's outcome, the
 * payout, the balance, a CSV of its leads and its posting spec. The agency
 * records a payment to the source in the console and the portal shows it.
 */
import fs from 'node:fs';

import type { Browser, Page } from 'playwright-core';

import { apiAgency, apiBuyer, apiCampaign, bearer, type Harness } from '../api/harness';
import { apiSourceFor, offerOfLead, winOffer } from '../api/world';
import { leadFields } from '../helpers/world';
import { adminPage, browserSuite, openPage, type PageWatch, screenshot, signInAs } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
beforeAll(() => ({ h, browser } = suite));

/** Clicks a CSV button and answers the downloaded file's name and text. */
async function download(page: Page, button: string): Promise<{ name: string; text: string }> {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(button)]);
  const path = await file.path();
  return { name: file.suggestedFilename(), text: fs.readFileSync(path, 'utf8') };
}

const csvRows = (text: string) =>
  text
    .trim()
    .split(/\r?\n/)
    .map((line) => line.split(','));
const text = (w: PageWatch, selector: string) => w.page.locator(selector).innerText();

test('/source serves the source portal (with the pages CSP)', async () => {
  for (const path of ['/source', '/source/anything']) {
    const res = await h.http.get(path);
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.text).toContain('<title>Source portal');
  }
});

test('a source set up in the console posts a lead that sells: the console shows its payout, the report and CSV; the portal its outcome, balance, CSV and posting spec', async () => {
  const A = await apiAgency(h);
  const buyer = await apiBuyer(h, A.adminKey, { credits: 500 });
  const campaign = await apiCampaign(h, A.adminKey, {
    name: 'Roofing – Travis County',
    claimWindowSeconds: 60,
    price: { base: 40 },
  });
  const sourceName = `Acme Affiliates ${Date.now().toString(36)}`;

  // ── the console: create the source, its payout rule, rotate its key ──
  const admin = suite.track(await adminPage(browser, h, A.adminKey, '/admin/sources'));
  const page = admin.page;
  await page.click('button:has-text("New source")');
  await page.fill('input[name=sourceName]', sourceName);
  await page.click('.modal button:has-text("Create source")');
  const firstKey = await page.locator('[data-testid=secret]').innerText();
  expect(firstKey).toMatch(/^lw_source_/);
  await page.click('button:has-text("Open source – allow a campaign")');
  await page.waitForURL(/\/admin\/sources\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  const sourceId = page.url().split('/').pop()!;
  await page.waitForSelector(`h1:has-text("${sourceName}")`);

  await page.selectOption('select[name=ruleCampaign]', campaign.id);
  await page.selectOption('select[name=payoutKind]', 'share');
  await page.fill('input[name=payoutValue]', '30');
  await page.click('[data-testid=rule-form] button[type=submit]');
  const ruleRow = page.locator('[data-testid=source-campaigns] tr', { hasText: 'Roofing – Travis County' });
  await ruleRow.waitFor({ timeout: 30_000 });
  expect(await ruleRow.innerText()).toMatch(/allowed\s+30% of the sale price/);

  await page.click('button:has-text("Rotate key")');
  const key = await page.locator('.modal [data-testid=secret]').innerText();
  expect(key).toMatch(/^lw_source_/);
  expect(key).not.toBe(firstKey);
  await page.keyboard.press('Escape');
  expect((await h.http.get('/v1/me').set(bearer(firstKey))).status).toBe(401);
  expect((await h.http.get('/v1/me').set(bearer(key))).body.source).toMatchObject({ id: sourceId, name: sourceName });

  // ── the source pings and posts with the new key; the buyer buys the lead at 40: the source is owed 30 % = 12 ──
  const fields = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(key))
    .send({
      campaignId: campaign.id,
      fields: { zip: fields.zip, state: fields.state, city: fields.city, answers: fields.answers },
      subId: 'aff-7',
    });
  expect(ping.body).toMatchObject({ decision: 'accepted', payout: 12 });
  const post = await h.http
    .post('/v1/posts')
    .set(bearer(key))
    .send({ pingId: ping.body.pingId, fields, subId: 'aff-7', clickId: 'clk-3' });
  expect(post.status).toBe(202);
  const leadId = post.body.lead.id as string;
  const won = await winOffer(h, buyer.apiKey, (await offerOfLead(h, leadId)).id);
  expect(won.charged).toBe(40);

  // ── the console: the source's balance, its sold lead and its ledger ──
  await page.click('button:has-text("Refresh")');
  await page.waitForFunction(() => document.querySelector('[data-testid=source-balance]')?.textContent === '12', null, {
    timeout: 30_000,
  });
  const leadRow = page.locator(`[data-testid=source-leads] tr[data-lead-id="${leadId}"]`);
  await leadRow.waitFor({ timeout: 30_000 });
  expect(await leadRow.innerText()).toMatch(/Roofing – Travis County\s+aff-7\s+sold\s+12/);
  expect(await text(admin, '[data-testid=source-ledger] tbody tr')).toMatch(/Payout\s+lead \w+\s+\+12\s+12/);
  await screenshot(page, 'console-source');

  // ── the console's lead page: where the lead came from ──
  await page.goto(`${h.main.baseUrl}/admin/leads/${leadId}`);
  await page.waitForSelector('[data-testid=lead-source] a', { timeout: 30_000 });
  expect(await text(admin, '[data-testid=lead-source] dd')).toBe(sourceName);
  expect(await text(admin, '[data-testid=lead-sub-id] dd')).toBe('aff-7');
  expect(await text(admin, '[data-testid=lead-click-id] dd')).toBe('clk-3');
  await page.goto(`${h.main.baseUrl}/admin/sources/${sourceId}`);
  await page.waitForSelector('a:has-text("Posting spec")', { timeout: 30_000 });

  // ── the console's posting spec page for the source ──
  await page.click('a:has-text("Posting spec")');
  await page.waitForURL(new RegExp(`/admin/sources/${sourceId}/spec$`));
  const consoleSpec = page.locator('[data-testid=spec-campaign]');
  await consoleSpec.waitFor({ timeout: 30_000 });
  expect(await consoleSpec.innerText()).toContain('Roofing – Travis County');
  expect(await consoleSpec.locator('[data-testid=spec-curl]').first().innerText()).toContain(`/v1/pings`);

  // ── Analytics: the report by source, on the server's numbers, and its CSV ──
  await page.goto(`${h.main.baseUrl}/admin/analytics`);
  await page.waitForSelector('[data-testid=report-table]', { timeout: 30_000 });
  await page.selectOption('select[name=groupBy]', 'source');
  const reportRow = page.locator(`[data-testid=report-table] tr[data-key="${sourceId}"]`);
  await reportRow.waitFor({ timeout: 30_000 });
  const cells = await reportRow.locator('td').allInnerTexts();
  // Source, leads, offered, sold, unsold, returned, revenue, payouts, margin, fill rate
  expect(cells.slice(0, 10)).toEqual([sourceName, '1', '1', '1', '0', '0', '40', '12', '28', '100%']);
  expect(await page.locator('svg.chart').count()).toBeGreaterThan(0);
  await screenshot(page, 'console-analytics-sources', { fullPage: true });

  const report = await download(page, '[data-testid=csv-report-source]');
  expect(report.name).toBe('report-source.csv');
  const rows = csvRows(report.text);
  expect(rows[0]!.slice(0, 10)).toEqual([
    'key',
    'name',
    'leads',
    'offered',
    'sold',
    'unsold',
    'returned',
    'revenue',
    'payouts',
    'margin',
  ]);
  expect(rows.find((r) => r[0] === sourceId)!.slice(1, 10)).toEqual([
    sourceName,
    '1',
    '1',
    '1',
    '0',
    '0',
    '40',
    '12',
    '28',
  ]);
  const leadsCsv = await download(page, '[data-testid=csv-leads]');
  expect(leadsCsv.name).toBe('leads.csv');
  expect(leadsCsv.text).toContain(leadId);
  expect(admin.errors).toEqual([]);

  // ── the source portal ──
  const portal = suite.track(await openPage(browser, `${h.main.baseUrl}/source`));
  await signInAs(portal.page, h, key, '[data-testid=source-leads]');
  const mine = portal.page.locator(`[data-testid=source-leads] tr[data-lead-id="${leadId}"]`);
  await mine.waitFor({ timeout: 30_000 });
  expect(await mine.innerText()).toMatch(/Roofing – Travis County\s+aff-7\s+sold\s+12/);
  await portal.page.waitForFunction(
    () => document.querySelector('[data-testid=source-topbar-balance]')?.textContent === '12',
    null,
    { timeout: 30_000 },
  );
  expect(await text(portal, '.who-name')).toBe(sourceName);
  await screenshot(portal.page, 'source-portal-leads');

  const own = await download(portal.page, '[data-testid=csv-leads]');
  expect(own.name).toBe('leads.csv');
  const ownRows = csvRows(own.text);
  expect(ownRows).toHaveLength(2); // the header and its one lead
  expect(ownRows[1]).toEqual(expect.arrayContaining([leadId, 'sold', '12']));

  await portal.page.click('.tab:has-text("Balance")');
  await portal.page.waitForFunction(
    () => document.querySelector('[data-testid=source-balance]')?.textContent === '12',
    null,
    { timeout: 30_000 },
  );
  await portal.page.waitForSelector('[data-testid=source-ledger]');
  expect(await text(portal, '[data-testid=source-ledger] tbody tr')).toMatch(/Payout\s+lead \w+\s+\+12\s+12/);

  await portal.page.click('.tab:has-text("Posting spec")');
  const spec = portal.page.locator('[data-testid=spec-campaign]');
  await spec.waitFor({ timeout: 30_000 });
  expect(await spec.locator('h3').innerText()).toBe('Roofing – Travis County · pays 30% of the sale price');
  const curl = await spec.locator('[data-testid=spec-curl]').allInnerTexts();
  expect(curl[0]).toContain(`curl -s -X POST ${h.main.baseUrl}/v1/pings`);
  expect(curl[0]).toContain(campaign.id);
  expect(curl[1]).toContain('/v1/posts');
  const pingFields = await portal.page
    .locator('[data-testid=spec-ping-fields] tbody tr td:first-child')
    .allInnerTexts();
  expect(pingFields).toEqual(
    expect.arrayContaining(['campaignId', 'fields', 'fields.zip', 'fields.state', 'fields.city', 'fields.answers']),
  );
  // A ping never carries who the person is: no name or address (a phone and an email only to be checked, #23).
  for (const identifying of ['fields.firstName', 'fields.lastName', 'fields.address'])
    expect(pingFields).not.toContain(identifying);
  const postFields = await portal.page
    .locator('[data-testid=spec-post-fields] tbody tr td:first-child')
    .allInnerTexts();
  expect(postFields).toEqual(expect.arrayContaining(['pingId', 'fields.firstName', 'fields.phone', 'fields.email']));
  await screenshot(portal.page, 'source-portal-spec', { fullPage: true });
  expect(portal.errors).toEqual([]);
});

test('the agency records a payment to a source in the console (refused above the balance, then in the ledger); the source reads it in its portal', async () => {
  const A = await apiAgency(h);
  const buyer = await apiBuyer(h, A.adminKey, { credits: 500 });
  const campaign = await apiCampaign(h, A.adminKey, { claimWindowSeconds: 60, price: { base: 40 } });
  const S = await apiSourceFor(h, A.adminKey, campaign.id);
  // A sale at 40 owes the source 30 % = 12.
  const lead = await h.http
    .post('/v1/leads')
    .set(bearer(S.apiKey))
    .send({ campaignId: campaign.id, fields: leadFields() });
  expect(lead.status).toBe(202);
  await winOffer(h, buyer.apiKey, (await offerOfLead(h, lead.body.lead.id)).id);

  const admin = suite.track(await adminPage(browser, h, A.adminKey, `/admin/sources/${S.source.id}`));
  const page = admin.page;
  const form = page.locator('[data-testid=settle-form]');
  await form.waitFor({ timeout: 30_000 });
  expect(await form.locator('[data-testid=settle-owed]').innerText()).toBe('12 credits');

  // More than is owed: the API's refusal, in its words, under the amount; nothing written.
  await page.fill('input[name=settleAmount]', '13');
  await page.fill('input[name=settleReference]', 'WIRE-TOO-MUCH');
  await form.locator('button[type=submit]').click();
  const refusal = form.locator('.field-error .field-msg');
  await refusal.waitFor({ timeout: 30_000 });
  expect(await refusal.innerText()).toBe('The source is owed 12 credits: a settlement of 13 would pay more than that.');
  expect(await text(admin, '[data-testid=source-balance]')).toBe('12');

  await page.fill('input[name=settleAmount]', '5');
  await page.fill('input[name=settleReference]', 'WIRE-2026-11-29');
  await form.locator('button[type=submit]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=source-balance]')?.textContent === '7', null, {
    timeout: 30_000,
  });
  const newest = page.locator('[data-testid=source-ledger] tbody tr').first();
  await newest.filter({ hasText: 'WIRE-2026-11-29' }).waitFor({ timeout: 30_000 });
  expect(await newest.innerText()).toMatch(/Settlement\s+WIRE-2026-11-29\s+-5\s+7/);
  expect(await form.locator('[data-testid=settle-owed]').innerText()).toBe('7 credits');
  expect(await page.locator('input[name=settleAmount]').inputValue()).toBe('');
  await screenshot(page, 'console-source-payment');
  // The one refused request above, and nothing else.
  expect(admin.errors).toEqual([expect.stringContaining('status of 409')]);
  const rows = await h.http.get(`/v1/sources/${S.source.id}/ledger`).set(bearer(A.adminKey));
  expect(rows.body.entries.map((e: { kind: string; amount: number }) => [e.kind, e.amount])).toEqual([
    ['settlement', -5],
    ['payout', 12],
  ]);

  // The source: 7 owed to it, the payment in its ledger with the reference.
  const portal = suite.track(await openPage(browser, `${h.main.baseUrl}/source`));
  await signInAs(portal.page, h, S.apiKey, '[data-testid=source-leads]');
  await portal.page.waitForFunction(
    () => document.querySelector('[data-testid=source-topbar-balance]')?.textContent === '7',
    null,
    { timeout: 30_000 },
  );
  expect(await text(portal, '.topbar .balance-label')).toMatch(/owed to you/i);
  await portal.page.click('.tab:has-text("Balance")');
  await portal.page.waitForSelector('[data-testid=source-ledger]', { timeout: 30_000 });
  expect(await text(portal, '.wallet-balance')).toMatch(/7\s*credits owed to you/);
  const ledgerRows = await portal.page.locator('[data-testid=source-ledger] tbody tr').allInnerTexts();
  expect(ledgerRows[0]).toMatch(/Paid to you \(settlement\)\s+WIRE-2026-11-29\s+-5\s+7/);
  expect(ledgerRows[1]).toMatch(/Payout\s+lead \w+\s+\+12\s+12/);
  await screenshot(portal.page, 'source-portal-payment');
  expect(portal.errors).toEqual([]);
});
