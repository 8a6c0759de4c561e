/**
 * The supply side through the API, on the real dev server and Postgres:
 * source keys post only into allowed campaigns, ping → post → sold pays the
 * source inside the sale, a return reverses the payout exactly once, and
 * expired, double and contradicting posts are refused with their reasons.
 */
import type { Pool } from 'pg';

import { leadIdFor } from '../../api/routes/leads';
import { Responses as LeadsResponses } from '../../api/routes/leads.schemas';
import { Responses } from '../../api/routes/supply.schemas';
import { ProblemSchema } from '../../api/schemas';
import { claimPing } from '../../db/sources';
import { sample } from '../helpers/metrics';
import { eventually } from '../helpers/temporal';
import { leadFields } from '../helpers/world';
import { docCurlBody } from './doc-examples';
import { apiAgency, apiBuyer, apiCampaign, bearer, type Harness, startHarness, unique } from './harness';
import { offerOfLead, winOffer } from './world';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const pool = () => h.database.raw as Pool;
const q = async (text: string, params: unknown[] = []) => (await pool().query(text, params)).rows;

async function apiSource(adminKey: string, campaigns: { id: string; payout: object; allowed?: boolean }[]) {
  const res = await h.http
    .post('/v1/sources')
    .set(bearer(adminKey))
    .send({ name: unique('source') });
  expect(res.status).toBe(201);
  expect(res.body.apiKey).toMatch(/^lw_source_[A-Za-z0-9_-]{43}$/);
  for (const c of campaigns) {
    const r = await h.http
      .post(`/v1/sources/${res.body.source.id}/campaigns`)
      .set(bearer(adminKey))
      .send({ campaignId: c.id, payout: c.payout, allowed: c.allowed ?? true });
    expect(r.status).toBe(200);
  }
  return { source: res.body.source as { id: string }, key: res.body.apiKey as string };
}

/** An agency with a buyer (credits), an allowed campaign, a disallowed one and a source paid 30 % of the sale. */
async function world(opts: { price?: number; payout?: object } = {}) {
  const A = await apiAgency(h);
  const buyer = await apiBuyer(h, A.adminKey, { credits: 1000 });
  const campaign = await apiCampaign(h, A.adminKey, { claimWindowSeconds: 60, price: { base: opts.price ?? 40 } });
  const other = await apiCampaign(h, A.adminKey, { claimWindowSeconds: 60 });
  const S = await apiSource(A.adminKey, [
    { id: campaign.id, payout: opts.payout ?? { kind: 'share', shareBps: 3000 } },
  ]);
  return { A, buyer, campaign, other, S };
}

const pingOf = (f: ReturnType<typeof leadFields>) => ({ zip: f.zip, state: f.state, city: f.city, answers: f.answers });

test('a source key posts into an allowed campaign (202) and not into another (403 campaign_not_allowed); the lead keeps its source, sub id and click id', async () => {
  const w = await world();
  const ok = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields(), subId: 'aff-7', clickId: 'clk-1' });
  expect(ok.status).toBe(202);
  const [row] = await q('SELECT source_id, sub_id, click_id FROM leads WHERE id = $1', [ok.body.lead.id]);
  expect(row).toEqual({ source_id: w.S.source.id, sub_id: 'aff-7', click_id: 'clk-1' });

  const no = await h.http.post('/v1/leads').set(bearer(w.S.key)).send({ campaignId: w.other.id, fields: leadFields() });
  expect(no.status).toBe(403);
  expect(no.body.code).toBe('campaign_not_allowed');
  const [{ n }] = await q('SELECT count(*)::int AS n FROM leads WHERE campaign_id = $1', [w.other.id]);
  expect(n).toBe(0);
});

