/**
 * Sessions (#20) through the real API on Postgres: a password sign-in sets an
 * opaque HttpOnly cookie; the cookie acts as the membership's organisation and
 * role; unsafe cookie requests need an allowed Origin and the CSRF token; a
 * cookie feed socket needs an allowed Origin; signing in never continues a
 * planted id; a signed-out cookie is dead.
 */
import { eq } from 'drizzle-orm';
import WebSocket from 'ws';

import { addMembership, createUser, type UserRow } from '../../db/accounts';
import { users } from '../../db/schema';
import { hashPassword, verifications } from '../../lib/passwords';
import { apiAgency, apiBuyer, type Harness, startHarness, unique } from './harness';

const PASSWORD = 'correct horse battery staple';

let h: Harness;
let origin: string;
let agencyId: string;
let adminKey: string;
let buyerId: string;

beforeAll(async () => {
  h = await startHarness();
  origin = h.main.baseUrl;
  const a = await apiAgency(h);
  agencyId = a.agency.id;
  adminKey = a.adminKey;
  buyerId = (await apiBuyer(h, adminKey)).buyer.id;
});
afterAll(() => h?.close());

async function person(org: 'agency' | 'buyer', role: 'owner' | 'dispatcher' | 'member' = 'owner'): Promise<UserRow> {
  const user = await createUser(h.database.db, {
    email: `${unique('person')}@example.com`,
    displayName: 'Pat Person',
    passwordHash: await hashPassword(PASSWORD),
  });
  await addMembership(
    h.database.db,
    user.id,
    org === 'agency' ? { kind: 'agency', agencyId } : { kind: 'buyer', agencyId, buyerId },
    role,
  );
  return user;
}

/** The session cookie (`name=value`) a response set. */
function cookieOf(res: { headers: Record<string, unknown> }): string {
  const set = ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []);
  const c = set.find((s) => /^(__Host-)?lw_session=[^;]+/.test(s));
  if (!c) throw new Error(`no session cookie in ${JSON.stringify(set)}`);
  return c.split(';')[0]!;
}

async function signIn(email: string, cookie?: string) {
  const req = h.http.post('/v1/auth/sign-in').send({ email, password: PASSWORD });
  const res = await (cookie ? req.set('Cookie', cookie) : req);
  expect(res.status).toBe(200);
  return { cookie: cookieOf(res), body: res.body as { csrfToken: string; stage: string; organisation: unknown } };
}

test('a password sign-in sets an opaque HttpOnly SameSite=Lax cookie (not Secure only on plain-http localhost) and acts as the membership', async () => {
  const user = await person('agency', 'owner');
  const res = await h.http.post('/v1/auth/sign-in').send({ email: user.email.toUpperCase(), password: PASSWORD });
  expect(res.status).toBe(200);
  const set = ([] as string[]).concat(res.headers['set-cookie'] as unknown as string[]);
  const line = set.find((s) => s.startsWith('lw_session='))!;
  expect(line).toMatch(/HttpOnly/);
  expect(line).toMatch(/SameSite=Lax/);
  expect(line).toMatch(/Path=\//);
  expect(line).not.toMatch(/Secure/);
  expect(res.body).toMatchObject({
    stage: 'full',
    user: { email: user.email, displayName: 'Pat Person' },
    organisation: { kind: 'agency', role: 'owner', agency: { id: agencyId } },
  });
  expect(JSON.stringify(res.body)).not.toContain(PASSWORD);
  const cookie = cookieOf(res);
  const buyers = await h.http.get('/v1/buyers').set('Cookie', cookie);
  expect(buyers.status).toBe(200);
  expect((buyers.body as { buyers: { id: string }[] }).buyers.map((b) => b.id)).toContain(buyerId);
  const session = await h.http.get('/v1/session').set('Cookie', cookie);
  expect(session.status).toBe(200);
  expect(session.body.csrfToken).toBe(res.body.csrfToken);
});

test('over https (a proxy says so) the cookie is Secure with the __Host- prefix', async () => {
  const user = await person('agency');
  const res = await h.http
    .post('/v1/auth/sign-in')
    .set('X-Forwarded-Proto', 'https')
    .send({ email: user.email, password: PASSWORD });
  expect(res.status).toBe(200);
  const set = ([] as string[]).concat(res.headers['set-cookie'] as unknown as string[]);
  expect(set.find((s) => s.startsWith('__Host-lw_session='))).toMatch(/; Secure/);
});

test('a wrong password and an unknown email get the same answer after the same work (one password verification each)', async () => {
  const user = await person('agency');
  const before = verifications();
  const wrong = await h.http.post('/v1/auth/sign-in').send({ email: user.email, password: 'not the password at all' });
  expect(verifications()).toBe(before + 1);
  const unknown = await h.http
    .post('/v1/auth/sign-in')
    .send({ email: `${unique('nobody')}@example.com`, password: 'not the password at all' });
  expect(verifications()).toBe(before + 2);
  expect(wrong.status).toBe(401);
  expect(unknown.status).toBe(401);
  const shape = (b: Record<string, unknown>) => ({ ...b, instance: undefined, traceId: undefined });
  expect(shape(unknown.body)).toEqual(shape(wrong.body));
  expect(wrong.headers['set-cookie']).toBeUndefined();
});

test('bad input is a 400 naming the field, and nothing is stored', async () => {
  const res = await h.http.post('/v1/auth/sign-in').send({ email: 'not-an-email', password: '' });
  expect(res.status).toBe(400);
  expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['email', 'password']);
});

