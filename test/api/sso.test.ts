/**
 * Single sign-on for agencies (#20) against a real OpenID provider started here
 * (oidc-provider on 127.0.0.1, test/helpers/oidc-provider.ts): the settings
 * (secret write-only, sealed, never logged), and sign-ins driven through the
 * provider's real endpoints like a browser – first sign-in creates the person
 * and their membership with the default role, later ones reuse them; refusals
 * (domain, unverified email, tampered or replayed state, another browser,
 * wrong client secret, disabled SSO, an account of another organisation)
 * create nothing and land on the sign-in page with their reason.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import request from 'supertest';

import { createApi } from '../../api/app';
import { addMembership, createUser, membershipsOf, sessionByToken, userByEmail } from '../../db/accounts';
import type { Database } from '../../db/connection';
import { rotateSecrets } from '../../db/key-store';
import { createApiKey } from '../../db/keys';
import { createInProcessBus } from '../../db/offer-bus';
import { agencySso } from '../../db/schema';
import { ssoSecretKeyIds, ssoSettings } from '../../db/sso';
import {
  generateMasterKey,
  installKeyStore,
  KeyStore,
  keyStore,
  masterKeysFromEnv,
  parseMasterKeys,
} from '../../lib/key-store';
import { bearer } from '../../packages/client';
import { openTestPostgres } from '../helpers/db';
import { Browser, startTestProvider, type TestProvider } from '../helpers/oidc-provider';
import { testClient } from '../helpers/temporal';
import { docCurlBody } from './doc-examples';
import { RELAXED_LIMITS, ROOT_TOKEN, unique } from './harness';

let database: Database;
let server: http.Server;
let connection: Connection;
let baseUrl: string;
let api: ReturnType<typeof request>;
let idp: TestProvider;
/** Everything the API logged (errors, warnings, request lines), to grep for secrets. */
const logs: unknown[] = [];

beforeAll(async () => {
  database = await openTestPostgres();
  server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  idp = await startTestProvider({ redirectUri: `${baseUrl}/v1/auth/sso/callback` });
  const temporal = await testClient();
  connection = temporal.connection;
  const record = (...args: unknown[]) => void logs.push(args);
  const app = createApi({
    db: database.db,
    bus: createInProcessBus(),
    temporal: temporal.client,
    taskQueue: 'sso-test',
    rootToken: ROOT_TOKEN,
    rateLimits: RELAXED_LIMITS,
    logger: { error: record, warn: record },
    requestLogger: { info: record, warn: record },
    webDir: false,
    publicUrl: baseUrl,
  });
  server.on('request', app.app);
  api = request(server);
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await idp?.close();
  await connection?.close();
  await database?.close();
});

/** A new agency with its admin key. */
async function agency(): Promise<{ id: string; adminKey: string }> {
  const res = await api
    .post('/v1/agencies')
    .set(bearer(ROOT_TOKEN))
    .send({ name: unique('agency') });
  expect(res.status).toBe(201);
  return { id: res.body.agency.id, adminKey: res.body.adminKey };
}

/** An agency with SSO through the test provider for `domain`. */
async function agencyWithSso(domain: string, overrides: Record<string, unknown> = {}) {
  const a = await agency();
  const res = await api
    .put('/v1/sso')
    .set(bearer(a.adminKey))
    .send({
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      allowedDomains: [domain],
      defaultRole: 'analyst',
      enabled: true,
      ...overrides,
    });
  expect(res.status).toBe(200);
  return a;
}

const domainName = () => `${unique('corp')}.example`;
const isApi = (u: URL) => u.origin === baseUrl && !u.pathname.startsWith('/v1/auth/sso/');

/**
 * One sign-in in a fresh browser: the start, the provider (signing in `personId`),
 * and the callback. Answers where the callback sent the browser, the browser,
 * and the callback URL it used (for replays).
 */
