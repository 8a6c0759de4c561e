/**
 * The rest of signing in (#20) through the real API on Postgres: sign-in
 * links and password resets by email (once, expiring, the same answer for
 * unknown addresses, exactly one of two concurrent uses), the account
 * (display name, password change), one's sessions (list, revoke, sign out
 * everywhere), idle and absolute expiry, a disabled person, the guess limits
 * that slow an attacker without locking the person out, and passwords that
 * never reach a log line, an error or an email.
 *
 * Every test signs in from its own address (X-Forwarded-For, trusted here),
 * so the per-address limit of one test never touches another.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { eq } from 'drizzle-orm';

import type { AccountMail, AccountMailer } from '../../api/account-mail';
import { addMembership, createUser, type UserRow } from '../../db/accounts';
import { oneTimeTokens, sessions, users } from '../../db/schema';
import { hashPassword } from '../../lib/passwords';
import { apiAgency, type Harness, RELAXED_LIMITS, startHarness, unique } from './harness';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'seven purple walruses at dawn';
/** Wrong guesses allowed per address and per account before 429 (one more an hour). */
const GUESSES = 3;

const sent: AccountMail[] = [];
const mailer: AccountMailer = {
  configured: true,
  send(mail) {
    sent.push(mail);
    return Promise.resolve();
  },
};

let h: Harness;
let origin: string;
let agencyId: string;
let adminKey: string;

beforeAll(async () => {
  h = await startHarness({
    api: {
      mailer,
      publicUrl: null,
      trustProxy: true,
      rateLimits: { ...RELAXED_LIMITS, signInFailures: { capacity: GUESSES, refillPerSecond: 1 / 3600 } },
    },
  });
  origin = h.main.baseUrl;
  const a = await apiAgency(h);
  agencyId = a.agency.id;
  adminKey = a.adminKey;
});
afterAll(() => h?.close());

let ipSeq = 0;
/** A fresh client address for one test. */
const newIp = () => `198.51.100.${++ipSeq}`;

async function person(opts: { totp?: boolean; password?: string } = {}): Promise<UserRow> {
  const user = await createUser(h.database.db, {
    email: `${unique('pat')}@example.com`,
    displayName: 'Pat Person',
    passwordHash: await hashPassword(opts.password ?? PASSWORD),
  });
  await addMembership(h.database.db, user.id, { kind: 'agency', agencyId }, 'admin');
  if (opts.totp) await h.database.db.update(users).set({ totpEnabledAt: new Date() }).where(eq(users.id, user.id));
  return user;
}

function cookieOf(res: { headers: Record<string, unknown> }): string {
  const set = ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []);
  const c = set.find((s) => /^(__Host-)?lw_session=[^;]+/.test(s) && !/Max-Age=0/.test(s));
  if (!c) throw new Error(`no session cookie in ${JSON.stringify(set)}`);
  return c.split(';')[0]!;
}

interface Signed {
  cookie: string;
  csrf: string;
  ip: string;
}

function signInAttempt(email: string, password: string, ip: string, userAgent?: string) {
  const req = h.http.post('/v1/auth/sign-in').set('X-Forwarded-For', ip);
  if (userAgent) void req.set('User-Agent', userAgent);
  return req.send({ email, password });
}

async function signIn(email: string, password = PASSWORD, userAgent?: string): Promise<Signed> {
  const ip = newIp();
  const res = await signInAttempt(email, password, ip, userAgent);
  expect(res.status).toBe(200);
  return { cookie: cookieOf(res), csrf: (res.body as { csrfToken: string }).csrfToken, ip };
}

/** An unsafe request with the cookie, from this site, with the CSRF token. */
const post = (s: Signed, path: string) =>
  h.http
    .post(path)
    .set('Cookie', s.cookie)
    .set('Origin', origin)
    .set('X-CSRF-Token', s.csrf)
    .set('X-Forwarded-For', s.ip);
const patch = (s: Signed, path: string) =>
  h.http
    .patch(path)
    .set('Cookie', s.cookie)
    .set('Origin', origin)
    .set('X-CSRF-Token', s.csrf)
    .set('X-Forwarded-For', s.ip);
