/**
 * Settling with a source through the API, on the real dev server and Postgres:
 * POST /v1/sources/:id/settlements records what the agency paid a source
 * (a settlement) or a correction (an adjustment) in the source ledger, never
 * more than the source is owed, even when several payments race; a retried
 * request records once; bad input, another agency's source and a key of the
 * wrong kind store nothing; the source reads the payment in its own ledger.
 */
import crypto from 'node:crypto';

import type { Pool } from 'pg';

import { Responses } from '../../api/routes/sources.schemas';
import { ProblemSchema } from '../../api/schemas';
import { runAudit } from '../../ops/audit';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  bearer,
  getCsv,
  type Harness,
  leadFields,
  startHarness,
  unique,
} from './harness';
import { apiSourceFor, offerOfLead, winOffer } from './world';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const pool = () => h.database.raw as Pool;
const q = async (text: string, params: unknown[] = []) => (await pool().query(text, params)).rows;

/** An agency with a source allowed on one campaign (30 % of the sale), and a buyer of another agency. */
async function world() {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey, { claimWindowSeconds: 60, price: { base: 40 } });
  const S = await apiSourceFor(h, A.adminKey, campaign.id);
  return { A, campaign, S };
}

type World = Awaited<ReturnType<typeof world>>;

const settle = (w: World, body: object, opts: { key?: string; idempotencyKey?: string; sourceId?: string } = {}) => {
  let req = h.http
    .post(`/v1/sources/${opts.sourceId ?? w.S.source.id}/settlements`)
    .set(bearer(opts.key ?? w.A.adminKey));
  if (opts.idempotencyKey) req = req.set('Idempotency-Key', opts.idempotencyKey);
  return req.send(body);
};

/** Owes the source `amount` through an adjustment (no sale needed). */
async function owe(w: World, amount: number) {
  const res = await settle(w, { kind: 'adjustment', amount, reference: unique('opening') });
  expect(res.status).toBe(201);
  return res.body.balance as number;
}

/** The wallet, the sum of the source's entries, their count and the lowest balance any entry left. */
async function ledgerOf(sourceId: string) {
  const [row] = await q(
    `SELECT w.balance,
            (SELECT coalesce(sum(amount), 0)::int FROM source_ledger_entries WHERE source_id = $1) AS sum,
            (SELECT count(*)::int FROM source_ledger_entries WHERE source_id = $1) AS entries,
            (SELECT min(balance_after) FROM source_ledger_entries WHERE source_id = $1) AS lowest
       FROM source_wallets w WHERE w.source_id = $1`,
    [sourceId],
  );
  return row as { balance: number; sum: number; entries: number; lowest: number | null };
}