async function signIn(agencyId: string, personId: string, browser = new Browser()) {
  idp.signInAs(personId);
  const toCallback = await browser.follow(
    `${baseUrl}/v1/auth/sso/${agencyId}/start`,
    (u) => u.href.startsWith(`${baseUrl}/v1/auth/sso/callback`) || isApi(u),
  );
  expect(toCallback.location).not.toBeNull();
  if (isApi(toCallback.location!)) return { landed: toCallback.location!, browser, callbackUrl: null };
  const callbackUrl = toCallback.location!.href;
  const back = await browser.get(callbackUrl);
  expect(back.status).toBe(302);
  return { landed: new URL(back.headers.get('location')!, baseUrl), browser, callbackUrl };
}

/** Sends a browser to the provider and back, stopping before the callback: its URL. */
async function callbackUrlOf(agencyId: string, personId: string, browser: Browser): Promise<string> {
  idp.signInAs(personId);
  const r = await browser.follow(`${baseUrl}/v1/auth/sso/${agencyId}/start`, (u) =>
    u.href.startsWith(`${baseUrl}/v1/auth/sso/callback`),
  );
  return r.location!.href;
}

const errorOf = (landed: URL) => (landed.pathname === '/admin/sign-in' ? landed.searchParams.get('error') : null);

test('the first sign-in creates the person and their membership with the default role; the second reuses both', async () => {
  const domain = domainName();
  const a = await agencyWithSso(domain);
  const email = `ada@${domain}`;
  idp.person('ada', { email: `Ada@${domain.toUpperCase()}`, email_verified: true, name: 'Ada Lovelace' });

  const first = await signIn(a.id, 'ada');
  expect(first.landed.pathname).toBe('/admin');
  const user = await userByEmail(database.db, email);
  expect(user).toMatchObject({ email, displayName: 'Ada Lovelace', passwordHash: null });
  expect(user!.emailVerifiedAt).not.toBeNull();
  const [membership, ...more] = await membershipsOf(database.db, user!.id);
  expect(more).toEqual([]);
  expect(membership).toMatchObject({ orgKind: 'agency', agencyId: a.id, role: 'analyst' });

  // The session cookie opens a full session of that membership, signed in by SSO.
  const token = first.browser.cookie(baseUrl, 'lw_session');
  expect(token).toBeDefined();
  const session = await sessionByToken(database.db, token!);
  expect(session).toMatchObject({
    session: { method: 'sso', stage: 'full', membershipId: membership!.id },
    user: { id: user!.id },
  });

  // A later default role does not change a member's role; a second sign-in reuses the user and membership.
  const put = await api
    .put('/v1/sso')
    .set(bearer(a.adminKey))
    .send({
      issuer: idp.issuer,
      clientId: idp.clientId,
      allowedDomains: [domain],
      defaultRole: 'admin',
      enabled: true,
    });
  expect(put.status).toBe(200);
  // In a browser that still holds the first session: signing in again ends it (never continues an old id).
  const browser = new Browser();
  browser.jar.set(baseUrl, new Map([['lw_session', token!]]));
  const second = await signIn(a.id, 'ada', browser);
  expect(second.landed.pathname).toBe('/admin');
  expect(await sessionByToken(database.db, token!)).toBeUndefined();
  expect(await membershipsOf(database.db, user!.id)).toEqual([membership]);
  const token2 = second.browser.cookie(baseUrl, 'lw_session');
  expect(token2).not.toBe(token); // a fresh session id for every sign-in
  expect((await sessionByToken(database.db, token2!))!.session.membershipId).toBe(membership!.id);
});

test('a person the agency already has signs in to their membership, keeping its role', async () => {
  const domain = domainName();
  const a = await agencyWithSso(domain);
  const user = await createUser(database.db, { email: `grace@${domain}`, displayName: 'Grace' });
  const m = await addMembership(database.db, user.id, { kind: 'agency', agencyId: a.id }, 'dispatcher');
  idp.person('grace', { email: `grace@${domain}`, email_verified: true });
  const { landed, browser } = await signIn(a.id, 'grace');
  expect(landed.pathname).toBe('/admin');
  expect(await membershipsOf(database.db, user.id)).toEqual([m]);
  const s = await sessionByToken(database.db, browser.cookie(baseUrl, 'lw_session')!);
  expect(s!.membership).toMatchObject({ id: m.id, role: 'dispatcher' });
});

