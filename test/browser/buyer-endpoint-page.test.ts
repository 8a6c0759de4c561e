/**
 * The buyer page's "Endpoint" section (#22) in real headless Chromium, against
 * a local endpoint server: a ping template that reads a hidden field is
 * refused with the field and the character shown under its editor; once
 * fixed, the endpoint is saved, the test button shows the mapped request and
 * the parsed answer, and the endpoint log lists the calls with the secret masked.
 */
import type { Browser } from 'playwright-core';

import { apiAgency, apiBuyer, type Harness } from '../api/harness';
import { BEHAVIOURS, type Fleet, startEndpointFleet } from '../helpers/endpoint-fleet';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(120_000);

const suite = browserSuite({ api: { webhookAllowlist: '127.0.0.1' } });
let h: Harness;
let browser: Browser;
let fleet: Fleet;
beforeAll(() => {
  ({ h, browser } = suite);
  fleet = startEndpointFleet();
});
afterAll(() => fleet.close());

test('the endpoint editor shows template errors with their position, saves, tests and lists the calls', async () => {
  const A = await apiAgency(h);
  const { buyer } = await apiBuyer(h, A.adminKey);
  const server = await fleet.add(BEHAVIOURS.bid(42));

  const w = suite.track(await adminPage(browser, h, A.adminKey, `/admin/buyers/${buyer.id}`));
  const { page } = w;
  const section = page.locator('[data-testid=buyer-endpoint]');
  await section.waitFor({ timeout: 30_000 });

  await section.locator('input[name=pingUrl]').fill(server.pingUrl);
  await section.locator('input[name=postUrl]').fill(server.postUrl);
  await section.locator('select[name=authKind]').selectOption('header');
  await section.locator('input[name=authName]').fill('X-Api-Key');
  await section.locator('input[name=secret]').fill('tok-browser-secret-9');
  await section.locator('textarea[name=pingTemplate]').fill('{"zip_code": "{{zip}}", "who": "{{email}}"}');
  await section.locator('[data-testid=endpoint-save]').click();
  const templateField = section.locator('.field', { has: page.locator('textarea[name=pingTemplate]') });
  await templateField.locator('.field-msg').waitFor();
  expect(await templateField.locator('.field-msg').innerText()).toMatch(
    /pingTemplate\.who \(at character 2\): a ping may not read "email"/,
  );

  await section.locator('textarea[name=pingTemplate]').fill('{"zip_code": "{{zip}}", "state": "{{state}}"}');
  await section.locator('[data-testid=endpoint-save]').click();
  await section.locator('.badge', { hasText: 'active' }).waitFor();

  await section.locator('[data-testid=endpoint-test]').click();
  const result = section.locator('[data-testid=endpoint-test-result]');
  await result.waitFor();
  expect(await result.locator('[data-testid=endpoint-test-bid]').innerText()).toBe('bid 42');
  expect(await result.innerText()).toContain('"zip_code":"78701"');
  expect(server.received[0]!.headers['x-api-key']).toBe('tok-browser-secret-9');

  const log = section.locator('[data-testid=endpoint-log]');
  await log.waitFor();
  expect(await log.locator('tbody tr').count()).toBe(1);
  expect(await log.locator('tbody tr').first().innerText()).toMatch(/test ping\s+accepted/);
  await log.locator('summary').first().click();
  const details = await log.locator('pre').first().innerText();
  expect(details).toContain('X-Api-Key: ••••');
  expect(await page.content()).not.toContain('tok-browser-secret-9');
  await screenshot(page, 'buyer-endpoint', { fullPage: true, docs: true });
});

test('a status query is set in its own section, saved and shown again after a reload; a bad template is refused under its editor', async () => {
  const A = await apiAgency(h);
  const { buyer } = await apiBuyer(h, A.adminKey);
  const server = await fleet.add(BEHAVIOURS.postTimesOut({ answer: 'accept' }));

  const w = suite.track(await adminPage(browser, h, A.adminKey, `/admin/buyers/${buyer.id}`));
  const { page } = w;
  const section = page.locator('[data-testid=buyer-endpoint]');
  await section.waitFor({ timeout: 30_000 });
  await section.locator('input[name=postUrl]').fill(server.postUrl);
  const status = section.locator('[data-testid=endpoint-status-query]');
  expect(await status.innerText()).toContain('Status query (optional)');
  await status.locator('input[name=statusUrl]').fill(server.statusUrl);
  await status.locator('select[name=statusMethod]').selectOption('POST');
  await status.locator('textarea[name=statusTemplate]').fill('{"ref": "{{idempotencyKey}}", "who": "{{phone}}"}');
  await section.locator('[data-testid=endpoint-save]').click();
  const templateField = status.locator('.field', { has: page.locator('textarea[name=statusTemplate]') });
  await templateField.locator('.field-msg').waitFor();
  expect(await templateField.locator('.field-msg').innerText()).toMatch(
    /statusTemplate\.who \(at character 2\): a status query may read only idempotencyKey, leadId, pingId/,
  );

  await status.locator('textarea[name=statusTemplate]').fill('{"ref": "{{idempotencyKey}}", "lead": "{{leadId}}"}');
  await section.locator('[data-testid=endpoint-save]').click();
  await section.locator('.badge', { hasText: 'active' }).waitFor();
  const saved = await h.http.get(`/v1/buyers/${buyer.id}/endpoint`).set('Authorization', `Bearer ${A.adminKey}`);
  expect(saved.body.endpoint).toMatchObject({
    statusUrl: server.statusUrl,
    statusMethod: 'POST',
    statusTemplate: { ref: '{{idempotencyKey}}', lead: '{{leadId}}' },
    statusRules: { accepted: { path: 'status', equals: 'accepted' }, reason: { path: 'reason' } },
  });

  await page.reload();
  const again = page.locator('[data-testid=endpoint-status-query]');
  await again.waitFor({ timeout: 30_000 });
  expect(await again.locator('input[name=statusUrl]').inputValue()).toBe(server.statusUrl);
  expect(await again.locator('select[name=statusMethod]').inputValue()).toBe('POST');
  expect(JSON.parse(await again.locator('textarea[name=statusTemplate]').inputValue())).toEqual({
    ref: '{{idempotencyKey}}',
    lead: '{{leadId}}',
  });
  expect(JSON.parse(await again.locator('textarea[name=statusRules]').inputValue())).toMatchObject({
    accepted: { path: 'status', equals: 'accepted' },
  });
});
