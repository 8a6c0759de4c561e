/**
 * People join through the pages (#20), in real Chromium: the first-run setup
 * link signs the first owner in; an owner invites from the console's Team
 * page and the invitee, in another browser, accepts and is signed in. The
 * session lives in an HttpOnly cookie: the pages never hold it.
 */
import type { Browser } from 'playwright-core';

import { issueOneTimeToken } from '../../db/accounts';
import { apiAgency, type Harness, unique } from '../api/harness';
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