test('the documented body disallows a campaign without a payout rule: the rule keeps its payout, posts get 403, `{"allowed":true}` allows it again', async () => {
  const w = await world();
  const campaigns = async () =>
    (await h.http.get(`/v1/sources/${w.S.source.id}`).set(bearer(w.A.adminKey))).body.campaigns as unknown[];
  const disallow = docCurlBody('docs/sources.md', 'allowed\\":false', { CAMPAIGN: w.campaign.id });
  expect(disallow).toEqual({ campaignId: w.campaign.id, allowed: false });
  const off = await h.http.post(`/v1/sources/${w.S.source.id}/campaigns`).set(bearer(w.A.adminKey)).send(disallow);
  expect(off.status).toBe(200);
  expect(off.body.campaign).toMatchObject({ allowed: false, payout: { kind: 'share', shareBps: 3000 } });
  expect(await campaigns()).toEqual([expect.objectContaining({ campaignId: w.campaign.id, allowed: false })]);
  const refused = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  expect(refused.status).toBe(403);
  expect(refused.body.code).toBe('campaign_not_allowed');

  const on = await h.http
    .post(`/v1/sources/${w.S.source.id}/campaigns`)
    .set(bearer(w.A.adminKey))
    .send({ campaignId: w.campaign.id, allowed: true });
  expect(on.status).toBe(200);
  expect(on.body.campaign).toMatchObject({ allowed: true, payout: { kind: 'share', shareBps: 3000 } });
  const posted = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  expect(posted.status).toBe(202);

  // A campaign the source has no rule for: allowing it needs the payout (400), disallowing it is a 404.
  const firstAllow = await h.http
    .post(`/v1/sources/${w.S.source.id}/campaigns`)
    .set(bearer(w.A.adminKey))
    .send({ campaignId: w.other.id });
  expect(firstAllow.status).toBe(400);
  expect(ProblemSchema.parse(firstAllow.body)).toMatchObject({ code: 'validation_failed' });
  expect(firstAllow.body.errors).toEqual([expect.objectContaining({ in: 'body', path: 'payout' })]);
  const noRule = await h.http
    .post(`/v1/sources/${w.S.source.id}/campaigns`)
    .set(bearer(w.A.adminKey))
    .send({ campaignId: w.other.id, allowed: false });
  expect(noRule.status).toBe(404);
  expect(noRule.body.code).toBe('not_found');
  expect(await campaigns()).toHaveLength(1);
});

test("the agency's lead detail shows the lead's source (id and name), sub id and click id; its own lead shows none", async () => {
  const w = await world();
  const sent = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields(), subId: 'aff-9', clickId: 'clk-42' });
  expect(sent.status).toBe(202);
  const detail = await h.http.get(`/v1/leads/${sent.body.lead.id}`).set(bearer(w.A.adminKey));
  expect(detail.status).toBe(200);
  const name = (await h.http.get(`/v1/sources/${w.S.source.id}`).set(bearer(w.A.adminKey))).body.source.name;
  expect(LeadsResponses.Lead.parse(detail.body).lead).toMatchObject({
    sourceId: w.S.source.id,
    sourceName: name,
    subId: 'aff-9',
    clickId: 'clk-42',
  });
  const list = await h.http.get('/v1/leads').set(bearer(w.A.adminKey));
  expect(list.body.leads.find((l: { id: string }) => l.id === sent.body.lead.id)).toMatchObject({
    sourceId: w.S.source.id,
    subId: 'aff-9',
    clickId: 'clk-42',
  });
  const own = await h.http
    .post('/v1/leads')
    .set(bearer(w.A.adminKey))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  const ownDetail = await h.http.get(`/v1/leads/${own.body.lead.id}`).set(bearer(w.A.adminKey));
  expect(ownDetail.body.lead).toMatchObject({ sourceId: null, sourceName: null, subId: null, clickId: null });
});

test('ping → post within the window → sold → the payout is in the source ledger, written with the sale', async () => {
  const w = await world({ price: 40, payout: { kind: 'share', shareBps: 3000 } });
  const f = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: pingOf(f), subId: 'aff-1' });
  expect(ping.status).toBe(200);
  expect(Responses.PingAnswer.parse(ping.body)).toMatchObject({ decision: 'accepted', reason: null, payout: 12 });

  const post = await h.http.post('/v1/posts').set(bearer(w.S.key)).send({ pingId: ping.body.pingId, fields: f });
  expect(post.status).toBe(202);
  const leadId = post.body.lead.id as string;
  const offer = await offerOfLead(h, leadId);
  const won = await winOffer(h, w.buyer.apiKey, offer.id);
  expect(won.charged).toBe(40);

  const entries = await q(
    'SELECT kind, amount, assignment_id, lead_id, balance_after FROM source_ledger_entries WHERE source_id = $1',
    [w.S.source.id],
  );
  expect(entries).toEqual([
    { kind: 'payout', amount: 12, assignment_id: won.assignmentId, lead_id: leadId, balance_after: 12 },
  ]);
  const bal = await h.http.get('/v1/source/balance').set(bearer(w.S.key));
  expect(bal.body.balance).toBe(12);
  const mine = await h.http.get('/v1/source/leads').set(bearer(w.S.key));
  expect(mine.status).toBe(200);
  expect(mine.body.leads).toEqual([
    expect.objectContaining({ id: leadId, outcome: 'sold', payout: 12, subId: 'aff-1' }),
  ]);
  // The source sees outcomes, never the buyer.
  expect(JSON.stringify(mine.body)).not.toContain(w.buyer.buyer.id);
});

