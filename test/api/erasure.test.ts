/**
 * Retention and erasure on the real stack (#23 item 6): a person's leads, sold and delivered through the
 * workflows, are erased on request by phone or email, after which no column of any table holds their name, phone
 * (as sent, in E.164, as digits) or email; the ledger audit passes and the reports still agree with the ledger;
 * the request is listed and audited without the identifier; the retention job (the schedule's workflow on the
 * worker) erases only the leads older than the agency's period, and a second run changes nothing; bad input on
 * every new route is a 400 problem+json; an analyst may not ask for an erasure.
 */
import type { Pool } from 'pg';

import { runReport } from '../../db/reports';
import { ERASED } from '../../domain/erasure';
import { runAudit } from '../../ops/audit';
import { eventually } from '../helpers/temporal';
import { docCurlBody } from './doc-examples';
import { apiAgency, apiBuyer, apiCampaign, bearer, type Harness, leadFields, startHarness } from './harness';
import { apiSourceFor, offerOfLead, winOffer } from './world';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const isProblem = (res: { headers: Record<string, string> }) =>
  /^application\/problem\+json/.test(res.headers['content-type'] ?? '');

const PERSON = {
  firstName: 'Philomena',
  lastName: 'Vanderkloot',
  phone: '(737) 555-0119',
  email: 'P.Vanderkloot@Example.org',
  address: '77 Quillfeather Road',
};
/** Every form of the person's values a table might hold. */
const TRACES = [
  'Philomena',
  'Vanderkloot',
  '(737) 555-0119',
  '737 555 0119',
  '7375550119',
  '+17375550119',
  'vanderkloot@example.org',
  'Quillfeather',
  '198.51.100.73',
  'wants a call before noon',
  '(Erasure test)',
];

const consent = () => ({
  text: 'I agree to be called about roofing at the number I gave, including by autodialer.',
  timestamp: new Date(Date.now() - 60_000).toISOString(),
  ip: '198.51.100.73',
  userAgent: 'Mozilla/5.0 (Erasure test)',
});

async function rows<T>(query: string, params: unknown[] = []): Promise<T[]> {
  return (await (h.database.raw as Pool).query(query, params)).rows as T[];
}

/** Every table of the database, every row, as JSON text (so every text, jsonb and array column): where each trace is. */
async function scanDatabase(traces: string[]): Promise<string[]> {
  const tables = await rows<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const columns = await rows<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = 'public' AND (data_type IN ('text', 'jsonb', 'json', 'character varying', 'ARRAY', 'bytea'))`,
  );
  expect(tables.length).toBeGreaterThan(40);
  const found: string[] = [];
  for (const { table_name: table } of tables) {
    const cols = columns.filter((c) => c.table_name === table).map((c) => `"${c.column_name}"::text`);
    if (!cols.length) continue;
    for (const trace of traces) {
      const [hit] = await rows<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${table}" WHERE concat_ws(' ', ${cols.join(', ')}) ILIKE $1`,
        [`%${trace}%`],
      );
      if (hit!.n > 0) found.push(`${table}: ${trace}`);
    }
  }
  return found;
}

/** The agency's report by campaign, all time. */
const campaignReport = (agencyId: string) =>
  runReport(h.database.db, {
    agencyId,
    groupBy: 'campaign',
    range: { from: null, to: null, timeZone: 'UTC' },
    limit: 10,
    after: null,
  });

const erase = (key: string, body: unknown) =>
  h.http
    .post('/v1/erasure-requests')
    .set(bearer(key))
    .send(body as object);

