/**
 * Refusals at intake (#23 item 7) through the API, on the real dev server and
 * Postgres: leads and pings refused for every reason the test can provoke –
 * an invalid phone, a disposable email, a duplicate, a suppressed person, a
 * paused campaign, a post that contradicts its ping, rejected pings – by two
 * sources and the agency itself. The test counts the refusals from the
 * answers it got; the agency's report (GET /v1/reports/refusals) must give the
 * same counts by reason and by source, and each source (GET
 * /v1/source/refusals) its own and only its own, with the ids that say which
 * lead.
 */
import type { Pool } from 'pg';

import { leadFields } from '../helpers/world';
import { apiAgency, apiBuyer, apiCampaign, bearer, type Harness, startHarness } from './harness';
import { apiSourceFor } from './world';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

type Tally = Map<string, Map<string, { leads: number; pings: number }>>;

/** What the answers said: refusals counted per source (`none`: the agency's own) and reason. */
function tally() {
  const t: Tally = new Map();
  const add = (source: string, reason: string, kind: 'leads' | 'pings') => {
    const bySource = t.get(source) ?? new Map();
    const c = bySource.get(reason) ?? { leads: 0, pings: 0 };
    c[kind]++;
    bySource.set(reason, c);
    t.set(source, bySource);
  };
  const reasons = (source?: string) => {
    const out = new Map<string, { leads: number; pings: number }>();
    for (const [s, m] of t)
      if (source === undefined || s === source)
        for (const [reason, c] of m) {
          const o = out.get(reason) ?? { leads: 0, pings: 0 };
          out.set(reason, { leads: o.leads + c.leads, pings: o.pings + c.pings });
        }
    return [...out.entries()].map(([reason, c]) => ({ reason, ...c })).sort((a, b) => a.reason.localeCompare(b.reason));
  };
  return { t, add, reasons };
}