const alive = async (cookie: string) => (await h.http.get('/v1/session').set('Cookie', cookie)).status === 200;

/** The emails sent to an address so far. */
const mailsTo = (email: string) => sent.filter((m) => m.to === email);
function tokenIn(mail: AccountMail, path: string): string {
  const m = new RegExp(`${origin.replace(/[.]/g, '\\.')}/${path}\\?token=([A-Za-z0-9_-]+)`).exec(mail.text);
  if (!m) throw new Error(`no ${path} link in ${mail.text}`);
  return m[1]!;
}
async function requestLink(email: string, ip = newIp()): Promise<string> {
  const to = email.toLowerCase();
  const before = mailsTo(to).length;
  const res = await h.http.post('/v1/auth/sign-in-link').set('X-Forwarded-For', ip).send({ email });
  expect(res.status).toBe(202);
  const mails = mailsTo(to);
  expect(mails).toHaveLength(before + 1);
  return tokenIn(mails.at(-1)!, 'sign-in/link');
}
async function requestReset(email: string): Promise<string> {
  const before = mailsTo(email).length;
  const res = await h.http.post('/v1/auth/password-reset').send({ email });
  expect(res.status).toBe(202);
  const mails = mailsTo(email);
  expect(mails).toHaveLength(before + 1);
  return tokenIn(mails.at(-1)!, 'reset-password');
}
/** The problem without what differs per request. */
const shape = (b: Record<string, unknown>) => ({
  ...b,
  instance: undefined,
  traceId: undefined,
  retryAfter: undefined,
});
const paths = (res: { body: { errors?: { path: string }[] } }) => (res.body.errors ?? []).map((e) => e.path).sort();

// ─── sign-in links ───────────────────────────────────────────────────────────

test('a sign-in link: the same 202 for a known and an unknown address, an email only to the known one, a session once', async () => {
  const user = await person();
  const mailsBefore = sent.length;
  const unknownEmail = `${unique('nobody')}@example.com`;
  const unknown = await h.http.post('/v1/auth/sign-in-link').send({ email: unknownEmail });
  expect(unknown.status).toBe(202);
  expect(unknown.body).toEqual({});
  expect(sent.length).toBe(mailsBefore);

  const token = await requestLink(user.email.toUpperCase());
  const mail = mailsTo(user.email).at(-1)!;
  expect(mail.text).toContain(`${origin}/sign-in/link?token=`);
  const done = await h.http.post('/v1/auth/sign-in-link/complete').send({ token });
  expect(done.status).toBe(200);
  expect(done.body).toMatchObject({ stage: 'full', user: { email: user.email }, organisation: { kind: 'agency' } });
  const cookie = cookieOf(done);
  expect((await h.http.get('/v1/buyers').set('Cookie', cookie)).status).toBe(200);
  const [row] = await h.database.db.select().from(users).where(eq(users.id, user.id));
  expect(row!.emailVerifiedAt).not.toBeNull();

  const again = await h.http.post('/v1/auth/sign-in-link/complete').send({ token });
  expect(again.status).toBe(400);
  expect(again.body.code).toBe('link_invalid');
  expect(again.headers['set-cookie']).toBeUndefined();
  const forged = await h.http.post('/v1/auth/sign-in-link/complete').send({ token: 'A'.repeat(43) });
  expect(shape(forged.body)).toEqual(shape(again.body));
});

test('an expired link, a link of another purpose and a malformed token are refused', async () => {
  const user = await person();
  const token = await requestLink(user.email);
  await h.database.db
    .update(oneTimeTokens)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(oneTimeTokens.userId, user.id));
  const expired = await h.http.post('/v1/auth/sign-in-link/complete').send({ token });
  expect(expired.status).toBe(400);
  expect(expired.body.code).toBe('link_invalid');
  // A reset link is not a sign-in link.
  const reset = await requestReset(user.email);
  const wrongPurpose = await h.http.post('/v1/auth/sign-in-link/complete').send({ token: reset });
  expect(wrongPurpose.body.code).toBe('link_invalid');
  const malformed = await h.http.post('/v1/auth/sign-in-link/complete').send({ token: 'x"; drop table users' });
  expect(malformed.status).toBe(400);
  expect(paths(malformed)).toEqual(['token']);
  const badEmail = await h.http.post('/v1/auth/sign-in-link').send({ email: 'not an email' });
  expect(badEmail.status).toBe(400);
  expect(paths(badEmail)).toEqual(['email']);
});

