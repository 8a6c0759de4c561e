/**
 * Suppression and Do-Not-Call lists through the API on the real stack (#23
 * item 3): the lists hold keyed HMACs and never a number (the tables are
 * scanned for it); a suppressed person is refused at intake (stored, sent to
 * review, the source told `suppressed`), at ping (without the list) and in
 * the sale (added between intake and claim: no charge, the lead to review);
 * CSV uploads load good lines and report bad ones by line number, a bad first
 * line stores nothing; an approved fraud return lists the person; the
 * campaign's Do-Not-Call rule lets written consent pass, or not; and who may
 * do what.
 */
import fs from 'node:fs';
import path from 'node:path';

import { sql } from 'drizzle-orm';

import { leads } from '../../db/schema';
import { eventually } from '../helpers/temporal';
import { docCurlBody } from './doc-examples';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  type Harness,
  leadFields,
  ROOT_TOKEN,
  startHarness,
} from './harness';
import { apiSourceFor, offerOfLead, winOffer } from './world';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const consent = () => ({
  text: 'I agree to be called about roofing at the number I gave, including by autodialer.',
  timestamp: new Date(Date.now() - 60_000).toISOString(),
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
});

const add = (key: string, body: object) => h.http.post('/v1/suppression/entries').set(bearer(key)).send(body);
const search = (key: string, value: string) => h.http.post('/v1/suppression/search').set(bearer(key)).send({ value });
const upload = (key: string, query: string, body: string, type = 'text/csv') =>
  h.http.post(`/v1/suppression/uploads?${query}`).set(bearer(key)).set('Content-Type', type).send(body);
const uploadDnc = (query: string, body: string) =>
  h.http.post(`/v1/dnc/uploads?${query}`).set(bearer(ROOT_TOKEN)).set('Content-Type', 'text/csv').send(body);

async function leadRow(id: string) {
  const [row] = await h.database.db
    .select()
    .from(leads)
    .where(sql`${leads.id} = ${id}`);
  return row!;
}

/** Waits for the lead's workflow to put it in review, and answers the lead and its timeline. */
async function inReview(id: string, key: string) {
  return eventually(
    async () => {
      const lead = await leadRow(id);
      const events = (await h.http.get(`/v1/leads/${id}/timeline`).set(bearer(key))).body.events as {
        type: string;
        reason: string | null;
        data: unknown;
      }[];
      return lead.status === 'manual_review' && events.some((e) => e.type === 'manual_review')
        ? { lead, events }
        : undefined;
    },
    20_000,
    `lead ${id} in review`,
  );
}

