/**
 * The campaign editor's endpoint bidders (#22) in real headless Chromium: for
 * a highest-bid campaign, a person picks two of the agency's buyers that have
 * an endpoint (a buyer without one is not offered), saves, reloads the page
 * and sees the same two chosen; the API holds them.
 */
import type { Browser } from 'playwright-core';

import { apiAgency, apiBuyer, bearer, type Harness } from '../api/harness';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(120_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
beforeAll(() => {
  ({ h, browser } = suite);
});

test('a person picks two endpoint bidders for a highest-bid campaign, saves, reloads and sees them', async () => {
  const A = await apiAgency(h);
  const withEndpoint = [];
  for (let i = 0; i < 3; i++) {
    const { buyer } = await apiBuyer(h, A.adminKey);
    await h.http
      .put(`/v1/buyers/${buyer.id}/endpoint`)
      .set(bearer(A.adminKey))
      .send({ postUrl: 'https://buyer-endpoint.invalid/post', postTemplate: { phone: '{{phone}}' } })
      .expect(200);
    withEndpoint.push(buyer);
  }
  const [first, second, third] = withEndpoint;
  const { buyer: plain } = await apiBuyer(h, A.adminKey);

  const w = suite.track(await adminPage(browser, h, A.adminKey, '/admin/campaigns/new'));
  const { page } = w;
  await page.fill('input[name=name]', 'Solar – bidders');
  await page.fill('input[name=base]', '30');
  // Not a highest-bid campaign yet: no endpoint bidders to pick.
  expect(await page.locator('[data-testid=endpoint-bidders]').count()).toBe(0);
  await page.locator('select', { has: page.locator('option[value=highest_bid]') }).selectOption('highest_bid');
  const panel = page.locator('[data-testid=endpoint-bidders]');
  const chip = (name: string) => panel.locator('label', { hasText: name }).locator('input[type=checkbox]');
  await chip(third!.name).waitFor({ timeout: 30_000 });
  expect(await panel.locator('input[type=checkbox]').count()).toBe(3);
  expect(await panel.locator('label', { hasText: plain.name }).count()).toBe(0);
  await chip(first!.name).check();
  await chip(third!.name).check();
  await page.click('button:has-text("Create campaign")');
  await page.waitForURL(/\/admin\/campaigns\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  const id = page.url().split('/').pop()!;
  const stored = await h.http.get(`/v1/campaigns/${id}`).set(bearer(A.adminKey));
  expect(stored.body.campaign).toMatchObject({ auction: 'highest_bid', endpointBidders: [first!.id, third!.id] });

  await page.reload();
  await chip(third!.name).waitFor({ timeout: 30_000 });
  expect(await chip(first!.name).isChecked()).toBe(true);
  expect(await chip(second!.name).isChecked()).toBe(false);
  expect(await chip(third!.name).isChecked()).toBe(true);
  await screenshot(page, 'campaign-endpoint-bidders', { fullPage: true });
  expect(w.errors).toEqual([]);
});