test('an erasure request leaves no trace of the person in any table; the ledger and reports still agree; it is recorded without the identifier', async () => {
  const { adminKey, agency } = await apiAgency(h);
  // Dedupe off, so the same person's second lead is stored too.
  await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ duplicateWindowDays: 0 }).expect(200);
  const campaign = await apiCampaign(h, adminKey);
  const buyer = await apiBuyer(h, adminKey, { credits: 1000 });
  const source = await apiSourceFor(h, adminKey, campaign.id);

  // The person's first lead, posted by a source with an Idempotency-Key, sold and delivered through the workflow.
  const first = await h.http
    .post('/v1/leads')
    .set(bearer(source.apiKey))
    .set('Idempotency-Key', 'erasure-first-lead')
    .send({
      campaignId: campaign.id,
      fields: leadFields({ ...PERSON, answers: { notes: 'wants a call before noon', stories: 2 } }),
      consent: consent(),
    });
  expect(first.status).toBe(202);
  const offer = await offerOfLead(h, first.body.lead.id);
  await winOffer(h, buyer.apiKey, offer.id);
  // Its delivery settled (attempted and logged) before the person asks.
  await eventually(
    async () => {
      const [d] = await rows<{ status: string }>(
        `SELECT d.status FROM deliveries d JOIN assignments a ON a.id = d.assignment_id WHERE a.lead_id = $1`,
        [first.body.lead.id],
      );
      return d && d.status !== 'pending' ? d.status : undefined;
    },
    20_000,
    'the sale delivered',
  );
  // The buyer writes the name into its pipeline note; a return names the person too.
  const [assignment] = await rows<{ id: string }>(`SELECT id FROM assignments WHERE lead_id = $1`, [
    first.body.lead.id,
  ]);
  const noted = await h.http
    .post(`/v1/me/leads/${assignment!.id}/pipeline`)
    .set(bearer(buyer.apiKey))
    .send({ status: 'contacted', note: 'Philomena Vanderkloot asked us to call back' });
  expect(noted.status).toBe(201);
  const disputed = await h.http
    .post(`/v1/assignments/${assignment!.id}/disputes`)
    .set(bearer(buyer.apiKey))
    .send({ reason: 'Vanderkloot says she never asked (7375550119)' });
  expect(disputed.status).toBe(201);

  // Her second lead, another format of the same number and a differently written address; and someone else's.
  const second = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({
      campaignId: campaign.id,
      fields: leadFields({ ...PERSON, phone: '+1 737-555-0119', email: 'p.vanderkloot@example.org' }),
    });
  expect(second.status).toBe(202);
  const other = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields({ firstName: 'Bartholomew', lastName: 'Keep' }) });
  expect(other.status).toBe(202);
  await offerOfLead(h, second.body.lead.id, null);
  await offerOfLead(h, other.body.lead.id, null);
  const reportBefore = await campaignReport(agency.id);
  expect((await scanDatabase(TRACES)).length).toBeGreaterThan(0);

  const res = await erase(adminKey, { value: '737.555.0119', suppress: true });
  expect(res.status).toBe(201);
  expect(res.body.request).toMatchObject({ kind: 'phone', leads: 2, suppressed: true });
  expect(res.body.request.counts).toMatchObject({ leads: 2, offer_events: expect.any(Number) });
  // The email as another request: the leads are erased already, so it erases nothing more.
  const byEmail = await erase(adminKey, { value: 'p.vanderkloot@EXAMPLE.org' });
  expect(byEmail.body.request).toMatchObject({ kind: 'email', leads: 0, counts: {} });

  // Nowhere: every text, JSON and array column of every table.
  expect(await scanDatabase(TRACES)).toEqual([]);

  // The person's leads keep what reports and the ledger need; the other person's lead is whole.
  const [erased] = await rows<{ fields: Record<string, unknown>; phone_e164: string | null; erased_at: Date | null }>(
    `SELECT fields, phone_e164, erased_at FROM leads WHERE id = $1`,
    [first.body.lead.id],
  );
  expect(erased).toMatchObject({ phone_e164: null, erased_at: expect.any(Date) });
  expect(erased!.fields).toMatchObject({
    firstName: ERASED,
    phone: ERASED,
    email: ERASED,
    zip: '78701',
    state: 'TX',
    answers: { notes: ERASED, stories: 2 },
  });
  const [kept] = await rows<{ fields: { firstName: string } }>(`SELECT fields FROM leads WHERE id = $1`, [
    other.body.lead.id,
  ]);
  expect(kept!.fields.firstName).toBe('Bartholomew');
  const timeline = await h.http.get(`/v1/leads/${first.body.lead.id}/timeline`).set(bearer(adminKey));
  expect(timeline.status).toBe(200);
  expect(timeline.body.events.map((e: { type: string }) => e.type)).toEqual(
    expect.arrayContaining(['received', 'won']),
  );

  // The ledger audit passes, and the reports are what they were.
  const audit = await runAudit(h.database.db, { agencyId: agency.id });
  expect(audit.violations).toEqual([]);
  const reportAfter = await campaignReport(agency.id);
  expect(reportAfter.rows).toEqual(reportBefore.rows);

  // Listed and audited by counts, never the person; the person is on the do_not_contact list.
  const list = await h.http.get('/v1/erasure-requests').set(bearer(adminKey));
  expect(list.status).toBe(200);
  expect(list.body.requests.map((r: { kind: string }) => r.kind)).toEqual(['email', 'phone']);
  const auditLog = await h.http.get('/v1/audit-log?objectType=erasure_request').set(bearer(adminKey));
  expect(auditLog.body.entries).toHaveLength(2);
  expect(auditLog.body.entries[1].changes).toMatchObject({ leads: { to: 2 }, suppressed: { to: true } });
  const found = await h.http.post('/v1/suppression/search').set(bearer(adminKey)).send({ value: '7375550119' });
  expect(found.body).toMatchObject({ suppressed: true, entries: [{ list: 'do_not_contact' }] });
}, 120_000);

