/**
 * The agency console's audit log page in real headless Chromium against the
 * real stack: the changes made through the API are listed with who made them
 * (the key, by its name), the object filter narrows the list (and the URL
 * keeps it), the CSV button downloads the same entries; and a lead assigned
 * from manual review shows on its timeline who assigned it.
 */
import fs from 'node:fs';

import type { Browser, Page } from 'playwright-core';

import { parseCsv } from '../../domain/csv';
import { apiAgency, apiBuyer, apiCampaign, apiLead, bearer, type Harness } from '../api/harness';
import { eventually } from '../helpers/temporal';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
beforeAll(() => ({ h, browser } = suite));

async function download(page: Page, button: string): Promise<{ name: string; text: string }> {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(button)]);
  return { name: file.suggestedFilename(), text: fs.readFileSync(await file.path(), 'utf8') };
}

test('the audit log page lists who changed what, filters by object, downloads the CSV; the timeline names who assigned a lead', async () => {
  const { adminKey } = await apiAgency(h);
  // No credits: nobody is eligible, so the lead waits in manual review.
  const { buyer } = await apiBuyer(h, adminKey);
  const campaign = await apiCampaign(h, adminKey, { name: 'Roofing – Travis County', claimWindowSeconds: 1 });
  const lead = await apiLead(h, adminKey, campaign.id);
  await eventually(
    async () =>
      (await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey))).body.lead?.status === 'manual_review' ||
      undefined,
    30_000,
    'the lead in manual review',
  );
  const send = (method: 'post' | 'patch', path: string, body: object) =>
    h.http[method](path).set(bearer(adminKey)).send(body);
  expect((await send('post', `/v1/buyers/${buyer.id}/credits`, { amount: 200 })).status).toBe(201);
  expect((await send('patch', `/v1/campaigns/${campaign.id}`, { price: { base: 35 } })).status).toBe(200);
  expect((await send('post', `/v1/leads/${lead.id}/assign`, { buyerId: buyer.id })).status).toBe(200);
  const all = (await h.http.get('/v1/audit-log').set(bearer(adminKey))).body.entries as { objectType: string }[];

  const w = suite.track(await adminPage(browser, h, adminKey, '/admin/audit'));
  const rows = w.page.locator('[data-testid=audit-row]');
  await rows.first().waitFor({ timeout: 20_000 });
  expect(await rows.count()).toBe(all.length);
  expect(await rows.first().innerText()).toMatch(/key "Agency key"/);
  expect(await w.page.locator('[data-testid=audit-table]').innerText()).toMatch(/Price: \{"base":10\} → \{"base":35\}/);
  await screenshot(w.page, 'console-audit-log');

  // Filter: campaigns only; the URL keeps the filter.
  await w.page.selectOption('select[name=objectType]', 'campaign');
  await w.page.click('[data-testid=audit-filters] button[type=submit]');
  const campaignEntries = all.filter((e) => e.objectType === 'campaign').length;
  await eventually(async () => ((await rows.count()) === campaignEntries ? true : undefined), 20_000, 'filtered rows');
  expect(w.page.url()).toContain('objectType=campaign');
  for (const text of await rows.allInnerTexts()) expect(text).toMatch(/Campaign/);

  // The CSV: the filtered entries, with a header.
  const csv = await download(w.page, '[data-testid=csv-audit-log]');
  expect(csv.name).toBe('audit-log.csv');
  const records = parseCsv(csv.text);
  expect(records[0]![0]).toBe('at');
  expect(records.slice(1).map((r) => r[6])).toEqual(Array(campaignEntries).fill('campaign'));

  // The lead's timeline names who assigned it.
  await w.page.goto(`${h.main.baseUrl}/admin/leads/${lead.id}`);
  const actor = w.page.locator('[data-type=assigned] [data-testid=tl-actor]');
  await actor.waitFor({ timeout: 20_000 });
  expect(await actor.innerText()).toMatch(/^by key "Agency key"/);
  expect(w.errors).toEqual([]);
});
