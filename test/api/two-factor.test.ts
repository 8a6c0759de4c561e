/**
 * Two-factor (#20) through the API on the real stack: TOTP enrolment and its
 * seed sealed at rest, ten recovery codes, the second step of a sign-in on a
 * new session id, and the attacks – a TOTP code reused within its window
 * (also twice at once), a recovery code reused, wrong codes limited per user,
 * a session owing its second factor calling anything else, an agency that
 * requires 2FA, keys on account routes, bad input.
 *
 * People and sessions are made with db/accounts.ts (the password sign-in is
 * another route); the cookie, Origin and CSRF token are sent as a browser would.
 */
import { hash } from '@node-rs/argon2';
import { eq } from 'drizzle-orm';

import { totpCodeAt } from '../../api/second-factor';
import { addMembership, createSession, createUser, type UserRow } from '../../db/accounts';
import { users } from '../../db/schema';
import { acceptTotpStep, secondFactorsOf } from '../../db/two-factor';
import type { AgencyRole } from '../../domain/accounts';
import { apiAgency, type Harness, startHarness, unique } from './harness';

let h: Harness;
let agencyId: string;
let adminKey: string;

beforeAll(async () => {
  h = await startHarness();
  const created = await apiAgency(h);
  agencyId = created.agency.id;
  adminKey = created.adminKey;
});
afterAll(() => h?.close());

interface Browser {
  user: UserRow;
  cookie: string;
  csrf: string;
  get(path: string): ReturnType<Harness['http']['get']>;
  post(path: string, body?: object): ReturnType<Harness['http']['post']>;
}

/** A browser signed in as this user (stage given), sending its cookie, Origin and CSRF token. */
function browser(user: UserRow, token: string, csrf: string): Browser {
  const cookie = `lw_session=${token}`;
  return {
    user,
    cookie,
    csrf,
    get: (path) => h.http.get(path).set('Cookie', cookie),
    post: (path, body = {}) =>
      h.http.post(path).set('Cookie', cookie).set('Origin', h.main.baseUrl).set('X-CSRF-Token', csrf).send(body),
  };
}

async function person(role: AgencyRole = 'dispatcher', password?: string) {
  const user = await createUser(h.database.db, {
    email: `${unique('p')}@example.com`,
    displayName: 'Pat',
    passwordHash: password ? await hash(password) : null,
  });
  const membership = await addMembership(h.database.db, user.id, { kind: 'agency', agencyId }, role);
  return { user, membership };
}

async function signIn(p: Awaited<ReturnType<typeof person>>, stage: 'full' | 'second_factor' = 'full') {
  const { session, token } = await createSession(h.database.db, {
    userId: p.user.id,
    membershipId: p.membership.id,
    method: 'password',
    stage,
  });
  return browser(p.user, token, session.csrfToken);
}

/** The session cookie a response set (a new id), as a browser would keep it. */
function newCookie(res: { headers: Record<string, unknown> }): string {
  const set = ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []);
  const c = set.find((s) => s.startsWith('lw_session=') && !s.startsWith('lw_session=;'));
  if (!c) throw new Error(`no session cookie in ${JSON.stringify(set)}`);
  return c.split(';')[0]!.slice('lw_session='.length);
}

const STEP = 30_000;

/** Enrols TOTP for a signed-in person (confirming with the code of the previous step); answers the seed and codes. */
async function enrol(b: Browser) {
  const start = await b.post('/v1/account/totp').expect(200);
  const { secret, otpauthUrl, qrSvg } = start.body as { secret: string; otpauthUrl: string; qrSvg: string };
  expect(otpauthUrl).toContain(`secret=${secret}`);
  expect(qrSvg).toMatch(/^<svg/);
  // The previous step's code, so that the steps after it (now, the next) are still ahead for the test.
  const usedAt = Date.now() - STEP;
  const used = totpCodeAt(secret, usedAt);
  const confirmed = await b.post('/v1/account/totp/confirm', { code: used }).expect(200);
  const codes = confirmed.body.recoveryCodes as string[];
  return { secret, codes, used, usedAt };
}