test('two concurrent uses of one link: exactly one signs in', async () => {
  const user = await person();
  const token = await requestLink(user.email);
  const results = await Promise.all(
    Array.from({ length: 6 }, () => h.http.post('/v1/auth/sign-in-link/complete').send({ token })),
  );
  expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400]);
  const rows = await h.database.db.select().from(sessions).where(eq(sessions.userId, user.id));
  expect(rows).toHaveLength(1);
});

test('a link proves the inbox, not the second factor: a person with TOTP still owes it', async () => {
  const user = await person({ totp: true });
  const done = await h.http.post('/v1/auth/sign-in-link/complete').send({ token: await requestLink(user.email) });
  expect(done.status).toBe(200);
  expect(done.body.stage).toBe('second_factor');
  expect((await h.http.get('/v1/buyers').set('Cookie', cookieOf(done))).body.code).toBe('second_factor_required');
});

test("a link is never built from a stranger's Host header (no reset-link poisoning), nor sent to a disabled person", async () => {
  const user = await person();
  const before = sent.length;
  const poisoned = await h.http.post('/v1/auth/password-reset').set('Host', 'evil.example').send({ email: user.email });
  expect(poisoned.status).toBe(202);
  const poisonedLink = await h.http
    .post('/v1/auth/sign-in-link')
    .set('Host', 'evil.example')
    .send({ email: user.email });
  expect(poisonedLink.status).toBe(202);
  expect(sent.length).toBe(before);
  await h.database.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, user.id));
  expect((await h.http.post('/v1/auth/sign-in-link').send({ email: user.email })).status).toBe(202);
  expect(sent.length).toBe(before);
});

test('nobody floods an inbox: past five links in a quarter hour the answer is the same 202 and nothing is sent', async () => {
  const user = await person();
  for (let i = 0; i < 5; i++) await requestLink(user.email);
  const before = sent.length;
  const more = await h.http.post('/v1/auth/sign-in-link').send({ email: user.email });
  expect(more.status).toBe(202);
  expect(more.body).toEqual({});
  expect(sent.length).toBe(before);
  // The cap is per kind of link: a reset still goes.
  await requestReset(user.email);
});

// ─── password reset ──────────────────────────────────────────────────────────

test('a password reset: the policy names the password, then every session ends and every older reset link dies', async () => {
  const user = await person();
  const a = await signIn(user.email);
  const b = await signIn(user.email);
  const older = await requestReset(user.email);
  const token = await requestReset(user.email);
  expect(mailsTo(user.email).at(-1)!.text).toContain(`${origin}/reset-password?token=`);

  const unknown = await h.http.post('/v1/auth/password-reset').send({ email: `${unique('nobody')}@example.com` });
  expect(unknown.status).toBe(202);
  expect(unknown.body).toEqual({});

  for (const weak of ['short', 'password1234', user.email]) {
    const res = await h.http.post('/v1/auth/password-reset/complete').send({ token, password: weak });
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['password']);
  }
  expect(await alive(a.cookie)).toBe(true);
  const done = await h.http.post('/v1/auth/password-reset/complete').send({ token, password: NEW_PASSWORD });
  expect(done.status).toBe(204);
  expect(await alive(a.cookie)).toBe(false);
  expect(await alive(b.cookie)).toBe(false);

  const reused = await h.http
    .post('/v1/auth/password-reset/complete')
    .send({ token, password: 'another fine long phrase' });
  expect(reused.body.code).toBe('link_invalid');
  const old = await h.http
    .post('/v1/auth/password-reset/complete')
    .send({ token: older, password: 'another fine long phrase' });
  expect(old.body.code).toBe('link_invalid');

  expect((await signInAttempt(user.email, PASSWORD, newIp())).status).toBe(401);
  await signIn(user.email, NEW_PASSWORD);
});

