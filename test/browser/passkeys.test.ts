/**
 * Passkeys (#20) end to end in real Chromium: WebAuthn through the DevTools
 * virtual authenticator (CTAP2, internal, resident keys, user verification),
 * the browser side through @simplewebauthn/browser, the server through
 * @simplewebauthn/server. The page is any page of the API's own origin on
 * http://localhost (a secure context whose host may be an RP id; an IP
 * address may not): a person registers a passkey, lists it, signs in with it
 * (both factors), finishes a password sign-in with it as the second factor –
 * and the attacks: a replayed assertion, another user's passkey as my second
 * factor, deleting another user's passkey.
 */
import path from 'node:path';

import type { Page } from 'playwright-core';

import { totpCodeAt } from '../../api/second-factor';
import { addMembership, createSession, createUser } from '../../db/accounts';
import { passkeysOf } from '../../db/two-factor';
import { apiAgency, unique } from '../api/harness';
import { browserSuite } from './harness';

const suite = browserSuite();
const BUNDLE = path.resolve(__dirname, '../../node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js');

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A page on http://localhost:<port> with a virtual authenticator and @simplewebauthn/browser loaded. */
async function passkeyPage(): Promise<{ page: Page; origin: string; errors: string[]; close(): Promise<void> }> {
  const port = new URL(suite.h.main.baseUrl).port;
  const origin = `http://localhost:${port}`;
  const context = await suite.browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(`${origin}/v1/openapi.json`);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  await page.addScriptTag({ path: BUNDLE });
  return { page, origin, errors, close: () => context.close() };
}

/** POST from the page (its Origin, its cookie), with the CSRF token when given. */
function post(page: Page, url: string, body: unknown, csrf?: string): Promise<Answer> {
  return page.evaluate(
    async ({ url, body, csrf }) => {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    },
    { url, body, csrf },
  );
}

async function get(page: Page, url: string): Promise<Answer> {
  return page.evaluate(async (url) => {
    const r = await fetch(url);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }, url);
}

/** The browser API: navigator.credentials.create / get through @simplewebauthn/browser. */
const register = (page: Page, options: unknown) =>
  page.evaluate(
    (optionsJSON) =>
      (
        globalThis as unknown as { SimpleWebAuthnBrowser: { startRegistration(o: unknown): Promise<unknown> } }
      ).SimpleWebAuthnBrowser.startRegistration({ optionsJSON }),
    options,
  );
const authenticate = (page: Page, options: unknown) =>
  page.evaluate(
    (optionsJSON) =>
      (
        globalThis as unknown as { SimpleWebAuthnBrowser: { startAuthentication(o: unknown): Promise<unknown> } }
      ).SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }),
    options,
  );

async function person(agencyId: string) {
  const db = suite.h.database.db;
  const user = await createUser(db, { email: `${unique('pk')}@example.com`, displayName: 'Pat Key' });
  const membership = await addMembership(db, user.id, { kind: 'agency', agencyId }, 'dispatcher');
  return { user, membership };
}

/** Puts a session of this person into the page's cookie jar; answers its CSRF token. */
async function signInAs(page: Page, p: Awaited<ReturnType<typeof person>>, stage: 'full' | 'second_factor') {
  const { session, token } = await createSession(suite.h.database.db, {
    userId: p.user.id,
    membershipId: p.membership.id,
    method: 'password',
    stage,
  });
  await page.context().clearCookies();
  await page.context().addCookies([{ name: 'lw_session', value: token, domain: 'localhost', path: '/' }]);
  return session.csrfToken;
}

async function registerPasskey(page: Page, csrf: string, name: string) {
  const options = await post(page, '/v1/account/passkeys/options', {}, csrf);
  expect(options.status).toBe(200);
  const response = await register(page, options.body.options);
  return { response, answer: await post(page, '/v1/account/passkeys', { name, response }, csrf) };
}