test('a burst of 50 pings at once: each answered on its own fields, recorded once with them, on one shared read', async () => {
  const A = await apiAgency(h);
  const campaign = await apiCampaign(h, A.adminKey, { claimWindowSeconds: 60, price: { base: 40 } });
  await apiBuyer(h, A.adminKey, { credits: 1000, zipCodes: ['73301'] });
  const S = await apiSource(A.adminKey, [{ id: campaign.id, payout: { kind: 'fixed', amount: 11 } }]);
  const before = (await h.http.get('/metrics')).text;
  const burst = Array.from({ length: 50 }, (_, i) => ({
    campaignId: campaign.id,
    fields: { zip: i % 2 ? '73301' : '10001', state: 'TX', answers: { n: String(i) } },
    subId: `sub-${i}`,
  }));
  const answers = await Promise.all(burst.map((b) => h.http.post('/v1/pings').set(bearer(S.key)).send(b)));
  answers.forEach((a, i) => {
    expect(a.status).toBe(200);
    // Only the buyer's ZIP is taken: the odd pings.
    expect(a.body.decision).toBe(i % 2 ? 'accepted' : 'rejected');
    expect(a.body.payout).toBe(i % 2 ? 11 : null);
  });
  const rows = await q('SELECT id, sub_id, fields, decision FROM pings WHERE source_id = $1', [S.source.id]);
  expect(rows).toHaveLength(50);
  const byId = new Map(rows.map((r) => [r.id as string, r]));
  answers.forEach((a, i) => {
    const row = byId.get(a.body.pingId)!;
    expect(row.sub_id).toBe(`sub-${i}`);
    expect(row.fields).toEqual(burst[i]!.fields);
    expect(row.decision).toBe(a.body.decision);
  });
  const after = (await h.http.get('/metrics')).text;
  const delta = (name: string, labels: Record<string, string> = {}) =>
    (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
  expect(delta('leadwire_pings_total', { decision: 'accepted', reason: '' })).toBe(25);
  expect(delta('leadwire_pings_total', { decision: 'rejected', reason: 'no_eligible_buyer' })).toBe(25);
  // Requests arrive over a few turns of the event loop: far fewer reads of the campaign than pings.
  const burstReads = delta('leadwire_ping_reads_total');
  expect(burstReads).toBeGreaterThanOrEqual(1);
  expect(burstReads).toBeLessThan(25);
});

test('a second post of the same ping is refused (409 ping_already_posted); one lead only', async () => {
  const w = await world();
  const f = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: pingOf(f) });
  const posts = await Promise.all(
    [1, 2, 3].map(() => h.http.post('/v1/posts').set(bearer(w.S.key)).send({ pingId: ping.body.pingId, fields: f })),
  );
  expect(posts.map((p) => p.status).sort()).toEqual([202, 409, 409]);
  for (const p of posts.filter((x) => x.status === 409)) expect(p.body.code).toBe('ping_already_posted');
  const [{ n }] = await q('SELECT count(*)::int AS n FROM leads WHERE source_id = $1', [w.S.source.id]);
  expect(n).toBe(1);
});

