/**
 * The wallet's monthly statements (#21 item 6) in real headless Chromium against the real API and Postgres: a
 * buyer picks a month, reads opening, sections and closing, follows a card top-up's Stripe receipt link, downloads
 * the CSV, and prints only the statement (the print stylesheet hides the rest of the page). The wallet's picture
 * lands in docs/screenshots/ with LW_DOCS_SCREENSHOTS=1.
 */
import fs from 'node:fs';

import { eq } from 'drizzle-orm';

import { createPayment } from '../../db/payments';
import { ledgerEntries, payments } from '../../db/schema';
import { parseCsv } from '../../domain/csv';
import { stripeLedgerKey } from '../../domain/payments';
import { monthBounds } from '../../domain/statements';
import { bearer, ROOT_TOKEN } from '../api/harness';
import { SERVICE_LINE } from '../helpers/world';
import { browserSuite, buyerPage, screenshot } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();

async function post<T>(key: string, path: string, body: unknown): Promise<T> {
  const res = await suite.h.http
    .post(path)
    .set(bearer(key))
    .send(body as object);
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

test('a buyer reads, prints and downloads a month of its wallet, with the card top-up and its Stripe receipt', async () => {
  const TZ = 'America/Chicago';
  const { agency, adminKey } = await post<{ agency: { id: string }; adminKey: string }>(ROOT_TOKEN, '/v1/agencies', {
    name: 'Summit Home Leads',
    timeZone: TZ,
  });
  await post(adminKey, '/v1/service-lines', { key: SERVICE_LINE, name: 'Roofing' });
  const { buyer, apiKey } = await post<{ buyer: { id: string }; apiKey: string }>(adminKey, '/v1/buyers', {
    name: 'Apex Roofing Co.',
    serviceLines: [SERVICE_LINE],
  });
  const db = suite.h.database.db;
  const march = monthBounds('2026-03', TZ);
  const receipt = 'https://pay.stripe.com/receipts/acct_test/ch_statement_browser';
  const payment = await createPayment(db, {
    agencyId: agency.id,
    buyerId: buyer.id,
    kind: 'checkout',
    credits: 200,
    creditPrice: 250,
    currency: 'usd',
    stripePaymentIntentId: 'pi_statement_browser',
  });
  await db
    .update(payments)
    .set({ status: 'succeeded', succeededAt: march.start, cardBrand: 'visa', cardLast4: '4242', receiptUrl: receipt })
    .where(eq(payments.id, payment.id));
  const at = (iso: string) => new Date(iso);
  // One statement per entry, as the product writes them (the trigger sets each balance after the one before).
  const entries: (typeof ledgerEntries.$inferInsert)[] = [
    {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'top_up',
      amount: 50,
      idempotencyKey: `b-${buyer.id}-1`,
      createdAt: at('2026-02-20T18:00:00Z'),
      reference: 'wire transfer',
    },
    {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'top_up',
      amount: 200,
      idempotencyKey: stripeLedgerKey.payment('pi_statement_browser'),
      createdAt: at('2026-03-02T15:00:00Z'),
    },
    {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'charge',
      amount: -35,
      idempotencyKey: `b-${buyer.id}-2`,
      createdAt: at('2026-03-12T15:00:00Z'),
      leadId: '5d1c2e7a-0000-4000-8000-0000000000aa',
    },
    {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'refund',
      amount: 35,
      idempotencyKey: `b-${buyer.id}-3`,
      createdAt: at('2026-03-13T15:00:00Z'),
      leadId: '5d1c2e7a-0000-4000-8000-0000000000aa',
      reference: 'returned: wrong number',
    },
    {
      buyerId: buyer.id,
      agencyId: agency.id,
      kind: 'charge',
      amount: -40,
      idempotencyKey: `b-${buyer.id}-4`,
      createdAt: at('2026-03-20T15:00:00Z'),
      leadId: '9b3f4c10-0000-4000-8000-0000000000bb',
    },
  ];
  for (const row of entries) await db.insert(ledgerEntries).values(row);

  const B = suite.track(await buyerPage(suite.browser, suite.h, apiKey));
  const page = B.page;
  await page.click('button.tab:has-text("Wallet")');
  await page.waitForSelector('[data-testid=statement]');
  // The newest month with activity comes first; pick March.
  expect(
    await page
      .locator('select[name=statement-month] option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)),
  ).toEqual(['2026-03', '2026-02']);
  await page.selectOption('select[name=statement-month]', '2026-03');
  await page.waitForSelector('[data-testid=statement] h3:has-text("March 2026")');
  expect(await page.textContent('[data-testid=statement-opening]')).toBe('50');
  expect(await page.textContent('[data-testid=statement-total-topUps]')).toBe('+200');
  expect(await page.textContent('[data-testid=statement-total-charges]')).toBe('-75');
  expect(await page.textContent('[data-testid=statement-total-returns]')).toBe('+35');
  expect(await page.textContent('[data-testid=statement-closing]')).toBe('210');
  const topUp = page.locator('[data-testid=statement-lines] tbody tr').first();
  expect(await topUp.textContent()).toContain('visa ···· 4242');
  expect(await topUp.textContent()).toContain('$500.00');
  expect(await topUp.locator('a:has-text("receipt")').getAttribute('href')).toBe(receipt);

  // Download CSV: the same statement the API gives, closing on 210.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('[data-testid=csv-statement-2026-03]'),
  ]);
  expect(download.suggestedFilename()).toBe('statement-2026-03.csv');
  const rows = parseCsv(fs.readFileSync((await download.path())!, 'utf8'));
  expect(rows[1]!.slice(1, 5)).toEqual(['opening', '', '', '50']);
  expect(rows.at(-1)!.slice(1, 5)).toEqual(['closing', '', '160', '210']);
  expect(rows.find((r) => r[2] === 'top_up')![9]).toBe(receipt);

  await screenshot(page, 'buyer-wallet', { docs: true, fullPage: true });

  // Printing shows the statement alone.
  await page.emulateMedia({ media: 'print' });
  expect(await page.isVisible('[data-testid=statement-closing]')).toBe(true);
  expect(await page.isVisible('[data-testid=wallet-balance]')).toBe(false);
  expect(await page.isVisible('select[name=statement-month]')).toBe(false);
  await page.emulateMedia({ media: 'screen' });
  expect(await page.isVisible('[data-testid=wallet-balance]')).toBe(true);
  expect(B.errors).toEqual([]);
});