describe('TOTP enrolment', () => {
  it('seals the seed, answers ten recovery codes once, and lists the second factors the sign-in will ask for', async () => {
    const p = await person();
    const b = await signIn(p);
    expect(await secondFactorsOf(h.database.db, p.user)).toEqual([]);
    const { secret, codes } = await enrol(b);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);

    const [row] = await h.database.db.select().from(users).where(eq(users.id, p.user.id));
    expect(row!.totpSeedSealed).toMatch(/^lwk1\./);
    expect(row!.totpSeedSealed).not.toContain(secret);
    expect(row!.totpEnabledAt).not.toBeNull();
    expect(await secondFactorsOf(h.database.db, p.user)).toEqual(['totp', 'recovery_code']);

    const status = await b.get('/v1/account/two-factor').expect(200);
    expect(status.body).toEqual({
      totp: true,
      recoveryCodesLeft: 10,
      passkeys: 0,
      secondFactors: ['totp', 'recovery_code'],
    });
    // Enrolling again while on is refused.
    expect((await b.post('/v1/account/totp').expect(409)).body.code).toBe('conflict');
  });

  it('refuses a wrong confirmation code and keeps TOTP off', async () => {
    const b = await signIn(await person());
    const { secret } = (await b.post('/v1/account/totp').expect(200)).body as { secret: string };
    const wrong = totpCodeAt(secret, Date.now() + 10 * STEP);
    const res = await b.post('/v1/account/totp/confirm', { code: wrong }).expect(401);
    expect(res.body).toMatchObject({ code: 'second_factor_invalid', errors: [{ path: 'code' }] });
    expect((await b.get('/v1/account/two-factor').expect(200)).body.totp).toBe(false);
  });

  it('turns off with a code or the password (not a wrong one), and the recovery codes go with it', async () => {
    const p = await person('dispatcher', 'correct horse battery staple');
    const b = await signIn(p);
    const { secret, usedAt } = await enrol(b);
    await b.post('/v1/account/totp/disable', { password: 'not the password!' }).expect(401);
    expect((await b.get('/v1/account/two-factor')).body.totp).toBe(true);
    await b.post('/v1/account/totp/disable', { password: 'correct horse battery staple' }).expect(200);
    expect((await b.get('/v1/account/two-factor')).body).toMatchObject({ totp: false, recoveryCodesLeft: 0 });

    const { secret: second } = (await b.post('/v1/account/totp').expect(200)).body as { secret: string };
    expect(second).not.toBe(secret);
    // A step accepted once is never accepted again, whatever the seed: the new one confirms with a newer step.
    const stale = totpCodeAt(second, usedAt);
    await b.post('/v1/account/totp/confirm', { code: stale }).expect(401);
    await b.post('/v1/account/totp/confirm', { code: totpCodeAt(second, Date.now()) }).expect(200);
    await b.post('/v1/account/totp/disable', { code: totpCodeAt(second, Date.now() + STEP) }).expect(200);
  });

  it('regenerates the recovery codes with a current code; the old ones stop working', async () => {
    const p = await person();
    const b = await signIn(p);
    const { secret, codes } = await enrol(b);
    const fresh = await b.post('/v1/account/recovery-codes', { code: totpCodeAt(secret, Date.now()) }).expect(200);
    expect(fresh.body.recoveryCodes).toHaveLength(10);
    const pending = await signIn(p, 'second_factor');
    await pending.post('/v1/auth/second-factor', { recoveryCode: codes[0] }).expect(401);
    await pending.post('/v1/auth/second-factor', { recoveryCode: fresh.body.recoveryCodes[0] }).expect(200);
  });
});