test('a number and an address go on a list as keyed HMACs only: no table holds them, search finds them, remove takes them off', async () => {
  const { adminKey } = await apiAgency(h);
  const phone = await add(adminKey, { list: 'do_not_contact', value: '(512) 555-0177', note: 'asked by phone' });
  expect(phone.status).toBe(201);
  expect(phone.body).toMatchObject({
    added: true,
    entry: { list: 'do_not_contact', kind: 'phone', source: 'api', note: 'asked by phone' },
  });
  expect(JSON.stringify(phone.body)).not.toMatch(/555.?0177/);
  const again = await add(adminKey, { list: 'do_not_contact', value: '+1 512.555.0177' });
  expect([again.status, again.body.added, again.body.entry.id]).toEqual([200, false, phone.body.entry.id]);
  const email = await add(adminKey, { list: 'litigator', value: 'Sue.Happy@Example.com' });
  expect(email.status).toBe(201);

  // Every text column of every row of the new tables: the number in no form, the address in no case.
  for (const table of ['suppression_entries', 'suppression_salts', 'dnc_entries']) {
    const dump = JSON.stringify(
      ((await h.database.db.execute(sql.raw(`SELECT * FROM ${table}`))) as unknown as { rows: unknown[] }).rows,
    );
    for (const plain of ['5125550177', '555-0177', '5550177', 'sue.happy', 'Sue.Happy'])
      expect([table, dump.includes(plain)]).toEqual([table, false]);
  }

  const found = await search(adminKey, '512-555-0177');
  expect(found.status).toBe(200);
  expect(found.body).toMatchObject({ kind: 'phone', suppressed: true, dnc: [] });
  expect(found.body.entries.map((e: { list: string }) => e.list)).toEqual(['do_not_contact']);
  expect((await search(adminKey, 'sue.happy@example.com')).body.entries[0].list).toBe('litigator');
  // Another agency's lists are its own: the same number is not on them, its key differs.
  const other = await apiAgency(h);
  expect((await search(other.adminKey, '512-555-0177')).body.suppressed).toBe(false);

  const lists = await h.http.get('/v1/suppression').set(bearer(adminKey));
  expect(lists.body.lists).toEqual(
    expect.arrayContaining([
      { list: 'do_not_contact', count: 1 },
      { list: 'litigator', count: 1 },
    ]),
  );
  expect((await h.http.delete(`/v1/suppression/entries/${phone.body.entry.id}`).set(bearer(adminKey))).status).toBe(
    204,
  );
  expect((await search(adminKey, '512-555-0177')).body.suppressed).toBe(false);
  expect((await h.http.delete(`/v1/suppression/entries/${phone.body.entry.id}`).set(bearer(adminKey))).status).toBe(
    404,
  );
  // Another agency cannot remove this agency's entry.
  const litigator = (await search(adminKey, 'sue.happy@example.com')).body.entries[0].id;
  expect((await h.http.delete(`/v1/suppression/entries/${litigator}`).set(bearer(other.adminKey))).status).toBe(404);

  // Bad input: 400 problem documents naming the field.
  for (const body of [{ list: 'do_not_contact', value: 'call me' }, { list: 'nope', value: '5125550177' }, {}]) {
    const res = await add(adminKey, body);
    expect([res.status, res.headers['content-type']]).toEqual([400, expect.stringContaining('problem+json')]);
  }
});

test("the agency's audit log records each change of its lists: which list, how many, by whom – never the value", async () => {
  const { adminKey } = await apiAgency(h);
  const added = await add(adminKey, { list: 'do_not_contact', value: '(512) 555-0144' });
  await add(adminKey, { list: 'do_not_contact', value: '512-555-0144' }); // already listed: no change, no entry
  await upload(adminKey, 'list=litigator', 'phone\n5125550145\n5125550146\nnope');
  await upload(adminKey, 'list=litigator', 'phone\n5125550145'); // adds nothing: no entry
  expect((await h.http.delete(`/v1/suppression/entries/${added.body.entry.id}`).set(bearer(adminKey))).status).toBe(
    204,
  );

  const log = await h.http.get('/v1/audit-log?objectType=suppression_list').set(bearer(adminKey));
  expect(log.status).toBe(200);
  const entries = log.body.entries as {
    action: string;
    changes: Record<string, { to: unknown }>;
    note: string | null;
  }[];
  expect(entries.map((e) => [e.action, e.changes.list!.to, e.changes.entries!.to, e.note])).toEqual([
    ['unlisted', 'do_not_contact', 1, null],
    ['listed', 'litigator', 2, 'CSV upload'],
    ['listed', 'do_not_contact', 1, 'added by API'],
  ]);
  const dump = JSON.stringify(log.body);
  for (const plain of ['5550144', '555-0144', '5550145', added.body.entry.id.split('.')[1]])
    expect([plain, dump.includes(plain)]).toEqual([plain, false]);
});