test('two concurrent resets with one link: exactly one sets its password', async () => {
  const user = await person();
  const token = await requestReset(user.email);
  const candidates = ['first concurrent passphrase', 'second concurrent passphrase', 'third concurrent passphrase'];
  const results = await Promise.all(
    candidates.map((password) => h.http.post('/v1/auth/password-reset/complete').send({ token, password })),
  );
  expect(results.map((r) => r.status).sort()).toEqual([204, 400, 400]);
  const winner = candidates[results.findIndex((r) => r.status === 204)]!;
  await signIn(user.email, winner);
  for (const loser of candidates.filter((c) => c !== winner))
    expect((await signInAttempt(user.email, loser, newIp())).status).toBe(401);
});

// ─── the account ─────────────────────────────────────────────────────────────

test('the display name: changed by its person; bad input names the field; a key cannot call it', async () => {
  const user = await person();
  const s = await signIn(user.email);
  const ok = await patch(s, '/v1/account').send({ displayName: '  Pat Q. Person ' });
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ id: user.id, email: user.email, displayName: 'Pat Q. Person' });
  const empty = await patch(s, '/v1/account').send({ displayName: '' });
  expect(empty.status).toBe(400);
  expect(paths(empty)).toEqual(['displayName']);
  const extra = await patch(s, '/v1/account').send({ displayName: 'X', email: 'me@evil.example' });
  expect(extra.status).toBe(400);
  const [row] = await h.database.db.select().from(users).where(eq(users.id, user.id));
  expect(row!.displayName).toBe('Pat Q. Person');
  expect(row!.email).toBe(user.email);
  const key = await h.http.patch('/v1/account').set('Authorization', `Bearer ${adminKey}`).send({ displayName: 'Key' });
  expect(key.status).toBe(403);
  expect(key.body.code).toBe('session_required');
  const crossSite = await h.http
    .patch('/v1/account')
    .set('Cookie', s.cookie)
    .set('Origin', 'https://evil.example')
    .set('X-CSRF-Token', s.csrf)
    .send({ displayName: 'Evil' });
  expect(crossSite.status).toBe(403);
});

test('a password change needs the current password, meets the policy, ends the other sessions and keeps this one', async () => {
  const user = await person();
  const here = await signIn(user.email);
  const elsewhere = await signIn(user.email);
  const missing = await post(here, '/v1/account/password').send({ newPassword: NEW_PASSWORD });
  expect(missing.status).toBe(400);
  expect(paths(missing)).toEqual(['currentPassword']);
  const wrong = await post(here, '/v1/account/password').send({
    currentPassword: 'not my password',
    newPassword: NEW_PASSWORD,
  });
  expect(wrong.status).toBe(400);
  expect(paths(wrong)).toEqual(['currentPassword']);
  const weak = await post(here, '/v1/account/password').send({
    currentPassword: PASSWORD,
    newPassword: 'qwertyuiop123',
  });
  expect(weak.status).toBe(400);
  expect(paths(weak)).toEqual(['newPassword']);
  expect(await alive(elsewhere.cookie)).toBe(true);

  const ok = await post(here, '/v1/account/password').send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
  expect(ok.status).toBe(204);
  expect(await alive(here.cookie)).toBe(true);
  expect(await alive(elsewhere.cookie)).toBe(false);
  expect((await signInAttempt(user.email, PASSWORD, newIp())).status).toBe(401);
  await signIn(user.email, NEW_PASSWORD);
});

test('a wrong current password counts as a guess: a stolen cookie cannot try passwords faster than the sign-in form', async () => {
  const user = await person();
  const s = await signIn(user.email);
  for (let i = 0; i < GUESSES; i++) {
    const res = await post(s, '/v1/account/password').send({
      currentPassword: `guess number ${i}`,
      newPassword: NEW_PASSWORD,
    });
    expect(res.status).toBe(400);
  }
  const limited = await post(s, '/v1/account/password').send({
    currentPassword: 'one more guess',
    newPassword: NEW_PASSWORD,
  });
  expect(limited.status).toBe(429);
  // Over the limit, the right one answers the same 429: the limit does not confirm a guess.
  const right = await post(s, '/v1/account/password').send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
  expect(right.status).toBe(429);
  expect(shape(right.body)).toEqual(shape(limited.body));
});

// ─── sessions ────────────────────────────────────────────────────────────────

