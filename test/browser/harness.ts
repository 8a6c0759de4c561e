/**
 * The web pages in real headless Chromium (Debian's /usr/bin/chromium, driven
 * by playwright-core; never a downloaded browser) against the real stack of
 * test/api/harness: the API process serving web/dist, a worker, Temporal and
 * Postgres. The pages are built first when web/dist is missing or stale.
 * People sign in as people: `signInAs` makes a user with a membership of an
 * organisation (or of the organisation of a key the test made its world
 * with) and signs in through the sign-in page; no page ever sees a key.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

import { type ApiDeps, createApi } from '../../api/app';
import type { FeedHandle } from '../../api/feed';
import { addMembership, createUser, type Org } from '../../db/accounts';
import type { MembershipRole } from '../../domain/accounts';
import { hashPassword } from '../../lib/passwords';
import { bearer, type Harness, type HarnessOptions, RELAXED_LIMITS, ROOT_TOKEN, startHarness } from '../api/harness';

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

export async function launchBrowser(): Promise<Browser> {
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
    // The page's first question, "am I signed in?" (GET /v1/session), answers 401 until one is: expected.
    if (m.type() === 'error' && !(/status of 401/.test(m.text()) && /\/v1\/session$/.test(m.location().url)))
      errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return { page, context, errors };
}

/** The password of every person the browser tests create (long, not a common one). */
export const TEST_PASSWORD = 'correct horse battery staple';

/** An organisation a test person belongs to (db/accounts.ts `Org`). */
export type TestOrg = Org;

/** The organisation an API key acts for (GET /v1/me): tests build their world with keys, people sign in to it. */
export async function orgOfKey(h: Harness, key: string): Promise<TestOrg> {
  const me = (await h.http.get('/v1/me').set(bearer(key))).body as {
    kind: string;
    agency?: { id: string };
    buyer?: { id: string };
    source?: { id: string };
  };
  if (me.kind === 'buyer') return { kind: 'buyer', agencyId: me.agency!.id, buyerId: me.buyer!.id };
  if (me.kind === 'source') return { kind: 'source', agencyId: me.agency!.id, sourceId: me.source!.id };
  if (me.kind === 'admin') return { kind: 'agency', agencyId: me.agency!.id };
  throw new Error(`no organisation for a key of kind ${me.kind}`);
}

let passwordHash: Promise<string> | null = null;
let people = 0;

export interface TestPerson {
  userId: string;
  email: string;
  password: string;
  membershipId: string;
}

/** A person (a user with the test password) who is a member of `org` as `role`. */
export async function createPerson(
  h: Harness,
  org: TestOrg,
  role: MembershipRole,
  opts: { email?: string; displayName?: string } = {},
): Promise<TestPerson> {
  passwordHash ??= hashPassword(TEST_PASSWORD);
  const email = opts.email ?? `person-${process.pid}-${Date.now().toString(36)}-${people++}@example.com`;
  const user = await createUser(h.database.db, {
    email,
    displayName: opts.displayName ?? 'Pat Person',
    passwordHash: await passwordHash,
  });
  const membership = await addMembership(h.database.db, user.id, org, role);
  return { userId: user.id, email, password: TEST_PASSWORD, membershipId: membership.id };
}

/** Signs in on the page's sign-in form (email and password) and waits for `ready`. */
export async function signInWith(
  page: Page,
  person: { email: string; password: string },
  ready: string,
): Promise<void> {
  await page.fill('form.signin input[name=email]', person.email);
  await page.fill('form.signin input[name=password]', person.password);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector(ready, { timeout: 20_000 });
}

/**
 * A new person with a membership of `org` (an organisation, or the key whose
 * organisation it is) as `role`, signed in through the page's sign-in form;
 * waits for `ready`.
 */
export async function signInAs(
  page: Page,
  h: Harness,
  org: TestOrg | string,
  ready: string,
  role: MembershipRole = 'owner',
): Promise<TestPerson> {
  const person = await createPerson(h, typeof org === 'string' ? await orgOfKey(h, org) : org, role);
  await signInWith(page, person, ready);
  return person;
}

/** A buyer's Live Leads page, signed in as an owner of the key's buyer (or `role`), its feed connected. */
export async function buyerPage(
  browser: Browser,
  h: Harness,
  key: string,
  opts: { baseUrl?: string; viewport?: { width: number; height: number }; role?: MembershipRole } = {},
): Promise<PageWatch> {
  const w = await openPage(browser, `${opts.baseUrl ?? h.main.baseUrl}/`, opts.viewport);
  await signInAs(w.page, h, key, '.conn-online', opts.role);
  return w;
}

/** The agency console, signed in as an owner of the key's agency (or `role`); `baseUrl`: another API instance. */
export async function adminPage(
  browser: Browser,
  h: Harness,
  key: string,
  path = '/admin',
  role: MembershipRole = 'owner',
  baseUrl = h.main.baseUrl,
): Promise<PageWatch> {
  const w = await openPage(browser, `${baseUrl}${path}`);
  await signInAs(w.page, h, key, '.sidenav', role);
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

/**
 * A browser test file's world: the pages built, the API harness and Chromium, set up before its tests and closed
 * after. `harness`: its options – `{ bus: 'postgres' }` for a page that must hear `wallet.changed` (the ledger
 * trigger's NOTIFY reaches the feed through a LISTEN connection; the default in-process bus does not hear it), an
 * address allow-list for local servers.
 */
export function browserSuite(harness: HarnessOptions = {}): BrowserSuite {
  const pages: PageWatch[] = [];
  const suite = { track: (w: PageWatch) => (pages.push(w), w) } as BrowserSuite;
  beforeAll(async () => {
    buildPages();
    suite.h = await startHarness(harness);
    suite.browser = await launchBrowser();
  }, 240_000);
  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => undefined);
    await suite.browser?.close().catch(() => undefined);
    await suite.h?.close();
  });
  return suite;
}