test('a suppressed person at intake: stored, sent to review with `suppressed`, offered to nobody; the source is told', async () => {
  const { adminKey } = await apiAgency(h);
  await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey);
  const fields = leadFields();
  await add(adminKey, { list: 'do_not_contact', value: fields.phone });

  const res = await h.http.post('/v1/leads').set(bearer(adminKey)).send({ campaignId: campaign.id, fields });
  expect(res.status).toBe(202);
  expect(res.body.lead).toMatchObject({ status: 'manual_review', reason: 'suppressed' });
  const { lead, events } = await inReview(res.body.lead.id, adminKey);
  expect(lead.statusReason).toBe('suppressed');
  expect(events.find((e) => e.type === 'manual_review')!.reason).toBe('suppressed');
  expect(
    events.find((e) => e.type === 'checked' && (e.data as { check: string }).check === 'suppression'),
  ).toMatchObject({ reason: 'suppressed', data: { lists: ['do_not_contact'] } });
  expect(events.some((e) => e.type === 'targeted')).toBe(false);
  const detail = await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey));
  expect(detail.body.lead.offers).toEqual([]);

  // An admin's direct sale from review is refused too: nobody may buy the person.
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  const assign = await h.http
    .post(`/v1/leads/${lead.id}/assign`)
    .set(bearer(adminKey))
    .send({ buyerId: buyer.buyer.id });
  expect([assign.status, assign.body]).toMatchObject([403, { result: 'failed', reason: 'suppressed' }]);
  expect((await h.http.get('/v1/me/wallet').set(bearer(buyer.apiKey))).body.balance).toBe(100);

  // A source pings (rejected `suppressed`, no list named) and its post is answered `suppressed`.
  const source = await apiSourceFor(h, adminKey, campaign.id);
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(source.apiKey))
    .send({ campaignId: campaign.id, fields: { zip: fields.zip, state: fields.state, phone: fields.phone } });
  expect(ping.status).toBe(200);
  expect(ping.body).toMatchObject({ decision: 'rejected', reason: 'suppressed' });
  expect(JSON.stringify(ping.body)).not.toMatch(/do_not_contact|litigator|dnc/);
  const clean = leadFields();
  const accepted = await h.http
    .post('/v1/pings')
    .set(bearer(source.apiKey))
    .send({ campaignId: campaign.id, fields: { zip: clean.zip, state: clean.state, phone: clean.phone } });
  expect(accepted.body.decision).toBe('accepted');
  // Listed between its ping and its post: the post is stored, in review, and says so.
  await add(adminKey, { list: 'litigator', value: clean.email });
  const post = await h.http
    .post('/v1/posts')
    .set(bearer(source.apiKey))
    .send({ pingId: accepted.body.pingId, fields: clean });
  expect(post.status).toBe(202);
  expect(post.body.lead).toMatchObject({ status: 'manual_review', reason: 'suppressed' });
});

test('a number listed between intake and claim: the claim fails `suppressed`, nothing is charged, the lead goes to review', async () => {
  const { adminKey } = await apiAgency(h);
  const b = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { price: { base: 40 } });
  const lead = await apiLead(h, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id);
  await add(adminKey, { list: 'do_not_contact', value: lead.fields.phone, note: 'opted out on the call' });

  const claim = await h.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(b.apiKey)).send({});
  expect([claim.status, claim.body]).toMatchObject([403, { result: 'failed', reason: 'suppressed' }]);
  expect((await h.http.get('/v1/me/wallet').set(bearer(b.apiKey))).body.balance).toBe(100);
  const { lead: row, events } = await inReview(lead.id, adminKey);
  expect(row.statusReason).toBe('suppressed');
  expect(events.find((e) => e.type === 'claim_failed')).toMatchObject({ reason: 'suppressed' });
  expect(events.find((e) => e.type === 'cancelled')).toMatchObject({ reason: 'suppressed' });
  const ledger = await h.http.get(`/v1/buyers/${b.buyer.id}/ledger`).set(bearer(adminKey));
  expect(ledger.body.entries.filter((e: { kind: string }) => e.kind === 'charge')).toEqual([]);
});