test('a post that claimed its ping but never stored its lead (the database went away between the two) is finished by the retry: one lead, under the same id', async () => {
  const w = await world();
  const f = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: pingOf(f) });
  // What the crashed post left: the ping claimed for its lead id, no lead.
  const leadId = leadIdFor(`ping:${ping.body.pingId}`, 'post');
  expect(await claimPing(h.database.db, ping.body.pingId, leadId)).not.toBeNull();
  const retries = await Promise.all(
    [1, 2, 3].map(() => h.http.post('/v1/posts').set(bearer(w.S.key)).send({ pingId: ping.body.pingId, fields: f })),
  );
  expect(retries.map((p) => p.status).sort()).toEqual([202, 409, 409]);
  expect(retries.find((p) => p.status === 202)!.body.lead.id).toBe(leadId);
  for (const p of retries.filter((x) => x.status === 409))
    expect(p.body).toMatchObject({ code: 'ping_already_posted', leadId });
  const [{ n }] = await q('SELECT count(*)::int AS n FROM leads WHERE source_id = $1', [w.S.source.id]);
  expect(n).toBe(1);
});

test('a post after the ping expired is refused (410 ping_expired); nothing stored', async () => {
  const w = await world();
  const short = await h.startInstance({ pingTtlMs: 200 });
  const f = leadFields();
  const ping = await short.http
    .post('/v1/pings')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: pingOf(f) });
  expect(ping.body.decision).toBe('accepted');
  await eventually(
    async () => (await q('SELECT expires_at <= now() AS gone FROM pings WHERE id = $1', [ping.body.pingId]))[0]!.gone,
    5000,
    'ping expiry',
  );
  const post = await short.http.post('/v1/posts').set(bearer(w.S.key)).send({ pingId: ping.body.pingId, fields: f });
  expect(post.status).toBe(410);
  expect(post.body.code).toBe('ping_expired');
  const [{ n }] = await q('SELECT count(*)::int AS n FROM leads WHERE source_id = $1', [w.S.source.id]);
  expect(n).toBe(0);
});

test('a post whose fields contradict its ping is refused (422), naming each field; the ping stays usable', async () => {
  const w = await world();
  const f = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: pingOf(f), clickId: 'c-1' });
  const bad = await h.http
    .post('/v1/posts')
    .set(bearer(w.S.key))
    .send({ pingId: ping.body.pingId, fields: { ...f, zip: '78702', answers: { homeowner: 'no' } }, clickId: 'c-2' });
  expect(bad.status).toBe(422);
  expect(bad.body.code).toBe('post_contradicts_ping');
  expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
    'clickId',
    'fields.answers.homeowner',
    'fields.zip',
  ]);
  const [{ n }] = await q('SELECT count(*)::int AS n FROM leads WHERE source_id = $1', [w.S.source.id]);
  expect(n).toBe(0);
  const good = await h.http.post('/v1/posts').set(bearer(w.S.key)).send({ pingId: ping.body.pingId, fields: f });
  expect(good.status).toBe(202);
});

test('a ping nobody would buy is rejected with a reason, and a rejected ping cannot be posted', async () => {
  const w = await world();
  await h.http.patch(`/v1/buyers/${w.buyer.buyer.id}`).set(bearer(w.A.adminKey)).send({ status: 'paused' });
  const f = leadFields();
  const ping = await h.http
    .post('/v1/pings')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: pingOf(f) });
  expect(ping.body).toMatchObject({ decision: 'rejected', reason: 'no_eligible_buyer', payout: null });
  const post = await h.http.post('/v1/posts').set(bearer(w.S.key)).send({ pingId: ping.body.pingId, fields: f });
  expect(post.status).toBe(409);
  expect(post.body.code).toBe('ping_rejected');
});

test('pings are rate-limited per source (429 with Retry-After), and every answer shows the quota in RateLimit fields', async () => {
  const w = await world();
  const tight = await h.startInstance({ rateLimits: { pings: { capacity: 2, refillPerSecond: 0.01 } } });
  const body = { campaignId: w.campaign.id, fields: pingOf(leadFields()) };
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await tight.http.post('/v1/pings').set(bearer(w.S.key)).send(body));
  expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
  // A bucket of 2 refilling one token per 100 s: q=2, w=200; r counts down; t is when the bucket is whole again.
  for (const a of answers) expect(a.headers['ratelimit-policy']).toBe('"pings";q=2;w=200');
  expect(answers.map((a) => a.headers.ratelimit)).toEqual([
    '"pings";r=1;t=100',
    '"pings";r=0;t=200',
    '"pings";r=0;t=200',
  ]);
  expect(Number(answers[2]!.headers['retry-after'])).toBe(100);
  // An unknown campaign is answered after the token is taken: its problem document shows the quota too.
  const unknown = await h.http
    .post('/v1/pings')
    .set(bearer(w.S.key))
    .send({ ...body, campaignId: crypto.randomUUID() });
  expect(unknown.status).toBe(404);
  expect(unknown.headers.ratelimit).toMatch(/^"pings";r=\d+;t=\d+$/);
});

