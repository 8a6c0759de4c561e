/**
 * The web pages in real headless Chromium (Debian's /usr/bin/chromium, driven
 * by playwright-core; never a downloaded browser) against the real stack of
 * test/api/harness: the API process serving web/dist, a worker, Temporal and
 * Postgres. The pages are built first when web/dist is missing or stale.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

import { type ApiDeps, createApi } from '../../api/app';
import type { FeedHandle } from '../../api/feed';
import { type Harness, RELAXED_LIMITS, ROOT_TOKEN, startHarness } from '../api/harness';

const ROOT = path.resolve(__dirname, '../..');
const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');
const DOCS_SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');

const CHROMIUM = process.env.LW_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** web/dist, built by the project's own script when a source is newer (a no-op otherwise). */
function buildPages(): void {
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['web/tools/build.ts', '--if-stale'], {
    cwd: ROOT,
    stdio: 'inherit',
    timeout: 180_000,
  });
  if (!fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html')))
    throw new Error('web/dist/index.html is missing after the build');
}

async function launchBrowser(): Promise<Browser> {
  // A fresh machine: `npm test` installs Debian's Chromium itself when it can (root, apt), as .ci/run does.
  if (
    !fs.existsSync(CHROMIUM) &&
    CHROMIUM === '/usr/bin/chromium' &&
    process.getuid?.() === 0 &&
    fs.existsSync('/usr/bin/apt-get')
  ) {
    execFileSync('bash', ['-c', 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium'], {
      stdio: 'inherit',
      timeout: 600_000,
    });
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (CI does: .ci/run), or set LW_CHROMIUM`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** Problems the page reported: uncaught errors and console errors (minus those a test expects). */
export interface PageWatch {
  page: Page;
  context: BrowserContext;
  errors: string[];
}

export async function openPage(
  browser: Browser,
  url: string,
  viewport = { width: 1280, height: 860 },
): Promise<PageWatch> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return { page, context, errors };
}

/** Signs in on the sign-in card and waits for the page behind it. */
export async function signIn(page: Page, key: string, ready: string): Promise<void> {
  await page.fill('input[name=key]', key);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector(ready, { timeout: 20_000 });
}

/** A buyer's Live Leads page, signed in, its feed connected. */
export async function buyerPage(
  browser: Browser,
  baseUrl: string,
  key: string,
  viewport?: { width: number; height: number },
): Promise<PageWatch> {
  const w = await openPage(browser, `${baseUrl}/`, viewport);
  await signIn(w.page, key, '.conn-online');
  return w;
}

/** The agency console, signed in. */
export async function adminPage(browser: Browser, baseUrl: string, key: string, path = '/admin'): Promise<PageWatch> {
  const w = await openPage(browser, `${baseUrl}${path}`);
  await signIn(w.page, key, '.sidenav');
  return w;
}

/** Saves test-results/screenshots/<name>.png; with LW_DOCS_SCREENSHOTS=1 also docs/screenshots/<name>.png. */
export async function screenshot(
  page: Page,
  name: string,
  opts: { fullPage?: boolean; docs?: boolean } = {},
): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  // Let transitions (card entrance, bar widths) settle so the picture shows the steady state.
  await page.waitForTimeout(400);
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? false, animations: 'disabled', caret: 'hide' });
  if (opts.docs && process.env.LW_DOCS_SCREENSHOTS === '1') {
    fs.mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_SCREENSHOTS, `${name}.png`));
  }
}

/**
 * An API instance on a port of our choosing (the harness's use port 0), on the
 * harness's database, worker and bus: closing it and starting another on the
 * same port is an API restart as the browser sees it.
 */
export async function apiOnPort(
  h: Harness,
  port: number,
  overrides: Partial<ApiDeps> = {},
): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const api = createApi({
    db: h.database.db,
    bus: h.main.bus,
    temporal: h.client,
    taskQueue: h.worker.taskQueue,
    rootToken: ROOT_TOKEN,
    rateLimits: RELAXED_LIMITS,
    logger: { error: () => undefined, warn: () => undefined },
    ...overrides,
  });
  const server = http.createServer(api.app);
  const feed: FeedHandle = api.attachFeed(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await feed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export { freePort } from '../../temporal/dev-server';

export interface BrowserSuite {
  h: Harness;
  browser: Browser;
  /** Closes the page's context after the file's tests. */
  track(w: PageWatch): PageWatch;
}

/** A browser test file's world: the pages built, the API harness and Chromium, set up before its tests and closed after. */
export function browserSuite(): BrowserSuite {
  const pages: PageWatch[] = [];
  const suite = { track: (w: PageWatch) => (pages.push(w), w) } as BrowserSuite;
  beforeAll(async () => {
    buildPages();
    suite.h = await startHarness();
    suite.browser = await launchBrowser();
  }, 240_000);
  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await suite.browser?.close().catch(() => undefined);
    await suite.h?.close();
  });
  return suite;
}