test('the refusal report and each source’s page count exactly the refusals the API answered', async () => {
  const { adminKey } = await apiAgency(h);
  await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { name: 'Roofing – refusals' });
  const paused = await apiCampaign(h, adminKey);
  const S1 = await apiSourceFor(h, adminKey, campaign.id);
  const S2 = await apiSourceFor(h, adminKey, campaign.id);
  for (const S of [S1, S2]) {
    const allowed = await h.http
      .post(`/v1/sources/${S.source.id}/campaigns`)
      .set(bearer(adminKey))
      .send({ campaignId: paused.id, payout: { kind: 'fixed', amount: 1 } });
    expect(allowed.status).toBe(200);
  }
  expect(
    (await h.http.patch(`/v1/campaigns/${paused.id}`).set(bearer(adminKey)).send({ status: 'paused' })).status,
  ).toBe(200);
  const suppressedEmail = `opted-out-${Date.now().toString(36)}@example.com`;
  const added = await h.http
    .post('/v1/suppression/entries')
    .set(bearer(adminKey))
    .send({ list: 'do_not_contact', value: suppressedEmail });
  expect(added.status).toBe(201);

  const { add, reasons } = tally();
  /** A lead through POST /v1/leads; its refusal (or its hold as `suppressed`) tallied from the answer. */
  const lead = async (key: string, who: string, campaignId: string, fields: object, subId?: string) => {
    const res = await h.http
      .post('/v1/leads')
      .set(bearer(key))
      .send({
        campaignId,
        fields: { ...leadFields(), ...fields },
        ...(subId ? { subId, clickId: `clk-${subId}` } : {}),
      });
    if (res.status === 202) {
      if (res.body.lead.reason === 'suppressed') add(who, 'suppressed', 'leads');
    } else add(who, res.body.code, 'leads');
    return res;
  };
  const ping = async (key: string, who: string, campaignId: string, fields: object = {}) => {
    const res = await h.http
      .post('/v1/pings')
      .set(bearer(key))
      .send({ campaignId, fields: { zip: '78701', state: 'TX', ...fields } });
    expect(res.status).toBe(200);
    if (res.body.decision === 'rejected') add(who, res.body.reason, 'pings');
    return res;
  };
  const s1 = S1.source.id;
  const s2 = S2.source.id;

  expect((await lead(S1.apiKey, s1, campaign.id, { phone: '(555) 123-4567' }, 'a1')).body.code).toBe('invalid_phone');
  expect((await lead(S1.apiKey, s1, campaign.id, { email: 'ada@mailinator.com' }, 'a2')).body.code).toBe(
    'disposable_email',
  );
  const person = leadFields();
  expect((await lead(S1.apiKey, s1, campaign.id, person, 'a3')).status).toBe(202);
  expect((await lead(S1.apiKey, s1, campaign.id, person, 'a4')).body.code).toBe('duplicate_lead');
  expect((await lead(S1.apiKey, s1, paused.id, {}, 'a5')).body.code).toBe('campaign_paused');
  expect((await ping(S1.apiKey, s1, paused.id)).body.reason).toBe('campaign_paused');

  const held = await lead(S2.apiKey, s2, campaign.id, { email: suppressedEmail }, 'b1');
  expect(held.body.lead).toMatchObject({ status: 'manual_review', reason: 'suppressed' });
  expect((await ping(S2.apiKey, s2, campaign.id, { phone: '(555) 123-4567' })).body.reason).toBe('invalid_phone');
  expect((await ping(S2.apiKey, s2, campaign.id, { email: 'x@yopmail.com' })).body.reason).toBe('disposable_email');
  const accepted = await ping(S2.apiKey, s2, campaign.id);
  expect(accepted.body.decision).toBe('accepted');
  const contradicting = await h.http
    .post('/v1/posts')
    .set(bearer(S2.apiKey))
    .send({ pingId: accepted.body.pingId, fields: { ...leadFields(), zip: '10001', state: 'NY' }, subId: 'b2' });
  expect(contradicting.body.code).toBe('post_contradicts_ping');
  add(s2, 'post_contradicts_ping', 'leads');
  // The agency's own intake: no source.
  expect((await lead(adminKey, 'none', campaign.id, { phone: '512 555 01' })).body.code).toBe('invalid_phone');

  // ── the agency's report: the same counts, by reason and by source ──
  const report = await h.http.get('/v1/reports/refusals').set(bearer(adminKey));
  expect(report.status).toBe(200);
  expect(report.body.byReason).toEqual(reasons());
  const bySource = Object.fromEntries(
    report.body.bySource.map((s: { sourceId: string; reasons: unknown; leads: number; pings: number }) => [
      s.sourceId,
      s,
    ]),
  );
  expect(Object.keys(bySource).sort()).toEqual(['none', s1, s2].sort());
  for (const who of ['none', s1, s2]) {
    const own = reasons(who);
    expect(bySource[who]).toMatchObject({
      reasons: own,
      leads: own.reduce((a, c) => a + c.leads, 0),
      pings: own.reduce((a, c) => a + c.pings, 0),
    });
  }
  expect(bySource[s1].name).toBe(S1.source.name);
  // A range before any of it: nothing.
  const empty = await h.http.get('/v1/reports/refusals?from=2001-01-01&to=2001-01-02').set(bearer(adminKey));
  expect(empty.body).toMatchObject({ from: '2001-01-01', to: '2001-01-02', byReason: [], bySource: [] });
  const backwards = await h.http.get('/v1/reports/refusals?from=2001-01-02&to=2001-01-01').set(bearer(adminKey));
  expect(backwards.status).toBe(400);

  // ── each source: its own counts, its refused leads with their ids, never another's ──
  const mine = await h.http.get('/v1/source/refusals').set(bearer(S1.apiKey));
  expect(mine.status).toBe(200);
  expect(mine.body.byReason).toEqual(reasons(s1));
  expect(mine.body.recent.map((r: { reason: string; subId: string }) => [r.subId, r.reason])).toEqual([
    ['a5', 'campaign_paused'],
    ['a4', 'duplicate_lead'],
    ['a2', 'disposable_email'],
    ['a1', 'invalid_phone'],
  ]);
  expect(mine.body.recent[3]).toMatchObject({
    field: 'fields.phone',
    clickId: 'clk-a1',
    campaignId: campaign.id,
    campaignName: 'Roofing – refusals',
  });
  const theirs = await h.http.get('/v1/source/refusals').set(bearer(S2.apiKey));
  expect(theirs.body.byReason).toEqual(reasons(s2));
  expect(theirs.body.recent.map((r: { reason: string; pingId: string | null }) => [r.reason, r.pingId])).toEqual([
    ['post_contradicts_ping', accepted.body.pingId],
    ['suppressed', null],
  ]);
  // Nothing of the person is kept with a refusal.
  const rows = (await (h.database.raw as Pool).query('SELECT * FROM intake_refusals WHERE source_id = $1', [s2])).rows;
  expect(JSON.stringify(rows)).not.toContain(suppressedEmail);
  // An agency key is not a source.
  expect((await h.http.get('/v1/source/refusals').set(bearer(adminKey))).status).toBe(403);
});
