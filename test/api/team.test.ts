/**
 * People join and leave an organisation (#20): the first-run setup link,
 * invitations, and the team – and the attacks on each: a reused or expired
 * link, a setup link used twice at once, escalation (one's own role, a role
 * above one's own, a member inviting), never zero owners when two owners
 * remove each other at once, a removed member's session refused at once and
 * their feed socket closed.
 */
import { eq } from 'drizzle-orm';
import WebSocket from 'ws';

import type { AccountMail, AccountMailer } from '../../api/account-mail';
import { setupLinkFor } from '../../bin/runtime';
import {
  addMembership,
  createSession,
  createUser,
  issueOneTimeToken,
  type Org,
  peekOneTimeToken,
} from '../../db/accounts';
import { migrateDatabase, openDatabase } from '../../db/connection';
import { apiKeys, memberships, oneTimeTokens, sessions, users } from '../../db/schema';
import type { MembershipRole } from '../../domain/accounts';
import { hashPassword } from '../../lib/passwords';
import { docCurlBody } from './doc-examples';
import { apiAgency, apiBuyer, bearer, type Harness, ROOT_TOKEN, startHarness, unique } from './harness';

const sent: AccountMail[] = [];
const mailer: AccountMailer = {
  configured: true,
  send: async (mail) => {
    sent.push(mail);
  },
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ api: { mailer, publicUrl: null } });
});
afterAll(async () => {
  await h?.close();
});

const PASSWORD = 'correct horse battery staple';
const email = () => `${unique('person')}@example.com`.toLowerCase();

/** A signed-in person: a user with a membership and a session, as the sign-in routes would leave them. */
async function person(org: Org, role: MembershipRole) {
  const user = await createUser(h.database.db, { email: email(), displayName: unique('name') });
  const membership = await addMembership(h.database.db, user.id, org, role);
  const { session, token } = await createSession(h.database.db, {
    userId: user.id,
    membershipId: membership.id,
    method: 'password',
  });
  return { user, membership, session, headers: cookieHeaders(token, session.csrfToken) };
}

function cookieHeaders(token: string, csrf: string): Record<string, string> {
  return { Cookie: `lw_session=${token}`, Origin: h.main.baseUrl, 'X-CSRF-Token': csrf };
}

/** The session cookie a response set, as request headers (with the CSRF token it answered). */
function signedInAs(res: { headers: Record<string, unknown>; body: { csrfToken: string } }) {
  const cookies = ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []);
  const cookie = cookies.find((c) => c.startsWith('lw_session='));
  expect(cookie).toMatch(/HttpOnly/);
  return cookieHeaders(cookie!.split(';')[0]!.slice('lw_session='.length), res.body.csrfToken);
}

const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;
const lastMailTo = (to: string) => [...sent].reverse().find((m) => m.to === to)!;
const linkIn = (mail: AccountMail) => /(http\S+\/invite\?token=\S+)/.exec(mail.text)![1]!;

async function agencyWithOwner() {
  const { agency, adminKey } = await apiAgency(h);
  const owner = await person({ kind: 'agency', agencyId: agency.id }, 'owner');
  return { agency, adminKey, owner };
}

async function invite(headers: Record<string, string>, body: Record<string, unknown>) {
  return h.http.post('/v1/invitations').set(headers).send(body);
}

