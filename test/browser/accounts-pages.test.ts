/**
 * People sign in as people (#20), in real Chromium against the real stack:
 * the sign-in page, Live Leads and the console on the session cookie (never a
 * key in the page, in a header, in a URL or in web storage), signing out, a
 * session ended elsewhere, the organisation switcher and the link to the right
 * app, the operator's console, the forms of the sign-in link and password
 * reset, and the account page – the requests of the routes another part of #20
 * is building are checked at the browser's edge (page.route) with the exact
 * paths and bodies the API will have.
 */
import type { Browser, Page, Request } from 'playwright-core';

import { revokeUserSessions } from '../../db/accounts';
import { apiAgency, apiBuyer, apiCampaign, apiLead, type Harness } from '../api/harness';
import {
  browserSuite,
  createPerson,
  openPage,
  orgOfKey,
  type PageWatch,
  screenshot,
  signInAs,
  signInWith,
  TEST_PASSWORD,
} from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
let adminKey: string;
let agencyId: string;
let buyerKey: string;
let campaignId: string;
beforeAll(async () => {
  ({ h, browser } = suite);
  const a = await apiAgency(h);
  adminKey = a.adminKey;
  agencyId = a.agency.id;
  buyerKey = (await apiBuyer(h, adminKey, { credits: 500 })).apiKey;
  campaignId = (await apiCampaign(h, adminKey, { previewFields: ['city', 'state', 'zip'] })).id;
});

/** Everything the page sent: each request's URL and headers. */
function recordRequests(page: Page): { url: string; headers: Record<string, string> }[] {
  const seen: { url: string; headers: Record<string, string> }[] = [];
  page.on('request', (r: Request) => seen.push({ url: r.url(), headers: r.headers() }));
  return seen;
}

const webStorage = (page: Page) =>
  page.evaluate(() => ({
    local: Object.keys(localStorage).length,
    session: Object.keys(sessionStorage).length,
    cookie: document.cookie,
  }));

const open = async (path: string): Promise<PageWatch> =>
  suite.track(await openPage(browser, `${h.main.baseUrl}${path}`));

test('a person signs in with email and password and claims a lead in Live Leads without ever seeing a key', async () => {
  const w = await open('/');
  const requests = recordRequests(w.page);
  const sockets: string[] = [];
  w.page.on('websocket', (ws) => sockets.push(ws.url()));
  await w.page.waitForSelector('form.signin input[name=email]');
  expect(await w.page.locator('input[name=key]').count()).toBe(0);
  await screenshot(w.page, 'sign-in', { docs: true });
  await signInAs(w.page, h, buyerKey, '.conn-online', 'member');

  const lead = await apiLead(h, adminKey, campaignId);
  const card = '[data-testid=offer-card]';
  await w.page.waitForSelector(`${card} button.btn-primary`, { timeout: 30_000 });
  await w.page.click(`${card} button.btn-primary`);
  await w.page.waitForSelector(`${card}[data-state=won]`, { timeout: 30_000 });
  expect(await w.page.locator(card).innerText()).toContain(lead.fields.phone);
  await w.page.click('button.tab:has-text("My leads")');
  await w.page.waitForSelector(`text=${lead.fields.phone}`, { timeout: 20_000 });

  // No key anywhere: not in the page, not in a header, not in a URL; the socket carries no token.
  expect(await w.page.content()).not.toMatch(/lw_(buyer|admin|source)_/);
  expect(requests.length).toBeGreaterThan(0);
  for (const r of requests) {
    expect(r.headers.authorization).toBeUndefined();
    expect(r.url).not.toMatch(/token=|lw_/);
  }
  expect(sockets.length).toBeGreaterThan(0);
  for (const url of sockets) expect(url).not.toMatch(/token=|lw_/);

  // The session cookie is HttpOnly: the page cannot read it; web storage holds nothing.
  expect(await webStorage(w.page)).toEqual({ local: 0, session: 0, cookie: '' });
  const cookies = await w.context.cookies();
  const session = cookies.find((c) => /lw_session$/.test(c.name));
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  expect(w.errors).toEqual([]);
});

