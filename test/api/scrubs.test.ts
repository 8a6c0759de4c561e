/**
 * Third-party scrubs through the API on the real stack (#23 item 5), against
 * local servers speaking TCPA Litigator List's and RealPhoneValidation's
 * documented APIs: settings (secret write-only, bad input, who may), a
 * litigator refused at intake (or sent to review by the agency's rule), a
 * disconnected line refused, a clean lead's timeline carrying provider,
 * result, latency and `cached`, the second lead of the day answered by the
 * cache, a spent budget and a provider outage letting intake go on with the
 * leads `not_checked` while the circuit opens and then closes, and the
 * examples of docs/compliance.md.
 */
import { sql } from 'drizzle-orm';

import { type ScrubProvider, startLineStatus, startLitigatorList } from '../helpers/scrub-providers';
import { eventually } from '../helpers/temporal';
import { docCurlBody } from './doc-examples';
import { apiAgency, apiBuyer, apiCampaign, bearer, type Harness, leadFields, startHarness } from './harness';
import { apiSourceFor } from './world';

let h: Harness;
let litigators: ScrubProvider;
let lines: ScrubProvider;

const LITIGATOR = '5125550111';
const DISCONNECTED = '5125550112';

beforeAll(async () => {
  litigators = await startLitigatorList({ username: 'lw-user', password: 'lit-pass-1', litigators: [LITIGATOR] });
  lines = await startLineStatus({ token: 'rpv-token-1', statuses: { [DISCONNECTED]: 'disconnected' } });
  h = await startHarness({ api: { webhookAllowlist: '127.0.0.1' } });
});

afterAll(async () => {
  await h?.close();
  await litigators?.close();
  await lines?.close();
});

const put = (key: string, scrub: string, body: object) => h.http.put(`/v1/scrubs/${scrub}`).set(bearer(key)).send(body);
const postLead = (key: string, campaignId: string, fields = leadFields()) =>
  h.http.post('/v1/leads').set(bearer(key)).send({ campaignId, fields });
const timeline = async (key: string, id: string) =>
  (await h.http.get(`/v1/leads/${id}/timeline`).set(bearer(key))).body.events as {
    type: string;
    reason: string | null;
    data: Record<string, unknown>;
  }[];

/** An agency with dedupe off (the same number is posted twice on purpose), a campaign, and both scrubs on. */
async function scrubbedAgency(litigator: object = {}, lineStatus: object = {}) {
  const { adminKey } = await apiAgency(h);
  expect((await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ duplicateWindowDays: 0 })).status).toBe(200);
  const campaign = await apiCampaign(h, adminKey);
  expect(
    (
      await put(adminKey, 'litigator', {
        enabled: true,
        baseUrl: litigators.baseUrl,
        username: 'lw-user',
        secret: 'lit-pass-1',
        timeoutMs: 500,
        ...litigator,
      })
    ).status,
  ).toBe(200);
  expect(
    (
      await put(adminKey, 'line_status', {
        enabled: true,
        baseUrl: lines.baseUrl,
        secret: 'rpv-token-1',
        timeoutMs: 500,
        ...lineStatus,
      })
    ).status,
  ).toBe(200);
  return { adminKey, campaign };
}

let n = 4000;
const freshPhone = () => `(512) 555-${String(n++).padStart(4, '0')}`;