test('refusals create nothing: a domain the agency does not allow, an unverified email, an account of another organisation', async () => {
  const domain = domainName();
  const a = await agencyWithSso(domain);

  idp.person('mallory', { email: `mallory@${domainName()}`, email_verified: true });
  const outside = await signIn(a.id, 'mallory');
  expect(errorOf(outside.landed)).toBe('sso_domain_not_allowed');
  expect(outside.browser.cookie(baseUrl, 'lw_session')).toBeUndefined();

  idp.person('unverified', { email: `eve@${domain}`, email_verified: false });
  const unverified = await signIn(a.id, 'unverified');
  expect(errorOf(unverified.landed)).toBe('sso_email_unverified');
  expect(await userByEmail(database.db, `eve@${domain}`)).toBeUndefined();

  // The owner of another agency with an address in this domain: this agency's provider does not speak for them.
  const other = await agency();
  const owner = await createUser(database.db, { email: `boss@${domain}`, displayName: 'Boss' });
  const theirs = await addMembership(database.db, owner.id, { kind: 'agency', agencyId: other.id }, 'owner');
  idp.person('boss', { email: `boss@${domain}`, email_verified: true });
  const conflict = await signIn(a.id, 'boss');
  expect(errorOf(conflict.landed)).toBe('sso_account_conflict');
  expect(await membershipsOf(database.db, owner.id)).toEqual([theirs]);
  expect(conflict.browser.cookie(baseUrl, 'lw_session')).toBeUndefined();
});

test('a tampered state, a replayed callback and a callback in another browser are refused', async () => {
  const domain = domainName();
  const a = await agencyWithSso(domain);
  idp.person('tom', { email: `tom@${domain}`, email_verified: true });

  // Tampered: the state changed on the way back.
  const b1 = new Browser();
  const url1 = new URL(await callbackUrlOf(a.id, 'tom', b1));
  url1.searchParams.set('state', `${url1.searchParams.get('state')}x`);
  const tampered = await b1.get(url1.href);
  expect(errorOf(new URL(tampered.headers.get('location')!, baseUrl))).toBe('sso_state_invalid');

  // Another browser (no lw_sso cookie, or another one) cannot use the callback, nor burn it for its owner.
  const b2 = new Browser();
  const url2 = await callbackUrlOf(a.id, 'tom', b2);
  const stranger = new Browser();
  const planted = await stranger.get(url2);
  expect(errorOf(new URL(planted.headers.get('location')!, baseUrl))).toBe('sso_state_invalid');
  await callbackUrlOf(a.id, 'tom', stranger); // the stranger's own sign-in gives it an lw_sso cookie of its own
  const crossed = await stranger.get(url2);
  expect(errorOf(new URL(crossed.headers.get('location')!, baseUrl))).toBe('sso_state_invalid');
  expect(stranger.cookie(baseUrl, 'lw_session')).toBeUndefined();
  const verifier = b2.cookie(baseUrl, 'lw_sso')!;
  const owner = await b2.get(url2);
  expect(owner.headers.get('location')).toBe('/admin');
  expect(b2.cookie(baseUrl, 'lw_sso')).toBeUndefined(); // used: the browser forgets it

  // Replayed: the same callback again, with the same verifier cookie, after it worked.
  b2.jar.get(baseUrl)!.set('lw_sso', verifier);
  const replay = await b2.get(url2);
  expect(errorOf(new URL(replay.headers.get('location')!, baseUrl))).toBe('sso_state_invalid');
});

