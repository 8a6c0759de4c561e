/**
 * People join through the pages (#20), in real Chromium: the first-run setup
 * link signs the first owner in; an owner invites from the console's Team
 * page and the invitee, in another browser, accepts and is signed in. The
 * session lives in an HttpOnly cookie: the pages never hold it.
 */
import type { Browser } from 'playwright-core';

import { issueOneTimeToken } from '../../db/accounts';
import { createApiKey } from '../../db/keys';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiClient,
  apiLead,
  expectStatus,
  type Harness,
  unique,
} from '../api/harness';
import { SERVICE_LINE } from '../helpers/world';
import { adminPage, browserSuite, openPage, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
beforeAll(() => ({ h, browser } = suite));
const track = suite.track;

const PASSWORD = 'correct horse battery staple';

test('the setup link makes the first owner, signed in', async () => {
  const { secret } = await issueOneTimeToken(h.database.db, { purpose: 'setup' });
  const w = track(await openPage(browser, `${h.main.baseUrl}/setup?token=${secret}`));
  const email = `${unique('owner')}@example.com`.toLowerCase();
  await w.page.fill('input[name=agencyName]', 'Northwind Roofing');
  await w.page.fill('input[name=email]', email);
  await w.page.fill('input[name=displayName]', 'Olivia Owner');
  await w.page.fill('input[name=password]', 'too short');
  await w.page.click('form.signin button[type=submit]');
  await w.page.waitForSelector('.field-error >> text=12 characters');
  await w.page.fill('input[name=password]', PASSWORD);
  await w.page.click('form.signin button[type=submit]');
  await w.page.waitForSelector('[data-testid=setup-done]');
  await screenshot(w.page, 'setup-done');
  // signed in by the cookie alone (the page stores nothing): the team is there, with her as owner
  const team = await w.page.evaluate(async () => (await fetch('/v1/members')).json());
  expect(team.members).toEqual([expect.objectContaining({ email, role: 'owner' })]);
  expect(await w.page.evaluate(() => document.cookie)).toBe(''); // HttpOnly: out of the page's reach
  expect(await w.page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }))).toBe('{}');
  // the link worked once
  const again = track(await openPage(browser, `${h.main.baseUrl}/setup?token=${secret}`));
  await again.page.waitForSelector('text=This setup link does not work');
  // the one error the console saw is the short password's 400
  expect(w.errors).toEqual([expect.stringContaining('status of 400')]);
});

test('an owner invites from the Team page; the invitee accepts in another browser and is signed in', async () => {
  const { adminKey } = await apiAgency(h);
  const agencyPage = track(await adminPage(browser, h, adminKey, '/admin/team'));
  await agencyPage.page.waitForSelector('[data-testid=members-table]');
  const email = `${unique('dee')}@example.com`.toLowerCase();
  await agencyPage.page.fill('input[name=inviteEmail]', email);
  await agencyPage.page.selectOption('select[name=inviteRole]', 'dispatcher');
  await agencyPage.page.click('button:has-text("Invite")');
  // no SMTP server in this run: the page shows the link to pass on
  const link = (await agencyPage.page.locator('[data-testid=secret]').textContent())!.trim();
  expect(link).toMatch(/\/invite\?token=/);
  await agencyPage.page.waitForSelector(`[data-testid=pending-invitations] >> text=${email}`);
  await screenshot(agencyPage.page, 'team');

  const invitee = track(await openPage(browser, link));
  await invitee.page.waitForSelector('[data-testid=invite-role] >> text=dispatcher');
  await invitee.page.fill('input[name=displayName]', 'Dee Dispatcher');
  await invitee.page.fill('input[name=password]', PASSWORD);
  await invitee.page.click('form.signin button[type=submit]');
  await invitee.page.waitForSelector('[data-testid=invite-done]');
  const me = await invitee.page.evaluate(async () => (await fetch('/v1/me')).json());
  expect(me).toMatchObject({ kind: 'admin' });

  await agencyPage.page.reload();
  await agencyPage.page.waitForSelector(`[data-testid=members-table] tr[data-email="${email}"]`);
  expect(await agencyPage.page.locator(`select[aria-label="Role of ${email}"]`).inputValue()).toBe('dispatcher');
  expect(invitee.errors).toEqual([]);
});

