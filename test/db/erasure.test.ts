/**
 * Erasure on real Postgres, table by table (#23 item 6): a person's lead with a copy of their values in every
 * place the product keeps one – the lead, its offer's preview, the timeline, a delivery attempt's answer, a buyer
 * endpoint's call log, a ping's answers, a buyer alert, a pipeline note, a return's reason, an audit entry, a
 * remembered idempotent answer – is erased by a request, after which a scan of every column of every table finds
 * none of the values; another person's lead and the ledger are untouched and the ledger audit passes. The
 * retention job erases only leads older than each agency's period, agencies without one never, and a second run
 * changes nothing.
 */
import type { Pool } from 'pg';

import { updateAgencySettings } from '../../db/agencies';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import { openDispute } from '../../db/disputes';
import { eraseExpiredLeads, listErasureRequests, requestErasure } from '../../db/erasure';
import { insertLead } from '../../db/leads';
import { appendEvents } from '../../db/offers';
import { sellOffer } from '../../db/sales';
import { offers } from '../../db/schema';
import { createSource } from '../../db/sources';
import { suppressionHasher } from '../../db/suppression';
import { dedupeKeys } from '../../domain/dedupe';
import { ERASED } from '../../domain/erasure';
import { leadWorkflowId } from '../../domain/ids';
import { runAudit } from '../../ops/audit';
import { openTestPostgres } from '../helpers/db';
import { leadFields, makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

let database: Database;
beforeAll(async () => {
  database = await openTestPostgres();
});
afterAll(async () => database?.close());

const q = async <T>(text: string, params: unknown[] = []) =>
  (await (database.raw as Pool).query(text, params)).rows as T[];

const E164 = '+17375550188';
const TRACES = [
  'Wilhelmina',
  'Osterhagen',
  '(737) 555-0188',
  '7375550188',
  E164,
  'w.osterhagen@example.net',
  'Larkspur Hollow',
  '192.0.2.58',
  'gate code 4417',
];

/** Each trace with the tables whose rows hold it (every column, as the row's text). */
async function traces(): Promise<string[]> {
  const tables = await q<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const found: string[] = [];
  for (const { table_name: table } of tables)
    for (const trace of TRACES) {
      const [hit] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" t WHERE t::text ILIKE $1`, [
        `%${trace}%`,
      ]);
      if (hit!.n) found.push(`${table}: ${trace}`);
    }
  return found;
}