const CHROME_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0';

interface SessionItem {
  id: string;
  current: boolean;
  method: string;
  device: string;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
}
async function mySessions(s: Signed): Promise<SessionItem[]> {
  const res = await h.http.get('/v1/account/sessions').set('Cookie', s.cookie);
  expect(res.status).toBe(200);
  return (res.body as { sessions: SessionItem[] }).sessions;
}

test('my sessions: device, address and last use; ending one; another person’s is a 404; sign out everywhere', async () => {
  const user = await person();
  const laptop = await signIn(user.email, PASSWORD, CHROME_LINUX);
  const mac = await signIn(user.email, PASSWORD, FIREFOX_MAC);
  const list = await mySessions(laptop);
  expect(list).toHaveLength(2);
  const current = list.find((s) => s.current)!;
  expect(current).toMatchObject({ method: 'password', device: 'Chrome on Linux', ip: laptop.ip });
  const other = list.find((s) => !s.current)!;
  expect(other).toMatchObject({ device: 'Firefox on macOS', ip: mac.ip });
  expect(Date.parse(other.expiresAt)).toBeGreaterThan(Date.parse(other.lastUsedAt));

  const stranger = await signIn((await person()).email);
  const strangers = await mySessions(stranger);
  const notMine = await post(laptop, `/v1/account/sessions/${strangers[0]!.id}/revoke`);
  expect(notMine.status).toBe(404);
  expect(await alive(stranger.cookie)).toBe(true);
  const badId = await post(laptop, '/v1/account/sessions/not-a-uuid/revoke');
  expect(badId.status).toBe(400);

  expect((await post(laptop, `/v1/account/sessions/${other.id}/revoke`)).status).toBe(204);
  expect(await alive(mac.cookie)).toBe(false);
  expect((await mySessions(laptop)).map((s) => s.id)).toEqual([current.id]);
  expect((await post(laptop, `/v1/account/sessions/${other.id}/revoke`)).status).toBe(404);

  const phone = await signIn(user.email);
  const everywhere = await post(laptop, '/v1/account/sign-out-everywhere');
  expect(everywhere.status).toBe(204);
  const cleared = ([] as string[]).concat(everywhere.headers['set-cookie'] as unknown as string[]);
  expect(cleared.some((c) => /^lw_session=;.*Max-Age=0/.test(c))).toBe(true);
  expect(await alive(laptop.cookie)).toBe(false);
  expect(await alive(phone.cookie)).toBe(false);
  expect(await alive(stranger.cookie)).toBe(true);
});

test('idle and absolute expiry end a session, and so does disabling its person', async () => {
  const user = await person();
  const idle = await signIn(user.email);
  const old = await signIn(user.email);
  const fresh = await signIn(user.email);
  const rows = await h.database.db.select().from(sessions).where(eq(sessions.userId, user.id));
  const byIp = new Map(rows.map((r) => [r.ip, r.id]));
  await h.database.db
    .update(sessions)
    .set({ lastUsedAt: new Date(Date.now() - 13 * 3_600_000) })
    .where(eq(sessions.id, byIp.get(idle.ip)!));
  await h.database.db
    .update(sessions)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(sessions.id, byIp.get(old.ip)!));
  expect(await alive(idle.cookie)).toBe(false);
  expect(await alive(old.cookie)).toBe(false);
  expect(await alive(fresh.cookie)).toBe(true);
  expect((await mySessions(fresh)).map((s) => s.id)).toEqual([byIp.get(fresh.ip)]);
  // Just inside the idle timeout is still alive.
  await h.database.db
    .update(sessions)
    .set({ lastUsedAt: new Date(Date.now() - 11 * 3_600_000) })
    .where(eq(sessions.id, byIp.get(fresh.ip)!));
  expect(await alive(fresh.cookie)).toBe(true);

  await h.database.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, user.id));
  expect(await alive(fresh.cookie)).toBe(false);
  expect((await h.http.get('/v1/buyers').set('Cookie', fresh.cookie)).status).toBe(401);
});

// ─── guess limits ────────────────────────────────────────────────────────────