describe('first run', () => {
  test('npm start issues a setup link while nobody has an account; each start replaces the last', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      await migrateDatabase(db);
      const first = await setupLinkFor(db.db, 'http://localhost:3000/');
      expect(first).toMatch(/^http:\/\/localhost:3000\/setup\?token=[A-Za-z0-9_-]{40,}$/);
      const second = (await setupLinkFor(db.db, 'http://localhost:3000'))!;
      expect(await peekOneTimeToken(db.db, 'setup', tokenOf(first!))).toBeUndefined();
      expect(await peekOneTimeToken(db.db, 'setup', tokenOf(second))).toBeDefined();
      await createUser(db.db, { email: 'someone@example.com', displayName: 'Someone' });
      expect(await setupLinkFor(db.db, 'http://localhost:3000')).toBeNull();
    } finally {
      await db.close();
    }
  }, 150_000); // a fresh PGlite runs every migration

  test('the setup link creates the agency, its owner and the operator, signs them in, and works once', async () => {
    const { secret } = await issueOneTimeToken(h.database.db, { purpose: 'setup' });
    expect((await h.http.get(`/v1/setup/${secret}`)).body).toEqual({ valid: true });
    const who = email();
    const body = {
      token: secret,
      agencyName: unique('First agency'),
      email: who,
      displayName: 'Ada',
      password: PASSWORD,
    };

    // bad input: 400 naming the field, nothing stored, the link still works
    const weak = await h.http.post('/v1/setup').send({ ...body, password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.errors).toEqual([expect.objectContaining({ path: 'password' })]);
    const missing = await h.http.post('/v1/setup').send({ ...body, email: 'not an email' });
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([expect.objectContaining({ path: 'email' })]);
    expect(await h.database.db.select().from(users).where(eq(users.email, who))).toEqual([]);

    // two uses at once: one wins
    const both = await Promise.all([h.http.post('/v1/setup').send(body), h.http.post('/v1/setup').send(body)]);
    expect(both.map((r) => r.status).sort()).toEqual([201, 404]);
    const won = both.find((r) => r.status === 201)!;
    expect(won.body).toMatchObject({
      user: { email: who, displayName: 'Ada' },
      organisation: { kind: 'agency', role: 'owner', agency: { name: body.agencyName } },
    });
    const [user] = await h.database.db.select().from(users).where(eq(users.email, who));
    expect(user!.passwordHash).toMatch(/^\$argon2id\$/);
    const roles = await h.database.db.select().from(memberships).where(eq(memberships.userId, user!.id));
    expect(roles.map((m) => `${m.orgKind}:${m.role}`).sort()).toEqual(['agency:owner', 'platform:operator']);
    // the agency's admin key is the owner's now
    const agencyId = won.body.organisation.agency.id as string;
    const keys = await h.database.db.select().from(apiKeys).where(eq(apiKeys.agencyId, agencyId));
    expect(keys.map((k) => k.createdByUserId)).toEqual([user!.id]);
    // signed in: the cookie opens the console's routes
    const headers = signedInAs(won);
    const members = await h.http.get('/v1/members').set(headers);
    expect(members.status).toBe(200);
    expect(members.body.members).toEqual([expect.objectContaining({ email: who, role: 'owner', twoFactor: false })]);

    // reused: 404, and the GET says so too
    expect((await h.http.post('/v1/setup').send(body)).status).toBe(404);
    expect((await h.http.get(`/v1/setup/${secret}`)).status).toBe(404);
  });

  test('an operator session creates agencies as the root token does', async () => {
    const operator = await person({ kind: 'platform' }, 'operator');
    const res = await h.http
      .post('/v1/agencies')
      .set(operator.headers)
      .send({ name: unique('by operator') });
    expect(res.status).toBe(201);
    expect(res.body.adminKey).toMatch(/^lw_admin_/);
    // … and seats the new agency's first owner by invitation
    const inv = await invite(operator.headers, { email: email(), role: 'owner', agencyId: res.body.agency.id });
    expect(inv.status).toBe(201);
    expect(inv.body).toMatchObject({ role: 'owner', org: { kind: 'agency', agencyId: res.body.agency.id } });
  });
});

