/**
 * Consent certificates through the API on the real stack (#23 item 4): an
 * agency's provider accounts (the credential sealed, never answered back), the
 * campaign's certificate rule, intake's refusals (`consent_missing`,
 * `consent_invalid`, `consent_expired`: 422, nothing stored) and its
 * `consent_certificate` check, the claim's answer on the buyer's dashboard
 * lead, the certificate kept out of previews, and bad input on every new route.
 */
import { eq, sql } from 'drizzle-orm';

import { consentProviderCredentials, leads, offers } from '../../db/schema';
import { type LocalProvider, startTrustedForm, trustedFormCertificate } from '../helpers/consent-providers';
import { eventually } from '../helpers/temporal';
import { docCurlBody } from './doc-examples';
import { apiAgency, apiBuyer, apiCampaign, bearer, type Harness, leadFields, startHarness } from './harness';
import { offerOfLead, winOffer } from './world';

let h: Harness;
let trustedForm: LocalProvider;

beforeAll(async () => {
  trustedForm = await startTrustedForm('tf-key-0123456789');
  h = await startHarness({
    api: { webhookAllowlist: '127.0.0.1' },
    delivery: {
      allowlist: '127.0.0.1',
      timeoutMs: 1000,
      retry: { initialIntervalMs: 50, backoffCoefficient: 2, maximumIntervalMs: 200, maximumAttempts: 3 },
    },
  });
});

afterAll(async () => {
  await h?.close();
  await trustedForm?.close();
});

const RULE = { provider: 'trustedform', maxAgeSeconds: 3600, onClaimFailure: 'flag' } as const;
const consent = (over: object = {}) => ({
  text: 'I agree to be called about roofing at the number I gave.',
  timestamp: new Date(Date.now() - 60_000).toISOString(),
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  certificateUrl: trustedFormCertificate(),
  ...over,
});
const putProvider = (key: string, provider: string, body: object) =>
  h.http.put(`/v1/consent-providers/${provider}`).set(bearer(key)).send(body);
const postLead = (key: string, body: object) => h.http.post('/v1/leads').set(bearer(key)).send(body);
const storedLeads = async (email: string) =>
  (
    await h.database.db
      .select()
      .from(leads)
      .where(sql`${leads.fields}->>'email' = ${email}`)
  ).length;

test('provider accounts: set (from the docs example), listed without the credential, sealed at rest, removed', async () => {
  const { adminKey } = await apiAgency(h);
  const body = docCurlBody('docs/compliance.md', 'consent-providers/trustedform', {
    TRUSTEDFORM_API_KEY: 'tf-key-0123456789',
    TRUSTEDFORM_URL: trustedForm.url,
  });
  const set = await putProvider(adminKey, 'trustedform', body);
  expect(set.status).toBe(200);
  expect(set.body.provider).toMatchObject({ provider: 'trustedform', baseUrl: trustedForm.url, credential: 'set' });
  expect(JSON.stringify(set.body)).not.toContain('tf-key-0123456789');
  const list = await h.http.get('/v1/consent-providers').set(bearer(adminKey));
  expect(list.status).toBe(200);
  expect(list.body.providers).toEqual([expect.objectContaining({ provider: 'trustedform', credential: 'set' })]);
  expect(JSON.stringify(list.body)).not.toContain('tf-key-0123456789');
  const rows = await h.database.db.select().from(consentProviderCredentials);
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) expect(r.credentialSealed).not.toContain('tf-key');

  expect((await h.http.delete('/v1/consent-providers/trustedform').set(bearer(adminKey))).status).toBe(204);
  const again = await h.http.delete('/v1/consent-providers/trustedform').set(bearer(adminKey));
  expect(again.status).toBe(404);
  expect((await h.http.get('/v1/consent-providers').set(bearer(adminKey))).body.providers).toEqual([]);
});

test('bad input on every new route is a 400 problem+json naming the field, and nothing is stored', async () => {
  const { adminKey } = await apiAgency(h);
  const problem = (res: { status: number; headers: Record<string, string>; body: { errors?: { path: string }[] } }) => {
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    return (res.body.errors ?? []).map((e) => e.path);
  };
  expect(problem(await putProvider(adminKey, 'acme', { credential: 'k' }))).toContain('provider');
  expect(problem(await putProvider(adminKey, 'trustedform', {}))).toContain('credential');
  expect(problem(await putProvider(adminKey, 'trustedform', { credential: '' }))).toContain('credential');
  expect(problem(await putProvider(adminKey, 'trustedform', { credential: 'k', extra: 1 })).length).toBeGreaterThan(0);
  expect(problem(await putProvider(adminKey, 'jornaya', { credential: 'k', baseUrl: 'ftp://x.example' }))).toContain(
    'baseUrl',
  );
  expect(problem(await h.http.delete('/v1/consent-providers/acme').set(bearer(adminKey)))).toContain('provider');
  expect(problem(await h.http.get('/v1/consent-providers?x=1').set(bearer(adminKey))).length).toBeGreaterThan(0);
  // A private target is refused where the allow-list does not open it.
  const strict = await h.startInstance({ webhookAllowlist: '' });
  try {
    const res = await strict.http
      .put('/v1/consent-providers/trustedform')
      .set(bearer(adminKey))
      .send({ credential: 'k', baseUrl: 'http://10.0.0.5' });
    expect(problem(res)).toContain('baseUrl');
  } finally {
    await strict.close();
  }
  expect((await h.http.get('/v1/consent-providers').set(bearer(adminKey))).body.providers).toEqual([]);

  // The campaign's rule.
  const campaign = (rule: unknown) =>
    h.http
      .post('/v1/campaigns')
      .set(bearer(adminKey))
      .send({ name: 'c', serviceLine: 'roofing', mode: 'ping_post', price: { base: 10 }, consentCertificate: rule });
  expect(problem(await campaign({ ...RULE, provider: 'acme' }))).toContain('consentCertificate.provider');
  expect(problem(await campaign({ ...RULE, maxAgeSeconds: 5 }))).toContain('consentCertificate.maxAgeSeconds');
  expect(problem(await campaign({ ...RULE, onClaimFailure: 'shrug' }))).toContain('consentCertificate.onClaimFailure');
  expect(problem(await campaign({ provider: 'jornaya' })).length).toBeGreaterThan(0);
  expect(problem(await campaign({ ...RULE, extra: true })).length).toBeGreaterThan(0);
});

