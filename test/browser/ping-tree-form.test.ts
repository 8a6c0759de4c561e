/**
 * The campaign editor's ping tree (#22) in real headless Chromium, against the
 * real stack and a fleet of local buyer endpoint servers: a person builds a
 * two-tier tree (a buyer without an endpoint cannot be picked, a buyer in one
 * tier cannot be added to another), the API's 400 for a stale choice shows at
 * the buyer it names, the saved tree reads back after a reload and in the
 * campaign list; moving a tier with the keyboard changes the order the API
 * holds; and a lead of that campaign is sold by the first tier's endpoint,
 * its timeline showing the ping, the post and the accepted post.
 */
import type { Locator, Page } from 'playwright-core';

import { apiAgency, apiBuyer, apiLead, bearer } from '../api/harness';
import { BEHAVIOURS, FLEET_SETTINGS, type FleetServer, startEndpointFleet } from '../helpers/endpoint-fleet';
import { waitForLeadStatus } from '../helpers/lifecycle';
import { adminPage, browserSuite, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite({ api: { webhookAllowlist: '127.0.0.1' }, delivery: { allowlist: '127.0.0.1' } });
const fleet = startEndpointFleet(); // servers start as the test adds them
afterAll(() => fleet.close());

/** Sets (or sets again) the buyer's endpoint to the fleet server, through the API. */
async function putEndpoint(adminKey: string, buyerId: string, server: FleetServer) {
  await suite.h.http
    .put(`/v1/buyers/${buyerId}/endpoint`)
    .set(bearer(adminKey))
    .send({ ...FLEET_SETTINGS, pingUrl: server.pingUrl, postUrl: server.postUrl, auth: { kind: 'none' } })
    .expect(200);
}

async function endpointBuyer(adminKey: string, bid: number) {
  const { buyer } = await apiBuyer(suite.h, adminKey, { credits: 200 });
  const server = await fleet.add(BEHAVIOURS.bid(bid));
  await putEndpoint(adminKey, buyer.id, server);
  return { ...buyer, server };
}

const tier = (page: Page, i: number) => page.locator(`[data-testid=tier-${i}]`);

/** Adds the buyer to tier `i` through its picker. */
async function addBuyer(page: Page, i: number, buyerId: string) {
  await tier(page, i).locator(`select[name="pingTree.tiers.${i}.add"]`).selectOption(buyerId);
  await tier(page, i).getByRole('button', { name: 'Add buyer' }).click();
}

const buyerNames = (t: Locator) => t.locator('[data-testid=tier-buyer] > span:first-child').allInnerTexts();

test('a person builds a two-tier ping tree, sees a stale choice refused at the buyer, saves, reloads, reorders, and a lead is sold by tier 1', async () => {
  const { adminKey } = await apiAgency(suite.h);
  const first = await endpointBuyer(adminKey, 42); // tier 1, the best bid
  const second = await endpointBuyer(adminKey, 35); // tier 1
  const stale = await endpointBuyer(adminKey, 20); // its endpoint goes before the save
  const third = await endpointBuyer(adminKey, 25); // tier 2
  const { buyer: bare } = await apiBuyer(suite.h, adminKey); // no endpoint

  const w = suite.track(await adminPage(suite.browser, suite.h, adminKey, '/admin/campaigns/new'));
  const { page } = w;
  await page.locator('input[name=name]').waitFor({ timeout: 30_000 });
  await page.fill('input[name=name]', 'Roofing – tree');
  await page.fill('input[name=base]', '10');
  await page.getByLabel('Auction').selectOption('ping_tree');
  const tree = page.locator('[data-testid=ping-tree]');
  await tree.waitFor();

  // The buyer without an endpoint is listed with why, and links to its endpoint page.
  const lacking = tree.locator('[data-testid=ping-tree-no-endpoint]');
  await lacking.waitFor();
  expect(await lacking.innerText()).toContain(bare.name);
  expect(await lacking.locator('a', { hasText: 'set up its endpoint' }).getAttribute('href')).toBe(
    `/admin/buyers/${bare.id}`,
  );

  await tree.getByRole('button', { name: '+ Tier' }).click();
  await tree.getByRole('button', { name: '+ Tier' }).click();
  await tier(page, 0).getByLabel('Floor (credits)').fill('30');
  await tier(page, 1).getByLabel('Floor (credits)').fill('10');

  // It cannot be picked: its option is disabled and says why.
  const bareOption = tier(page, 0).locator(`option[value="${bare.id}"]`);
  expect(await bareOption.isDisabled()).toBe(true);
  expect(await bareOption.innerText()).toContain('(no endpoint)');

  await addBuyer(page, 0, first.id);
  await addBuyer(page, 0, second.id);
  expect(await buyerNames(tier(page, 0))).toEqual([first.name, second.name]);
  // A buyer of tier 1 cannot be added to tier 2 as well.
  const taken = tier(page, 1).locator(`option[value="${first.id}"]`);
  expect(await taken.isDisabled()).toBe(true);
  expect(await taken.innerText()).toContain('(in tier 1)');
  await addBuyer(page, 1, stale.id);

  // The endpoint is removed while the page still offers it: the API's 400 shows at that buyer.
  await suite.h.http.delete(`/v1/buyers/${stale.id}/endpoint`).set(bearer(adminKey)).expect(200);
  await page.getByRole('button', { name: 'Create campaign' }).click();
  const staleEntry = tier(page, 1).locator('[data-testid=tier-buyer]', { hasText: stale.name });
  await staleEntry.locator('.field-msg').waitFor({ timeout: 30_000 });
  expect(await staleEntry.locator('.field-msg').innerText()).toBe('not a buyer of this agency with an endpoint');
  expect(page.url()).toMatch(/\/admin\/campaigns\/new$/);
  await screenshot(page, 'ping-tree-form-error', { fullPage: true });

  await tier(page, 1)
    .getByRole('button', { name: `Remove ${stale.name} from Tier 2` })
    .click();
  await addBuyer(page, 1, third.id);
  // A chosen buyer pool that leaves tree buyers out marks them: routing never makes them eligible.
  await page.getByLabel('Every buyer of the agency').uncheck();
  const outside = page.locator('[data-testid=outside-pool]');
  expect(await outside.count()).toBe(3);
  await page.locator('.pool-row', { hasText: first.name }).locator('input[type=checkbox]').check();
  expect(await outside.count()).toBe(2);
  await page.getByLabel('Every buyer of the agency').check();
  expect(await outside.count()).toBe(0);
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.waitForURL(/\/admin\/campaigns\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  const campaignId = page.url().split('/').pop()!;
  const saved = await suite.h.http.get(`/v1/campaigns/${campaignId}`).set(bearer(adminKey)).expect(200);
  expect(saved.body.campaign).toMatchObject({
    auction: 'ping_tree',
    pingTree: {
      tiers: [
        { buyerIds: [first.id, second.id], floor: 30 },
        { buyerIds: [third.id], floor: 10 },
      ],
    },
  });

  // After a reload the editor shows the saved tree: tiers in order, floors, buyer names.
  await page.reload();
  await tier(page, 1).waitFor({ timeout: 30_000 });
  expect(await buyerNames(tier(page, 0))).toEqual([first.name, second.name]);
  expect(await buyerNames(tier(page, 1))).toEqual([third.name]);
  expect(await tier(page, 0).getByLabel('Floor (credits)').inputValue()).toBe('30');
  expect(await tier(page, 1).getByLabel('Floor (credits)').inputValue()).toBe('10');
  await screenshot(page, 'ping-tree-form', { fullPage: true, docs: true });

  // The campaign list reads the tree too.
  await page.goto(`${suite.h.main.baseUrl}/admin/campaigns`);
  const summary = page.locator('tr', { hasText: 'Roofing – tree' }).locator('[data-testid=ping-tree-summary]');
  await summary.waitFor({ timeout: 30_000 });
  expect((await summary.locator('li').allInnerTexts()).map((s) => s.trim())).toEqual([
    `Tier 1 · from 30 credits: ${first.name}, ${second.name}`,
    `Tier 2 · from 10 credits: ${third.name}`,
  ]);

  // Editing with the keyboard: tier 2 moves up, the focus stays with it, and the API holds the new order.
  await page.goto(`${suite.h.main.baseUrl}/admin/campaigns/${campaignId}`);
  await tier(page, 1).waitFor({ timeout: 30_000 });
  await tier(page, 1).getByRole('button', { name: 'Move Tier 2 up' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Move Tier 1 down');
  expect(await buyerNames(tier(page, 0))).toEqual([third.name]);
  await page.keyboard.press('Enter'); // and back down again, still from the keyboard
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Move Tier 2 up');
  expect(await buyerNames(tier(page, 0))).toEqual([first.name, second.name]);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Save campaign' }).click();
  await page.waitForSelector('.toast-ok >> text=Campaign saved', { timeout: 30_000 });
  const edited = await suite.h.http.get(`/v1/campaigns/${campaignId}`).set(bearer(adminKey)).expect(200);
  expect(edited.body.campaign.pingTree).toEqual({
    tiers: [
      { buyerIds: [third.id], floor: 10 },
      { buyerIds: [first.id, second.id], floor: 30 },
    ],
  });

  // A lead of the campaign: tier 1 (now the 25-credit buyer alone) pings, posts and sells.
  const lead = await apiLead(suite.h, adminKey, campaignId);
  await waitForLeadStatus(suite.h.database.db, lead.id, 'sold', 60_000);
  expect(third.server.received.map((r) => r.path)).toEqual(['/ping', '/post']);
  expect(first.server.received).toEqual([]); // tier 2 is never pinged once tier 1 sells
  await page.goto(`${suite.h.main.baseUrl}/admin/leads/${lead.id}`);
  const timeline = page.locator('[data-testid=timeline]');
  await timeline.locator('li[data-type=post_accepted]').waitFor({ timeout: 30_000 });
  for (const type of ['pinged', 'posted', 'post_accepted']) {
    const item = timeline.locator(`li[data-type=${type}]`);
    expect(await item.count()).toBe(1);
    expect(await item.getAttribute('data-buyer')).toBe(third.name);
  }
  expect(await timeline.locator('li[data-type=pinged]').innerText()).toContain('tier 1 · bid 25 credits');
  await screenshot(page, 'ping-tree-lead-timeline', { fullPage: true, docs: true });
  expect(w.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
});