describe('invitations', () => {
  test('an owner invites; the emailed link signs the new member in once; the answer never carries it', async () => {
    const { agency, owner } = await agencyWithOwner();
    const who = email();
    const res = await invite(owner.headers, { email: who, role: 'dispatcher' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: who, role: 'dispatcher', emailed: true, org: { agencyId: agency.id } });
    expect(res.body.link).toBeUndefined();
    const link = linkIn(lastMailTo(who));
    expect(JSON.stringify(res.body)).not.toContain(tokenOf(link));
    expect(link.startsWith(`${h.main.baseUrl}/invite?token=`)).toBe(true);

    const pending = await h.http.get('/v1/invitations').set(owner.headers);
    expect(pending.body.invitations).toEqual([expect.objectContaining({ id: res.body.id, email: who })]);

    const preview = await h.http.get(`/v1/invitations/accept/${tokenOf(link)}`);
    expect(preview.body).toMatchObject({
      email: who,
      role: 'dispatcher',
      org: { kind: 'agency', name: agency.name },
      invitedBy: owner.user.displayName,
      userExists: false,
    });

    const noName = await h.http.post('/v1/invitations/accept').send({ token: tokenOf(link), password: PASSWORD });
    expect(noName.status).toBe(400);
    expect(noName.body.errors).toEqual([expect.objectContaining({ path: 'displayName' })]);
    const accepted = await h.http
      .post('/v1/invitations/accept')
      .send({ token: tokenOf(link), displayName: 'Dee', password: PASSWORD });
    expect(accepted.status).toBe(201);
    expect(accepted.body.organisation).toMatchObject({ kind: 'agency', role: 'dispatcher' });
    const headers = signedInAs(accepted);
    // a dispatcher is signed in (and manages no team)
    expect((await h.http.get('/v1/me').set(headers)).body).toMatchObject({ kind: 'admin' });
    expect((await h.http.get('/v1/members').set(headers)).status).toBe(403);

    // reused
    const again = await h.http
      .post('/v1/invitations/accept')
      .send({ token: tokenOf(link), displayName: 'Eve', password: PASSWORD });
    expect(again.status).toBe(404);
    expect((await h.http.get(`/v1/invitations/accept/${tokenOf(link)}`)).status).toBe(404);
    expect((await h.http.get('/v1/invitations').set(owner.headers)).body.invitations).toEqual([]);
  });

  test('an expired or revoked invitation is refused', async () => {
    const { owner } = await agencyWithOwner();
    const who = email();
    const res = await invite(owner.headers, { email: who, role: 'analyst' });
    const token = tokenOf(linkIn(lastMailTo(who)));
    await h.database.db
      .update(oneTimeTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(oneTimeTokens.id, res.body.id));
    expect((await h.http.get(`/v1/invitations/accept/${token}`)).status).toBe(404);
    const late = await h.http.post('/v1/invitations/accept').send({ token, displayName: 'Late', password: PASSWORD });
    expect(late.status).toBe(404);

    const other = email();
    const second = await invite(owner.headers, { email: other, role: 'analyst' });
    const token2 = tokenOf(linkIn(lastMailTo(other)));
    expect((await h.http.post(`/v1/invitations/${second.body.id}/revoke`).set(owner.headers)).status).toBe(200);
    const revoked = await h.http
      .post('/v1/invitations/accept')
      .send({ token: token2, displayName: 'Rev', password: PASSWORD });
    expect(revoked.status).toBe(404);
  });

  test('escalation: never above the inviter, a member cannot invite, another agency’s buyer is 404', async () => {
    const { agency, adminKey, owner } = await agencyWithOwner();
    const admin = await person({ kind: 'agency', agencyId: agency.id }, 'admin');
    const dispatcher = await person({ kind: 'agency', agencyId: agency.id }, 'dispatcher');
    const above = await invite(admin.headers, { email: email(), role: 'owner' });
    expect(above.status).toBe(403);
    expect(above.body.code).toBe('role_above_yours');
    expect((await invite(admin.headers, { email: email(), role: 'admin' })).status).toBe(201);
    expect((await invite(dispatcher.headers, { email: email(), role: 'analyst' })).status).toBe(403);
    // a role of another kind of organisation: 400 naming it
    const wrongKind = await invite(owner.headers, { email: email(), role: 'member' });
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.body.errors).toEqual([expect.objectContaining({ path: 'role' })]);

    const { buyer } = await apiBuyer(h, adminKey);
    const buyerOwner = await person({ kind: 'buyer', agencyId: agency.id, buyerId: buyer.id }, 'owner');
    const buyerMember = await person({ kind: 'buyer', agencyId: agency.id, buyerId: buyer.id }, 'member');
    expect((await invite(buyerOwner.headers, { email: email(), role: 'member' })).status).toBe(201);
    expect((await invite(buyerMember.headers, { email: email(), role: 'member' })).status).toBe(403);
    expect((await invite(buyerOwner.headers, { email: email(), role: 'admin' })).status).toBe(400);
    // the agency's admin invites into its buyer, with the buyer's roles
    const intoBuyer = await invite(admin.headers, { email: email(), role: 'owner', buyerId: buyer.id });
    expect(intoBuyer.status).toBe(201);
    expect(intoBuyer.body.org).toMatchObject({ kind: 'buyer', buyerId: buyer.id, name: buyer.name });

    const elsewhere = await agencyWithOwner();
    const theirs = await invite(elsewhere.owner.headers, { email: email(), role: 'member', buyerId: buyer.id });
    expect(theirs.status).toBe(404);
    // nor can they revoke or list ours
    expect((await h.http.post(`/v1/invitations/${intoBuyer.body.id}/revoke`).set(elsewhere.owner.headers)).status).toBe(
      404,
    );
    expect((await h.http.get(`/v1/members?buyerId=${buyer.id}`).set(elsewhere.owner.headers)).status).toBe(404);
  });

  test('an existing account joins only as itself: signed in as that email, or with its password', async () => {
    const { owner } = await agencyWithOwner();
    const existing = await createUser(h.database.db, {
      email: email(),
      displayName: 'Existing',
      passwordHash: await hashPassword(PASSWORD),
    });
    await invite(owner.headers, { email: existing.email, role: 'analyst' });
    const token = tokenOf(linkIn(lastMailTo(existing.email)));
    expect((await h.http.get(`/v1/invitations/accept/${token}`)).body.userExists).toBe(true);
    const stranger = await h.http
      .post('/v1/invitations/accept')
      .send({ token, displayName: 'Mallory', password: 'a guess of twelve+' });
    expect(stranger.status).toBe(403);
    const someoneElse = await person({ kind: 'platform' }, 'operator');
    expect((await h.http.post('/v1/invitations/accept').set(someoneElse.headers).send({ token })).status).toBe(403);
    const ok = await h.http.post('/v1/invitations/accept').send({ token, password: PASSWORD });
    expect(ok.status).toBe(201);
    expect(ok.body.user).toMatchObject({ id: existing.id, displayName: 'Existing' });
  });

  test('without SMTP the answer carries the link so the inviter can pass it on', async () => {
    const instance = await h.startInstance({
      mailer: { configured: false, send: () => Promise.reject(new Error('no')) },
    });
    const { owner } = await agencyWithOwner();
    const headers = { ...owner.headers, Origin: instance.baseUrl };
    const res = await instance.http.post('/v1/invitations').set(headers).send({ email: email(), role: 'analyst' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ emailed: false, link: expect.stringMatching(/\/invite\?token=/) });
    expect((await instance.http.get(`/v1/invitations/accept/${tokenOf(res.body.link)}`)).status).toBe(200);
  });
});