test('settings: every scrub listed, the secret write-only and sealed, bad input refused, managers only', async () => {
  const { adminKey } = await apiAgency(h);
  const empty = await h.http.get('/v1/scrubs').set(bearer(adminKey));
  expect(empty.status).toBe(200);
  expect(empty.body.scrubs).toEqual([
    expect.objectContaining({
      scrub: 'litigator',
      provider: 'tcpa_litigator_list',
      enabled: false,
      secretSet: false,
      baseUrl: 'https://api.tcpalitigatorlist.com',
    }),
    expect.objectContaining({
      scrub: 'line_status',
      provider: 'real_phone_validation',
      enabled: false,
      secretSet: false,
    }),
  ]);

  const bad: [string, object, string][] = [
    ['nope', { enabled: true }, 'scrub'],
    ['line_status', { enabled: true }, 'secret'], // the first save needs the secret
    ['litigator', { enabled: true, secret: 'x' }, 'username'],
    ['line_status', { enabled: true, secret: 'x', username: 'u' }, 'username'],
    ['line_status', { enabled: true, secret: 'x', litigatorRule: 'review' }, 'litigatorRule'],
    ['line_status', { enabled: 'yes', secret: 'x' }, 'enabled'],
    ['line_status', { enabled: true, secret: 'x', timeoutMs: 60_000 }, 'timeoutMs'],
    ['line_status', { enabled: true, secret: 'x', monthlyBudget: -1 }, 'monthlyBudget'],
    ['line_status', { enabled: true, secret: 'x', baseUrl: 'ftp://example.com' }, 'baseUrl'],
    ['line_status', { enabled: true, secret: 'x', extra: 1 }, ''],
    ['litigator', { enabled: true, username: 'u', secret: 'x', litigatorRule: 'maybe' }, 'litigatorRule'],
  ];
  for (const [scrub, body, path] of bad) {
    const res = await put(adminKey, scrub, body);
    expect([scrub, JSON.stringify(body), res.status, res.headers['content-type']]).toEqual([
      scrub,
      JSON.stringify(body),
      400,
      expect.stringContaining('application/problem+json'),
    ]);
    if (path) expect(JSON.stringify(res.body.errors)).toContain(path);
  }
  expect(
    (
      await h.http
        .put('/v1/scrubs/line_status')
        .set(bearer(adminKey))
        .set('Content-Type', 'application/json')
        .send('{bad')
    ).status,
  ).toBe(400);
  // Nothing half-stored by the refusals.
  expect(
    (await h.http.get('/v1/scrubs').set(bearer(adminKey))).body.scrubs.every(
      (s: { secretSet: boolean }) => !s.secretSet,
    ),
  ).toBe(true);

  const saved = await put(adminKey, 'line_status', {
    enabled: true,
    baseUrl: lines.baseUrl,
    secret: 'rpv-token-secret-9',
    monthlyBudget: 1000,
  });
  expect(saved.status).toBe(200);
  expect(saved.body.scrub).toMatchObject({
    enabled: true,
    secretSet: true,
    monthlyBudget: 1000,
    timeoutMs: 800,
    circuit: { state: 'closed' },
  });
  expect(JSON.stringify(saved.body)).not.toContain('rpv-token-secret-9');
  // Omitted, the secret is kept.
  expect((await put(adminKey, 'line_status', { enabled: false })).body.scrub).toMatchObject({
    enabled: false,
    secretSet: true,
    monthlyBudget: 1000,
  });
  const stored = JSON.stringify(
    ((await h.database.db.execute(sql`SELECT * FROM scrub_settings`)) as unknown as { rows: unknown[] }).rows,
  );
  expect(stored).not.toContain('rpv-token-secret-9');
  // The audit log says it changed, never what it is.
  const audit = await h.http.get('/v1/audit-log').set(bearer(adminKey));
  expect(JSON.stringify(audit.body)).not.toContain('rpv-token-secret-9');

  // An analyst reads, a dispatcher does not change; a source or buyer key is refused.
  const keyOf = async (role: string) => {
    const made = await h.http.post('/v1/keys').set(bearer(adminKey)).send({ name: role, role });
    expect(made.status).toBe(201);
    return made.body.key as string;
  };
  const analyst = await keyOf('analyst');
  expect((await h.http.get('/v1/scrubs').set(bearer(analyst))).status).toBe(200);
  expect((await put(analyst, 'line_status', { enabled: true })).status).toBe(403);
  const dispatcher = await keyOf('dispatcher');
  expect((await h.http.get('/v1/scrubs').set(bearer(dispatcher))).status).toBe(403);
  expect((await put(dispatcher, 'line_status', { enabled: true })).status).toBe(403);
  expect((await h.http.get('/v1/scrubs')).status).toBe(401);
});