test('from the setup link to a claimed lead: the owner invites a buyer from the console, whose owner accepts and claims in Live Leads, no key seen by either', async () => {
  // The first person: the setup link makes the agency and its owner, signed in.
  const { secret } = await issueOneTimeToken(h.database.db, { purpose: 'setup' });
  const owner = track(await openPage(browser, `${h.main.baseUrl}/setup?token=${secret}`));
  await owner.page.fill('input[name=agencyName]', 'Eastwind Gutters');
  await owner.page.fill('input[name=email]', `${unique('founder')}@example.com`.toLowerCase());
  await owner.page.fill('input[name=displayName]', 'Fran Founder');
  await owner.page.fill('input[name=password]', PASSWORD);
  await owner.page.click('form.signin button[type=submit]');
  await owner.page.waitForSelector('[data-testid=setup-done]');
  const me = await owner.page.evaluate(async () => (await fetch('/v1/me')).json());
  const agencyId = (me as { agency: { id: string } }).agency.id;

  // The agency's integration (a key of its own, as a lead source or a script would hold) sets up the market.
  const integration = (await createApiKey(h.database.db, { kind: 'admin', agencyId, name: 'Integration' })).key;
  await expectStatus(
    'service line',
    201,
    apiClient(h, integration).POST('/v1/service-lines', { body: { key: SERVICE_LINE, name: 'Roofing' } }),
  );
  const { buyer } = await apiBuyer(h, integration, { credits: 200 });
  const campaign = await apiCampaign(h, integration, { previewFields: ['city', 'state', 'zip'] });

  // The owner invites the buyer's owner from the buyer's page in the console.
  await owner.page.goto(`${h.main.baseUrl}/admin/buyers/${buyer.id}`);
  const email = `${unique('bo')}@example.com`.toLowerCase();
  await owner.page.fill('input[name=inviteEmail]', email);
  await owner.page.selectOption('select[name=inviteRole]', 'owner');
  await owner.page.click('button:has-text("Invite")');
  const link = (await owner.page.locator('[data-testid=secret]').textContent())!.trim();
  expect(link).toMatch(/\/invite\?token=/);

  // The buyer's owner accepts in their own browser, and Live Leads opens on the session.
  const buyerSide = track(await openPage(browser, link));
  await buyerSide.page.waitForSelector('[data-testid=invite-role] >> text=owner');
  await buyerSide.page.fill('input[name=displayName]', 'Bo Buyer');
  await buyerSide.page.fill('input[name=password]', PASSWORD);
  await buyerSide.page.click('form.signin button[type=submit]');
  await buyerSide.page.waitForSelector('[data-testid=invite-done]');
  await buyerSide.page.goto(`${h.main.baseUrl}/`);
  await buyerSide.page.waitForSelector('.conn-online', { timeout: 30_000 });

  // A lead comes in; the buyer claims it and sees it whole.
  const lead = await apiLead(h, integration, campaign.id);
  const card = '[data-testid=offer-card]';
  await buyerSide.page.waitForSelector(`${card} button.btn-primary`, { timeout: 30_000 });
  await buyerSide.page.click(`${card} button.btn-primary`);
  await buyerSide.page.waitForSelector(`${card}[data-state=won]`, { timeout: 30_000 });
  expect(await buyerSide.page.locator(card).innerText()).toContain(lead.fields.phone);

  // Neither page ever held a key.
  for (const w of [owner, buyerSide]) expect(await w.page.content()).not.toMatch(/lw_(buyer|admin|source)_/);
});