test("a request erases the person's values from every table that held a copy; the rest stays and the ledger audit passes", async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const campaign = await makeCampaign(db, agency.id);
  const buyer = await makeBuyer(db, agency.id, { credits: 1000 });
  const source = await createSource(db, agency.id, { name: 'src' });
  const fields = leadFields({
    firstName: 'Wilhelmina',
    lastName: 'Osterhagen',
    phone: '(737) 555-0188',
    email: 'W.Osterhagen@Example.net',
    address: '9 Larkspur Hollow',
    answers: { access: 'gate code 4417', stories: 2, homeowner: true },
  });
  const lead = await insertLead(db, {
    agencyId: agency.id,
    campaignId: campaign.id,
    fields,
    workflowId: leadWorkflowId,
    dedupeKeys: dedupeKeys({ phoneE164: E164, email: fields.email }, 'roofing'),
    consent: { text: 'I agree to be called', timestamp: new Date().toISOString(), ip: '192.0.2.58', userAgent: 'UA' },
    contact: {
      phoneE164: E164,
      phoneType: 'fixed_line_or_mobile',
      checks: [{ check: 'phone', result: 'passed', latencyMs: 0.1, e164: E164, phoneType: 'fixed_line_or_mobile' }],
    },
  });
  const other = await makeLead(db, agency.id, campaign.id, { firstName: 'Cornelius' });
  const [offer] = await db
    .insert(offers)
    .values({
      leadId: lead.id,
      agencyId: agency.id,
      campaignId: campaign.id,
      kind: 'manual',
      workflowId: lead.workflowId,
      price: 25,
      preview: { city: 'Austin', firstName: 'Wilhelmina' },
      closesAt: new Date(Date.now() + 60_000),
    })
    .returning();
  await appendEvents(db, [
    { leadId: lead.id, offerId: null, type: 'received', data: { consent: lead.consent } },
    { leadId: lead.id, offerId: null, type: 'checked', reason: 'passed', data: { check: 'phone', e164: E164 } },
  ]);
  const sale = await sellOffer(db, { offerId: offer!.id, buyerId: buyer.id, sale: 'manual' });
  if (sale.result !== 'won') throw new Error(`sale refused: ${sale.reason}`);
  const dispute = await openDispute(db, {
    assignmentId: sale.assignmentId,
    buyerId: buyer.id,
    reason: 'Osterhagen says she never asked',
  });
  expect(dispute.ok).toBe(true);
  // Copies in the logs and outboxes, as their writers store them.
  await q(
    `INSERT INTO delivery_attempts (assignment_id, channel, attempt, outcome, latency_ms, response, error)
     VALUES ($1, 'webhook', 1, 'failed', 12, '{"received":"7375550188"}', 'rejected lead of Wilhelmina')`,
    [sale.assignmentId],
  );
  const [endpoint] = await q<{ id: string }>(
    `INSERT INTO buyer_endpoints (agency_id, buyer_id, post_url, post_template, post_rules)
     VALUES ($1, $2, 'https://buyer.example/post', '{}', '{}') RETURNING id`,
    [agency.id, buyer.id],
  );
  await q(
    `INSERT INTO endpoint_calls (endpoint_id, lead_id, kind, step, request, response, latency_ms, outcome)
     VALUES ($1, $2, 'post', 'post', $3, $4, 30, 'accepted')`,
    [
      endpoint!.id,
      lead.id,
      JSON.stringify({
        method: 'GET',
        url: `https://buyer.example/post?phone=${E164}`,
        headers: {},
        body: 'first=Wilhelmina',
      }),
      JSON.stringify({ status: 200, body: 'ok w.osterhagen@example.net' }),
    ],
  );
  await q(
    `INSERT INTO pings (agency_id, source_id, campaign_id, fields, decision, expires_at, lead_id)
     VALUES ($1, $2, $3, $4, 'accepted', now(), $5)`,
    [
      agency.id,
      source.id,
      campaign.id,
      JSON.stringify({ zip: '78701', answers: { access: 'gate code 4417' } }),
      lead.id,
    ],
  );
  await q(
    `INSERT INTO buyer_alerts (agency_id, buyer_id, kind, channel, lead_id, payload)
     VALUES ($1, $2, 'offer_opened', 'sms', $3, $4)`,
    [agency.id, buyer.id, lead.id, JSON.stringify({ text: 'New lead: Wilhelmina O., 78701' })],
  );
  await q(
    `INSERT INTO pipeline_changes (assignment_id, buyer_id, agency_id, status, note)
     VALUES ($1, $2, $3, 'contacted', 'called (737) 555-0188, left a message')`,
    [sale.assignmentId, buyer.id, agency.id],
  );
  await q(
    `INSERT INTO audit_log (agency_id, actor_type, actor_label, side, object_type, object_id, action, changes)
     VALUES ($1, 'system', 'the system', 'system', 'lead', $2, 'updated', $3)`,
    [agency.id, lead.id, JSON.stringify({ email: { from: 'w.osterhagen@example.net', to: 'x@example.net' } })],
  );
  await q(`INSERT INTO idempotency_records (scope, key, request_hash, status, body) VALUES ($1, 'k1', 'h', 200, $2)`, [
    `claim:${buyer.id}`,
    JSON.stringify({ lead: { id: lead.id, ...fields } }),
  ]);
  const ledgerBefore = await q(`SELECT id, amount, kind FROM ledger_entries WHERE agency_id = $1 ORDER BY id`, [
    agency.id,
  ]);
  expect((await traces()).length).toBeGreaterThanOrEqual(TRACES.length);

  const hasher = await suppressionHasher(db, { agencyId: agency.id });
  const value = { kind: 'email' as const, normalised: 'w.osterhagen@example.net' };
  const request = await requestErasure(db, {
    agencyId: agency.id,
    value,
    hmac: hasher(value),
    suppress: false,
    by: SYSTEM,
  });
  expect(request).toMatchObject({ leads: 1, kind: 'email', suppressed: false, identifierHmac: hasher(value) });
  for (const table of [
    'leads',
    'offers',
    'offer_events',
    'delivery_attempts',
    'endpoint_calls',
    'pings',
    'buyer_alerts',
    'pipeline_changes',
    'disputes',
    'audit_log',
    'idempotency_records',
  ])
    expect([table, request.counts[table]]).toEqual([table, expect.any(Number)]);

  expect(await traces()).toEqual([]);
  const [erased] = await q<{
    fields: Record<string, unknown>;
    consent: Record<string, unknown>;
    dedupe_keys: string[];
  }>(`SELECT fields, consent, dedupe_keys FROM leads WHERE id = $1`, [lead.id]);
  expect(erased!.fields).toMatchObject({
    firstName: ERASED,
    zip: '78701',
    answers: { access: ERASED, stories: 2, homeowner: true },
  });
  expect(erased!.consent).toMatchObject({ text: ERASED, ip: ERASED, timestamp: lead.consent!.timestamp });
  expect(erased!.dedupe_keys).toEqual([]);
  const [endpointCall] = await q<{ request: { method: string; body: string } }>(
    `SELECT request FROM endpoint_calls WHERE lead_id = $1`,
    [lead.id],
  );
  expect(endpointCall!.request).toMatchObject({ method: 'GET', body: ERASED });
  const [kept] = await q<{ first: string }>(`SELECT fields->>'firstName' AS first FROM leads WHERE id = $1`, [
    other.id,
  ]);
  expect(kept!.first).toBe('Cornelius');
  expect(await q(`SELECT id, amount, kind FROM ledger_entries WHERE agency_id = $1 ORDER BY id`, [agency.id])).toEqual(
    ledgerBefore,
  );
  expect((await runAudit(db, { agencyId: agency.id })).violations).toEqual([]);
  expect((await listErasureRequests(db, agency.id, { limit: 10 })).items.map((r) => r.id)).toEqual([request.id]);
  // Asked again: nothing left to erase, recorded all the same.
  const again = await requestErasure(db, {
    agencyId: agency.id,
    value,
    hmac: hasher(value),
    suppress: true,
    by: SYSTEM,
  });
  expect([again.leads, again.counts, again.suppressed]).toEqual([0, {}, true]);
});

