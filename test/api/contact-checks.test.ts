/**
 * The contact checks through the API on the real stack (#23 items 1, 2):
 * intake and posts refuse invalid phones and emails with their reason codes
 * (nothing stored), pings answer them, the same person in two formats is a
 * duplicate, the lead keeps what was sent beside the E.164 number and its type
 * with every check on the timeline, buyer filters use the phone type, and the
 * MX check runs against a local DNS server (a DNS failure never blocks).
 */
import type { Pool } from 'pg';

import { mxChecker } from '../../lib/mx';
import { type LocalDns, startLocalDns } from '../helpers/dns-server';
import { docCurlBody } from './doc-examples';
import { apiAgency, apiBuyer, apiCampaign, apiLead, bearer, type Harness, leadFields, startHarness } from './harness';
import { apiSourceFor, offerOfLead } from './world';

let h: Harness;
let dns: LocalDns;

beforeAll(async () => {
  dns = await startLocalDns({
    'example.com': { mx: [{ exchange: 'mx.example.com', priority: 10 }] },
    'nomail.test': {},
    'slow.test': { silent: true },
  });
  h = await startHarness({ api: { mx: mxChecker({ servers: [dns.server], timeoutMs: 200 }) } });
});

afterAll(async () => {
  await h?.close();
  await dns?.close();
});

const postLead = (key: string, campaignId: string, fields: object) =>
  h.http.post('/v1/leads').set(bearer(key)).send({ campaignId, fields });

async function leadCount(key: string): Promise<number> {
  return (await h.http.get('/v1/leads').set(bearer(key))).body.leads.length;
}

test('intake refuses an invalid phone, an undeliverable or disposable email with its reason code, storing nothing', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const cases: [object, string, string][] = [
    [{ phone: '(555) 123-4567' }, 'invalid_phone', 'fields.phone'],
    [{ phone: 'call me' }, 'invalid_phone', 'fields.phone'],
    [{ phone: '512 555 01' }, 'invalid_phone', 'fields.phone'],
    [{ email: 'ada@example' }, 'invalid_email', 'fields.email'],
    [{ email: 'Ada <ada@example.com>' }, 'invalid_email', 'fields.email'],
    [{ email: 'ada@nomail.test' }, 'invalid_email', 'fields.email'],
    [{ email: 'ada@mailinator.com' }, 'disposable_email', 'fields.email'],
  ];
  for (const [change, code, path] of cases) {
    const res = await postLead(adminKey, campaign.id, { ...leadFields(), ...change });
    expect([change, res.status, res.headers['content-type']]).toEqual([
      change,
      422,
      expect.stringContaining('application/problem+json'),
    ]);
    expect(res.body).toMatchObject({ code, status: 422, errors: [{ in: 'body', path }] });
  }
  expect(await leadCount(adminKey)).toBe(0);
  // Shape errors stay 400s that name the field.
  const long = await postLead(adminKey, campaign.id, { ...leadFields(), phone: '1'.repeat(41) });
  expect(long.status).toBe(400);
  expect(long.body.errors[0].path).toBe('fields.phone');
});

test('a stored lead keeps the number as sent beside its E.164 form and type; every check is on the timeline with its latency', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const lead = await apiLead(h, adminKey, campaign.id, {
    ...leadFields(),
    phone: '(512) 555-0142',
    email: 'Ada@Example.com',
  });
  const got = (await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey))).body.lead;
  expect(got).toMatchObject({
    fields: { phone: '(512) 555-0142', email: 'Ada@Example.com' },
    phoneE164: '+15125550142',
    phoneType: 'fixed_line_or_mobile',
  });
  expect(got.contactChecks).toEqual([
    {
      check: 'phone',
      result: 'passed',
      latencyMs: expect.any(Number),
      e164: '+15125550142',
      phoneType: 'fixed_line_or_mobile',
    },
    { check: 'email', result: 'passed', latencyMs: expect.any(Number), domain: 'example.com' },
    {
      check: 'email_mx',
      result: 'passed',
      latencyMs: expect.any(Number),
      domain: 'example.com',
      mx: ['mx.example.com'],
    },
    // Then the suppression lists (#23 item 3): on none.
    { check: 'suppression', result: 'passed', latencyMs: expect.any(Number) },
  ]);
  const events = (await h.http.get(`/v1/leads/${lead.id}/timeline`).set(bearer(adminKey))).body.events;
  const checked = events.filter((e: { type: string }) => e.type === 'checked');
  expect(checked.map((e: { reason: string; data: { check: string } }) => [e.data.check, e.reason])).toEqual([
    ['phone', 'passed'],
    ['email', 'passed'],
    ['email_mx', 'passed'],
    ['suppression', 'passed'],
  ]);
  for (const e of checked) expect(e.data.latencyMs).toBeGreaterThanOrEqual(0);
});