test('session fixation: signing in with a planted or an old cookie gets a new id, and the old one is dead', async () => {
  const user = await person('agency');
  const first = await signIn(user.email);
  const second = await signIn(user.email, first.cookie);
  expect(second.cookie).not.toBe(first.cookie);
  expect((await h.http.get('/v1/session').set('Cookie', first.cookie)).status).toBe(401);
  expect((await h.http.get('/v1/session').set('Cookie', second.cookie)).status).toBe(200);
  // A planted id the server never issued is simply not a session.
  const planted = 'lw_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  expect((await h.http.get('/v1/buyers').set('Cookie', planted)).status).toBe(401);
});

test('a stolen cookie is worthless after sign-out', async () => {
  const user = await person('agency');
  const { cookie, body } = await signIn(user.email);
  const out = await h.http
    .post('/v1/auth/sign-out')
    .set('Cookie', cookie)
    .set('Origin', origin)
    .set('X-CSRF-Token', body.csrfToken);
  expect(out.status).toBe(204);
  expect((await h.http.get('/v1/buyers').set('Cookie', cookie)).status).toBe(401);
  expect((await h.http.get('/v1/session').set('Cookie', cookie)).status).toBe(401);
});

test('CSRF: an unsafe cookie request needs an allowed Origin and the session token; nothing is created otherwise', async () => {
  const user = await person('agency', 'owner');
  const { cookie, body } = await signIn(user.email);
  const name = unique('csrf-buyer');
  const create = () => h.http.post('/v1/buyers').set('Cookie', cookie).send({ name, serviceLines: [] });
  const noOrigin = await create();
  expect(noOrigin.status).toBe(403);
  expect(noOrigin.body.code).toBe('cross_site_request');
  const evil = await create().set('Origin', 'https://evil.example').set('X-CSRF-Token', body.csrfToken);
  expect(evil.body.code).toBe('cross_site_request');
  const crossSite = await create().set('Sec-Fetch-Site', 'cross-site').set('X-CSRF-Token', body.csrfToken);
  expect(crossSite.body.code).toBe('cross_site_request');
  const noToken = await create().set('Origin', origin);
  expect(noToken.body.code).toBe('csrf_token_invalid');
  const wrongToken = await create().set('Origin', origin).set('X-CSRF-Token', 'x'.repeat(body.csrfToken.length));
  expect(wrongToken.body.code).toBe('csrf_token_invalid');
  const listed = await h.http.get('/v1/buyers').set('Cookie', cookie);
  expect((listed.body as { buyers: { name: string }[] }).buyers.map((b) => b.name)).not.toContain(name);
  const ok = await create().set('Origin', origin).set('X-CSRF-Token', body.csrfToken);
  expect(ok.status).toBe(201);
  // Same-origin fetches that send no Origin are recognised by Sec-Fetch-Site.
  const sameSite = await h.http
    .post('/v1/buyers')
    .set('Cookie', cookie)
    .set('Sec-Fetch-Site', 'same-origin')
    .set('X-CSRF-Token', body.csrfToken)
    .send({ name: unique('csrf-buyer'), serviceLines: [] });
  expect(sameSite.status).toBe(201);
});

test('a bearer key is judged by itself: a cookie beside it is ignored (and needs no CSRF token)', async () => {
  const user = await person('buyer', 'member');
  const { cookie } = await signIn(user.email);
  const res = await h.http
    .post('/v1/buyers')
    .set('Cookie', cookie)
    .set('Authorization', `Bearer ${adminKey}`)
    .send({ name: unique('bearer-buyer'), serviceLines: [] });
  expect(res.status).toBe(201);
});

test('a session that owes its second factor can do nothing else', async () => {
  const user = await person('agency', 'owner');
  await h.database.db.update(users).set({ totpEnabledAt: new Date() }).where(eqId(user.id));
  const { cookie, body } = await signIn(user.email);
  expect(body.stage).toBe('second_factor');
  const res = await h.http.get('/v1/buyers').set('Cookie', cookie);
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('second_factor_required');
});

test('a cookie feed socket opens from this site only (no cross-site WebSocket hijacking)', async () => {
  const user = await person('buyer', 'member');
  const { cookie } = await signIn(user.email);
  const open = (o: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(h.main.wsUrl, { headers: { Cookie: cookie, Origin: o } });
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(-1));
    });
  expect(await open('https://evil.example')).toBe(403);
  expect(await open(origin)).toBe(101);
});

const eqId = (id: string) => eq(users.id, id);