test('a litigator is refused at intake with `litigator`; by the review rule it is stored in review as `suppressed`', async () => {
  const { adminKey, campaign } = await scrubbedAgency();
  const refused = await postLead(adminKey, campaign.id, leadFields({ phone: `(512) 555-${LITIGATOR.slice(6)}` }));
  expect(refused.status).toBe(422);
  expect(refused.body).toMatchObject({
    type: 'urn:leadwire:problem:litigator',
    code: 'litigator',
    title: 'The phone number belongs to a known TCPA litigator',
    errors: [{ in: 'body', path: 'fields.phone' }],
  });

  expect((await put(adminKey, 'litigator', { enabled: true, litigatorRule: 'review' })).status).toBe(200);
  const kept = await postLead(adminKey, campaign.id, leadFields({ phone: `512-555-${LITIGATOR.slice(6)}` }));
  expect(kept.status).toBe(202);
  expect(kept.body.lead).toMatchObject({ status: 'manual_review', reason: 'suppressed' });
  const events = await timeline(adminKey, kept.body.lead.id);
  expect(events.find((e) => e.type === 'checked' && e.data.check === 'litigator')).toMatchObject({
    reason: 'litigator',
    data: { provider: 'tcpa_litigator_list', result: 'litigator', cached: true, status: 'TCPA' },
  });
});

test('a disconnected line is refused with `phone_disconnected`', async () => {
  const { adminKey, campaign } = await scrubbedAgency();
  const res = await postLead(adminKey, campaign.id, leadFields({ phone: `+1 512 555 ${DISCONNECTED.slice(6)}` }));
  expect(res.status).toBe(422);
  expect(res.body).toMatchObject({ code: 'phone_disconnected', errors: [{ path: 'fields.phone' }] });
});

test("a clean lead's timeline has both scrubs with provider, result, latency and cached; the second lead of the day with the number makes no call", async () => {
  const { adminKey, campaign } = await scrubbedAgency();
  const phone = freshPhone();
  const digits = `512555${phone.slice(-4)}`;
  const first = await postLead(adminKey, campaign.id, leadFields({ phone }));
  expect(first.status).toBe(202);
  const checks = (await timeline(adminKey, first.body.lead.id)).filter((e) => e.type === 'checked');
  for (const [check, provider] of [
    ['litigator', 'tcpa_litigator_list'],
    ['line_status', 'real_phone_validation'],
  ] as const) {
    const e = checks.find((c) => c.data.check === check)!;
    expect(e).toMatchObject({ reason: 'passed', data: { provider, result: 'passed', cached: false } });
    expect(e.data.latencyMs).toEqual(expect.any(Number));
  }
  const lead = await h.http.get(`/v1/leads/${first.body.lead.id}`).set(bearer(adminKey));
  expect(lead.body.lead.contactChecks.map((c: { check: string }) => c.check)).toEqual(
    expect.arrayContaining(['litigator', 'line_status']),
  );

  const second = await postLead(adminKey, campaign.id, leadFields({ phone: `+1${digits}` }));
  expect(second.status).toBe(202);
  const again = (await timeline(adminKey, second.body.lead.id)).filter((e) => e.type === 'checked');
  expect(again.find((c) => c.data.check === 'litigator')!.data).toMatchObject({ result: 'passed', cached: true });
  expect(again.find((c) => c.data.check === 'line_status')!.data).toMatchObject({ result: 'passed', cached: true });
  expect([litigators.calls.get(digits), lines.calls.get(digits)]).toEqual([1, 1]);
  expect(
    (await h.http.get('/v1/scrubs').set(bearer(adminKey))).body.scrubs.map(
      (s: { callsThisMonth: number }) => s.callsThisMonth,
    ),
  ).toEqual([1, 1]);
});

test('the budget spent: the lead goes on, its scrub `not_checked` with the reason, no call', async () => {
  const { adminKey, campaign } = await scrubbedAgency({ monthlyBudget: 1 }, { enabled: false });
  expect((await postLead(adminKey, campaign.id, leadFields({ phone: freshPhone() }))).status).toBe(202);
  const before = litigators.total();
  const over = await postLead(adminKey, campaign.id, leadFields({ phone: freshPhone() }));
  expect(over.status).toBe(202);
  expect(over.body.lead.status).not.toBe('manual_review');
  expect(litigators.total()).toBe(before);
  const check = (await timeline(adminKey, over.body.lead.id)).find(
    (e) => e.type === 'checked' && e.data.check === 'litigator',
  );
  expect(check).toMatchObject({
    reason: 'not_checked',
    data: { notChecked: 'budget_exhausted', provider: 'tcpa_litigator_list' },
  });
});