test('a DNS server that does not answer leaves the email unverified and lets the lead in', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const lead = await apiLead(h, adminKey, campaign.id, { ...leadFields(), email: 'ada@slow.test' });
  const got = (await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey))).body.lead;
  expect(got.contactChecks[2]).toMatchObject({ check: 'email_mx', result: 'unverified', domain: 'slow.test' });
});

test('the same person posted in two formats is a duplicate', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey);
  const first = await apiLead(h, adminKey, campaign.id, { ...leadFields(), phone: '512-555-0177' });
  const again = await postLead(adminKey, campaign.id, { ...leadFields(), phone: '+1 (512) 555.0177' });
  expect(again.status).toBe(409);
  expect(again.body).toMatchObject({ code: 'duplicate_lead', duplicateOf: first.id });
});

test("a number without a country code is read in the agency's phoneCountry", async () => {
  const { adminKey } = await apiAgency(h);
  const bad = await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ phoneCountry: 'XX' });
  expect(bad.status).toBe(400);
  expect(bad.body.errors[0].path).toBe('phoneCountry');
  expect((await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ phoneCountry: 'GB' })).status).toBe(200);
  const campaign = await apiCampaign(h, adminKey);
  const lead = await apiLead(h, adminKey, campaign.id, { ...leadFields(), phone: '020 7946 0018' });
  const got = (await h.http.get(`/v1/leads/${lead.id}`).set(bearer(adminKey))).body.lead;
  expect(got).toMatchObject({ phoneE164: '+442079460018', phoneType: 'fixed_line' });
});

test('a buyer filter on phoneType excludes other types with filter_mismatch; an unknown type is a 400', async () => {
  const { adminKey } = await apiAgency(h);
  await h.http.patch('/v1/settings').set(bearer(adminKey)).send({ phoneCountry: 'GB' });
  const mobileOnly = await apiBuyer(h, adminKey, { credits: 100 });
  const any = await apiBuyer(h, adminKey, { credits: 100 });
  const typo = await h.http
    .patch(`/v1/buyers/${mobileOnly.buyer.id}`)
    .set(bearer(adminKey))
    .send({ filters: { match: 'all', rules: [{ field: 'phoneType', op: 'in', values: ['mobile', 'cell'] }] } });
  expect(typo.status).toBe(400);
  expect(typo.body.errors).toEqual([expect.objectContaining({ path: 'filters.rules.0.values.1' })]);
  const filters = { match: 'all', rules: [{ field: 'phoneType', op: 'in', values: ['mobile'] }] };
  expect((await h.http.patch(`/v1/buyers/${mobileOnly.buyer.id}`).set(bearer(adminKey)).send({ filters })).status).toBe(
    200,
  );
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
  const candidate = async (leadId: string, buyerId: string) => {
    const offer = await offerOfLead(h, leadId);
    const res = await h.http.get(`/v1/offers/${offer.id}/eligibility`).set(bearer(adminKey));
    return res.body.candidates.find((c: { buyerId: string }) => c.buyerId === buyerId);
  };
  const landline = await apiLead(h, adminKey, campaign.id, { ...leadFields(), phone: '020 7946 0018' });
  expect(await candidate(landline.id, mobileOnly.buyer.id)).toMatchObject({
    eligible: false,
    reason: 'filter_mismatch',
    detail: 'filter rule 1 failed: phoneType in [mobile]',
  });
  expect(await candidate(landline.id, any.buyer.id)).toMatchObject({ eligible: true });
  const mobile = await apiLead(h, adminKey, campaign.id, { ...leadFields(), phone: '07400 123456' });
  expect(await candidate(mobile.id, mobileOnly.buyer.id)).toMatchObject({ eligible: true });
});

