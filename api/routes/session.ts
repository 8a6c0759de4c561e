/**
 * Signing in and the session (#20): a password sign-in, the session view the
 * pages start from (with its CSRF token), choosing the organisation to act
 * in, signing out. Every way in ends in api/sessions.ts `startSession`.
 *
 * A wrong email and a wrong password get the same answer after the same work
 * (an unknown email is verified against a dummy hash: lib/passwords.ts).
 * Wrong guesses are limited per address and per account; a right password is
 * never refused by those limits.
 */
import {
  membershipsNamed,
  revokeSession,
  secondFactorsOf,
  setSessionMembership,
  userByEmail,
  type UserRow,
} from '../../db/accounts';
import type { DbOrTx } from '../../db/connection';
import { verifyNothing, verifyPassword } from '../../lib/passwords';
import { rateLimited } from '../auth';
import { notFound, Problem } from '../problem';
import { type AnyRoute, BODY_ERRORS, route } from '../route';
import { clearSessionCookie, type SignedIn, startSession } from '../sessions';
import { ChooseOrganisationBody, Responses, SignInBody } from './session.schemas';

/** The session as the pages see it. */
export async function sessionView(db: DbOrTx, s: Pick<SignedIn, 'session' | 'user'>) {
  const named = await membershipsNamed(db, s.user.id);
  const views = named.map((n) => ({
    id: n.membership.id,
    kind: n.membership.orgKind,
    role: n.membership.role,
    agency: n.agency,
    buyer: n.buyer,
    source: n.source,
  }));
  return {
    stage: s.session.stage,
    secondFactors: s.session.stage === 'full' ? [] : await secondFactorsOf(db, s.user),
    csrfToken: s.session.csrfToken,
    user: userView(s.user),
    organisation: views.find((v) => v.id === s.session.membershipId) ?? null,
    memberships: views,
  };
}

export const userView = (u: UserRow) => ({
  id: u.id,
  email: u.email,
  displayName: u.displayName,
  createdAt: u.createdAt.toISOString(),
});

const SESSION_ERRORS = {
  401: { description: 'not signed in (`unauthorized`)' },
};

export const sessionRoutes: AnyRoute[] = [
  route({
    method: 'post',
    path: '/v1/auth/sign-in',
    operationId: 'signIn',
    tag: 'Accounts',
    summary: 'Sign in with email and password: sets the session cookie',
    description:
      'A right password starts a session (a fresh id: any session the browser had ends). When the person has a second ' +
      'factor the session starts at `stage: second_factor` and can do nothing but finish it. A wrong email or password ' +
      'answers 401 `invalid_credentials` either way; too many wrong guesses from one address or at one account answer 429.',
    roles: [],
    body: SignInBody,
    responses: {
      200: { description: 'signed in (or a second factor is owed)', schema: Responses.Session },
      ...BODY_ERRORS,
      401: { description: 'wrong email or password (`invalid_credentials`)' },
      429: { description: 'too many wrong guesses (`rate_limited`)' },
    },
    async handler({ body, req, res, services }) {
      const db = services.db;
      const user = await userByEmail(db, body.email);
      const right =
        user?.passwordHash && !user.disabledAt
          ? await verifyPassword(user.passwordHash, body.password)
          : await verifyNothing(body.password);
      const ip = services.clientIp(req);
      if (!right || !user) {
        const waits = await Promise.all([
          services.signInFailures.acquire(`ip:${ip}`),
          services.signInFailures.acquire(`account:${body.email.trim().toLowerCase()}`),
        ]);
        const wait = Math.max(...waits);
        if (wait > 0) throw rateLimited(wait, 'Too many wrong sign-in attempts: wait, or ask for a sign-in link.');
        throw new Problem(401, 'invalid_credentials', 'The email or the password is wrong.');
      }
      const factors = await secondFactorsOf(db, user);
      const named = await membershipsNamed(db, user.id);
      const session = await startSession(db, req, res, {
        user,
        membershipId: named[0]?.membership.id ?? null,
        method: 'password',
        stage: factors.length ? 'second_factor' : 'full',
        ip,
      });
      return { status: 200, body: await sessionView(db, { session, user }) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/session',
    operationId: 'getSession',
    tag: 'Accounts',
    summary: 'The signed-in person, the organisation the session acts in, and the CSRF token',
    roles: [],
    session: 'any',
    responses: { 200: { description: 'the session', schema: Responses.Session }, ...SESSION_ERRORS },
    async handler({ signedIn, services }) {
      return { status: 200, body: await sessionView(services.db, signedIn!) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/session/organisation',
    operationId: 'chooseOrganisation',
    tag: 'Accounts',
    summary: 'Act in another of my organisations',
    roles: [],
    session: 'full',
    body: ChooseOrganisationBody,
    responses: {
      200: { description: 'the session, acting in that organisation', schema: Responses.Session },
      ...BODY_ERRORS,
      ...SESSION_ERRORS,
      404: { description: 'not one of my memberships (`not_found`)' },
    },
    async handler({ body, signedIn, services }) {
      const s = signedIn!;
      const mine = await membershipsNamed(services.db, s.user.id);
      if (!mine.some((m) => m.membership.id === body.membershipId)) throw notFound('membership');
      await setSessionMembership(services.db, s.session.id, body.membershipId);
      return {
        status: 200,
        body: await sessionView(services.db, {
          user: s.user,
          session: { ...s.session, membershipId: body.membershipId },
        }),
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/auth/sign-out',
    operationId: 'signOut',
    tag: 'Accounts',
    summary: 'Sign out: ends this session and clears its cookie',
    roles: [],
    session: 'any',
    responses: { 204: { description: 'signed out' }, ...SESSION_ERRORS },
    async handler({ signedIn, req, res, services }) {
      await revokeSession(services.db, signedIn!.session.id);
      clearSessionCookie(req, res);
      return { status: 204 };
    },
  }),
];
