/**
 * Monthly statements (#21 item 6) over HTTP on real Postgres: a buyer's own and the agency's view, JSON and CSV,
 * in the agency's time zone; top-ups carry their card and Stripe's receipt (fetched once through the SDK from
 * stripe-mock when the webhook did not carry it); a bad month is a 400 naming the field; and over random ledgers
 * written to the database, opening + movements = closing and the last month closes on the wallet's balance.
 */
import { eq } from 'drizzle-orm';
import fc from 'fast-check';

import { SYSTEM } from '../../db/audit';
import { walletBalance } from '../../db/ledger';
import { createPayment, paymentById, savePaymentSettings } from '../../db/payments';
import { agencies, ledgerEntries, payments } from '../../db/schema';
import { stripeLedgerKey } from '../../domain/payments';
import { monthBounds, STATEMENT_SECTIONS } from '../../domain/statements';
import type { LedgerEntryKind } from '../../domain/types';
import { STRIPE_MOCK_KEY, stripeForTests } from '../helpers/stripe';
import { runDocWalkthrough } from './doc-examples';
import { apiAgency, apiBuyer, bearer, getCsv, type Harness, startHarness } from './harness';

const TZ = 'America/New_York';
let h: Harness;
const stripe = stripeForTests();

beforeAll(async () => {
  await stripe.start();
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await stripe.stop();
});

let seq = 0;
async function entry(
  buyer: { id: string },
  agencyId: string,
  kind: LedgerEntryKind,
  amount: number,
  at: Date,
  extra: { idempotencyKey?: string; leadId?: string; reference?: string } = {},
) {
  await h.database.db.insert(ledgerEntries).values({
    buyerId: buyer.id,
    agencyId,
    kind,
    amount,
    createdAt: at,
    idempotencyKey: extra.idempotencyKey ?? `statement-test-${Date.now()}-${seq++}`,
    leadId: extra.leadId ?? null,
    reference: extra.reference ?? null,
  });
}

/** An agency in New York with Stripe settings (stripe-mock's key), a buyer, and a ledger across February–March 2026. */
async function world() {
  const { agency, adminKey } = await apiAgency(h);
  await h.database.db.update(agencies).set({ timeZone: TZ }).where(eq(agencies.id, agency.id));
  const { buyer, apiKey } = await apiBuyer(h, adminKey);
  await savePaymentSettings(
    h.database.db,
    agency.id,
    {
      secretKey: STRIPE_MOCK_KEY,
      webhookSecret: 'whsec_statements',
      currency: 'usd',
      creditPrice: 250,
      minCredits: 10,
      maxCredits: 1000,
    },
    SYSTEM,
  );
  const march = monthBounds('2026-03', TZ);
  // February: a manual top-up, and a charge one millisecond before March begins in New York.
  await entry(buyer, agency.id, 'top_up', 100, new Date('2026-02-10T15:00:00Z'), { reference: 'wire' });
  await entry(buyer, agency.id, 'charge', -30, new Date(march.start.getTime() - 1));
  // March: a card top-up at the month's first instant (its receipt not carried by the webhook), a charge, a
  // return, a card refund, an adjustment – and the clocks springing forward on 8 March in between.
  const pi = `pi_statement_${Date.now()}_${seq++}`;
  const payment = await createPayment(h.database.db, {
    agencyId: agency.id,
    buyerId: buyer.id,
    kind: 'checkout',
    credits: 40,
    creditPrice: 250,
    currency: 'usd',
    stripePaymentIntentId: pi,
  });
  await h.database.db
    .update(payments)
    .set({
      status: 'succeeded',
      succeededAt: march.start,
      stripeChargeId: 'ch_statement',
      cardBrand: 'visa',
      cardLast4: '4242',
    })
    .where(eq(payments.id, payment.id));
  await entry(buyer, agency.id, 'top_up', 40, march.start, { idempotencyKey: stripeLedgerKey.payment(pi) });
  const leadId = '00000000-0000-4000-8000-000000000001';
  await entry(buyer, agency.id, 'charge', -25, new Date('2026-03-09T12:00:00Z'), { leadId });
  await entry(buyer, agency.id, 'refund', 25, new Date('2026-03-10T12:00:00Z'), { leadId, reference: 'returned' });
  await entry(buyer, agency.id, 'card_refund', -10, new Date('2026-03-20T12:00:00Z'));
  await entry(buyer, agency.id, 'adjustment', -5, new Date('2026-03-31T12:00:00Z'), { reference: '=cmd|calc' });
  // April begins in New York at 04:00 UTC: this one is April's.
  await entry(buyer, agency.id, 'top_up', 7, new Date('2026-04-01T04:00:00Z'));
  return { agency, adminKey, buyer, apiKey, payment };
}