test('a wrong password says so, keeps the person on the sign-in page and stores nothing', async () => {
  const person = await createPerson(h, await orgOfKey(h, buyerKey), 'owner');
  const w = await open('/');
  await w.page.waitForSelector('form.signin input[name=email]');
  await w.page.fill('form.signin input[name=email]', person.email);
  await w.page.fill('form.signin input[name=password]', 'not the password at all');
  await w.page.click('form.signin button[type=submit]');
  await w.page.waitForSelector('[data-testid=signin-error]');
  expect(await w.page.locator('[data-testid=signin-error]').innerText()).toBe('The email or the password is wrong.');
  // An unknown address gets the very same words.
  await w.page.fill('form.signin input[name=email]', 'nobody-here@example.com');
  await w.page.click('form.signin button[type=submit]');
  await w.page.waitForFunction(
    () => document.querySelector('[data-testid=signin-error]')?.textContent === 'The email or the password is wrong.',
  );
  expect(await w.page.locator('.conn-online').count()).toBe(0);
  expect((await w.context.cookies()).filter((c) => /lw_session$/.test(c.name))).toEqual([]);
  expect(await webStorage(w.page)).toEqual({ local: 0, session: 0, cookie: '' });
  // The page logged the refused sign-in as a failed request; nothing else went wrong.
  expect(w.errors.filter((e) => !/401/.test(e))).toEqual([]);
});

test('sign out ends the session: back to the sign-in page, and a reload stays signed out', async () => {
  const w = await open('/');
  await w.page.waitForSelector('form.signin');
  await signInAs(w.page, h, buyerKey, '.conn-online');
  await w.page.click('[data-testid=sign-out]');
  await w.page.waitForSelector('form.signin input[name=email]');
  expect((await w.context.cookies()).filter((c) => /lw_session$/.test(c.name))).toEqual([]);
  await w.page.reload();
  await w.page.waitForSelector('form.signin input[name=email]');
  expect(await w.page.locator('.conn-online').count()).toBe(0);
});

test('a session ended elsewhere brings the sign-in page back with a note', async () => {
  const w = await open('/');
  await w.page.waitForSelector('form.signin');
  const person = await signInAs(w.page, h, buyerKey, '.conn-online');
  await revokeUserSessions(h.database.db, person.userId);
  // The wallet is refreshed every few seconds: its 401 ends the page's session.
  await w.page.waitForSelector('[data-testid=signin-note]:has-text("Your session has ended")', { timeout: 20_000 });
});

test('a buyer member does not see the owner-only Settings; an owner does (the API refuses members anyway)', async () => {
  const member = await open('/');
  await member.page.waitForSelector('form.signin');
  await signInAs(member.page, h, buyerKey, '.conn-online', 'member');
  expect(await member.page.locator('button.tab').allInnerTexts()).toEqual([
    'Live Leads',
    'My leads',
    'Pipeline',
    'Wallet',
  ]);
  // Even with the tab's address typed in, the member lands on Live Leads.
  await member.page.goto(`${h.main.baseUrl}/#settings`);
  await member.page.waitForSelector('.conn-online');
  expect(await member.page.locator('button.tab-on').innerText()).toContain('Live Leads');

  const owner = await open('/');
  await owner.page.waitForSelector('form.signin');
  await signInAs(owner.page, h, buyerKey, '.conn-online', 'owner');
  expect(await owner.page.locator('button.tab').allInnerTexts()).toContain('Settings');
});

test('someone on the wrong app gets a link to the right one; with two buyers, a switcher acts for either', async () => {
  const org = await orgOfKey(h, buyerKey);
  const person = await createPerson(h, org, 'member');
  const w = await open('/admin');
  await w.page.waitForSelector('form.signin');
  await signInWith(w.page, person, '[data-testid=choose-organisation]');
  expect(await w.page.locator('[data-testid=choose-org]').count()).toBe(0);
  expect(await w.page.locator('[data-testid=other-apps] a').getAttribute('href')).toBe('/');
  await w.page.click('[data-testid=other-apps] a');
  await w.page.waitForSelector('.conn-online');

  // A second buyer of the same person: the top bar switches between them.
  const second = await apiBuyer(h, adminKey, { credits: 10 });
  const { addMembership } = await import('../../db/accounts');
  await addMembership(h.database.db, person.userId, await orgOfKey(h, second.apiKey), 'owner');
  await w.page.reload();
  await w.page.waitForSelector('[data-testid=org-switcher]');
  await w.page.selectOption('[data-testid=org-switcher]', { label: second.buyer.name });
  await w.page.waitForSelector(`.who-name:has-text("${second.buyer.name}")`);
  await w.page.waitForSelector('.conn-online');
  expect(await w.page.locator('[data-testid=balance]').innerText()).toBe('10');
});

test("an agency member gets the console; the platform's operator gets the page that creates agencies", async () => {
  const staff = await open('/admin');
  await staff.page.waitForSelector('form.signin');
  await signInAs(staff.page, h, { kind: 'agency', agencyId }, '.sidenav', 'dispatcher');
  expect(await staff.page.locator('.who-org').innerText()).toContain('agency dispatcher');

  const operator = await open('/admin');
  await operator.page.waitForSelector('form.signin');
  await signInAs(operator.page, h, { kind: 'platform' }, '[data-testid=create-agency]', 'operator');
  await operator.page.fill('[data-testid=create-agency] input', 'Operator Made Leads');
  await operator.page.click('[data-testid=create-agency] button[type=submit]');
  await operator.page.waitForSelector('[data-testid=secret]');
  expect(await operator.page.locator('.modal').innerText()).toContain('Operator Made Leads is ready');
});