test('bad input on every new route is a 400 problem+json; an analyst (or a buyer) may not ask for an erasure', async () => {
  const { adminKey } = await apiAgency(h);
  const bad: unknown[] = [
    {},
    { value: '' },
    { value: 7375550119 },
    { value: 'not a number' },
    { value: 'someone@' },
    { value: '7375550119', suppress: 'yes' },
    { value: '7375550119', extra: true },
    { value: 'x'.repeat(300) },
  ];
  for (const body of bad) {
    const res = await erase(adminKey, body);
    expect([JSON.stringify(body), res.status, isProblem(res)]).toEqual([JSON.stringify(body), 400, true]);
  }
  const malformed = await h.http
    .post('/v1/erasure-requests')
    .set(bearer(adminKey))
    .set('Content-Type', 'application/json')
    .send('{"value":');
  expect([malformed.status, isProblem(malformed)]).toEqual([400, true]);
  for (const q of ['limit=0', 'limit=abc', 'cursor=' + 'x'.repeat(600), 'unknown=1']) {
    const res = await h.http.get(`/v1/erasure-requests?${q}`).set(bearer(adminKey));
    expect([q, res.status, isProblem(res)]).toEqual([q, 400, true]);
  }
  for (const value of [0, -5, 3651, 1.5, 'thirty']) {
    const res = await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ retentionDays: value });
    expect([value, res.status, isProblem(res)]).toEqual([value, 400, true]);
  }

  const analyst = await h.http.post('/v1/keys').set(bearer(adminKey)).send({ name: 'reports', role: 'analyst' });
  expect(analyst.status).toBe(201);
  const refused = await erase(analyst.body.key, { value: '7375550119' });
  expect([refused.status, isProblem(refused), refused.body.type]).toEqual([
    403,
    true,
    expect.stringMatching(/forbidden/),
  ]);
  // The list (counts only, no person) is a read, like every report.
  expect((await h.http.get('/v1/erasure-requests').set(bearer(analyst.body.key))).status).toBe(200);
  const buyer = await apiBuyer(h, adminKey);
  expect((await erase(buyer.apiKey, { value: '7375550119' })).status).toBe(403);
  expect((await h.http.post('/v1/erasure-requests').send({ value: '7375550119' })).status).toBe(401);
  // Nothing was recorded by the refused requests.
  expect((await h.http.get('/v1/erasure-requests').set(bearer(adminKey))).body.requests).toEqual([]);
});

test('the retention job (its schedule workflow on the worker) erases only leads older than the period; a second run is a no-op', async () => {
  const { adminKey, agency } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const set = await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ retentionDays: 30 });
  expect(set.body.settings.retentionDays).toBe(30);
  const old = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields({ firstName: 'Oldwin', lastName: 'Expiredson' }) });
  const fresh = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields({ firstName: 'Freshia', lastName: 'Keptova' }) });
  await offerOfLead(h, old.body.lead.id, null);
  await offerOfLead(h, fresh.body.lead.id, null);
  // One lead stored 31 days ago, one 29 days ago.
  await rows(`UPDATE leads SET created_at = now() - interval '31 days' WHERE id = $1`, [old.body.lead.id]);
  await rows(`UPDATE leads SET created_at = now() - interval '29 days' WHERE id = $1`, [fresh.body.lead.id]);

  const run = () =>
    h.client.workflow.execute('eraseExpiredLeadsWorkflow', {
      taskQueue: h.worker.taskQueue,
      workflowId: `erase-expired-${crypto.randomUUID()}`,
      args: [],
    }) as Promise<Record<string, number>>;
  const firstRun = await run();
  expect(firstRun[agency.id]).toBe(1);
  const state = await rows<{ id: string; first: string; erased: boolean }>(
    `SELECT id, fields->>'firstName' AS first, erased_at IS NOT NULL AS erased FROM leads WHERE agency_id = $1 ORDER BY created_at`,
    [agency.id],
  );
  expect(state.map((r) => [r.first, r.erased])).toEqual([
    [ERASED, true],
    ['Freshia', false],
  ]);
  expect(await scanDatabase(['Oldwin', 'Expiredson'])).toEqual([]);
  const [before] = await rows<{ at: Date }>(`SELECT updated_at AS at FROM leads WHERE id = $1`, [old.body.lead.id]);
  const secondRun = await run();
  expect(secondRun[agency.id]).toBeUndefined();
  const [after] = await rows<{ at: Date }>(`SELECT updated_at AS at FROM leads WHERE id = $1`, [old.body.lead.id]);
  expect(after!.at).toEqual(before!.at);
  // Off again: nothing more is erased, however old.
  await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ retentionDays: null }).expect(200);
  await rows(`UPDATE leads SET created_at = now() - interval '400 days' WHERE id = $1`, [fresh.body.lead.id]);
  expect((await run())[agency.id]).toBeUndefined();
}, 60_000);

test('docs/compliance.md: its retention and erasure examples do what it says', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const lead = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: leadFields({ email: 'jane.doe@example.com' }) });
  expect(lead.status).toBe(202);
  const setting = await h.http
    .patch('/v1/settings')
    .set(bearer(adminKey))
    .send(docCurlBody('docs/compliance.md', '"retentionDays"'));
  expect(setting.body.settings.retentionDays).toBe(365);
  const res = await erase(adminKey, docCurlBody('docs/compliance.md', '"suppress"'));
  expect(res.status).toBe(201);
  expect(res.body.request).toMatchObject({ kind: 'email', leads: 1, suppressed: true });
});