test('a return approved with the fraud reason puts the phone and email on `returned_fraud`', async () => {
  const { adminKey } = await apiAgency(h);
  const b = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey);
  const lead = await apiLead(h, adminKey, campaign.id);
  const win = await winOffer(h, b.apiKey, (await offerOfLead(h, lead.id)).id);
  const opened = await h.http
    .post(`/v1/assignments/${win.assignmentId}/disputes`)
    .set(bearer(b.apiKey))
    .send({ reason: 'made-up person', code: 'fraud' });
  expect(opened.status).toBe(201);
  const resolved = await h.http
    .post(`/v1/disputes/${opened.body.dispute.id}/resolve`)
    .set(bearer(adminKey))
    .send({ approve: true });
  expect(resolved.status).toBe(200);
  for (const value of [lead.fields.phone, lead.fields.email]) {
    const found = await search(adminKey, value);
    expect(found.body.entries).toEqual([
      expect.objectContaining({ list: 'returned_fraud', source: 'return', note: `dispute:${opened.body.dispute.id}` }),
    ]);
  }
  // The same person again (dedupe off, so the list is what answers): suppressed at intake.
  await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ duplicateWindowDays: 0 });
  const again = await h.http
    .post('/v1/leads')
    .set(bearer(adminKey))
    .send({ campaignId: campaign.id, fields: { ...leadFields(), email: lead.fields.email } });
  expect(again.body.lead).toMatchObject({ status: 'manual_review', reason: 'suppressed' });
});

test('a CSV upload loads its good lines and reports the bad ones by line number; a bad first line stores nothing', async () => {
  const { adminKey } = await apiAgency(h);
  const file = [
    'phone',
    '(512) 555-0101',
    '5125550102',
    'not a number',
    '',
    '"+1 512 555 0103"',
    'a,b',
    'ada@example.com',
    '5125550102',
    'ada@',
  ].join('\r\n');
  const res = await upload(adminKey, 'list=do_not_contact&note=spring%20opt-outs', file);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ lines: 10, header: true, added: 4, alreadyListed: 1, rejected: 3 });
  expect(res.body.errors.map((e: { line: number }) => e.line)).toEqual([4, 7, 10]);
  expect((await search(adminKey, '512 555 0103')).body.entries[0]).toMatchObject({
    source: 'csv',
    note: 'spring opt-outs',
  });
  // The same file again adds nothing.
  expect((await upload(adminKey, 'list=do_not_contact', file)).body).toMatchObject({ added: 0, alreadyListed: 5 });

  const before = (await h.http.get('/v1/suppression').set(bearer(adminKey))).body.lists;
  for (const bad of ['name,phone\nAda,5125550199', 'first column\n5125550199', 'garbage\n5125550199']) {
    const refused = await upload(adminKey, 'list=litigator', bad);
    expect([refused.status, refused.body.code]).toEqual([400, 'bad_file']);
  }
  expect((await h.http.get('/v1/suppression').set(bearer(adminKey))).body.lists).toEqual(before);
  expect((await upload(adminKey, 'list=litigator', '5125550199', 'application/json')).status).toBe(415);
  expect((await upload(adminKey, 'list=nope', '5125550199')).status).toBe(400);
  expect((await h.http.post('/v1/suppression/uploads?list=litigator').set(bearer(adminKey))).status).toBe(400);
});