test('a ping answers the reason of a phone or email it carries, and stores neither; a post with an invalid phone is refused and may be corrected', async () => {
  const { adminKey } = await apiAgency(h);
  await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey);
  const S = await apiSourceFor(h, adminKey, campaign.id);
  const ping = (fields: object) =>
    h.http
      .post('/v1/pings')
      .set(bearer(S.apiKey))
      .send({ campaignId: campaign.id, fields: { zip: '78701', state: 'TX', ...fields } });
  expect((await ping({ phone: '(555) 123-4567' })).body).toMatchObject({
    decision: 'rejected',
    reason: 'invalid_phone',
  });
  expect((await ping({ email: 'not an address' })).body).toMatchObject({
    decision: 'rejected',
    reason: 'invalid_email',
  });
  expect((await ping({ email: 'x@yopmail.com' })).body).toMatchObject({
    decision: 'rejected',
    reason: 'disposable_email',
  });
  const bad = await ping({ phone: 42 });
  expect(bad.status).toBe(400);
  expect(bad.body.errors[0].path).toBe('fields.phone');
  const accepted = await ping({ phone: '(512) 555-0188', email: 'ok@example.com' });
  expect(accepted.body).toMatchObject({ decision: 'accepted', reason: null });
  const stored = await (h.database.raw as Pool).query('SELECT fields FROM pings WHERE id = $1', [accepted.body.pingId]);
  expect(stored.rows[0].fields).toEqual({ zip: '78701', state: 'TX' });

  const post = (phone: string) =>
    h.http
      .post('/v1/posts')
      .set(bearer(S.apiKey))
      .send({ pingId: accepted.body.pingId, fields: { ...leadFields(), zip: '78701', state: 'TX', phone } });
  const refused = await post('512 555 01');
  expect(refused.status).toBe(422);
  expect(refused.body).toMatchObject({ code: 'invalid_phone', errors: [{ path: 'fields.phone' }] });
  expect((await post('(512) 555-0188')).status).toBe(202);
});

test('docs/compliance.md: its examples do what it says', async () => {
  const { adminKey } = await apiAgency(h);
  const settings = docCurlBody('docs/compliance.md', 'phoneCountry');
  expect((await h.http.patch('/v1/settings').set(bearer(adminKey)).send(settings)).body.settings).toMatchObject({
    phoneCountry: 'GB',
  });
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  const change = docCurlBody('docs/compliance.md', 'phoneFormat', { BUYER_ID: buyer.buyer.id });
  const changed = await h.http.patch(`/v1/buyers/${buyer.buyer.id}`).set(bearer(adminKey)).send(change);
  expect(changed.status).toBe(200);
  expect(changed.body.buyer).toMatchObject({
    filters: (change as { filters: object }).filters,
    delivery: { phoneFormat: 'e164' },
  });

  // A US agency (the default phoneCountry) for the ping and the problem document.
  const us = (await apiAgency(h)).adminKey;
  await apiBuyer(h, us, { credits: 100 });
  const campaign = await apiCampaign(h, us);
  const S = await apiSourceFor(h, us, campaign.id);
  const pingBody = docCurlBody('docs/compliance.md', '/v1/pings', { CAMPAIGN_ID: campaign.id });
  const answer = await h.http.post('/v1/pings').set(bearer(S.apiKey)).send(pingBody);
  expect(answer.body).toMatchObject({ decision: 'rejected', reason: 'invalid_phone' });
  // The problem document as the page shows it.
  const refused = await postLead(us, campaign.id, { ...leadFields(), phone: '(555) 123-4567' });
  expect(refused.body).toMatchObject({
    type: 'urn:leadwire:problem:invalid_phone',
    title: 'The phone number is not a valid number',
    code: 'invalid_phone',
    errors: [{ in: 'body', path: 'fields.phone' }],
  });
});