test("settling part of what a sale earned the source: 201 with the entry and the new balance, read by the source in its ledger, balance and CSV; the report's payouts unchanged", async () => {
  const w = await world();
  const buyer = await apiBuyer(h, w.A.adminKey, { credits: 1000 });
  const lead = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.apiKey))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  expect(lead.status).toBe(202);
  await winOffer(h, buyer.apiKey, (await offerOfLead(h, lead.body.lead.id)).id);
  expect((await ledgerOf(w.S.source.id)).balance).toBe(12); // 30 % of 40

  const res = await settle(w, { amount: 5, reference: '  WIRE-2026-11-29  ' });
  expect(res.status).toBe(201);
  const body = Responses.SourceSettlement.parse(res.body);
  expect(body).toEqual({
    balance: 7,
    entry: {
      id: expect.any(String),
      kind: 'settlement',
      amount: -5,
      balanceAfter: 7,
      leadId: null,
      assignmentId: null,
      reference: 'WIRE-2026-11-29',
      createdAt: expect.any(String),
    },
  });
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 7, sum: 7, entries: 2, lowest: 7 });

  // The agency's view and the source's own.
  const detail = await h.http.get(`/v1/sources/${w.S.source.id}`).set(bearer(w.A.adminKey));
  expect(detail.body.source.balance).toBe(7);
  const balance = await h.http.get('/v1/source/balance').set(bearer(w.S.apiKey));
  expect(balance.body.balance).toBe(7);
  const mine = await h.http.get('/v1/source/ledger').set(bearer(w.S.apiKey));
  expect(mine.status).toBe(200);
  expect(mine.body.entries[0]).toEqual(body.entry);
  expect(mine.body.entries.map((e: { kind: string }) => e.kind)).toEqual(['settlement', 'payout']);

  // The CSV of the source ledger carries it too, with its reference.
  const rows = await getCsv(h, '/v1/exports/source-ledger.csv', w.S.apiKey);
  expect(rows[0]).toEqual([
    'id',
    'createdAt',
    'sourceId',
    'kind',
    'amount',
    'balanceAfter',
    'leadId',
    'assignmentId',
    'reference',
  ]);
  const col = (name: string) => rows[0]!.indexOf(name);
  const line = rows.find((r) => r[0] === body.entry.id)!;
  expect([line[col('kind')], line[col('amount')], line[col('balanceAfter')], line[col('reference')]]).toEqual([
    'settlement',
    '-5',
    '7',
    'WIRE-2026-11-29',
  ]);

  // The report's payouts are per sold lead: a settlement pays that debt and changes neither payouts nor margin.
  const report = await h.http.get('/v1/reports?groupBy=source').set(bearer(w.A.adminKey));
  expect(report.status).toBe(200);
  expect(report.body.rows.find((r: { key: string }) => r.key === w.S.source.id)).toMatchObject({
    revenue: 40,
    payouts: 12,
    margin: 28,
  });

  const audit = await runAudit(h.database.db, { agencyId: w.A.agency.id });
  expect(audit.violations).toEqual([]);
});

test('a settlement of more than the balance is 409 settlement_exceeds_balance with nothing stored; exactly the balance settles it to 0', async () => {
  const w = await world();
  await owe(w, 30);
  const over = await settle(w, { amount: 31, reference: 'too-much' });
  expect(over.status).toBe(409);
  expect(over.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(ProblemSchema.parse(over.body)).toMatchObject({
    code: 'settlement_exceeds_balance',
    errors: [{ in: 'body', path: 'amount', message: expect.stringContaining('30') }],
  });
  expect(over.body.balance).toBe(30);
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 30, sum: 30, entries: 1, lowest: 30 });

  const all = await settle(w, { amount: 30, reference: 'all-of-it' });
  expect(all.status).toBe(201);
  expect(all.body.balance).toBe(0);
  const more = await settle(w, { amount: 1, reference: 'one-more' });
  expect(more.status).toBe(409);
  expect(more.body.code).toBe('settlement_exceeds_balance');
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 0, sum: 0, entries: 2, lowest: 0 });
});

test('adjustments correct the balance either way, never below zero (409 adjustment_exceeds_balance)', async () => {
  const w = await world();
  await owe(w, 20);
  const down = await settle(w, { kind: 'adjustment', amount: -8, reference: 'double-counted lead' });
  expect(down.status).toBe(201);
  expect(down.body).toMatchObject({ balance: 12, entry: { kind: 'adjustment', amount: -8, balanceAfter: 12 } });
  const below = await settle(w, { kind: 'adjustment', amount: -13, reference: 'too far' });
  expect(below.status).toBe(409);
  expect(below.body).toMatchObject({ code: 'adjustment_exceeds_balance', balance: 12 });
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 12, sum: 12, entries: 2, lowest: 12 });
});

test('an adjustment that would take the balance past what the wallet holds is 422 naming the amount, nothing stored', async () => {
  const w = await world();
  // 21 × 100,000,000 fits in the wallet's integer (2,147,483,647); the 22nd does not.
  for (let i = 0; i < 21; i++) await owe(w, 100_000_000);
  const over = await settle(w, { kind: 'adjustment', amount: 100_000_000, reference: 'one too many' });
  expect(over.status).toBe(422);
  expect(over.body).toMatchObject({
    code: 'validation_failed',
    errors: [{ in: 'body', path: 'amount', message: 'too large for this wallet' }],
  });
  expect(await ledgerOf(w.S.source.id)).toEqual({
    balance: 2_100_000_000,
    sum: 2_100_000_000,
    entries: 21,
    lowest: 100_000_000,
  });
});

