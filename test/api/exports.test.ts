/**
 * CSV exports on the real Postgres: 100,000 rows stream through the API with
 * bounded memory, a field with commas, quotes and line breaks round-trips
 * (RFC 4180), and each caller exports only its own rows.
 */
import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';

import type { Pool } from 'pg';

import { leadFields } from '../helpers/world';
import { apiAgency, apiBuyer, apiCampaign, bearer, getCsv, type Harness, startHarness } from './harness';
import { apiSourceFor, offerOfLead, winOffer } from './world';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const pool = () => h.database.raw as Pool;

const csv = (path: string, key: string) => getCsv(h, path, key);

// A full collection on demand, so the samples measure what is alive, not garbage not yet collected.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const liveHeap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

/** Streams a GET to its end, keeping only counts (and the first bytes), sampling the live heap as it goes. */
function streamGet(
  path: string,
  key: string,
): Promise<{ status: number; type: string; bytes: number; lines: number; head: string; peakHeapGrowth: number }> {
  return new Promise((resolve, reject) => {
    const base = liveHeap();
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, liveHeap() - base)), 50);
    http
      .get(`${h.main.baseUrl}${path}`, { headers: bearer(key) }, (res) => {
        let bytes = 0;
        let lines = 0;
        let head = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          bytes += Buffer.byteLength(chunk);
          for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) lines++;
          if (head.length < 2000) head += chunk.slice(0, 2000);
        });
        res.on('end', () => {
          clearInterval(sample);
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type']),
            bytes,
            lines,
            head,
            peakHeapGrowth: peak,
          });
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('a CSV of 100,000 leads streams with bounded memory: every row arrives, the heap never holds the file', async () => {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey);
  await pool().query(
    `INSERT INTO leads (agency_id, campaign_id, fields, status, workflow_id, created_at)
     SELECT $1, $2, jsonb_build_object('firstName', 'First' || g, 'lastName', 'Last, "the" ' || g, 'phone', '555' || lpad(g::text, 7, '0'),
            'email', 'p' || g || '@example.com', 'zip', '78701', 'address', g || ' Long Street, Apartment ' || g || ', Austin'),
            'manual_review', 'lead-x-' || g, now() - (g || ' seconds')::interval
     FROM generate_series(1, 100000) g`,
    [A.agency.id, campaign.id],
  );
  const res = await streamGet('/v1/exports/leads.csv', A.adminKey);
  expect(res.status).toBe(200);
  expect(res.type).toMatch(/^text\/csv/);
  expect(res.lines).toBe(100_001); // the header and every lead, each record ending CRLF
  expect(
    res.head.startsWith('id,createdAt,campaignId,sourceId,subId,clickId,status,firstName,lastName,phone,email'),
  ).toBe(true);
  expect(res.bytes).toBeGreaterThan(15_000_000);
  // Held whole, the text alone would be `bytes` (twice that as a JS string); streamed, what stays alive is a batch or two.
  expect(res.peakHeapGrowth).toBeLessThan(res.bytes / 4);
}, 300_000);

test('a field with commas, quotes and line breaks round-trips through the CSV', async () => {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey);
  const tricky = 'Suite 5, "The Loft"\r\nBack door, then "knock"\nthrice';
  const fields = leadFields({ address: tricky, city: 'Austin, TX' });
  const lead = await h.http.post('/v1/leads').set(bearer(A.adminKey)).send({ campaignId: campaign.id, fields });
  expect(lead.status).toBe(202);
  const records = await csv('/v1/exports/leads.csv', A.adminKey);
  const header = records[0]!;
  const row = records.find((r) => r[0] === lead.body.lead.id)!;
  expect(row[header.indexOf('address')]).toBe(tricky);
  expect(row[header.indexOf('city')]).toBe('Austin, TX');
  expect(JSON.parse(row[header.indexOf('answers')]!)).toEqual(fields.answers);
});