test('"Email me a sign-in link" and "Forgot password" send the address and say the same whether or not it has an account', async () => {
  const w = await open('/');
  const bodies: Record<string, unknown> = {};
  for (const path of ['/v1/auth/sign-in-link', '/v1/auth/password-reset']) {
    await w.page.route(`**${path}`, async (route) => {
      bodies[path] = route.request().postDataJSON();
      await route.fulfill({ status: 202, contentType: 'application/json', body: '{}' });
    });
  }
  await w.page.waitForSelector('form.signin');
  await w.page.click('[data-testid=mode-link]');
  await w.page.fill('form.signin input[name=email]', 'pat@example.com');
  expect(await w.page.locator('form.signin input[name=password]').count()).toBe(0);
  await w.page.click('form.signin button[type=submit]');
  await w.page.waitForSelector('[data-testid=signin-sent]');
  expect(bodies['/v1/auth/sign-in-link']).toEqual({ email: 'pat@example.com' });

  await w.page.click('text=Sign in with a password');
  await w.page.click('[data-testid=mode-forgot]');
  await w.page.fill('form.signin input[name=email]', 'pat@example.com');
  await w.page.click('form.signin button[type=submit]');
  await w.page.waitForSelector('[data-testid=signin-sent]');
  expect(bodies['/v1/auth/password-reset']).toEqual({ email: 'pat@example.com' });
  expect(await w.page.locator('[data-testid=signin-sent]').innerText()).toContain('If pat@example.com has an account');
});

test('a sign-in link is used by one click, its token taken out of the address bar; a used link says so', async () => {
  const person = await createPerson(h, await orgOfKey(h, buyerKey), 'owner');
  const w = await open('/sign-in/link?token=tok-123');
  const sent: unknown[] = [];
  await w.page.route('**/v1/auth/sign-in-link/complete', async (route) => {
    sent.push(route.request().postDataJSON());
    // The real route sets the cookie; here the page signs in by password behind the scenes to get one.
    const res = await w.page.request.post(`${h.main.baseUrl}/v1/auth/sign-in`, {
      data: { email: person.email, password: TEST_PASSWORD },
    });
    return route.fulfill({ status: 200, contentType: 'application/json', body: await res.text() });
  });
  await w.page.waitForSelector('[data-testid=link-sign-in]');
  expect(new URL(w.page.url()).search).toBe('');
  await w.page.click('[data-testid=link-sign-in] button');
  await w.page.waitForSelector('.conn-online', { timeout: 20_000 });
  expect(new URL(w.page.url()).pathname).toBe('/');
  expect(sent).toEqual([{ token: 'tok-123' }]);

  const again = await open('/sign-in/link?token=tok-123');
  await again.page.route('**/v1/auth/sign-in-link/complete', (route) =>
    route.fulfill({
      status: 400,
      contentType: 'application/problem+json',
      body: JSON.stringify({ status: 400, code: 'invalid_token', detail: 'The link is not valid.' }),
    }),
  );
  await again.page.click('[data-testid=link-sign-in] button');
  await again.page.waitForSelector('[data-testid=signin-error]:has-text("expired or was already used")');
});

test('the reset link page sends the token and the new password, and shows the server’s word on a weak one', async () => {
  const w = await open('/reset-password?token=reset-456');
  const sent: unknown[] = [];
  await w.page.route('**/v1/auth/password-reset/complete', async (route) => {
    const body = route.request().postDataJSON() as { password: string };
    sent.push(body);
    if (body.password.length < 12)
      return route.fulfill({
        status: 400,
        contentType: 'application/problem+json',
        body: JSON.stringify({
          status: 400,
          code: 'invalid_request',
          detail: 'Invalid body.',
          errors: [{ path: 'password', message: 'at least 12 characters' }],
        }),
      });
    return route.fulfill({ status: 204 });
  });
  await w.page.waitForSelector('[data-testid=reset-password]');
  expect(new URL(w.page.url()).search).toBe('');
  await w.page.fill('input[name=new-password]', 'short');
  await w.page.fill('input[name=new-password-again]', 'short');
  await w.page.click('[data-testid=reset-password] button[type=submit]');
  await w.page.waitForSelector('[data-testid=signin-error]:has-text("Password: at least 12 characters")');
  await w.page.fill('input[name=new-password]', 'a much longer pass phrase');
  await w.page.fill('input[name=new-password-again]', 'a much longer pass phrase');
  await w.page.click('[data-testid=reset-password] button[type=submit]');
  await w.page.waitForSelector('[data-testid=reset-done]');
  expect(sent).toEqual([
    { token: 'reset-456', password: 'short' },
    { token: 'reset-456', password: 'a much longer pass phrase' },
  ]);
});