test('provider outage: intake keeps working, leads are not_checked, the circuit opens (and says so) and closes when the provider is back', async () => {
  const { adminKey, campaign } = await scrubbedAgency(
    { enabled: false },
    { failureThreshold: 2, cooldownMs: 1000, timeoutMs: 300 },
  );
  await apiBuyer(h, adminKey, { credits: 100 });
  const S = await apiSourceFor(h, adminKey, campaign.id);
  lines.mode = 'hang';
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postLead(adminKey, campaign.id, leadFields({ phone: freshPhone() }));
      expect(res.status).toBe(202);
      ids.push(res.body.lead.id);
    }
    const reasons = [];
    for (const id of ids)
      reasons.push((await timeline(adminKey, id)).find((e) => e.data.check === 'line_status')!.data.notChecked);
    expect(reasons).toEqual(['provider_failed', 'provider_failed', 'circuit_open']);
    const listed = (await h.http.get('/v1/scrubs').set(bearer(adminKey))).body.scrubs[1];
    expect(listed.circuit).toMatchObject({ state: 'open', consecutiveFailures: 2 });
    const audit = await h.http.get('/v1/audit-log').set(bearer(adminKey));
    expect(JSON.stringify(audit.body)).toContain('scrub circuit opened');

    // A source's post goes through the same intake, at once, while the circuit is open.
    const ping = await h.http
      .post('/v1/pings')
      .set(bearer(S.apiKey))
      .send({ campaignId: campaign.id, fields: { zip: '78701', state: 'TX' } });
    expect(ping.body.decision).toBe('accepted');
    const posted = await h.http
      .post('/v1/posts')
      .set(bearer(S.apiKey))
      .send({ pingId: ping.body.pingId, fields: leadFields({ phone: freshPhone() }) });
    expect(posted.status).toBe(202);

    lines.mode = 'up';
    const back = await eventually(
      async () => {
        const res = await postLead(adminKey, campaign.id, leadFields({ phone: freshPhone() }));
        expect(res.status).toBe(202);
        const c = (await timeline(adminKey, res.body.lead.id)).find((e) => e.data.check === 'line_status')!;
        return c.data.result === 'passed' ? c : undefined;
      },
      15_000,
      'the circuit closed',
    );
    expect(back.data).toMatchObject({ cached: false, provider: 'real_phone_validation' });
    expect((await h.http.get('/v1/scrubs').set(bearer(adminKey))).body.scrubs[1].circuit).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
      openedAt: null,
    });
  } finally {
    lines.mode = 'up';
  }
});

test('docs/compliance.md: the scrub examples do what the page says', async () => {
  const { adminKey } = await apiAgency(h);
  const litigator = docCurlBody('docs/compliance.md', '/v1/scrubs/litigator');
  const res = await put(adminKey, 'litigator', { ...litigator, baseUrl: litigators.baseUrl });
  expect(res.status).toBe(200);
  const { secret, ...shown } = litigator as { secret: string };
  expect(res.body.scrub).toMatchObject({ ...shown, baseUrl: litigators.baseUrl, secretSet: true, username: 'lw-user' });
  expect(JSON.stringify(res.body)).not.toContain(secret);
  const line = docCurlBody('docs/compliance.md', '/v1/scrubs/line_status');
  const res2 = await put(adminKey, 'line_status', { ...line, baseUrl: lines.baseUrl });
  expect(res2.status).toBe(200);
  const { secret: token, ...lineShown } = line as { secret: string };
  expect(res2.body.scrub).toMatchObject({ ...lineShown, baseUrl: lines.baseUrl, secretSet: true });
  expect(JSON.stringify(res2.body)).not.toContain(token);
  const listed = await h.http.get('/v1/scrubs').set(bearer(adminKey));
  expect(listed.body.scrubs.map((s: { enabled: boolean }) => s.enabled)).toEqual([true, true]);
});