test('seller-supplied text never opens as a formula in any export; numbers and an E.164 phone stay as they are', async () => {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey, { name: '=1+1 campaign', price: { base: 25 } });
  const buyer = await apiBuyer(h, A.adminKey, { credits: 500 });
  const hostile = { firstName: '=HYPERLINK("http://evil.example","Click")', lastName: '@SUM(A1:A9)', city: '-2+3' };
  const fields = leadFields({ ...hostile, phone: '+15125550100', answers: { note: '+cmd' } });
  const lead = await h.http
    .post('/v1/leads')
    .set(bearer(A.adminKey))
    .send({ campaignId: campaign.id, fields, subId: '=cmd|x', clickId: '+click' });
  expect(lead.status).toBe(202);
  const loose = await h.http
    .post('/v1/leads')
    .set(bearer(A.adminKey))
    .send({ campaignId: campaign.id, fields: leadFields({ phone: '+1 (512) 555-0101' }) });
  expect(loose.status).toBe(202);
  await winOffer(h, buyer.apiKey, (await offerOfLead(h, lead.body.lead.id)).id);

  const at = (records: string[][], id: string, column: string) =>
    records.find((r) => r.includes(id))![records[0]!.indexOf(column)];
  const leads = await csv('/v1/exports/leads.csv', A.adminKey);
  const id = lead.body.lead.id as string;
  expect(at(leads, id, 'firstName')).toBe(`'${hostile.firstName}`);
  expect(at(leads, id, 'lastName')).toBe(`'${hostile.lastName}`);
  expect(at(leads, id, 'city')).toBe(`'${hostile.city}`);
  expect(at(leads, id, 'subId')).toBe("'=cmd|x");
  expect(at(leads, id, 'clickId')).toBe("'+click");
  expect(at(leads, id, 'phone')).toBe('+15125550100'); // validated E.164: as it is, for CRM imports
  expect(at(leads, loose.body.lead.id, 'phone')).toBe("'+1 (512) 555-0101"); // not E.164: text
  const sales = await csv('/v1/exports/sales.csv', A.adminKey);
  expect(at(sales, id, 'firstName')).toBe(`'${hostile.firstName}`);
  expect(at(sales, id, 'phone')).toBe('+15125550100');
  expect(at(sales, id, 'price')).toBe('25');
  const ledger = await csv('/v1/exports/ledger.csv', buyer.apiKey);
  expect(at(ledger, id, 'amount')).toBe('-25'); // a charge is a negative number, and stays one
  const report = await csv('/v1/exports/report.csv?groupBy=campaign', A.adminKey);
  expect(at(report, campaign.id, 'name')).toBe("'=1+1 campaign");
  // No cell of any of them opens as a formula.
  for (const records of [leads, sales, ledger, report])
    for (const cell of records.flat()) if (/^[=+\-@\t\r]/.test(cell)) expect(cell).toMatch(/^(\+15125550100|-\d+)$/);
});

test('a buyer exports only its purchases and ledger; a source only its own leads and ledger', async () => {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey, { claimWindowSeconds: 60 });
  const b1 = await apiBuyer(h, A.adminKey, { credits: 500 });
  const b2 = await apiBuyer(h, A.adminKey, { credits: 500 });
  const s1 = await apiSourceFor(h, A.adminKey, campaign.id);
  const s2 = await apiSourceFor(h, A.adminKey, campaign.id);
  const sold: Record<string, string> = {};
  for (const [source, buyer] of [
    [s1, b1],
    [s2, b2],
  ] as const) {
    const lead = await h.http
      .post('/v1/leads')
      .set(bearer(source.apiKey))
      .send({ campaignId: campaign.id, fields: leadFields() });
    const offer = await offerOfLead(h, lead.body.lead.id);
    await winOffer(h, buyer.apiKey, offer.id);
    sold[source.source.id] = lead.body.lead.id;
  }

  const sales = await csv('/v1/exports/sales.csv', b1.apiKey);
  expect(sales.slice(1).map((r) => r[sales[0]!.indexOf('buyerId')])).toEqual([b1.buyer.id]);
  const ledger = await csv('/v1/exports/ledger.csv', b1.apiKey);
  expect(new Set(ledger.slice(1).map((r) => r[ledger[0]!.indexOf('buyerId')]))).toEqual(new Set([b1.buyer.id]));
  const leads = await csv('/v1/exports/leads.csv', s1.apiKey);
  expect(leads[0]).toEqual(['id', 'createdAt', 'campaignId', 'subId', 'clickId', 'outcome', 'payout']);
  expect(leads.slice(1).map((r) => [r[0], r[5]])).toEqual([[sold[s1.source.id], 'sold']]);
  const sl = await csv('/v1/exports/source-ledger.csv', s1.apiKey);
  expect(
    sl.slice(1).map((r) => [r[sl[0]!.indexOf('sourceId')], r[sl[0]!.indexOf('kind')], r[sl[0]!.indexOf('amount')]]),
  ).toEqual([[s1.source.id, 'payout', '3']]);
  const other = await h.http.get(`/v1/exports/source-ledger.csv?sourceId=${s2.source.id}`).set(bearer(s1.apiKey));
  expect(other.status).toBe(404);
  const report = await csv('/v1/exports/report.csv?groupBy=source', A.adminKey);
  const json = await h.http.get('/v1/reports?groupBy=source').set(bearer(A.adminKey));
  expect(report.length - 1).toBe(json.body.rows.length);
  for (const row of json.body.rows) {
    const line = report.find((r) => r[0] === row.key)!;
    expect(Number(line[report[0]!.indexOf('revenue')])).toBe(row.revenue);
    expect(Number(line[report[0]!.indexOf('payouts')])).toBe(row.payouts);
  }
});