test("the campaign's Do-Not-Call rule: consent passes a national DNC hit when the campaign says so, never otherwise; on the timeline either way", async () => {
  const { adminKey } = await apiAgency(h);
  await apiBuyer(h, adminKey, { credits: 100 });
  const strict = await apiCampaign(h, adminKey);
  const lenient = await apiCampaign(h, adminKey, { dncRule: 'consent_passes' });
  expect(lenient.dncRule).toBe('consent_passes');
  // The platform's lists are every agency's, and every later test file's on this database: numbers that
  // leadFields() never makes (512-2xx-xxxx), or later files' leads would be Do-Not-Call hits sent to review.
  const [a, b, c] = ['7372000101', '7372000102', '7372000103'].map((phone) => leadFields({ phone }));
  const digits = (p: string) => p.replace(/\D/g, '').slice(-10);
  const dnc = await uploadDnc('list=national_dnc', [a, b, c].map((f) => digits(f.phone)).join('\n') + '\n12345\n');
  expect(dnc.status).toBe(200);
  expect(dnc.body).toMatchObject({ added: 3, rejected: 1, errors: [{ line: 4 }] });
  const state = await uploadDnc('list=state_dnc&state=tx', digits(a.phone));
  expect(state.body.added).toBe(1);
  expect((await uploadDnc('list=state_dnc', digits(a.phone))).status).toBe(400);

  const post = (campaignId: string, fields: object, withConsent: boolean) =>
    h.http
      .post('/v1/leads')
      .set(bearer(adminKey))
      .send({ campaignId, fields, ...(withConsent ? { consent: consent() } : {}) });
  // Strict campaign: suppressed even with consent.
  const s = await post(strict.id, a, true);
  expect(s.body.lead).toMatchObject({ status: 'manual_review', reason: 'suppressed' });
  // Lenient campaign with consent: passes, routed, the timeline says why.
  const p = await post(lenient.id, b, true);
  expect(p.body.lead.status).toBe('routing');
  const passed = await h.http.get(`/v1/leads/${p.body.lead.id}`).set(bearer(adminKey));
  expect(passed.body.lead.contactChecks.find((x: { check: string }) => x.check === 'suppression')).toMatchObject({
    result: 'consented',
    lists: ['national_dnc'],
  });
  await offerOfLead(h, p.body.lead.id);
  // Lenient campaign without consent: suppressed.
  const n = await post(lenient.id, c, false);
  expect(n.body.lead).toMatchObject({ status: 'manual_review', reason: 'suppressed' });
  const found = await search(adminKey, a.phone);
  expect(found.body).toMatchObject({ suppressed: true, entries: [], dnc: ['national_dnc', 'state_dnc:TX'] });
});

test('who may: agency managers upload and remove, dispatchers add and search, analysts read; buyers and sources are refused; only the operator loads DNC files', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const buyer = await apiBuyer(h, adminKey);
  const source = await apiSourceFor(h, adminKey, campaign.id);
  for (const key of [buyer.apiKey, source.apiKey]) {
    expect((await h.http.get('/v1/suppression').set(bearer(key))).status).toBe(403);
    expect((await add(key, { list: 'do_not_contact', value: '5125550100' })).status).toBe(403);
    expect((await search(key, '5125550100')).status).toBe(403);
    expect((await upload(key, 'list=do_not_contact', '5125550100')).status).toBe(403);
  }
  const agencyUpload = await h.http
    .post('/v1/dnc/uploads?list=national_dnc')
    .set(bearer(adminKey))
    .set('Content-Type', 'text/csv')
    .send('5125550100');
  expect(agencyUpload.status).toBe(403);
  expect((await h.http.get('/v1/suppression')).status).toBe(401);
});

test('docs/compliance.md: its suppression examples do what it says', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const rule = docCurlBody('docs/compliance.md', 'dncRule', { CAMPAIGN_ID: campaign.id });
  const patched = await h.http.patch(`/v1/campaigns/${campaign.id}`).set(bearer(adminKey)).send(rule);
  expect(patched.body.campaign.dncRule).toBe('consent_passes');
  const added = await add(adminKey, docCurlBody('docs/compliance.md', '/v1/suppression/entries'));
  expect(added.status).toBe(201);
  expect(added.body).toMatchObject({ added: true, entry: { list: 'do_not_contact', kind: 'phone', source: 'api' } });
  const found = await h.http
    .post('/v1/suppression/search')
    .set(bearer(adminKey))
    .send(docCurlBody('docs/compliance.md', '/v1/suppression/search'));
  expect(found.body).toMatchObject({ kind: 'phone', suppressed: true, dnc: [], entries: [{ list: 'do_not_contact' }] });
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/compliance.md'), 'utf8');
  const csv = /```csv\n([\s\S]*?)```/.exec(doc)![1]!;
  const report = await upload(adminKey, 'list=do_not_contact', csv);
  expect(report.body).toMatchObject({
    lines: 5,
    header: true,
    added: 3,
    alreadyListed: 0,
    rejected: 1,
    errors: [{ line: 4, message: expect.stringMatching(/^not a phone number: /) }],
  });
});