test('ten equal settlements at once against a balance of 100: exactly three succeed, the rest are refused, the ledger sums to the wallet', async () => {
  const w = await world();
  await owe(w, 100);
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => settle(w, { amount: 30, reference: `race-${i}` })),
  );
  const statuses = answers.map((a) => a.status).sort();
  expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409, 409, 409]);
  // Each success was decided on the balance the previous one left: 70, 40, 10, in some order of requests.
  expect(
    answers
      .filter((a) => a.status === 201)
      .map((a) => a.body.balance)
      .sort((a, b) => b - a),
  ).toEqual([70, 40, 10]);
  for (const refused of answers.filter((a) => a.status === 409)) {
    expect(refused.body.code).toBe('settlement_exceeds_balance');
    expect(refused.body.balance).toBe(10);
  }
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 10, sum: 10, entries: 4, lowest: 10 });
});

test('settlements of different amounts at once: those that succeed fit one after another, each refusal was more than the balance left', async () => {
  const w = await world();
  await owe(w, 100);
  const amounts = [60, 50, 45, 40, 30, 25, 20, 15, 10, 5];
  const answers = await Promise.all(amounts.map((amount, i) => settle(w, { amount, reference: `mixed-${i}` })));
  expect(answers.every((a) => a.status === 201 || a.status === 409)).toBe(true);
  const paid = amounts.filter((_, i) => answers[i]!.status === 201);
  const refused = amounts.filter((_, i) => answers[i]!.status === 409);
  const left = 100 - paid.reduce((a, b) => a + b, 0);
  expect(paid.length).toBeGreaterThan(0);
  expect(left).toBeGreaterThanOrEqual(0);
  // Balances only go down, so what is left is at most the balance any refusal saw: each refused amount still does not fit.
  for (const [i, amount] of amounts.entries()) {
    const a = answers[i]!;
    if (a.status === 409) {
      expect(a.body.balance).toBeLessThan(amount);
      expect(left).toBeLessThanOrEqual(a.body.balance);
    }
  }
  for (const amount of refused) expect(amount).toBeGreaterThan(left);
  // The successes form one chain from 100 down to what is left.
  const after = answers.filter((a) => a.status === 201).map((a) => a.body.entry.balanceAfter as number);
  expect(new Set(after).size).toBe(paid.length);
  expect(Math.min(...after)).toBe(left);
  expect(await ledgerOf(w.S.source.id)).toEqual({
    balance: left,
    sum: left,
    entries: 1 + paid.length,
    lowest: left,
  });
});

test('the same Idempotency-Key and body answer the first entry again (one row); another body under that key is 409', async () => {
  const w = await world();
  await owe(w, 100);
  const key = `settle-${crypto.randomUUID()}`;
  const first = await settle(w, { amount: 60, reference: 'WIRE-1' }, { idempotencyKey: key });
  const again = await settle(w, { reference: 'WIRE-1', amount: 60 }, { idempotencyKey: key });
  expect(first.status).toBe(201);
  expect(again.status).toBe(201);
  expect(again.body).toEqual(first.body);
  expect(again.headers['idempotent-replayed']).toBe('true');
  const other = await settle(w, { amount: 10, reference: 'WIRE-1' }, { idempotencyKey: key });
  expect(other.status).toBe(409);
  expect(other.body.code).toBe('idempotency_conflict');
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 40, sum: 40, entries: 2, lowest: 40 });

  // Even with the remembered answer gone, the ledger's own key keeps the payment single: the retry finds its
  // entry (under the wallet lock) instead of being refused for the balance it already lowered.
  await q(`DELETE FROM idempotency_records WHERE key = $1`, [key]);
  const retried = await settle(w, { amount: 60, reference: 'WIRE-1' }, { idempotencyKey: key });
  expect(retried.status).toBe(201);
  expect(retried.body.entry).toEqual(first.body.entry);
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 40, sum: 40, entries: 2, lowest: 40 });
});