test('a wrong client secret fails cleanly, and no secret is ever answered or logged', async () => {
  const domain = domainName();
  const a = await agencyWithSso(domain, { clientSecret: 'not-the-secret-4b1d9e' });
  idp.person('wendy', { email: `wendy@${domain}`, email_verified: true });
  const { landed, browser } = await signIn(a.id, 'wendy');
  expect(errorOf(landed)).toBe('sso_provider_error');
  expect(browser.cookie(baseUrl, 'lw_session')).toBeUndefined();
  expect(await userByEmail(database.db, `wendy@${domain}`)).toBeUndefined();

  const got = await api.get('/v1/sso').set(bearer(a.adminKey));
  expect(got.status).toBe(200);
  expect(got.body.sso).toEqual({
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientSecretSet: true,
    allowedDomains: [domain],
    defaultRole: 'analyst',
    enabled: true,
    redirectUri: `${baseUrl}/v1/auth/sso/callback`,
    updatedAt: expect.any(String),
  });
  // Sealed at rest: the row holds no clear secret.
  const row = await ssoSettings(database.db, a.id);
  expect(row!.clientSecretSealed).not.toContain('not-the-secret');
  expect(row!.clientSecretSealed).not.toContain(idp.clientSecret);

  // The provider failure was logged, by its code, without a secret.
  const logged = JSON.stringify(logs);
  expect(logged).toContain('[sso] code exchange failed');
  for (const secret of ['not-the-secret-4b1d9e', idp.clientSecret]) {
    expect(logged).not.toContain(secret);
    expect(JSON.stringify(got.body)).not.toContain(secret);
  }
});

test('disabled SSO refuses a sign-in, at the start and at the callback', async () => {
  const domain = domainName();
  const a = await agencyWithSso(domain);
  idp.person('dora', { email: `dora@${domain}`, email_verified: true });
  const settings = { issuer: idp.issuer, clientId: idp.clientId, allowedDomains: [domain], defaultRole: 'analyst' };

  const b = new Browser();
  const callback = await callbackUrlOf(a.id, 'dora', b);
  expect(
    (
      await api
        .put('/v1/sso')
        .set(bearer(a.adminKey))
        .send({ ...settings, enabled: false })
    ).status,
  ).toBe(200);
  const late = await b.get(callback);
  expect(errorOf(new URL(late.headers.get('location')!, baseUrl))).toBe('sso_not_configured');
  const start = await api.get(`/v1/auth/sso/${a.id}/start`);
  expect(start.status).toBe(302);
  expect(start.headers.location).toBe('/admin/sign-in?error=sso_not_configured');
  expect(await userByEmail(database.db, `dora@${domain}`)).toBeUndefined();
  expect((await api.post('/v1/auth/sso/discover').send({ email: `dora@${domain}` })).status).toBe(404);
});

test('discover answers by domain only, the same for a person with or without an account', async () => {
  const domain = domainName();
  const a = await agencyWithSso(domain);
  await createUser(database.db, { email: `known@${domain}`, displayName: 'Known' });
  const known = await api.post('/v1/auth/sso/discover').send({ email: `known@${domain}` });
  const unknown = await api.post('/v1/auth/sso/discover').send({ email: `nobody@${domain.toUpperCase()}` });
  expect(known.status).toBe(200);
  expect(known.body).toEqual({ url: `/v1/auth/sso/${a.id}/start` });
  expect(unknown.body).toEqual(known.body);
  const none = await api.post('/v1/auth/sso/discover').send({ email: `someone@${domainName()}` });
  expect(none.status).toBe(404);
  expect(none.body.code).toBe('sso_not_configured');
});

