/**
 * The buyer's Live Leads and the agency console in real headless Chromium,
 * against the real API, worker, Temporal and Postgres (test/api/harness).
 * Screenshots of each page land in test-results/screenshots/ (with
 * LW_DOCS_SCREENSHOTS=1, the README's ones in docs/screenshots/ too).
 */
import { and, eq } from 'drizzle-orm';
import type { Browser } from 'playwright-core';

import { offers } from '../../db/schema';
import { bearer, type Harness, ROOT_TOKEN } from '../api/harness';
import { eventually } from '../helpers/temporal';
import { SERVICE_LINE } from '../helpers/world';
import { adminPage, apiOnPort, browserSuite, buyerPage, freePort, type PageWatch, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: Browser;
beforeAll(() => ({ h, browser } = suite));
const track = suite.track;

// ─── a world built through the API, with names fit for screenshots ───────────

let seq = 0;
const tag = () => `${Date.now().toString(36).slice(-4)}${(seq++).toString(36)}`;
/** Distinct phones within the run (a repeated phone would be refused as a duplicate lead). */
let phone = 1000 + Math.floor(Math.random() * 4000);

async function post<T = Record<string, unknown>>(key: string, path: string, body: unknown, status = 201): Promise<T> {
  const res = await h.http
    .post(path)
    .set(bearer(key))
    .send(body as object);
  if (res.status !== status) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

async function makeAgency(name: string) {
  const { adminKey } = await post<{ adminKey: string }>(ROOT_TOKEN, '/v1/agencies', { name });
  await post(adminKey, '/v1/service-lines', { key: SERVICE_LINE, name: 'Roofing' });
  return adminKey;
}

async function makeBuyer(adminKey: string, name: string, credits: number, extra: Record<string, unknown> = {}) {
  const { buyer, apiKey } = await post<{ buyer: { id: string; name: string }; apiKey: string }>(
    adminKey,
    '/v1/buyers',
    { name, serviceLines: [SERVICE_LINE], ...extra },
  );
  if (credits) await post(adminKey, `/v1/buyers/${buyer.id}/credits`, { amount: credits });
  return { id: buyer.id, name, key: apiKey };
}

async function makeCampaign(adminKey: string, body: Record<string, unknown>) {
  const { campaign } = await post<{ campaign: { id: string } }>(adminKey, '/v1/campaigns', {
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    claimWindowSeconds: 60,
    ...body,
  });
  return campaign.id;
}

const PEOPLE = [
  { firstName: 'Ada', lastName: 'Lovelace', city: 'Austin', zip: '78701', answers: { homeowner: 'yes', roof_age: 18 } },
  {
    firstName: 'Grace',
    lastName: 'Hopper',
    city: 'Round Rock',
    zip: '78664',
    answers: { homeowner: 'no', roof_age: 6 },
  },
  {
    firstName: 'Katherine',
    lastName: 'Johnson',
    city: 'Dallas',
    zip: '75201',
    answers: { homeowner: 'yes', roof_age: 25 },
  },
  { firstName: 'Alan', lastName: 'Turing', city: 'Houston', zip: '77002', answers: { homeowner: 'yes', roof_age: 12 } },
  {
    firstName: 'Margaret',
    lastName: 'Hamilton',
    city: 'El Paso',
    zip: '79901',
    answers: { homeowner: 'yes', roof_age: 30 },
  },
];

async function submitLead(adminKey: string, campaignId: string, person = PEOPLE[0]!) {
  const t = tag();
  const fields = {
    ...person,
    phone: `512-555-${phone++}`,
    email: `${person.firstName.toLowerCase()}.${t}@example.com`,
    address: '1200 Congress Ave',
    state: 'TX',
  };
  const body = await post<{ lead: { id: string } }>(adminKey, '/v1/leads', { campaignId, fields }, 202);
  return { id: body.lead.id, fields };
}

/** The lead's offer once it is open, and when this process first saw it open (polled every 15 ms). */
async function whenOpen(leadId: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [offer] = await h.database.db
      .select()
      .from(offers)
      .where(and(eq(offers.leadId, leadId), eq(offers.status, 'open')));
    if (offer) return { offer, seenOpenAt: Date.now() };
    if (Date.now() > deadline) throw new Error(`no open offer for lead ${leadId}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Records in the page when the first offer card shows up (page clock = this machine's clock). */
async function watchFirstCard(w: PageWatch) {
  await w.page.evaluate(() => {
    const win = window as unknown as { __firstCardAt: number | null };
    win.__firstCardAt = null;
    const check = () => {
      if (win.__firstCardAt === null && document.querySelector('[data-testid=offer-card]'))
        win.__firstCardAt = Date.now();
    };
    new MutationObserver(check).observe(document.body, { childList: true, subtree: true });
    check();
  });
}
const firstCardAt = async (w: PageWatch) =>
  (
    await w.page.waitForFunction(() => (window as unknown as { __firstCardAt: number | null }).__firstCardAt, null, {
      timeout: 30_000,
    })
  ).jsonValue() as Promise<number>;

const card = (offerId: string) => `[data-testid=offer-card][data-offer-id="${offerId}"]`;
const balanceIs = (w: PageWatch, n: number) =>
  w.page.waitForFunction(
    (want) => document.querySelector('[data-testid=balance]')?.textContent?.replace(/\D/g, '') === String(want),
    n,
    { timeout: 30_000 },
  );

/** Errors a page reported, minus the connection failures a test provoked on purpose. */
const unexpectedErrors = (w: PageWatch, allowConnectionErrors = false) =>
  w.errors.filter(
    (e) =>
      !(
        allowConnectionErrors &&
        /WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource|ERR_EMPTY_RESPONSE/.test(e)
      ),
  );

// ─── how the API process serves the pages ────────────────────────────────────

describe('serving', () => {
  test('/ and /buyer are Live Leads, /admin/… the console (with a CSP); /v1/… stays API-only; assets are cached for good', async () => {
    for (const [path, title] of [
      ['/', 'Live Leads'],
      ['/buyer', 'Live Leads'],
      ['/admin', 'Agency console'],
      ['/admin/offers/00000000-0000-4000-8000-000000000000', 'Agency console'],
    ]) {
      const res = await h.http.get(path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.text).toContain(`<title>${title}`);
    }
    const html = (await h.http.get('/')).text;
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await h.http.get(asset);
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toContain('immutable');

    for (const res of [
      await h.http.get('/v1/nope'),
      await h.http.get('/v1'),
      await h.http.get('/assets/missing.js'),
      await h.http.post('/').send({}),
    ]) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect((await h.http.get('/healthz')).body).toEqual({ status: 'ok' });
  });
});

// ─── Live Leads: two buyers, one lead ────────────────────────────────────────

describe('Live Leads and the offer timeline', () => {
  let adminKey: string;
  let campaignId: string;
  let apex: Awaited<ReturnType<typeof makeBuyer>>;
  let bluebird: Awaited<ReturnType<typeof makeBuyer>>;
  let northside: Awaited<ReturnType<typeof makeBuyer>>;
  let A: PageWatch;
  let B: PageWatch;
  let soldOfferId: string;
  let raceOfferId: string;

  beforeAll(async () => {
    adminKey = await makeAgency('Summit Home Leads');
    apex = await makeBuyer(adminKey, 'Apex Roofing Co.', 1000);
    bluebird = await makeBuyer(adminKey, 'Bluebird Exteriors', 1000);
    northside = await makeBuyer(adminKey, 'Northside Gutters', 1000, { zipCodes: ['10001'] });
    campaignId = await makeCampaign(adminKey, {
      name: 'Roofing – Texas exclusive',
      previewFields: ['city', 'state', 'zip', 'answers.homeowner', 'answers.roof_age'],
      price: { base: 25, adjustments: [{ question: 'homeowner', equals: 'yes', add: 5 }] },
    });
  });

  test('two buyer pages see the same new offer within a second; one claims and sees the full record; the other sees "taken" without reloading', async () => {
    A = track(await buyerPage(browser, h, apex.key));
    B = track(await buyerPage(browser, h, bluebird.key));
    await B.page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
    await Promise.all([watchFirstCard(A), watchFirstCard(B)]);

    const lead = await submitLead(adminKey, campaignId, PEOPLE[0]);
    const { offer, seenOpenAt } = await whenOpen(lead.id);
    const [atA, atB] = await Promise.all([firstCardAt(A), firstCardAt(B)]);
    // Both pages show it within a second of the offer opening (the offer row is written, then the feed is told).
    expect(atA - seenOpenAt).toBeLessThan(1000);
    expect(atB - seenOpenAt).toBeLessThan(1000);
    expect(Math.abs(atA - atB)).toBeLessThan(1000);

    // The card is that offer, with its price and the preview only: nothing that identifies the person.
    for (const w of [A, B]) {
      const text = await w.page.locator(card(offer.id)).innerText();
      expect(text).toContain('Austin, TX 78701');
      expect(text).toContain('30'); // 25 + 5 for a homeowner
      expect(text).toMatch(/\d:\d\d/); // the countdown
      for (const secret of [lead.fields.lastName, lead.fields.phone, lead.fields.email, lead.fields.address])
        expect(text).not.toContain(secret);
    }

    // Two more offers, for a fuller board in the screenshot; then the phone layout.
    await submitLead(adminKey, campaignId, PEOPLE[1]);
    await submitLead(adminKey, campaignId, PEOPLE[2]);
    await A.page.waitForFunction(() => document.querySelectorAll('[data-testid=offer-card]').length >= 3, null, {
      timeout: 30_000,
    });
    await screenshot(A.page, 'live-leads-feed', { docs: true });
    await A.page.setViewportSize({ width: 390, height: 844 });
    await screenshot(A.page, 'live-leads-phone', { docs: true });
    await A.page.setViewportSize({ width: 1280, height: 860 });

    await A.page.click(`${card(offer.id)} button.btn-primary`);
    await A.page.waitForSelector(`${card(offer.id)}[data-state=won]`, { timeout: 30_000 });
    const won = await A.page.locator(card(offer.id)).innerText();
    expect(won).toContain('Ada Lovelace');
    expect(won).toContain(lead.fields.phone);
    expect(won).toContain(lead.fields.email);
    expect(won).toContain('charged 30 credits');
    await balanceIs(A, 970);

    await B.page.waitForSelector(`${card(offer.id)}[data-state="closed:taken"]`, { timeout: 30_000 });
    expect(await B.page.locator(`${card(offer.id)} [data-testid=card-status]`).innerText()).toContain(
      'Taken by another buyer',
    );
    expect(await B.page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

    await screenshot(A.page, 'won-card', { docs: true });
    await screenshot(B.page, 'taken-card');
    soldOfferId = offer.id;
  });

  test('two buyers click Claim at the same moment: exactly one wins, the other card says taken', async () => {
    const lead = await submitLead(adminKey, campaignId, PEOPLE[3]);
    const { offer } = await whenOpen(lead.id);
    await Promise.all([A.page.waitForSelector(card(offer.id)), B.page.waitForSelector(card(offer.id))]);
    // Both clicks dispatched at once (no actionability waits): the race is decided by the workflow.
    const button = `${card(offer.id)} button.btn-primary`;
    await Promise.all([
      A.page.$eval(button, (b) => (b as HTMLButtonElement).click()),
      B.page.$eval(button, (b) => (b as HTMLButtonElement).click()),
    ]);
    const final = (w: PageWatch) =>
      w.page.waitForFunction(
        (sel) => {
          const s = document.querySelector(sel)?.getAttribute('data-state');
          return s === 'won' || s === 'closed:taken' ? s : null;
        },
        card(offer.id),
        { timeout: 30_000 },
      );
    const states = await Promise.all([final(A), final(B)].map(async (p) => (await p).jsonValue()));
    expect([...states].sort()).toEqual(['closed:taken', 'won']);
    raceOfferId = offer.id;
  });

  test('an offer nobody claims counts down to zero and greys out as expired on both pages', async () => {
    const flash = await makeCampaign(adminKey, {
      name: 'Roofing – flash sale',
      claimWindowSeconds: 3,
      previewFields: ['city', 'state', 'zip'],
      price: { base: 20 },
    });
    const lead = await submitLead(adminKey, flash, PEOPLE[1]);
    const { offer } = await whenOpen(lead.id);
    for (const w of [A, B]) {
      await w.page.waitForSelector(`${card(offer.id)}[data-state="closed:expired"]`, { timeout: 30_000 });
      expect(await w.page.locator(`${card(offer.id)} [data-testid=card-status]`).innerText()).toBe(
        'Expired – nobody claimed it in time',
      );
      expect(await w.page.locator(`${card(offer.id)} button`).count()).toBe(0);
    }
  });

  test('a highest-bid offer takes sealed bids; at close the higher bidder’s card turns into the record, the other says outbid', async () => {
    const auction = await makeCampaign(adminKey, {
      name: 'Roofing – premium auction',
      claimWindowSeconds: 8,
      previewFields: ['city', 'state', 'zip', 'answers.roof_age'],
      price: { base: 20 },
      auction: 'highest_bid',
    });
    const lead = await submitLead(adminKey, auction, PEOPLE[4]);
    const { offer } = await whenOpen(lead.id);
    const bid = async (w: PageWatch, amount: number) => {
      await w.page.fill(`${card(offer.id)} input[name=bid]`, String(amount));
      await w.page.click(`${card(offer.id)} button[type=submit]`);
      await w.page.waitForSelector(`${card(offer.id)}[data-state=bid]`, { timeout: 20_000 });
    };
    await Promise.all([A.page.waitForSelector(card(offer.id)), B.page.waitForSelector(card(offer.id))]);
    expect(await A.page.locator(card(offer.id)).innerText()).toContain('FLOOR');
    await bid(A, 35);
    await bid(B, 25);
    expect(await A.page.locator(`${card(offer.id)} [data-testid=card-status]`).innerText()).toContain(
      'Your sealed bid: 35 credits',
    );
    await screenshot(A.page, 'sealed-bid');

    await A.page.waitForSelector(`${card(offer.id)}[data-state=won]`, { timeout: 30_000 });
    expect(await A.page.locator(card(offer.id)).innerText()).toContain(
      `${lead.fields.firstName} ${lead.fields.lastName}`,
    );
    await B.page.waitForSelector(`${card(offer.id)}[data-state="closed:taken"]`, { timeout: 30_000 });
    expect(await B.page.locator(`${card(offer.id)} [data-testid=card-status]`).innerText()).toBe(
      'Another buyer bid higher',
    );
  });

  test('the admin timeline of the offer shows targeted, viewed, claim attempts, won and lost in order; the why box explains an excluded buyer', async () => {
    const admin = track(await adminPage(browser, h, adminKey, `/admin/offers/${soldOfferId}`));
    const events = async () => {
      await admin.page.waitForSelector('[data-testid=timeline] li[data-type=lost]', { timeout: 30_000 });
      return admin.page.$$eval('[data-testid=timeline] li', (lis) =>
        lis.map((li) => ({ type: li.getAttribute('data-type'), buyer: li.getAttribute('data-buyer') })),
      );
    };
    const list = await events();
    const at = (type: string, buyer?: string) =>
      list.findIndex((e) => e.type === type && (buyer === undefined || e.buyer === buyer));
    for (const [type, buyer] of [
      ['targeted', apex.name],
      ['targeted', bluebird.name],
      ['excluded', northside.name],
      ['viewed', apex.name],
      ['viewed', bluebird.name],
      ['claim_attempted', apex.name],
      ['won', apex.name],
      ['lost', bluebird.name],
    ] as const) {
      expect({ type, buyer, found: at(type, buyer) >= 0 }).toEqual({ type, buyer, found: true });
    }
    expect(at('targeted', apex.name)).toBeLessThan(at('viewed', apex.name));
    expect(at('viewed', apex.name)).toBeLessThan(at('claim_attempted', apex.name));
    expect(at('claim_attempted', apex.name)).toBeLessThan(at('won', apex.name));
    expect(at('won', apex.name)).toBeLessThan(at('lost', bluebird.name));
    // Every event has its time and the gap since the one before.
    expect(await admin.page.locator('[data-testid=timeline] .tl-clock').count()).toBe(list.length);
    expect(await admin.page.locator('[data-testid=timeline] li[data-type=won]').innerText()).toContain(
      'charged 30 credits',
    );

    await admin.page.selectOption('[data-testid=why-buyer]', northside.id);
    await admin.page.click('form:has([data-testid=why-buyer]) button[type=submit]');
    const why = await admin.page.locator('[data-testid=why-result]').innerText();
    expect(why).toContain('Northside Gutters');
    expect(why).toContain('outside the service area');

    // The race: two claim attempts, one won, the other refused or lost.
    await admin.page.goto(`${h.main.baseUrl}/admin/offers/${raceOfferId}`);
    const race = await events();
    expect(race.filter((e) => e.type === 'claim_attempted')).toHaveLength(2);
    expect(race.filter((e) => e.type === 'won')).toHaveLength(1);
    expect(race.some((e) => e.type === 'claim_failed' || e.type === 'lost')).toBe(true);
    await admin.page.selectOption('[data-testid=why-buyer]', northside.id);
    await admin.page.click('form:has([data-testid=why-buyer]) button[type=submit]');
    await admin.page.waitForSelector('[data-testid=why-result]');
    await screenshot(admin.page, 'offer-timeline', { fullPage: true, docs: true });
    expect(unexpectedErrors(admin)).toEqual([]);
  });

  test('a dropped connection shows "offline – reconnecting", and the page reconnects by itself with a fresh snapshot', async () => {
    const port = await freePort();
    let api = await apiOnPort(h, port);
    const w = track(await buyerPage(browser, h, bluebird.key, { baseUrl: api.baseUrl }));
    try {
      await api.close(); // the API goes away: the socket drops
      await w.page.waitForSelector('[data-testid=offline-banner]', { timeout: 20_000 });
      expect(await w.page.locator('[data-testid=offline-banner]').innerText()).toContain('Offline – reconnecting');
      await screenshot(w.page, 'offline-banner');

      // An offer opens while the page is offline …
      const lead = await submitLead(adminKey, campaignId, PEOPLE[4]);
      const { offer } = await whenOpen(lead.id);
      // … and the API comes back on the same address: the page reconnects by itself and the snapshot brings the offer.
      api = await apiOnPort(h, port);
      await w.page.waitForSelector('.conn-online', { timeout: 30_000 });
      await w.page.waitForSelector('[data-testid=offline-banner]', { state: 'detached', timeout: 5_000 });
      await w.page.waitForSelector(card(offer.id), { timeout: 10_000 });
      expect(unexpectedErrors(w, true)).toEqual([]);
    } finally {
      await api.close().catch(() => undefined);
    }
  });

  test('the agency console: leads, review queue (assign), campaigns, buyers, disputes and analytics render without errors', async () => {
    // A lead nobody can buy (a pool of one excluded buyer) goes to manual review; a dispute to resolve.
    const nobody = await makeCampaign(adminKey, {
      name: 'Gutters – Northside only',
      mode: 'push',
      price: { base: 15 },
      buyerIds: [northside.id],
    });
    const stranded = await submitLead(adminKey, nobody, { ...PEOPLE[1]!, firstName: 'Radia', lastName: 'Perlman' });
    await eventually(
      async () => {
        const res = await h.http.get(`/v1/leads/${stranded.id}`).set(bearer(adminKey));
        return res.body.lead?.status === 'manual_review';
      },
      30_000,
      'the stranded lead in manual review',
    );
    // The buyer disputes Ada Lovelace's lead from My leads.
    await A.page.click('.tab:has-text("My leads")');
    const ada = A.page.locator('section.panel', { hasText: 'Ada Lovelace' });
    await ada.locator('button', { hasText: 'Dispute this lead' }).click();
    await ada.locator('textarea').fill('The phone number is disconnected.');
    await ada.locator('button[type=submit]').click();
    await ada.locator('text=dispute open').waitFor({ timeout: 30_000 });
    await screenshot(A.page, 'my-leads');
    await A.page.click('.tab:has-text("Live Leads")');

    const admin = track(await adminPage(browser, h, adminKey));
    const page = admin.page;
    await page.waitForSelector('[data-testid=leads-table]');
    await screenshot(page, 'console-leads', { docs: true });

    await page.goto(`${h.main.baseUrl}/admin/review`);
    await page.waitForSelector(`text=Radia Perlman`, { timeout: 30_000 });
    await screenshot(page, 'console-review');
    const panel = page.locator('section.panel', { hasText: 'Radia Perlman' });
    await panel.locator('select').nth(1).selectOption(apex.id);
    await panel.locator('button', { hasText: 'Assign (charged)' }).click();
    await page.waitForSelector('.toast-ok >> text=Sold to Apex Roofing Co.', { timeout: 30_000 });
    const sold = await h.http.get(`/v1/leads/${stranded.id}`).set(bearer(adminKey));
    expect(sold.body.lead.status).toBe('sold');

    // A campaign made in the editor, then switched to push from the list.
    await page.goto(`${h.main.baseUrl}/admin/campaigns/new`);
    await page.fill('input[name=name]', 'Roofing – weekend');
    await page.fill('input[name=base]', '40');
    await page.click('button:has-text("Create campaign")');
    await page.waitForURL(/\/admin\/campaigns\/[0-9a-f-]{36}$/, { timeout: 30_000 });
    const created = page.url().split('/').pop()!;
    await page.goto(`${h.main.baseUrl}/admin/campaigns`);
    await page.locator('tr', { hasText: 'Roofing – weekend' }).locator('button', { hasText: 'Switch to push' }).click();
    await page
      .locator('tr', { hasText: 'Roofing – weekend' })
      .locator('button', { hasText: 'Switch to ping post' })
      .waitFor({ timeout: 30_000 });
    const switched = await h.http.get(`/v1/campaigns/${created}`).set(bearer(adminKey));
    expect(switched.body.campaign).toMatchObject({ name: 'Roofing – weekend', mode: 'push', price: { base: 40 } });

    // A buyer made in the console: its key is shown once.
    await page.goto(`${h.main.baseUrl}/admin/buyers`);
    await page.click('button:has-text("New buyer")');
    await page.fill('input[name=buyerName]', 'Pinecrest Roofing');
    await page.click('button:has-text("Create buyer")');
    expect(await page.locator('[data-testid=secret]').innerText()).toMatch(/^lw_buyer_/);
    await page.keyboard.press('Escape');

    // A test lead submitted from the console opens on its own page.
    await page.goto(`${h.main.baseUrl}/admin/leads`);
    await page.click('button:has-text("Submit a test lead")');
    await page.selectOption('.modal select', campaignId);
    await page.click('.modal button:has-text("Submit lead")');
    await page.waitForURL(/\/admin\/leads\/[0-9a-f-]{36}$/, { timeout: 30_000 });
    await page.waitForSelector('.page-head .badge', { timeout: 30_000 });

    for (const [path, ready, name] of [
      ['/admin/campaigns', '[data-testid=campaigns-table]', 'console-campaigns'],
      [`/admin/campaigns/${campaignId}`, 'input[name=name]', 'console-campaign-editor'],
      ['/admin/buyers', '[data-testid=buyers-table]', 'console-buyers'],
      [`/admin/buyers/${apex.id}`, '[data-testid=admin-buyer-balance]', 'console-buyer'],
      ['/admin/disputes', 'text=The phone number is disconnected.', 'console-disputes'],
      ['/admin/analytics', 'svg.chart', 'console-analytics'],
      [`/admin/leads/${stranded.id}`, '[data-testid=timeline]', 'console-lead'],
    ] as const) {
      await page.goto(`${h.main.baseUrl}${path}`);
      await page.waitForSelector(ready, { timeout: 30_000 });
      await screenshot(page, name, { fullPage: true, docs: name === 'console-analytics' });
    }

    // Approve the dispute: the refund shows in the buyer's wallet.
    await page.goto(`${h.main.baseUrl}/admin/disputes`);
    await page.click('button:has-text("Approve & refund")');
    await page.waitForSelector('text=No open dispute', { timeout: 30_000 });
    const wallet = await h.http.get('/v1/me/wallet').set(bearer(apex.key));
    expect(wallet.body.entries[0].kind).toBe('refund');
    await balanceIs(A, wallet.body.balance);
    expect(unexpectedErrors(admin)).toEqual([]);
    expect(unexpectedErrors(A)).toEqual([]);
    expect(unexpectedErrors(B)).toEqual([]);
  });
});

// ─── credits ─────────────────────────────────────────────────────────────────

describe('credits', () => {
  test('a buyer with too few credits sees the top-up message; after an admin top-up the balance updates and the claim wins', async () => {
    const adminKey = await makeAgency('Lone Star Leads');
    const cedar = await makeBuyer(adminKey, 'Cedar & Slate Roofing', 15);
    const campaignId = await makeCampaign(adminKey, {
      name: 'Roofing – Hill Country',
      previewFields: ['city', 'state', 'zip'],
      price: { base: 10 },
    });
    const C = track(await buyerPage(browser, h, cedar.key));

    // Two offers open while the balance (15) covers one of them (10 each).
    const first = await submitLead(adminKey, campaignId, PEOPLE[0]);
    const second = await submitLead(adminKey, campaignId, PEOPLE[2]);
    const [o1, o2] = await Promise.all([whenOpen(first.id), whenOpen(second.id)]);
    await C.page.waitForSelector(card(o1.offer.id));
    await C.page.waitForSelector(card(o2.offer.id));

    await C.page.click(`${card(o1.offer.id)} button.btn-primary`);
    await C.page.waitForSelector(`${card(o1.offer.id)}[data-state=won]`, { timeout: 30_000 });
    await balanceIs(C, 5);

    await C.page.click(`${card(o2.offer.id)} button.btn-primary`);
    await C.page.waitForSelector(`${card(o2.offer.id)}[data-state="refused:insufficient_credits"]`, {
      timeout: 30_000,
    });
    expect(await C.page.locator(`${card(o2.offer.id)} [data-testid=card-status]`).innerText()).toBe(
      'Insufficient credits – ask your agency to top up your wallet to claim',
    );
    await screenshot(C.page, 'insufficient-credits');

    // The agency tops the wallet up in its console …
    const admin = track(await adminPage(browser, h, adminKey, `/admin/buyers/${cedar.id}`));
    await admin.page.waitForSelector('[data-testid=admin-buyer-balance]');
    await admin.page.fill('input[name=amount]', '100');
    await admin.page.click('form:has(input[name=amount]) button[type=submit]');
    await admin.page.waitForFunction(
      () => document.querySelector('[data-testid=admin-buyer-balance]')?.textContent === '105',
      null,
      { timeout: 30_000 },
    );

    // … and the buyer's page shows the new balance by itself; the same card can now be claimed.
    await balanceIs(C, 105);
    await C.page.click(`${card(o2.offer.id)} button.btn-primary`);
    await C.page.waitForSelector(`${card(o2.offer.id)}[data-state=won]`, { timeout: 30_000 });
    await balanceIs(C, 95);
    expect(unexpectedErrors(C)).toEqual([]);
    expect(unexpectedErrors(admin)).toEqual([]);
  });
});