test('an approved return reverses the payout exactly once; the database refuses a second reversal', async () => {
  const w = await world({ price: 50, payout: { kind: 'fixed', amount: 20 } });
  const post = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  const offer = await offerOfLead(h, post.body.lead.id);
  const won = await winOffer(h, w.buyer.apiKey, offer.id);
  const dispute = await h.http
    .post(`/v1/assignments/${won.assignmentId}/disputes`)
    .set(bearer(w.buyer.apiKey))
    .send({ reason: 'wrong number' });
  const approvals = await Promise.all(
    [1, 2].map(() =>
      h.http.post(`/v1/disputes/${dispute.body.dispute.id}/resolve`).set(bearer(w.A.adminKey)).send({ approve: true }),
    ),
  );
  expect(approvals.map((a) => a.status).sort()).toEqual([200, 409]);

  const entries = await q(
    'SELECT kind, amount FROM source_ledger_entries WHERE source_id = $1 ORDER BY created_at, kind',
    [w.S.source.id],
  );
  expect(entries).toEqual([
    { kind: 'payout', amount: 20 },
    { kind: 'reversal', amount: -20 },
  ]);
  const [{ balance }] = await q('SELECT balance FROM source_wallets WHERE source_id = $1', [w.S.source.id]);
  expect(balance).toBe(0);
  await expect(
    q(
      `INSERT INTO source_ledger_entries (source_id, agency_id, kind, amount, idempotency_key, assignment_id) VALUES ($1, $2, 'reversal', -20, 'another', $3)`,
      [w.S.source.id, w.A.agency.id, won.assignmentId],
    ),
  ).rejects.toThrow(/source_ledger_assignment_kind_uq|duplicate/);
  await expect(q(`UPDATE source_ledger_entries SET amount = 1 WHERE source_id = $1`, [w.S.source.id])).rejects.toThrow(
    /append-only/,
  );
  const mine = await h.http.get('/v1/source/leads').set(bearer(w.S.key));
  expect(mine.body.leads[0]).toMatchObject({ outcome: 'returned', payout: 0 });
});