test('settings: bad input is a 400 naming the field and stores nothing; a taken domain is a 409; only owners and admins', async () => {
  const a = await agency();
  const good = {
    issuer: 'https://login.example.com/tenant',
    clientId: 'client',
    clientSecret: 'shh-secret',
    allowedDomains: ['Example.COM'],
    defaultRole: 'dispatcher',
    enabled: true,
  };
  const cases: [Record<string, unknown>, string][] = [
    [{ ...good, issuer: 'http://login.example.com' }, 'issuer'],
    [{ ...good, issuer: 'not a url' }, 'issuer'],
    [{ ...good, issuer: 'https://login.example.com/?x=1' }, 'issuer'],
    [{ ...good, allowedDomains: ['not a domain'] }, 'allowedDomains.0'],
    [{ ...good, allowedDomains: [] }, 'allowedDomains'],
    [{ ...good, defaultRole: 'owner' }, 'defaultRole'],
    [{ ...good, clientId: '' }, 'clientId'],
    [{ ...good, enabled: 'yes' }, 'enabled'],
    [{ ...good, extra: 1 }, 'extra'],
    [{ ...good, clientSecret: undefined }, 'clientSecret'],
  ];
  for (const [body, field] of cases) {
    const res = await api.put('/v1/sso').set(bearer(a.adminKey)).send(body);
    expect([res.status, res.body.code]).toEqual([400, 'validation_failed']);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
  }
  expect(await ssoSettings(database.db, a.id)).toBeUndefined();
  expect((await api.get('/v1/sso').set(bearer(a.adminKey))).body).toEqual({ sso: null });

  const ok = await api.put('/v1/sso').set(bearer(a.adminKey)).send(good);
  expect(ok.status).toBe(200);
  expect(ok.body.sso.allowedDomains).toEqual(['example.com']);

  const b = await agency();
  const taken = await api.put('/v1/sso').set(bearer(b.adminKey)).send(good);
  expect([taken.status, taken.body.code]).toEqual([409, 'sso_domain_taken']);
  expect(await ssoSettings(database.db, b.id)).toBeUndefined();

  const { key: dispatcherKey } = await createApiKey(database.db, { kind: 'admin', agencyId: a.id, role: 'dispatcher' });
  expect((await api.get('/v1/sso').set(bearer(dispatcherKey))).status).toBe(403);
  expect((await api.put('/v1/sso').set(bearer(dispatcherKey)).send(good)).status).toBe(403);
  expect((await api.get('/v1/sso')).status).toBe(401);

  const bad = await api.post('/v1/auth/sso/discover').send({ email: 'not-an-email' });
  expect([bad.status, bad.body.errors?.[0]?.path]).toEqual([400, 'email']);
  expect((await api.get('/v1/auth/sso/not-a-uuid/start')).status).toBe(400);
});

test('a master key rotation re-seals the client secret (keys:rotate), sign-in works with the old key gone; a secret moved to another agency does not open', async () => {
  const run = keyStore();
  const runKeys = masterKeysFromEnv().keys;
  const rotated = parseMasterKeys(generateMasterKey('ssorotated'))[0]!;
  const domain = domainName();
  const a = await agencyWithSso(domain); // never signed in before: nothing of it is remembered in clear
  idp.person('rita', { email: `rita@${domain}`, email_verified: true });
  const untilDone = async () => {
    while ((await rotateSecrets(database.db, 500)).moved > 0);
  };
  try {
    installKeyStore(new KeyStore([rotated, ...runKeys]));
    await untilDone();
    expect(await ssoSecretKeyIds(database.db)).toEqual(['ssorotated']);
    installKeyStore(new KeyStore([rotated])); // the old master key removed
    expect((await signIn(a.id, 'rita')).landed.pathname).toBe('/admin');
  } finally {
    installKeyStore(new KeyStore([...runKeys, rotated])); // everything back under the run's key for the other tests
    await untilDone();
    installKeyStore(run);
  }

  // The sealed secret is bound to its agency: copied onto another agency's row it does not open there.
  const other = await agencyWithSso(domainName());
  const sealed = (await ssoSettings(database.db, a.id))!.clientSecretSealed;
  await database.db.update(agencySso).set({ clientSecretSealed: sealed }).where(eq(agencySso.agencyId, other.id));
  const start = await api.get(`/v1/auth/sso/${other.id}/start`);
  expect(start.headers.location).toBe('/admin/sign-in?error=sso_provider_error');
});

test("docs/accounts.md's curl example sets an agency's SSO as shown", async () => {
  const a = await agency();
  const documented = docCurlBody('docs/accounts.md', '/v1/sso');
  const res = await api.put('/v1/sso').set(bearer(a.adminKey)).send(documented);
  expect(res.status).toBe(200);
  expect(res.body.sso).toMatchObject({ issuer: 'https://acme.okta.com', allowedDomains: ['acme.com'], enabled: true });
  expect(JSON.stringify(res.body)).not.toContain('paste-the-client-secret');
});