describe('passkeys in Chromium', () => {
  it('registers a passkey, lists it, signs in with it (both factors), and refuses a replayed assertion', async () => {
    const { agency } = await apiAgency(suite.h);
    const p = await person(agency.id);
    const w = await passkeyPage();
    try {
      const csrf = await signInAs(w.page, p, 'full');
      const { response, answer } = await registerPasskey(w.page, csrf, 'Laptop');
      expect(answer.status).toBe(201);
      expect(answer.body.passkey).toMatchObject({ name: 'Laptop', lastUsedAt: null });
      // Its challenge worked once: the same registration again is refused.
      const again = await post(w.page, '/v1/account/passkeys', { name: 'Again', response }, csrf);
      expect([again.status, again.body.code]).toEqual([400, 'validation_failed']);
      const listed = await get(w.page, '/v1/account/passkeys');
      expect((listed.body.passkeys as unknown[]).length).toBe(1);
      expect((await get(w.page, '/v1/account/two-factor')).body.secondFactors).toEqual(['passkey']);

      // Signed out, a passkey alone signs in (user verified: both factors).
      await w.page.context().clearCookies();
      expect((await get(w.page, '/v1/account/passkeys')).status).toBe(401);
      const options = await post(w.page, '/v1/auth/passkey/options', {});
      expect(options.status).toBe(200);
      const assertion = await authenticate(w.page, options.body.options);
      const signedIn = await post(w.page, '/v1/auth/passkey', { response: assertion });
      expect(signedIn).toEqual({ status: 200, body: { stage: 'full' } });
      const cookies = await w.page.context().cookies();
      expect(cookies.find((c) => c.name === 'lw_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
      expect((await get(w.page, '/v1/account/passkeys')).status).toBe(200);
      const [stored] = await passkeysOf(suite.h.database.db, p.user.id);
      expect(stored!.lastUsedAt).not.toBeNull();

      // The same assertion again (a recorded sign-in replayed): its challenge is spent.
      await w.page.context().clearCookies();
      const replay = await post(w.page, '/v1/auth/passkey', { response: assertion });
      expect([replay.status, replay.body.code]).toEqual([401, 'second_factor_invalid']);
      expect((await get(w.page, '/v1/account/passkeys')).status).toBe(401);
    } finally {
      await w.close();
    }
  });

  it("finishes a password sign-in with my passkey, never with another user's; deletes only my own", async () => {
    const { agency } = await apiAgency(suite.h);
    const alice = await person(agency.id);
    const bob = await person(agency.id);
    const w = await passkeyPage();
    try {
      // Alice registers a passkey in this authenticator.
      const aliceCsrf = await signInAs(w.page, alice, 'full');
      expect((await registerPasskey(w.page, aliceCsrf, 'Alice key')).answer.status).toBe(201);

      // Bob, half signed in, answers with Alice's passkey: refused, and still half signed in.
      const bobCsrf = await signInAs(w.page, bob, 'second_factor');
      const bobOptions = await post(w.page, '/v1/auth/second-factor/options', {}, bobCsrf);
      expect(bobOptions.status).toBe(200);
      const alicesAnswer = await authenticate(w.page, bobOptions.body.options);
      const stolen = await post(w.page, '/v1/auth/second-factor', { passkey: alicesAnswer }, bobCsrf);
      expect([stolen.status, stolen.body.code]).toEqual([401, 'second_factor_invalid']);
      expect((await get(w.page, '/v1/buyers')).body.code).toBe('second_factor_required');

      // Alice, half signed in, finishes with her passkey: a new session, fully signed in.
      const halfCsrf = await signInAs(w.page, alice, 'second_factor');
      const options = await post(w.page, '/v1/auth/second-factor/options', {}, halfCsrf);
      const answer = await authenticate(w.page, options.body.options);
      expect(await post(w.page, '/v1/auth/second-factor', { passkey: answer }, halfCsrf)).toEqual({
        status: 200,
        body: { stage: 'full' },
      });
      expect((await get(w.page, '/v1/buyers')).status).toBe(200);

      // Bob cannot delete Alice's passkey; Alice can.
      const [alicesKey] = await passkeysOf(suite.h.database.db, alice.user.id);
      const bobFull = await signInAs(w.page, bob, 'full');
      expect((await post(w.page, `/v1/account/passkeys/${alicesKey!.id}/delete`, {}, bobFull)).status).toBe(404);
      const aliceFull = await signInAs(w.page, alice, 'full');
      expect(await post(w.page, `/v1/account/passkeys/${alicesKey!.id}/delete`, {}, aliceFull)).toEqual({
        status: 200,
        body: { deleted: true },
      });
      expect(await passkeysOf(suite.h.database.db, alice.user.id)).toEqual([]);
    } finally {
      await w.close();
    }
  });
});

describe('the account sections and the second step, as pages', () => {
  it('enrols TOTP with the QR code and shows ten recovery codes once; adds and deletes a passkey', async () => {
    const { agency } = await apiAgency(suite.h);
    const p = await person(agency.id);
    const w = await passkeyPage();
    try {
      const csrf = await signInAs(w.page, p, 'full');
      expect(csrf).toBeTruthy();
      await w.page.goto(`${w.origin}/admin/account`);
      await w.page.waitForSelector('[data-testid=totp-state]:has-text("off")');
      await w.page.click('text=Set up an authenticator app');
      await w.page.waitForSelector('.totp-qr svg');
      const secret = (await w.page.textContent('[data-testid=totp-secret]'))!.trim();
      await w.page.fill('input[name=totp-code]', totpCodeAt(secret, Date.now()));
      await w.page.click('text=Turn on');
      await w.page.waitForSelector('[data-testid=recovery-codes]');
      expect(await w.page.locator('[data-testid=recovery-codes] li').count()).toBe(10);
      await w.page.click('text=I have saved them');
      await w.page.waitForSelector('[data-testid=totp-state]:has-text("10 recovery codes left")');
      expect(await w.page.locator('[data-testid=recovery-codes]').count()).toBe(0);

      await w.page.fill('input[name=passkey-name]', 'Desk laptop');
      await w.page.click('text=Add a passkey');
      await w.page.waitForSelector('[data-testid=passkeys] >> text=Desk laptop');
      expect(await passkeysOf(suite.h.database.db, p.user.id)).toHaveLength(1);
      await w.page.click('[data-testid=passkeys] >> text=Delete');
      await w.page.waitForSelector('text=No passkeys yet');
      expect(await passkeysOf(suite.h.database.db, p.user.id)).toEqual([]);
      expect(w.errors).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it('finishes a sign-in with a code on the second-step form (a wrong one is shown, not accepted)', async () => {
    const { agency } = await apiAgency(suite.h);
    const p = await person(agency.id);
    const w = await passkeyPage();
    try {
      // Enrol through the API as the person.
      const full = await signInAs(w.page, p, 'full');
      const { secret } = (await post(w.page, '/v1/account/totp', {}, full)).body as { secret: string };
      const confirmAt = Date.now() - 30_000;
      expect(
        (await post(w.page, '/v1/account/totp/confirm', { code: totpCodeAt(secret, confirmAt) }, full)).status,
      ).toBe(200);

      const csrf = await signInAs(w.page, p, 'second_factor');
      expect(csrf).toBeTruthy();
      // The console, signed in with the password only: the sign-in's second step stands in front of it.
      await w.page.goto(`${w.origin}/admin`);
      await w.page.waitForSelector('[data-testid=second-factor]');
      await w.page.fill('input[name=second-factor-code]', totpCodeAt(secret, confirmAt));
      await w.page.click('text=Continue');
      await w.page.waitForSelector('.note-bad');
      expect(await w.page.locator('.sidenav').count()).toBe(0);
      await w.page.fill('input[name=second-factor-code]', totpCodeAt(secret, Date.now()));
      await w.page.click('text=Continue');
      await w.page.waitForSelector('.sidenav');
      expect((await get(w.page, '/v1/account/two-factor')).status).toBe(200);
      // The refused code's 401 is the one console error the page may show.
      expect(w.errors.filter((e) => !e.includes('401'))).toEqual([]);
    } finally {
      await w.close();
    }
  });
});