test('a buyer sees its months and the statement of one: opening, sections, closing, the card and its receipt', async () => {
  const w = await world();
  const months = await h.http.get('/v1/me/statements').set(bearer(w.apiKey));
  expect(months.status).toBe(200);
  expect(months.body).toEqual({ timeZone: TZ, months: ['2026-04', '2026-03', '2026-02'] });

  const feb = await h.http.get('/v1/me/statements/2026-02').set(bearer(w.apiKey));
  expect(feb.body).toMatchObject({ openingBalance: 0, closingBalance: 70 });

  const res = await h.http.get('/v1/me/statements/2026-03').set(bearer(w.apiKey));
  expect(res.status).toBe(200);
  const s = res.body;
  expect(s).toMatchObject({
    buyerId: w.buyer.id,
    month: '2026-03',
    timeZone: TZ,
    from: '2026-03-01T05:00:00.000Z',
    to: '2026-04-01T04:00:00.000Z',
    openingBalance: 70,
    closingBalance: 95,
    totals: { topUps: 40, charges: -25, returns: 25, cardRefunds: -10, disputes: 0, adjustments: -5 },
  });
  expect(s.lines.map((l: { section: string }) => l.section)).toEqual([
    'topUps',
    'charges',
    'returns',
    'cardRefunds',
    'adjustments',
  ]);
  const topUp = s.lines[0];
  expect(topUp).toMatchObject({ at: '2026-03-01T05:00:00.000Z', amount: 40, balanceAfter: 110 });
  expect(topUp.payment).toMatchObject({
    paymentId: w.payment.id,
    amount: 10_000,
    currency: 'usd',
    cardBrand: 'visa',
    cardLast4: '4242',
  });
  // stripe-mock's charge carries a receipt_url; it was fetched through the SDK and kept on the payment.
  expect(topUp.payment.receiptUrl).toMatch(/^https:\/\//);
  expect((await paymentById(h.database.db, w.payment.id))!.receiptUrl).toBe(topUp.payment.receiptUrl);
  const asked = stripe.proxy.requests.filter((r) => r.path.startsWith('/v1/charges/ch_statement')).length;
  expect(asked).toBe(1);
  // Asked once: the next statement reads the stored link.
  await h.http.get('/v1/me/statements/2026-03').set(bearer(w.apiKey)).expect(200);
  expect(stripe.proxy.requests.filter((r) => r.path.startsWith('/v1/charges/ch_statement')).length).toBe(1);
  const sections = STATEMENT_SECTIONS.reduce((t, k) => t + s.totals[k], 0);
  expect(s.openingBalance + sections).toBe(s.closingBalance);

  const apr = await h.http.get('/v1/me/statements/2026-04').set(bearer(w.apiKey));
  expect(apr.body).toMatchObject({ openingBalance: 95, closingBalance: 102 });
  expect(await walletBalance(h.database.db, w.buyer.id)).toBe(102);
});

test('the CSV (path or ?format=csv) has an opening row, one row per entry and a closing row; text is neutralised', async () => {
  const w = await world();
  const byPath = await getCsv(h, '/v1/me/statements/2026-03.csv', w.apiKey);
  const byQuery = await getCsv(h, '/v1/me/statements/2026-03?format=csv', w.apiKey);
  expect(byQuery).toEqual(byPath);
  const [header, opening, ...rest] = byPath;
  expect(header).toEqual([
    'date',
    'section',
    'kind',
    'credits',
    'balanceAfter',
    'leadId',
    'reference',
    'card',
    'paymentAmount',
    'receiptUrl',
  ]);
  expect(opening!.slice(0, 5)).toEqual(['2026-03-01T05:00:00.000Z', 'opening', '', '', '70']);
  const closing = rest.at(-1)!;
  expect(closing.slice(0, 5)).toEqual(['2026-04-01T04:00:00.000Z', 'closing', '', '25', '95']);
  const lines = rest.slice(0, -1);
  expect(lines).toHaveLength(5);
  expect(lines[0]!.slice(1, 5)).toEqual(['topUps', 'top_up', '40', '110']);
  expect(lines[0]![7]).toBe('visa 4242');
  expect(lines[0]![8]).toBe('100.00 USD');
  expect(lines[0]![9]).toMatch(/^https:\/\//);
  expect(lines[4]![6]).toBe("'=cmd|calc");
  const res = await h.http.get('/v1/me/statements/2026-03.csv').set(bearer(w.apiKey));
  expect(res.headers['content-type']).toMatch(/^text\/csv/);
  expect(res.headers['content-disposition']).toContain('statement-2026-03');
});

test("the agency reads any of its buyers' statements, and no other agency's", async () => {
  const w = await world();
  const mine = await h.http.get('/v1/me/statements/2026-03').set(bearer(w.apiKey));
  const agencyView = await h.http.get(`/v1/buyers/${w.buyer.id}/statements/2026-03`).set(bearer(w.adminKey));
  expect(agencyView.status).toBe(200);
  expect(agencyView.body).toEqual(mine.body);
  const months = await h.http.get(`/v1/buyers/${w.buyer.id}/statements`).set(bearer(w.adminKey));
  expect(months.body.months).toEqual(['2026-04', '2026-03', '2026-02']);
  expect(await getCsv(h, `/v1/buyers/${w.buyer.id}/statements/2026-03.csv`, w.adminKey)).toEqual(
    await getCsv(h, '/v1/me/statements/2026-03.csv', w.apiKey),
  );
  const other = await apiAgency(h);
  for (const path of [
    `/v1/buyers/${w.buyer.id}/statements/2026-03`,
    `/v1/buyers/${w.buyer.id}/statements/2026-03.csv`,
    `/v1/buyers/${w.buyer.id}/statements`,
  ]) {
    const res = await h.http.get(path).set(bearer(other.adminKey));
    expect(res.status).toBe(404);
  }
});

test('a bad month is a 400 naming the field; a bad format too', async () => {
  const w = await world();
  for (const path of [
    '/v1/me/statements/2026-13',
    '/v1/me/statements/2026-3',
    '/v1/me/statements/march',
    '/v1/me/statements/2026-00.csv',
    `/v1/buyers/${w.buyer.id}/statements/20260301`,
    `/v1/buyers/${w.buyer.id}/statements/2026-1.csv`,
  ]) {
    const res = await h.http.get(path).set(bearer(path.startsWith('/v1/me') ? w.apiKey : w.adminKey));
    expect([path, res.status, res.headers['content-type']]).toEqual([
      path,
      400,
      expect.stringMatching(/problem\+json/),
    ]);
    expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ in: 'params', path: 'month' }] });
  }
  const res = await h.http.get('/v1/me/statements/2026-03?format=pdf').set(bearer(w.apiKey));
  expect(res.status).toBe(400);
  expect(res.body.errors[0]).toMatchObject({ in: 'query', path: 'format' });
});

