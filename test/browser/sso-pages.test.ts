/**
 * Single sign-on's pages (#20) in real headless Chromium against the real stack
 * and a real OpenID provider (test/helpers/oidc-provider.ts): an admin sets the
 * agency's SSO in the console's settings (a bad issuer named under its field,
 * the secret never shown back), then a person clicks "Sign in with SSO" on the
 * sign-in page, goes through the provider and comes back with a session and
 * their membership; a refused person comes back to the sign-in page with the
 * reason worded.
 */
import type { Browser } from 'playwright-core';

import { membershipsOf, userByEmail } from '../../db/accounts';
import { apiAgency, bearer, type Harness, unique } from '../api/harness';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider';
import { adminPage, apiOnPort, browserSuite, freePort, openPage, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
let idp: TestProvider;
let api: { baseUrl: string; close(): Promise<void> };
beforeAll(async () => {
  ({ h, browser } = suite);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  idp = await startTestProvider({ redirectUri: `${baseUrl}/v1/auth/sso/callback` });
  api = await apiOnPort(h, port, { publicUrl: baseUrl });
});
afterAll(async () => {
  await api?.close();
  await idp?.close();
});

test('an admin sets single sign-on in the settings; a person signs in with SSO, and a refused one reads why', async () => {
  const A = await apiAgency(api);
  const domain = `${unique('corp')}.example`;

  // ── the settings: a bad issuer is named under its field; a good one is saved, the secret never shown back ──
  const admin = suite.track(await adminPage(browser, h, A.adminKey, '/admin/settings', 'owner', api.baseUrl));
  const page = admin.page;
  const form = page.locator('[data-testid=sso-form]');
  await form.waitFor();
  expect(await page.locator('[data-testid=sso-redirect-uri]').innerText()).toBe(`${api.baseUrl}/v1/auth/sso/callback`);
  await page.fill('input[name=ssoIssuer]', 'http://login.example.com');
  await page.fill('input[name=ssoClientId]', idp.clientId);
  await page.fill('input[name=ssoClientSecret]', idp.clientSecret);
  await page.fill('input[name=ssoDomains]', domain.toUpperCase());
  await page.selectOption('select[name=ssoRole]', 'dispatcher');
  await form.locator('button[type=submit]').click();
  await form.locator('.field-error .field-msg', { hasText: 'https' }).waitFor({ timeout: 20_000 });
  expect((await h.http.get('/v1/sso').set(bearer(A.adminKey))).body).toEqual({ sso: null });

  await page.fill('input[name=ssoIssuer]', idp.issuer);
  await form.locator('button[type=submit]').click();
  await page.waitForSelector('.toast:has-text("Single sign-on saved")', { timeout: 20_000 });
  await page.reload();
  await form.waitFor();
  expect(await page.inputValue('input[name=ssoIssuer]')).toBe(idp.issuer);
  expect(await page.inputValue('input[name=ssoDomains]')).toBe(domain);
  expect(await page.inputValue('input[name=ssoClientSecret]')).toBe('');
  expect(await page.getAttribute('input[name=ssoClientSecret]', 'placeholder')).toContain('stored');
  expect(await page.content()).not.toContain(idp.clientSecret);
  await screenshot(page, 'admin-settings-sso');
  const stored = await h.http.get('/v1/sso').set(bearer(A.adminKey));
  expect(stored.body.sso).toMatchObject({ issuer: idp.issuer, allowedDomains: [domain], defaultRole: 'dispatcher' });

  // ── a person signs in with SSO: the provider and back, with a session and a dispatcher membership ──
  idp.person('pat', { email: `pat@${domain}`, email_verified: true, name: 'Pat Dispatch' });
  idp.signInAs('pat');
  const person = suite.track(await openPage(browser, `${api.baseUrl}/admin/sign-in`));
  await person.page.click('button:has-text("Sign in with SSO")');
  await person.page.fill('input[name=ssoEmail]', `pat@${domain}`);
  await person.page.click('[data-testid=sso-signin] button[type=submit]');
  await person.page.waitForURL(`${api.baseUrl}/admin`, { timeout: 30_000 });
  const cookies = await person.context.cookies(api.baseUrl);
  const session = cookies.find((c) => c.name === 'lw_session');
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
  const user = await userByEmail(h.database.db, `pat@${domain}`);
  expect(user?.displayName).toBe('Pat Dispatch');
  expect(await membershipsOf(h.database.db, user!.id)).toEqual([
    expect.objectContaining({ agencyId: A.agency.id, role: 'dispatcher' }),
  ]);

  // ── refused: the provider does not vouch for the email; the sign-in page says so, nothing is created ──
  idp.person('una', { email: `una@${domain}`, email_verified: false });
  idp.signInAs('una');
  const refused = suite.track(await openPage(browser, `${api.baseUrl}/admin/sign-in`));
  await refused.page.click('button:has-text("Sign in with SSO")');
  await refused.page.fill('input[name=ssoEmail]', `una@${domain}`);
  await refused.page.click('[data-testid=sso-signin] button[type=submit]');
  await refused.page.waitForURL(/\/admin\/sign-in\?error=sso_email_unverified$/, { timeout: 30_000 });
  await refused.page.waitForSelector('[data-testid=sso-signin] .field-msg:has-text("does not confirm your email")');
  await screenshot(refused.page, 'admin-sign-in-sso-refused');
  expect(await userByEmail(h.database.db, `una@${domain}`)).toBeUndefined();

  // ── an email domain without SSO is told so on the page ──
  await refused.page.fill('input[name=ssoEmail]', `someone@${unique('nosso')}.example`);
  await refused.page.click('[data-testid=sso-signin] button[type=submit]');
  await refused.page.waitForSelector('[data-testid=sso-signin] .field-msg:has-text("No single sign-on")');
  // The refusals the test asked for (the bad issuer's 400, the unknown domain's 404) are the only errors.
  for (const w of [admin, person, refused]) expect(w.errors.filter((e) => !/status of (400|404) /.test(e))).toEqual([]);
});
