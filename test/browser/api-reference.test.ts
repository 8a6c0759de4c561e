/**
 * The API reference page (GET /v1/reference): Scalar's renderer, its bundle served by the API itself, renders the
 * operations in real Chromium with nothing fetched beyond the API's origin (every other request is refused and
 * counted), so it works offline.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Browser } from 'playwright-core';

import { documentApi } from '../../api/document-app';
import { launchBrowser } from './harness';

let server: http.Server;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  server = http.createServer(documentApi().app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('the reference page renders the operations from the API alone', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const outside: string[] = [];
  const inside: string[] = [];
  await context.route('**/*', async (r) => {
    const url = r.request().url();
    if (url.startsWith(`${origin}/`)) {
      inside.push(new URL(url).pathname);
      await r.continue();
    } else if (url.startsWith('data:') || url.startsWith('blob:')) {
      await r.continue();
    } else {
      outside.push(url);
      await r.abort('internetdisconnected');
    }
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  const res = await page.goto(`${origin}/v1/reference`);
  expect(res?.status()).toBe(200);
  // The operations of the first tag and every tag in the navigation, rendered from /v1/openapi.json.
  await page
    .getByText('Sign in with email and password: sets the session cookie')
    .first()
    .waitFor({ state: 'visible', timeout: 60_000 });
  const text = await page.evaluate(() => document.body.innerText);
  for (const tag of ['Accounts', 'Suppression', 'Ops', 'Webhooks']) expect(text).toContain(tag);
  expect(await page.title()).toContain('Leadwire');

  expect(inside).toEqual(expect.arrayContaining(['/v1/reference', '/v1/reference/scalar.js', '/v1/openapi.json']));
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
}, 120_000);