test('the database refuses a sale of a sourced lead without its payout, and a reversal that is not exactly its payout', async () => {
  const w = await world({ price: 30, payout: { kind: 'fixed', amount: 5 } });
  const post = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  const offer = await offerOfLead(h, post.body.lead.id);
  const won = await winOffer(h, w.buyer.apiKey, offer.id);
  // A second sourced lead, its offer open: an assignment written by hand, without the payout, cannot commit.
  const post2 = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  const offer2 = await offerOfLead(h, post2.body.lead.id);
  const client = await pool().connect();
  try {
    await client.query('BEGIN');
    const [charge] = (
      await client.query(
        `INSERT INTO ledger_entries (buyer_id, agency_id, kind, amount, idempotency_key) VALUES ($1, $2, 'adjustment', 0, $3) RETURNING id`,
        [w.buyer.buyer.id, w.A.agency.id, unique('k')],
      )
    ).rows;
    await client.query(
      `INSERT INTO assignments (lead_id, offer_id, buyer_id, agency_id, price, exclusive, charge_entry_id) VALUES ($1, $2, $3, $4, 30, true, $5)`,
      [post2.body.lead.id, offer2.id, w.buyer.buyer.id, w.A.agency.id, charge.id],
    );
    await expect(client.query('COMMIT')).rejects.toThrow(/has no payout/);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
  await expect(
    q(
      `INSERT INTO source_ledger_entries (source_id, agency_id, kind, amount, idempotency_key, assignment_id) VALUES ($1, $2, 'reversal', -4, 'partial', $3)`,
      [w.S.source.id, w.A.agency.id, won.assignmentId],
    ),
  ).rejects.toThrow(/exactly the payout/);
});

test("a source reads only its own leads; admin routes, buyers' routes and the feed refuse its key", async () => {
  const w = await world();
  const T = await apiSource(w.A.adminKey, [{ id: w.campaign.id, payout: { kind: 'fixed', amount: 1 } }]);
  const mineS = await h.http
    .post('/v1/leads')
    .set(bearer(w.S.key))
    .send({ campaignId: w.campaign.id, fields: leadFields() });
  await h.http.post('/v1/leads').set(bearer(T.key)).send({ campaignId: w.campaign.id, fields: leadFields() });
  const list = await h.http.get('/v1/source/leads').set(bearer(w.S.key));
  expect(list.body.leads.map((l: { id: string }) => l.id)).toEqual([mineS.body.lead.id]);
  for (const path of [
    '/v1/leads',
    `/v1/leads/${mineS.body.lead.id}`,
    '/v1/buyers',
    `/v1/buyers/${w.buyer.buyer.id}`,
    '/v1/sources',
    '/v1/offers',
    '/v1/me/leads',
    '/v1/reports',
  ]) {
    const res = await h.http.get(path).set(bearer(w.S.key));
    expect([path, res.status]).toEqual([path, 403]);
  }
  const me = await h.http.get('/v1/me').set(bearer(w.S.key));
  expect(me.body).toMatchObject({ kind: 'source', source: { id: w.S.source.id } });
});

test('source keys rotate and revoke', async () => {
  const w = await world();
  const rotated = await h.http
    .post(`/v1/sources/${w.S.source.id}/keys`)
    .set(bearer(w.A.adminKey))
    .send({ revokeExisting: true });
  expect(rotated.status).toBe(201);
  expect(rotated.body.revoked).toBe(1);
  expect((await h.http.get('/v1/me').set(bearer(w.S.key))).status).toBe(401);
  expect((await h.http.get('/v1/me').set(bearer(rotated.body.apiKey))).status).toBe(200);
  const revoked = await h.http.post(`/v1/sources/${w.S.source.id}/keys/revoke`).set(bearer(w.A.adminKey));
  expect(revoked.body).toEqual({ revoked: 1 });
  expect((await h.http.get('/v1/me').set(bearer(rotated.body.apiKey))).status).toBe(401);
});

describe('bad input on every new route: 400 problem+json naming the field, nothing stored', () => {
  type W = Awaited<ReturnType<typeof world>>;
  const cases: [
    string,
    'admin' | 'source',
    (w: W) => string,
    'post' | 'patch' | 'get',
    ((w: W) => object) | null,
    string,
  ][] = [
    ['POST /v1/sources', 'admin', () => '/v1/sources', 'post', () => ({ name: '' }), 'name'],
    [
      'PATCH /v1/sources/:id',
      'admin',
      (w) => `/v1/sources/${w.S.source.id}`,
      'patch',
      () => ({ status: 'gone' }),
      'status',
    ],
    [
      'POST /v1/sources/:id/campaigns',
      'admin',
      (w) => `/v1/sources/${w.S.source.id}/campaigns`,
      'post',
      () => ({ campaignId: 'x', payout: { kind: 'fixed', amount: 1 } }),
      'campaignId',
    ],
    [
      'POST /v1/sources/:id/campaigns (rule)',
      'admin',
      (w) => `/v1/sources/${w.S.source.id}/campaigns`,
      'post',
      () => ({ campaignId: '00000000-0000-4000-8000-000000000000', payout: { kind: 'share', shareBps: 10001 } }),
      'payout.shareBps',
    ],
    [
      'POST /v1/sources/:id/keys',
      'admin',
      (w) => `/v1/sources/${w.S.source.id}/keys`,
      'post',
      () => ({ revokeExisting: 'yes' }),
      'revokeExisting',
    ],
    [
      'GET /v1/sources/:id/leads',
      'admin',
      (w) => `/v1/sources/${w.S.source.id}/leads?from=yesterday`,
      'get',
      null,
      'from',
    ],
    ['GET /v1/sources/:id/ledger', 'admin', () => `/v1/sources/nope/ledger`, 'get', null, 'id'],
    ['GET /v1/reports', 'admin', () => '/v1/reports?groupBy=week', 'get', null, 'groupBy'],
    [
      'POST /v1/pings',
      'source',
      () => '/v1/pings',
      'post',
      () => ({ campaignId: '00000000-0000-4000-8000-000000000000', fields: { zip: 'abc' } }),
      'fields.zip',
    ],
    [
      'POST /v1/pings (identity)',
      'source',
      () => '/v1/pings',
      'post',
      // A ping may carry a phone and an email to have them checked (#23), never a name or an address.
      (w) => ({ campaignId: w.campaign.id, fields: { zip: '78701', phone: '5125550100', lastName: 'Lovelace' } }),
      'fields.lastName',
    ],
    ['POST /v1/posts', 'source', () => '/v1/posts', 'post', () => ({ pingId: 'nope', fields: leadFields() }), 'pingId'],
    ['GET /v1/source/leads', 'source', () => '/v1/source/leads?to=2026-13-01', 'get', null, 'to'],
    ['GET /v1/source/ledger', 'source', () => '/v1/source/ledger?limit=0', 'get', null, 'limit'],
  ];
  test.each(cases)('%s', async (_name, who, url, method, body, field) => {
    const w = await world();
    const key = who === 'admin' ? w.A.adminKey : w.S.key;
    const before = await q(
      'SELECT (SELECT count(*) FROM sources WHERE agency_id = $1)::int AS s, (SELECT count(*) FROM pings WHERE agency_id = $1)::int AS p, (SELECT count(*) FROM leads WHERE agency_id = $1)::int AS l, (SELECT count(*) FROM source_campaigns WHERE agency_id = $1)::int AS c',
      [w.A.agency.id],
    );
    const req = h.http[method](url(w)).set(bearer(key));
    const res = body ? await req.send(body(w)) : await req;
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    ProblemSchema.parse(res.body);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    const after = await q(
      'SELECT (SELECT count(*) FROM sources WHERE agency_id = $1)::int AS s, (SELECT count(*) FROM pings WHERE agency_id = $1)::int AS p, (SELECT count(*) FROM leads WHERE agency_id = $1)::int AS l, (SELECT count(*) FROM source_campaigns WHERE agency_id = $1)::int AS c',
      [w.A.agency.id],
    );
    expect(after).toEqual(before);
  });
});

test("a source's posting spec comes from the API schemas and lists only its allowed campaigns, with curl", async () => {
  const w = await world();
  await h.http
    .post(`/v1/sources/${w.S.source.id}/campaigns`)
    .set(bearer(w.A.adminKey))
    .send({ campaignId: w.other.id, allowed: false, payout: { kind: 'fixed', amount: 1 } });
  const spec = await h.http.get('/v1/source/spec').set(bearer(w.S.key));
  expect(spec.status).toBe(200);
  expect(spec.body.campaigns.map((c: { campaignId: string }) => c.campaignId)).toEqual([w.campaign.id]);
  expect(spec.body.campaigns[0].curl[0]).toContain('/v1/pings');
  expect(Object.keys(spec.body.ping.body.properties.fields.properties).sort()).toEqual([
    'answers',
    'city',
    'email',
    'phone',
    'state',
    'zip',
  ]);
  expect(spec.body.post.body.required).toEqual(expect.arrayContaining(['pingId', 'fields']));
});

test("the agency reads a source's posting spec: the same document the source reads, from its own key", async () => {
  const w = await world();
  const mine = await h.http.get('/v1/source/spec').set(bearer(w.S.key));
  const theirs = await h.http.get(`/v1/sources/${w.S.source.id}/spec`).set(bearer(w.A.adminKey));
  expect(theirs.status).toBe(200);
  expect(Responses.PostingSpec.parse(theirs.body)).toEqual(mine.body);
  expect(theirs.body.source).toEqual({ id: w.S.source.id, name: expect.any(String) });
  expect(theirs.body.campaigns.map((c: { campaignId: string }) => c.campaignId)).toEqual([w.campaign.id]);
  const unknown = await h.http.get('/v1/sources/00000000-0000-4000-8000-000000000000/spec').set(bearer(w.A.adminKey));
  expect(unknown.status).toBe(404);
  expect(unknown.body.code).toBe('not_found');
});
