/**
 * The reports of #22 item 5 and #23 item 7 in real headless Chromium against
 * the real stack: the console's Analytics shows each buyer endpoint's pings,
 * bids, average bid, posts, acceptance and timeouts (calls recorded in the
 * endpoint's log as the call library records them) and the refusals by
 * reason and by source; the source portal's "Refused" tab shows the source
 * why its lead and ping were refused, with the lead's sub id.
 */
import type { Browser } from 'playwright-core';

import { SYSTEM } from '../../db/audit';
import { recordEndpointCall, saveEndpoint } from '../../db/endpoints';
import type { EndpointCall } from '../../domain/endpoints';
import { apiAgency, apiBuyer, apiCampaign, bearer, type Harness } from '../api/harness';
import { apiSourceFor } from '../api/world';
import { fleetEndpointSettings } from '../helpers/endpoint-fleet';
import { leadFields } from '../helpers/world';
import { adminPage, browserSuite, openPage, screenshot, signInAs } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
beforeAll(() => ({ h, browser } = suite));

test('Analytics shows the buyer endpoints and the refusals; the source portal shows the source its refusals', async () => {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey, { name: 'Solar – Hays County' });
  const { buyer } = await apiBuyer(h, A.adminKey, { credits: 100 });
  const S = await apiSourceFor(h, A.adminKey, campaign.id);

  // ── a buyer endpoint and its calls: two bids (20, 40), a timeout, a post accepted and resent, a test call ──
  const settings = fleetEndpointSettings({ pingUrl: 'http://127.0.0.1:9/ping', postUrl: 'http://127.0.0.1:9/post' });
  const endpoint = await saveEndpoint(h.database.db, {
    agencyId: A.agency.id,
    buyerId: buyer.id,
    settings,
    by: SYSTEM,
  });
  if (endpoint === 'missing_secret') throw new Error('no secret is needed');
  const call = (over: Partial<EndpointCall>): EndpointCall => ({
    endpointId: endpoint.id,
    leadId: null,
    kind: 'ping',
    step: 'ping',
    request: { method: 'POST', url: settings.pingUrl!, headers: {}, body: '{}' },
    response: null,
    latencyMs: 12,
    outcome: 'accepted',
    ...over,
  });
  for (const c of [
    call({ bid: 20 }),
    call({ bid: 40 }),
    call({ outcome: 'timeout' }),
    call({ kind: 'post', step: 'post', idempotencyKey: 'sale-1' }),
    call({ kind: 'post', step: 'post', idempotencyKey: 'sale-1' }),
    call({ kind: 'test', bid: 500 }),
  ])
    await recordEndpointCall(h.database.db, c);

  // ── the source: a lead refused for its phone, a ping for its email ──
  const refused = await h.http
    .post('/v1/leads')
    .set(bearer(S.apiKey))
    .send({ campaignId: campaign.id, fields: { ...leadFields(), phone: '(555) 123-4567' }, subId: 'aff-9' });
  expect(refused.body.code).toBe('invalid_phone');
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(S.apiKey))
    .send({ campaignId: campaign.id, fields: { zip: '78701', state: 'TX', email: 'x@yopmail.com' } });
  expect(ping.body).toMatchObject({ decision: 'rejected', reason: 'disposable_email' });

  // ── the console's Analytics ──
  const admin = suite.track(await adminPage(browser, h, A.adminKey, '/admin/analytics'));
  const page = admin.page;
  const endpointRow = page.locator(`[data-testid=endpoint-report] tr[data-buyer-id="${buyer.id}"]`);
  await endpointRow.waitFor({ timeout: 30_000 });
  // Buyer, pings, bids, average bid, posts, accepted, acceptance, unanswered posts, timeouts
  expect((await endpointRow.locator('td').allInnerTexts()).slice(1)).toEqual([
    '3',
    '2',
    '30',
    '1',
    '1',
    '100%',
    '0',
    '1',
  ]);
  const reasonRow = (reason: string) => page.locator(`[data-testid=refusal-reasons] tr[data-reason="${reason}"]`);
  await reasonRow('invalid_phone').waitFor({ timeout: 30_000 });
  expect(await reasonRow('invalid_phone').locator('td').allInnerTexts()).toEqual([
    'Invalid phone number',
    'invalid_phone',
    '1',
    '0',
  ]);
  expect(await reasonRow('disposable_email').locator('td').allInnerTexts()).toEqual([
    'Disposable email address',
    'disposable_email',
    '0',
    '1',
  ]);
  const sourceRow = page.locator(`[data-testid=refusal-sources] tr[data-source-id="${S.source.id}"]`);
  expect(await sourceRow.locator('td').allInnerTexts()).toEqual([
    S.source.name,
    '1',
    '1',
    'Disposable email address 1 · Invalid phone number 1',
  ]);
  await screenshot(page, 'console-analytics-endpoints-refusals', { fullPage: true });
  expect(admin.errors).toEqual([]);

  // ── the source portal: "Refused" ──
  const portal = suite.track(await openPage(browser, `${h.main.baseUrl}/source`));
  await signInAs(portal.page, h, S.apiKey, '.who-name'); // no lead of its was taken: its leads list is empty
  await portal.page.click('.tab:has-text("Refused")');
  const mine = portal.page.locator('[data-testid=source-refusals] tr[data-reason="invalid_phone"]');
  await mine.waitFor({ timeout: 30_000 });
  const cells = await mine.locator('td').allInnerTexts();
  expect(cells.slice(1)).toEqual([
    'Solar – Hays County',
    'Invalid phone number invalid_phone',
    'fields.phone',
    'aff-9',
    '–',
  ]);
  expect(
    await portal.page
      .locator('[data-testid=source-refusal-reasons] tr[data-reason="disposable_email"] td')
      .allInnerTexts(),
  ).toEqual(['Disposable email address', 'disposable_email', '0', '1']);
  await screenshot(portal.page, 'source-portal-refused');
  expect(portal.errors).toEqual([]);
});