test('guess limits slow the attacker and reveal nothing, yet the person still gets in: with a second factor, or by link', async () => {
  const plain = await person();
  const withTotp = await person({ totp: true });
  for (const victim of [plain, withTotp]) {
    const attacker = newIp();
    for (let i = 0; i < GUESSES; i++)
      expect((await signInAttempt(victim.email, `wrong guess ${i}`, attacker)).status).toBe(401);
    const slowed = await signInAttempt(victim.email, 'yet another guess', attacker);
    expect(slowed.status).toBe(429);
    expect(Number(slowed.headers['retry-after'])).toBeGreaterThan(0);
    expect(slowed.body.code).toBe('rate_limited');
  }
  // The account is over its limit. From the person's own, clean address:
  const home = newIp();
  const wrongHome = await signInAttempt(plain.email, 'a wrong guess from home', home);
  const rightHome = await signInAttempt(plain.email, PASSWORD, home);
  // Without a second factor the right password gets exactly the answer a wrong one gets …
  expect(wrongHome.status).toBe(429);
  expect(rightHome.status).toBe(429);
  expect(shape(rightHome.body)).toEqual(shape(wrongHome.body));
  expect(rightHome.headers['set-cookie']).toBeUndefined();
  // … and the emailed link still works.
  const link = await h.http
    .post('/v1/auth/sign-in-link/complete')
    .send({ token: await requestLink(plain.email, home) });
  expect(link.status).toBe(200);
  expect(link.body.stage).toBe('full');
  // With TOTP the right password gets to the second factor (which it must still give).
  const totp = await signInAttempt(withTotp.email, PASSWORD, newIp());
  expect(totp.status).toBe(200);
  expect(totp.body.stage).toBe('second_factor');
  expect((await h.http.get('/v1/buyers').set('Cookie', cookieOf(totp))).body.code).toBe('second_factor_required');
  // A wrong password for that account is still only a 429.
  expect((await signInAttempt(withTotp.email, 'still guessing', newIp())).status).toBe(429);
});

test('one address spraying many accounts is limited too: a right password from it answers the same 429', async () => {
  const sprayer = newIp();
  for (let i = 0; i < GUESSES; i++)
    expect((await signInAttempt(`${unique('spray')}@example.com`, 'Summer2026!!', sprayer)).status).toBe(401);
  const victim = await person();
  const wrong = await signInAttempt(victim.email, 'Summer2026!!', sprayer);
  const right = await signInAttempt(victim.email, PASSWORD, sprayer);
  expect(wrong.status).toBe(429);
  expect(right.status).toBe(429);
  expect(shape(right.body)).toEqual(shape(wrong.body));
  // The account itself is not limited: from elsewhere the person signs in.
  await signIn(victim.email);
});

test('shared limits (several API processes): guesses on one process limit a right password on another', async () => {
  const limits = { ...RELAXED_LIMITS, signInFailures: { capacity: GUESSES, refillPerSecond: 1 / 3600 } };
  const one = await h.startInstance({ rateLimits: limits, sharedRateLimits: true, trustProxy: true });
  const two = await h.startInstance({ rateLimits: limits, sharedRateLimits: true, trustProxy: true });
  const victim = await person();
  const attempt = (on: typeof one, password: string) =>
    on.http.post('/v1/auth/sign-in').set('X-Forwarded-For', newIp()).send({ email: victim.email, password });
  // Before any guess, the peek of a bucket nobody used lets the right password in.
  expect((await attempt(two, PASSWORD)).status).toBe(200);
  for (let i = 0; i < GUESSES; i++) expect((await attempt(one, `wrong guess ${i}`)).status).toBe(401);
  const right = await attempt(two, PASSWORD);
  expect(right.status).toBe(429);
  expect((await attempt(one, 'one more')).status).toBe(429);
  await one.close();
  await two.close();
});

// ─── the docs' walkthrough ───────────────────────────────────────────────────