test('the account page: name, password, sessions – every change sent with the CSRF token, sign out everywhere', async () => {
  const w = await open('/');
  await w.page.waitForSelector('form.signin');
  await signInAs(w.page, h, buyerKey, '.conn-online');
  const { csrfToken } = (await (await w.page.request.get(`${h.main.baseUrl}/v1/session`)).json()) as {
    csrfToken: string;
  };
  const calls: { method: string; path: string; csrf?: string; body: unknown }[] = [];
  let signedOutEverywhere = false;
  await w.page.route('**/v1/account**', async (route) => {
    const r = route.request();
    const path = new URL(r.url()).pathname;
    calls.push({ method: r.method(), path, csrf: r.headers()['x-csrf-token'], body: r.postDataJSON() });
    if (path === '/v1/account/sessions') {
      if (signedOutEverywhere)
        return route.fulfill({ status: 401, contentType: 'application/problem+json', body: '{"status":401}' });
      const now = new Date().toISOString();
      const row = { method: 'password', ip: '127.0.0.1', createdAt: now, lastUsedAt: now, expiresAt: now };
      return route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          sessions: [
            { id: 's-here', current: true, device: 'Chromium on Linux', ...row },
            { id: 's-phone', current: false, device: 'Safari on iPhone', ...row },
          ],
        }),
      });
    }
    if (
      path === '/v1/account/password' &&
      (r.postDataJSON() as { currentPassword: string }).currentPassword !== TEST_PASSWORD
    )
      return route.fulfill({
        status: 401,
        contentType: 'application/problem+json',
        body: JSON.stringify({ status: 401, code: 'invalid_credentials', detail: 'The current password is wrong.' }),
      });
    if (path === '/v1/account/sign-out-everywhere') signedOutEverywhere = true;
    return route.fulfill(
      r.method() === 'PATCH' ? { status: 200, contentType: 'application/json', body: '{}' } : { status: 204, body: '' },
    );
  });

  await w.page.click('[data-testid=account-link]');
  await w.page.waitForSelector('[data-testid=sessions]');
  await screenshot(w.page, 'account-page', { fullPage: true, docs: true });
  expect(await w.page.locator('[data-testid=sessions]').innerText()).toContain('this browser');

  await w.page.fill('[data-testid=display-name-form] input', 'Dana Dispatch');
  await w.page.click('[data-testid=display-name-form] button[type=submit]');
  await w.page.waitForSelector('.toast:has-text("Name saved")');

  // A wrong current password is refused with a 401 of its own: the form says so, the session goes on.
  await w.page.fill('input[name=currentPassword]', 'not my password at all');
  await w.page.fill('input[name=newPassword]', 'another long pass phrase');
  await w.page.click('[data-testid=password-form] button[type=submit]');
  await w.page.waitForSelector('[data-testid=password-form] .note-bad:has-text("The current password is wrong.")');
  expect(await w.page.locator('[data-testid=sessions]').count()).toBe(1);

  await w.page.fill('input[name=currentPassword]', TEST_PASSWORD);
  await w.page.fill('input[name=newPassword]', 'another long pass phrase');
  await w.page.click('[data-testid=password-form] button[type=submit]');
  await w.page.waitForSelector('.toast:has-text("Password changed")');

  await w.page.click('[data-session=s-phone] button');
  await w.page.waitForSelector('.toast:has-text("Session signed out")');
  await w.page.click('[data-testid=sign-out-everywhere]');
  await w.page.waitForSelector('form.signin input[name=email]', { timeout: 20_000 });

  const unsafe = calls.filter((c) => c.method !== 'GET');
  expect(unsafe).toEqual([
    { method: 'PATCH', path: '/v1/account', csrf: csrfToken, body: { displayName: 'Dana Dispatch' } },
    {
      method: 'POST',
      path: '/v1/account/password',
      csrf: csrfToken,
      body: { currentPassword: 'not my password at all', newPassword: 'another long pass phrase' },
    },
    {
      method: 'POST',
      path: '/v1/account/password',
      csrf: csrfToken,
      body: { currentPassword: TEST_PASSWORD, newPassword: 'another long pass phrase' },
    },
    { method: 'POST', path: '/v1/account/sessions/s-phone/revoke', csrf: csrfToken, body: null },
    { method: 'POST', path: '/v1/account/sign-out-everywhere', csrf: csrfToken, body: null },
  ]);
});
