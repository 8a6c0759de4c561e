/**
 * The API keys pages (#20 item 7) in real headless Chromium against the real
 * API: the agency console's "API keys" page and the buyer's Settings list the
 * organisation's keys, make one (shown once, copied with the button) that
 * acts as the role chosen, refuse a role above the caller's, and revoke a key
 * so that it stops working at once.
 */
import { bearer, ROOT_TOKEN } from '../api/harness';
import { adminPage, browserSuite, buyerPage } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
const track = suite.track;

async function post<T = Record<string, unknown>>(key: string, path: string, body: unknown, status = 201): Promise<T> {
  const res = await suite.h.http
    .post(path)
    .set(bearer(key))
    .send(body as object);
  if (res.status !== status) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}
const statusOf = async (method: 'get' | 'patch', path: string, key: string) =>
  (
    await suite.h.http[method](path)
      .set(bearer(key))
      .send(method === 'get' ? undefined : {})
  ).status;

test('an agency admin makes an analyst key on the API keys page, copies it once, is refused an owner key, and revokes it', async () => {
  const { adminKey } = await post<{ adminKey: string }>(ROOT_TOKEN, '/v1/agencies', { name: 'Keys & Co' });
  const A = track(await adminPage(suite.browser, suite.h, adminKey, '/admin/keys', 'admin'));
  await A.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.h.main.baseUrl });
  A.page.on('dialog', (d) => void d.accept());
  await A.page.waitForSelector('[data-testid=keys-table]');
  expect(await A.page.locator('[data-testid=keys-table] tbody tr').count()).toBe(1); // the agency's first key

  await A.page.click('[data-testid=new-key]');
  await A.page.fill('[data-testid=key-name]', 'Reporting job');
  await A.page.selectOption('[data-testid=key-role]', 'analyst');
  await A.page.click('[data-testid=key-form] button[type=submit]');
  const secret = (await A.page.locator('[data-testid=secret]').textContent())!.trim();
  expect(secret).toMatch(/^lw_admin_[A-Za-z0-9_-]{43}$/);
  await A.page.click('.secret button:has-text("Copy")');
  await A.page.waitForSelector('.secret button:has-text("Copied")');
  expect(await A.page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await A.page.click('.modal .icon-btn');
  // The key acts as an analyst: reads, no writes. The page never shows the secret again.
  expect(await statusOf('get', '/v1/reports', secret)).toBe(200);
  expect(await statusOf('patch', '/v1/settings', secret)).toBe(403);
  const row = A.page.locator('[data-testid=keys-table] tbody tr', { hasText: 'Reporting job' });
  await row.waitFor();
  expect(await row.textContent()).toContain('analyst');
  expect(await A.page.content()).not.toContain(secret);

  // An admin may not make an owner's key: the refusal is shown, nothing is stored.
  await A.page.click('[data-testid=new-key]');
  await A.page.fill('[data-testid=key-name]', 'Too much');
  await A.page.selectOption('[data-testid=key-role]', 'owner');
  await A.page.click('[data-testid=key-form] button[type=submit]');
  await A.page.waitForSelector('[data-testid=key-form] .note-bad');
  expect(await A.page.locator('[data-testid=key-form] .note-bad').textContent()).toMatch(/above/);
  await A.page.click('.modal .icon-btn');
  const listed = await suite.h.http.get('/v1/keys').set(bearer(adminKey));
  expect(listed.body.keys.map((k: { name: string }) => k.name)).not.toContain('Too much');

  await row.locator('button:has-text("Revoke")').click();
  await row.locator('.badge:has-text("revoked")').waitFor();
  expect(await statusOf('get', '/v1/reports', secret)).toBe(401);
  expect(A.errors.filter((e) => !/403|Forbidden/.test(e))).toEqual([]);
});

test('a buyer makes a member key in Settings: it claims and reads, cannot change settings, and is revoked there', async () => {
  const { adminKey } = await post<{ adminKey: string }>(ROOT_TOKEN, '/v1/agencies', { name: 'Buyer keys agency' });
  const { apiKey } = await post<{ apiKey: string }>(adminKey, '/v1/buyers', {
    name: 'Keyed Roofing',
    serviceLines: [],
  });
  const B = track(await buyerPage(suite.browser, suite.h, apiKey));
  B.page.on('dialog', (d) => void d.accept());
  await B.page.click('button.tab:has-text("Settings")');
  await B.page.waitForSelector('[data-testid=keys-table]');
  await B.page.click('[data-testid=new-key]');
  await B.page.fill('[data-testid=key-name]', 'Office tablet');
  await B.page.selectOption('[data-testid=key-role]', 'member');
  await B.page.click('[data-testid=key-form] button[type=submit]');
  const secret = (await B.page.locator('[data-testid=secret]').textContent())!.trim();
  expect(secret).toMatch(/^lw_buyer_/);
  await B.page.click('.modal .icon-btn');
  expect(await statusOf('get', '/v1/me/wallet', secret)).toBe(200);
  expect(await statusOf('get', '/v1/offers', secret)).toBe(200);
  expect(await statusOf('patch', '/v1/me', secret)).toBe(403);

  const row = B.page.locator('[data-testid=keys-table] tbody tr', { hasText: 'Office tablet' });
  await row.locator('button:has-text("Revoke")').click();
  await row.locator('.badge:has-text("revoked")').waitFor();
  expect(await statusOf('get', '/v1/me/wallet', secret)).toBe(401);
  expect(B.errors.filter((e) => !/403|Forbidden/.test(e))).toEqual([]);
});