describe('the second step of a sign-in', () => {
  it('upgrades to a full session on a NEW id; the old id is dead; a code reused within its window is refused', async () => {
    const p = await person();
    const { secret, used } = await enrol(await signIn(p));
    const pending = await signIn(p, 'second_factor');

    // Owing its second factor, the session can call nothing else.
    const org = await pending.get('/v1/buyers').expect(401);
    expect(org.body.code).toBe('second_factor_required');
    expect((await pending.get('/v1/account/two-factor').expect(401)).body.code).toBe('second_factor_required');
    expect((await pending.post('/v1/account/totp').expect(401)).body.code).toBe('second_factor_required');

    // The confirmation's code (previous step) is spent: refused.
    const spent = await pending.post('/v1/auth/second-factor', { totp: used });
    expect(spent.status).toBe(401);
    expect(spent.body.code).toBe('second_factor_invalid');

    const code = totpCodeAt(secret, Date.now());
    const ok = await pending.post('/v1/auth/second-factor', { totp: code }).expect(200);
    expect(ok.body).toEqual({ stage: 'full' });
    const token = newCookie(ok);
    expect(`lw_session=${token}`).not.toBe(pending.cookie);
    await h.http.get('/v1/buyers').set('Cookie', `lw_session=${token}`).expect(200);
    // The id that owed the factor does not become the signed-in session (fixation-safe).
    expect((await pending.get('/v1/buyers')).status).toBe(401);

    // The same code again, from another half-signed-in browser: refused.
    const thief = await signIn(p, 'second_factor');
    expect((await thief.post('/v1/auth/second-factor', { totp: code })).status).toBe(401);
  });

  it('accepts one of two simultaneous uses of one code', async () => {
    const p = await person();
    const { secret } = await enrol(await signIn(p));
    const [a, b] = [await signIn(p, 'second_factor'), await signIn(p, 'second_factor')];
    const code = totpCodeAt(secret, Date.now());
    const answers = await Promise.all([
      a.post('/v1/auth/second-factor', { totp: code }),
      b.post('/v1/auth/second-factor', { totp: code }),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('accepts a step once in the database even when asked at the same instant', async () => {
    const p = await person();
    const results = await Promise.all(Array.from({ length: 8 }, () => acceptTotpStep(h.database.db, p.user.id, 1000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await acceptTotpStep(h.database.db, p.user.id, 999)).toBe(false);
    expect(await acceptTotpStep(h.database.db, p.user.id, 1001)).toBe(true);
  });

  it('accepts a recovery code once', async () => {
    const p = await person();
    const { codes } = await enrol(await signIn(p));
    const first = await signIn(p, 'second_factor');
    await first.post('/v1/auth/second-factor', { recoveryCode: codes[3]!.toUpperCase() }).expect(200);
    const second = await signIn(p, 'second_factor');
    const reused = await second.post('/v1/auth/second-factor', { recoveryCode: codes[3] }).expect(401);
    expect(reused.body.code).toBe('second_factor_invalid');
    const status = await (await signIn(p)).get('/v1/account/two-factor').expect(200);
    expect(status.body.recoveryCodesLeft).toBe(9);
  });

  it('limits wrong codes per user: after five, even the right code waits (429), and another user is untouched', async () => {
    const p = await person();
    const { secret } = await enrol(await signIn(p));
    const pending = await signIn(p, 'second_factor');
    for (let i = 0; i < 5; i++) {
      const wrong = await pending.post('/v1/auth/second-factor', { totp: i % 2 ? '000000' : '999999' });
      // (a wrong guess could be right by chance: one in a million; the assertion names it)
      expect([wrong.status, wrong.body.code]).toEqual([401, 'second_factor_invalid']);
    }
    const limited = await pending.post('/v1/auth/second-factor', { totp: totpCodeAt(secret, Date.now()) });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const recovery = await pending.post('/v1/auth/second-factor', { recoveryCode: 'aaaaa-bbbbb' });
    expect(recovery.status).toBe(429);

    const other = await person();
    const { secret: otherSecret } = await enrol(await signIn(other));
    const otherPending = await signIn(other, 'second_factor');
    await otherPending.post('/v1/auth/second-factor', { totp: totpCodeAt(otherSecret, Date.now()) }).expect(200);
  });

  it('answers bad input with 400 naming the field, and a fully signed-in session with 409', async () => {
    const p = await person();
    const pending = await signIn(p, 'second_factor');
    const two = await pending
      .post('/v1/auth/second-factor', { totp: '123456', recoveryCode: 'aaaaa-bbbbb' })
      .expect(400);
    expect(two.body.errors.map((e: { path: string }) => e.path)).toContain('totp');
    const short = await pending.post('/v1/auth/second-factor', { totp: '12' }).expect(400);
    expect(short.body.errors[0].path).toBe('totp');
    const b = await signIn(p);
    const confirm = await b.post('/v1/account/totp/confirm', { code: 'abcdef' }).expect(400);
    expect(confirm.body.errors[0].path).toBe('code');
    await b.post('/v1/auth/second-factor', { totp: '123456' }).expect(409);
    // A user without TOTP gets no oracle from a TOTP attempt.
    expect((await pending.post('/v1/auth/second-factor', { totp: '123456' })).body.code).toBe('second_factor_invalid');
  });

  it('refuses keys and other sites on the account routes', async () => {
    const key = await h.http.get('/v1/account/two-factor').set('Authorization', `Bearer ${adminKey}`).expect(403);
    expect(key.body.code).toBe('session_required');
    const b = await signIn(await person());
    const forged = await h.http
      .post('/v1/account/totp')
      .set('Cookie', b.cookie)
      .set('Origin', 'https://evil.example')
      .set('X-CSRF-Token', b.csrf)
      .send({});
    expect(forged.body.code).toBe('cross_site_request');
    const noToken = await h.http
      .post('/v1/account/totp')
      .set('Cookie', b.cookie)
      .set('Origin', h.main.baseUrl)
      .send({});
    expect(noToken.body.code).toBe('csrf_token_invalid');
  });
});

describe('an agency that requires two-factor', () => {
  it('only its owners may change the requirement', async () => {
    const admin = await signIn(await person('admin'));
    const res = await admin.post('/v1/settings/two-factor', { required: true }).expect(403);
    expect(res.body.code).toBe('forbidden');
    await admin.get('/v1/settings/two-factor').expect(200);
  });

  it("locks its owners and admins without a second factor out of the agency's routes until they enrol one", async () => {
    const owner = await signIn(await person('owner'));
    const { secret } = await enrol(owner);
    await owner.post('/v1/settings/two-factor', { required: true }).expect(200);
    expect((await owner.get('/v1/settings/two-factor').expect(200)).body).toEqual({ requireTwoFactor: true });

    const admin = await signIn(await person('admin'));
    const refused = await admin.get('/v1/settings').expect(403);
    expect(refused.body.code).toBe('two_factor_required');
    expect((await admin.get('/v1/buyers')).body.code).toBe('two_factor_required');
    // Their account routes stay open: they can enrol.
    await admin.get('/v1/account/two-factor').expect(200);
    // A dispatcher is not asked; a key is not a person.
    await (await signIn(await person('dispatcher'))).get('/v1/buyers').expect(200);
    await h.http.get('/v1/settings').set('Authorization', `Bearer ${adminKey}`).expect(200);

    await enrol(admin);
    await admin.get('/v1/settings').expect(200);

    await owner.post('/v1/settings/two-factor', { required: false }).expect(200);
    expect(secret).toBeTruthy();
  });
});