test('bad input on every field is a 400 naming it, with nothing stored', async () => {
  const w = await world();
  await owe(w, 50);
  const cases: { body: object; path: string }[] = [
    { body: { reference: 'r' }, path: 'amount' },
    { body: { amount: 0, reference: 'r' }, path: 'amount' },
    { body: { amount: -5, reference: 'r' }, path: 'amount' },
    { body: { amount: 1.5, reference: 'r' }, path: 'amount' },
    { body: { amount: '10', reference: 'r' }, path: 'amount' },
    { body: { amount: 100_000_001, reference: 'r' }, path: 'amount' },
    { body: { kind: 'adjustment', amount: 0, reference: 'r' }, path: 'amount' },
    { body: { kind: 'adjustment', amount: -100_000_001, reference: 'r' }, path: 'amount' },
    { body: { amount: 5 }, path: 'reference' },
    { body: { amount: 5, reference: '' }, path: 'reference' },
    { body: { amount: 5, reference: '   ' }, path: 'reference' },
    { body: { amount: 5, reference: 'x'.repeat(201) }, path: 'reference' },
    { body: { amount: 5, reference: 'nul\u0000' }, path: 'reference' },
    { body: { amount: 5, reference: 7 }, path: 'reference' },
    { body: { kind: 'payout', amount: 5, reference: 'r' }, path: 'kind' },
    { body: { kind: 'reversal', amount: 5, reference: 'r' }, path: 'kind' },
    { body: { amount: 5, reference: 'r', memo: 'x' }, path: 'memo' },
  ];
  for (const c of cases) {
    const res = await settle(w, c.body);
    expect([JSON.stringify(c.body), res.status]).toEqual([JSON.stringify(c.body), 400]);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(c.path);
  }
  const badId = await h.http.post('/v1/sources/not-a-uuid/settlements').set(bearer(w.A.adminKey)).send({
    amount: 5,
    reference: 'r',
  });
  expect(badId.status).toBe(400);
  expect(badId.body.errors).toEqual([expect.objectContaining({ in: 'params', path: 'id' })]);
  const badKey = await settle(w, { amount: 5, reference: 'r' }, { idempotencyKey: 'spaces are not allowed' });
  expect(badKey.status).toBe(400);
  expect(badKey.body.errors).toEqual([expect.objectContaining({ in: 'header', path: 'Idempotency-Key' })]);
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 50, sum: 50, entries: 1, lowest: 50 });
});

test("another agency's source is 404, as an unknown one; a source key and a buyer key are 403; nothing stored", async () => {
  const w = await world();
  await owe(w, 50);
  const B = await apiAgency(h);
  const foreign = await settle(w, { amount: 5, reference: 'r' }, { key: B.adminKey });
  expect(foreign.status).toBe(404);
  expect(foreign.body.code).toBe('not_found');
  const unknown = await settle(
    w,
    { amount: 5, reference: 'r' },
    { key: B.adminKey, sourceId: '00000000-0000-4000-8000-000000000000' },
  );
  expect(unknown.status).toBe(404);
  expect(unknown.body).toEqual(foreign.body);

  const buyer = await apiBuyer(h, w.A.adminKey);
  for (const key of [w.S.apiKey, buyer.apiKey]) {
    const res = await settle(w, { amount: 5, reference: 'r' }, { key });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  }
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 50, sum: 50, entries: 1, lowest: 50 });
});

test('a source owed nothing has nothing to settle', async () => {
  const w = await world();
  const res = await settle(w, { amount: 1, reference: 'nothing owed' });
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ code: 'settlement_exceeds_balance', balance: 0 });
  expect(await ledgerOf(w.S.source.id)).toEqual({ balance: 0, sum: 0, entries: 0, lowest: null });
});