test("docs/accounts.md's curl walkthrough runs as written: cookie jar, Origin and CSRF token, sign-out", async () => {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/accounts.md'), 'utf8');
  const script = /<!-- walkthrough: sessions[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(script).toBeDefined();
  const user = await person();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-walkthrough-'));
  try {
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script!], {
      cwd: dir,
      env: { ...process.env, LW: origin, EMAIL: user.email, PASSWORD },
    });
    expect(stdout.trim().split('\n')).toEqual([user.email, 'Pat from the terminal', 'curl', '204', '401']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const [row] = await h.database.db.select().from(users).where(eq(users.id, user.id));
  expect(row!.displayName).toBe('Pat from the terminal');
});

// ─── no passwords in logs ────────────────────────────────────────────────────

test('passwords never reach a log line, a request log, an error answer or an email', async () => {
  const lines: string[] = [];
  const capture = (...args: unknown[]) => {
    lines.push(
      args
        .map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a)))
        .join(' '),
    );
  };
  const logging = await h.startInstance({
    mailer,
    publicUrl: null,
    trustProxy: true,
    logger: { error: capture, warn: capture },
    requestLogger: { info: capture, warn: capture },
  });
  const http = logging.http;
  const secrets = {
    right: 'a right password that must not leak',
    wrong: 'a wrong password that must not leak',
    reset: 'a reset password that must not leak',
    changed: 'a changed password that must not leak',
    short: 'shortleak1',
    common: 'password123456',
  };
  const answers: string[] = [];
  const keep = <T extends { status: number; text?: string; body?: unknown; headers: unknown }>(res: T): T => {
    answers.push(JSON.stringify({ body: res.body, text: res.text, headers: res.headers }));
    return res;
  };
  const user = await person({ password: secrets.right });
  const ip = newIp();
  const signedIn = keep(
    await http.post('/v1/auth/sign-in').set('X-Forwarded-For', ip).send({ email: user.email, password: secrets.right }),
  );
  expect(signedIn.status).toBe(200);
  const s: Signed = { cookie: cookieOf(signedIn), csrf: signedIn.body.csrfToken, ip };
  expect(
    keep(
      await http
        .post('/v1/auth/sign-in')
        .set('X-Forwarded-For', ip)
        .send({ email: user.email, password: secrets.wrong }),
    ).status,
  ).toBe(401);
  expect(
    keep(await http.post('/v1/auth/sign-in').send({ email: 'not-an-email', password: secrets.wrong })).status,
  ).toBe(400);
  expect(
    keep(await http.post('/v1/auth/sign-in').send({ email: user.email, password: secrets.wrong, x: 1 })).status,
  ).toBe(400);

  const unsafe = (path: string) =>
    http
      .post(path)
      .set('Cookie', s.cookie)
      .set('Origin', logging.baseUrl)
      .set('X-CSRF-Token', s.csrf)
      .set('X-Forwarded-For', ip);
  for (const newPassword of [secrets.short, secrets.common]) {
    const res = keep(await unsafe('/v1/account/password').send({ currentPassword: secrets.right, newPassword }));
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['newPassword']);
  }
  expect(
    keep(await unsafe('/v1/account/password').send({ currentPassword: secrets.wrong, newPassword: secrets.changed }))
      .status,
  ).toBe(400);
  expect(
    keep(await unsafe('/v1/account/password').send({ currentPassword: secrets.right, newPassword: secrets.changed }))
      .status,
  ).toBe(204);

  const before = mailsTo(user.email).length;
  expect(keep(await http.post('/v1/auth/password-reset').send({ email: user.email })).status).toBe(202);
  const mail = mailsTo(user.email)[before]!;
  const token = /token=([A-Za-z0-9_-]+)/.exec(mail.text)![1]!;
  for (const password of [secrets.short, secrets.common, 'x'.repeat(300) + secrets.short]) {
    const res = keep(await http.post('/v1/auth/password-reset/complete').send({ token, password }));
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['password']);
  }
  expect(
    keep(await http.post('/v1/auth/password-reset/complete').send({ token, password: secrets.reset })).status,
  ).toBe(204);
  expect(
    keep(await http.post('/v1/auth/password-reset/complete').send({ token, password: secrets.reset })).status,
  ).toBe(400);

  // Something was captured (the request log of every call above), and no password is in any of it.
  expect(lines.length).toBeGreaterThanOrEqual(answers.length);
  const everything = [...lines, ...answers, ...sent.map((m) => JSON.stringify(m))].join('\n');
  for (const secret of Object.values(secrets)) expect(everything).not.toContain(secret);
  await logging.close();
});