test('the retention job erases only leads older than each agency’s period, never without one, and a second run is a no-op', async () => {
  const db = database.db;
  const kept = await makeAgency(db);
  const timed = await makeAgency(db);
  await updateAgencySettings(db, timed.id, { retentionDays: 10 });
  const keptCampaign = await makeCampaign(db, kept.id);
  const timedCampaign = await makeCampaign(db, timed.id);
  const ancient = await makeLead(db, kept.id, keptCampaign.id);
  const old = [];
  for (let i = 0; i < 5; i++) old.push(await makeLead(db, timed.id, timedCampaign.id));
  const young = await makeLead(db, timed.id, timedCampaign.id);
  await q(`UPDATE leads SET created_at = now() - interval '900 days' WHERE id = $1`, [ancient.id]);
  await q(`UPDATE leads SET created_at = now() - interval '11 days' WHERE id = ANY($1::uuid[])`, [
    old.map((l) => l.id),
  ]);
  await q(`UPDATE leads SET created_at = now() - interval '9 days' WHERE id = $1`, [young.id]);

  // Batches of two: three transactions for the five.
  const first = await eraseExpiredLeads(db, new Date(), { batch: 2 });
  expect(first[timed.id]).toBe(5);
  expect(first[kept.id]).toBeUndefined();
  const state = await q<{ id: string; erased: boolean }>(
    `SELECT id, erased_at IS NOT NULL AS erased FROM leads WHERE id = ANY($1::uuid[])`,
    [[ancient.id, young.id, ...old.map((l) => l.id)]],
  );
  const erasedIds = state
    .filter((s) => s.erased)
    .map((s) => s.id)
    .sort();
  expect(erasedIds).toEqual(old.map((l) => l.id).sort());
  const before = await q(`SELECT id, fields, updated_at FROM leads WHERE agency_id = $1 ORDER BY id`, [timed.id]);
  expect((await eraseExpiredLeads(db))[timed.id]).toBeUndefined();
  expect(await q(`SELECT id, fields, updated_at FROM leads WHERE agency_id = $1 ORDER BY id`, [timed.id])).toEqual(
    before,
  );
  // A run's budget bounds it; the next run goes on.
  await q(`UPDATE leads SET created_at = now() - interval '12 days' WHERE id = $1`, [young.id]);
  const extra = [];
  for (let i = 0; i < 3; i++) extra.push(await makeLead(db, timed.id, timedCampaign.id));
  await q(`UPDATE leads SET created_at = now() - interval '12 days' WHERE id = ANY($1::uuid[])`, [
    extra.map((l) => l.id),
  ]);
  expect((await eraseExpiredLeads(db, new Date(), { batch: 2, maxPerRun: 2 }))[timed.id]).toBe(2);
  expect((await eraseExpiredLeads(db, new Date(), { batch: 2, maxPerRun: 100 }))[timed.id]).toBe(2);
});