test('over random ledgers in the database, months chain and the last closes on the wallet balance', async () => {
  const { agency, adminKey } = await apiAgency(h);
  await h.database.db.update(agencies).set({ timeZone: 'Europe/London' }).where(eq(agencies.id, agency.id));
  const kinds: LedgerEntryKind[] = [
    'top_up',
    'charge',
    'refund',
    'adjustment',
    'card_refund',
    'dispute',
    'dispute_reversal',
    'card_refund_reversal',
  ];
  const bounds = ['2026-03', '2026-04', '2026-05'].map((m) => monthBounds(m, 'Europe/London').start.getTime());
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          kind: fc.constantFrom(...kinds),
          size: fc.integer({ min: 1, max: 50 }),
          at: fc.oneof(
            fc.constantFrom(...bounds.flatMap((b) => [b - 1, b, b + 1])),
            fc.integer({ min: bounds[0]! - 86_400_000 * 20, max: bounds[2]! + 86_400_000 * 20 }),
          ),
        }),
        { maxLength: 25 },
      ),
      async (raw) => {
        const { buyer } = await apiBuyer(h, adminKey);
        let balance = 0;
        for (const r of [...raw].sort((a, b) => a.at - b.at)) {
          const sign = ['charge', 'card_refund', 'dispute'].includes(r.kind) ? -1 : 1;
          // Only Stripe's refunds and disputes may overdraw; skip a charge the wallet cannot pay.
          if (sign < 0 && !['card_refund', 'dispute'].includes(r.kind) && balance < r.size) continue;
          balance += sign * r.size;
          await entry(buyer, agency.id, r.kind, sign * r.size, new Date(r.at));
        }
        const { body } = await h.http.get(`/v1/buyers/${buyer.id}/statements`).set(bearer(adminKey));
        let previous: number | null = null;
        for (const month of ['2026-02', '2026-03', '2026-04', '2026-05', '2026-06']) {
          const s = (await h.http.get(`/v1/buyers/${buyer.id}/statements/${month}`).set(bearer(adminKey))).body;
          expect(s.openingBalance + STATEMENT_SECTIONS.reduce((t, k) => t + s.totals[k], 0)).toBe(s.closingBalance);
          if (previous !== null) expect(s.openingBalance).toBe(previous);
          if (s.lines.length) expect(body.months).toContain(month);
          previous = s.closingBalance;
        }
        expect(previous).toBe(await walletBalance(h.database.db, buyer.id));
        expect(previous).toBe(balance);
      },
    ),
    { numRuns: 12 },
  );
});

test("docs/payments.md's statements walkthrough runs as written", async () => {
  const w = await world();
  const out = await runDocWalkthrough('docs/payments.md', 'statements', {
    LW: h.main.baseUrl,
    KEY: w.apiKey,
    MONTH: '2026-03',
  });
  expect(out).toEqual(['2026-04', '70 95', 'visa 4242', 'closing,95']);
});