test('the campaign rule is set (the docs example), shown, and removed with null', async () => {
  const { adminKey } = await apiAgency(h);
  const c = await apiCampaign(h, adminKey);
  expect(c.consentCertificate).toBeNull();
  const rule = docCurlBody('docs/compliance.md', 'consentCertificate', { CAMPAIGN_ID: c.id });
  const patched = await h.http.patch(`/v1/campaigns/${c.id}`).set(bearer(adminKey)).send(rule);
  expect(patched.status).toBe(200);
  expect(patched.body.campaign.consentCertificate).toEqual({
    provider: 'trustedform',
    maxAgeSeconds: 86400,
    onClaimFailure: 'flag',
  });
  const cleared = await h.http.patch(`/v1/campaigns/${c.id}`).set(bearer(adminKey)).send({ consentCertificate: null });
  expect(cleared.body.campaign.consentCertificate).toBeNull();
});

test('intake refuses a missing, foreign-shaped or too old certificate with its reason code, storing nothing', async () => {
  const { adminKey } = await apiAgency(h);
  const c = await apiCampaign(h, adminKey, { consentCertificate: RULE });
  const cases: [string, object | undefined][] = [
    ['consent_missing', undefined],
    ['consent_missing', consent({ certificateUrl: undefined })],
    ['consent_invalid', consent({ certificateUrl: 'https://example.com/cert/abc' })],
    ['consent_invalid', consent({ certificateUrl: 'https://cert.trustedform.com/not-a-certificate' })],
    ['consent_invalid', consent({ timestamp: new Date(Date.now() + 3_600_000).toISOString() })],
    ['consent_expired', consent({ timestamp: new Date(Date.now() - 7_200_000).toISOString() })],
  ];
  for (const [code, given] of cases) {
    const fields = leadFields();
    const res = await postLead(adminKey, { campaignId: c.id, fields, ...(given ? { consent: given } : {}) });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ code, errors: [{ path: 'consent.certificateUrl' }] });
    expect(await storedLeads(fields.email)).toBe(0);
  }
  // A campaign without the rule takes a lead without a certificate.
  const plain = await apiCampaign(h, adminKey);
  expect((await postLead(adminKey, { campaignId: plain.id, fields: leadFields() })).status).toBe(202);
});

test('a lead that passes has its check on the timeline; the sale is claimed and the buyer sees the answer; previews never show the certificate', async () => {
  const { adminKey } = await apiAgency(h);
  expect(
    (await putProvider(adminKey, 'trustedform', { credential: 'tf-key-0123456789', baseUrl: trustedForm.url })).status,
  ).toBe(200);
  const { apiKey } = await apiBuyer(h, adminKey, { credits: 100 });
  const c = await apiCampaign(h, adminKey, {
    consentCertificate: RULE,
    previewFields: ['city', 'state', 'zip', 'answers'],
  });
  const given = consent();
  const fields = leadFields({ answers: { homeowner: 'yes', trustedform_cert_url: given.certificateUrl } });
  const res = await postLead(adminKey, { campaignId: c.id, fields, consent: given });
  expect(res.status).toBe(202);
  const leadId = res.body.lead.id as string;
  const timeline = await h.http.get(`/v1/leads/${leadId}/timeline`).set(bearer(adminKey));
  const check = timeline.body.events.find(
    (e: { type: string; data?: { check?: string } }) => e.type === 'checked' && e.data?.check === 'consent_certificate',
  );
  expect(check.data).toMatchObject({ result: 'passed', provider: 'trustedform', ageSeconds: expect.any(Number) });

  const offer = await offerOfLead(h, leadId);
  const [row] = await h.database.db.select().from(offers).where(eq(offers.id, offer.id));
  expect(JSON.stringify(row!.preview)).not.toContain(given.certificateUrl);
  expect(row!.preview).toMatchObject({ answers: { homeowner: 'yes' } });
  const open = await h.http.get('/v1/offers?status=open').set(bearer(apiKey));
  expect(JSON.stringify(open.body)).not.toContain(given.certificateUrl);

  await winOffer(h, apiKey, offer.id);
  const mine = await eventually(
    async () => {
      const r = await h.http.get('/v1/me/leads').set(bearer(apiKey));
      const won = r.body.leads.find((l: { lead: { id: string } }) => l.lead.id === leadId);
      return won?.consentClaim?.status === 'claimed' ? won : undefined;
    },
    20_000,
    'the claim on the dashboard lead',
  );
  expect(mine.consentClaim).toMatchObject({ provider: 'trustedform', flagged: false, answer: { outcome: 'success' } });
  expect(mine.lead.consent.certificateUrl).toBe(given.certificateUrl); // the buyer who bought it has it
});