describe('teams', () => {
  test('nobody changes their own role; never above one’s own; only owners make or demote owners', async () => {
    const { agency, owner } = await agencyWithOwner();
    const admin = await person({ kind: 'agency', agencyId: agency.id }, 'admin');
    const analyst = await person({ kind: 'agency', agencyId: agency.id }, 'analyst');
    const patch = (as: Record<string, string>, id: string, role: string) =>
      h.http.patch(`/v1/members/${id}`).set(as).send({ role });

    const own = await patch(admin.headers, admin.membership.id, 'owner');
    expect([own.status, own.body.code]).toEqual([403, 'own_role']);
    expect((await patch(owner.headers, owner.membership.id, 'admin')).body.code).toBe('own_role');
    expect((await patch(admin.headers, analyst.membership.id, 'owner')).body.code).toBe('role_above_yours');
    expect((await patch(admin.headers, owner.membership.id, 'analyst')).body.code).toBe('role_above_yours');
    expect((await patch(analyst.headers, admin.membership.id, 'analyst')).status).toBe(403);
    const promoted = await patch(admin.headers, analyst.membership.id, 'dispatcher');
    expect(promoted.status).toBe(200);
    expect(promoted.body.member).toMatchObject({ membershipId: analyst.membership.id, role: 'dispatcher' });
    expect((await patch(owner.headers, analyst.membership.id, 'member')).status).toBe(400);
    // an owner makes owners
    expect((await patch(owner.headers, admin.membership.id, 'owner')).status).toBe(200);
    // two owners now: one may step the other down; the last one cannot be demoted or removed
    expect((await patch(admin.headers, owner.membership.id, 'admin')).status).toBe(200);
    const last = await h.http.post(`/v1/members/${admin.membership.id}/remove`).set(owner.headers);
    expect(last.status).toBe(403); // the ex-owner is an admin now: owners are beyond them
    const lastOwner = await h.http.post(`/v1/members/${admin.membership.id}/remove`).set(admin.headers);
    expect([lastOwner.status, lastOwner.body.code]).toEqual([409, 'last_owner']);
  });

  test('transfer of ownership: the new owner in, the old one steps down to admin', async () => {
    const { agency, owner } = await agencyWithOwner();
    const admin = await person({ kind: 'agency', agencyId: agency.id }, 'admin');
    const byAdmin = await h.http
      .post('/v1/members/transfer-ownership')
      .set(admin.headers)
      .send({ membershipId: admin.membership.id });
    expect(byAdmin.status).toBe(403);
    const res = await h.http
      .post('/v1/members/transfer-ownership')
      .set(owner.headers)
      .send({ membershipId: admin.membership.id });
    expect(res.status).toBe(200);
    const members = (await h.http.get('/v1/members').set(admin.headers)).body.members as {
      role: string;
      userId: string;
    }[];
    expect(Object.fromEntries(members.map((m) => [m.userId, m.role]))).toEqual({
      [owner.user.id]: 'admin',
      [admin.user.id]: 'owner',
    });
  });

  test('two owners removing each other at once leave one owner', async () => {
    for (let round = 0; round < 3; round++) {
      const { agency, owner: a } = await agencyWithOwner();
      const b = await person({ kind: 'agency', agencyId: agency.id }, 'owner');
      const [ab, ba] = await Promise.all([
        h.http.post(`/v1/members/${b.membership.id}/remove`).set(a.headers),
        h.http.post(`/v1/members/${a.membership.id}/remove`).set(b.headers),
      ]);
      expect([ab.status, ba.status].sort()).toEqual([200, 403]);
      const left = await h.database.db.select().from(memberships).where(eq(memberships.agencyId, agency.id));
      expect(left.map((m) => m.role)).toEqual(['owner']);
    }
  });

  test('a removed member’s session is refused at once and their feed socket closes', async () => {
    const { agency, adminKey } = await agencyWithOwner();
    const { buyer } = await apiBuyer(h, adminKey);
    const org: Org = { kind: 'buyer', agencyId: agency.id, buyerId: buyer.id };
    const buyerOwner = await person(org, 'owner');
    const member = await person(org, 'member');
    expect((await h.http.get('/v1/me').set(member.headers)).status).toBe(200);

    const ws = new WebSocket(h.main.wsUrl, { headers: { Cookie: member.headers.Cookie!, Origin: h.main.baseUrl } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    // the buyer's owner sees the team; a member may not remove
    const team = await h.http.get('/v1/members').set(buyerOwner.headers);
    expect(team.body.members.map((m: { role: string }) => m.role)).toEqual(['owner', 'member']);
    expect((await h.http.post(`/v1/members/${buyerOwner.membership.id}/remove`).set(member.headers)).status).toBe(403);

    const removed = await h.http.post(`/v1/members/${member.membership.id}/remove`).set(buyerOwner.headers);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ removed: member.membership.id, endedSessions: 1 });
    expect((await h.http.get('/v1/me').set(member.headers)).status).toBe(401);
    const [row] = await h.database.db.select().from(sessions).where(eq(sessions.id, member.session.id));
    expect(row!.revokedAt).not.toBeNull();
    expect(typeof (await closed)).toBe('number');
  });

  test('an agency admin sees and manages its buyer’s team; another agency sees nothing', async () => {
    const { agency, adminKey } = await agencyWithOwner();
    const admin = await person({ kind: 'agency', agencyId: agency.id }, 'admin');
    const { buyer } = await apiBuyer(h, adminKey);
    const org: Org = { kind: 'buyer', agencyId: agency.id, buyerId: buyer.id };
    const o1 = await person(org, 'owner');
    const m1 = await person(org, 'member');
    const list = await h.http.get(`/v1/members?buyerId=${buyer.id}`).set(admin.headers);
    expect(list.body.members.map((m: { userId: string }) => m.userId)).toEqual([o1.user.id, m1.user.id]);
    expect(
      (await h.http.patch(`/v1/members/${m1.membership.id}`).set(admin.headers).send({ role: 'owner' })).status,
    ).toBe(200);
    const elsewhere = await agencyWithOwner();
    expect(
      (await h.http.patch(`/v1/members/${m1.membership.id}`).set(elsewhere.owner.headers).send({ role: 'member' }))
        .status,
    ).toBe(404);
    // a key of the agency (admin scope) reads the team too
    expect((await h.http.get('/v1/members').set(bearer(adminKey))).status).toBe(200);
    expect((await h.http.get('/v1/members').set(bearer(ROOT_TOKEN))).status).toBe(200);
  });
});

test("docs/accounts.md's invitation example works as written", async () => {
  const { adminKey } = await apiAgency(h);
  const res = await h.http
    .post('/v1/invitations')
    .set(bearer(adminKey))
    .send(docCurlBody('docs/accounts.md', '/v1/invitations"'));
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ email: 'dee@example.com', role: 'dispatcher', emailed: true });
});
