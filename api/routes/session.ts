/**
 * Signing in and the session (#20): a password sign-in, a sign-in link by
 * email, a password reset by email, the session view the pages start from
 * (with its CSRF token), choosing the organisation to act in, signing out.
 * Every way in ends in api/sessions.ts `startSession`.
 *
 * A wrong email and a wrong password get the same answer after the same work
 * (an unknown email is verified against a dummy hash: lib/passwords.ts); a
 * link or reset request gets the same 202 whether or not the address has an
 * account, and the email leaves in the background.
 *
 * Wrong guesses are limited per address and per account. Once either is over
 * its limit, a right password is let through only to a person with a second
 * factor (who must still give it); without one the answer is the same 429 a
 * wrong guess gets, so the limit reveals nothing – and the emailed sign-in
 * link still works, so an attacker's guessing cannot lock the person out.
 */
import type http from 'node:http';

import type { Request } from 'express';

import {
  consumeOneTimeToken,
  issueOneTimeToken,
  markEmailVerified,
  membershipsNamed,
  newSecret,
  oneTimeTokensSince,
  peekOneTimeToken,
  replacePassword,
  revokeSession,
  setSessionMembership,
  userByEmail,
  userById,
  type UserRow,
} from '../../db/accounts';
import type { DbOrTx } from '../../db/connection';
import { secondFactorsOf } from '../../db/two-factor';
import { normaliseEmail, ONE_TIME_TTL_MS } from '../../domain/accounts';
import { hashPassword, passwordProblem, verifyNothing, verifyPassword } from '../../lib/passwords';
import { accountLink, mailInBackground } from '../account-mail';
import { rateLimited } from '../auth';
import { notFound, Problem } from '../problem';
import { type AnyRoute, BODY_ERRORS, route } from '../route';
import type { ApiServices } from '../services';
import { clearSessionCookie, type SignedIn, startSession } from '../sessions';
import { invalidField } from '../validate';
import {
  ChooseOrganisationBody,
  EmailBody,
  LinkCompleteBody,
  ResetCompleteBody,
  Responses,
  SignInBody,
} from './session.schemas';

// ─── wrong guesses ───────────────────────────────────────────────────────────

const guessKeys = (services: ApiServices, req: http.IncomingMessage, email: string) => [
  `ip:${services.clientIp(req)}`,
  `account:${normaliseEmail(email)}`,
];
const TOO_MANY_GUESSES = 'Too many wrong sign-in attempts: wait, or ask for a sign-in link.';

/** Counts a wrong password (at sign-in, or as the current password of a change); throws 429 once over a limit. */
export async function countWrongGuess(services: ApiServices, req: http.IncomingMessage, email: string): Promise<void> {
  const waits = await Promise.all(guessKeys(services, req, email).map((k) => services.signInFailures.acquire(k)));
  const wait = Math.max(...waits);
  if (wait > 0) throw rateLimited(wait, TOO_MANY_GUESSES);
}

/** A right password while the address or the account is over its limit: the same 429 a wrong guess gets. */
export async function refuseRightGuessOverLimit(
  services: ApiServices,
  req: http.IncomingMessage,
  email: string,
): Promise<void> {
  const waits = await Promise.all(guessKeys(services, req, email).map((k) => services.signInFailures.peek(k)));
  const wait = Math.max(...waits);
  if (wait > 0) throw rateLimited(wait, TOO_MANY_GUESSES);
}

// ─── emailed links ───────────────────────────────────────────────────────────

/** At most this many links of one kind to one person per window (the answer stays 202). */
const LINK_CAP = 5;
const LINK_CAP_WINDOW_MS = 15 * 60_000;

const LINK_MAIL: Record<'sign_in_link' | 'password_reset', { path: string; subject: string; text: string }> = {
  sign_in_link: {
    path: 'sign-in/link',
    subject: 'Your Leadwire sign-in link',
    text: 'Open this link to sign in to Leadwire',
  },
  password_reset: {
    path: 'reset-password',
    subject: 'Reset your Leadwire password',
    text: 'Open this link to choose a new Leadwire password',
  },
};

/**
 * Emails a one-time link to the address if it has an (enabled) account;
 * otherwise does comparable database work (a token lookup) and sends nothing.
 * The caller answers 202 either way.
 */
async function emailLink(
  services: ApiServices,
  req: Request,
  email: string,
  purpose: 'sign_in_link' | 'password_reset',
): Promise<void> {
  const db = services.db;
  const user = await userByEmail(db, email);
  const mail = LINK_MAIL[purpose];
  const link = (secret: string) => accountLink(services.publicUrl, req, mail.path, { token: secret });
  const linkable = link('') !== null;
  if (!user || user.disabledAt || !linkable) {
    await peekOneTimeToken(db, purpose, newSecret().secret);
    if (user && !user.disabledAt)
      services.logger.warn('[api] an account email was not sent: set LW_PUBLIC_URL (the request was not to localhost)');
    return;
  }
  // Nobody floods an inbox through us: past the cap, the answer is the same and nothing is sent.
  const since = new Date(Date.now() - LINK_CAP_WINDOW_MS);
  if ((await oneTimeTokensSince(db, user.id, purpose, since)) >= LINK_CAP) return;
  const { secret } = await issueOneTimeToken(db, { purpose, userId: user.id, email: user.email });
  const minutes = Math.round(ONE_TIME_TTL_MS[purpose] / 60_000);
  mailInBackground(services.mailer, services.logger, {
    to: user.email,
    subject: mail.subject,
    text:
      `${mail.text} (it works once, for ${minutes} minutes):\n\n${link(secret)}\n\n` +
      `If you did not ask for it, ignore this email: nothing changes.\n`,
  });
}

const linkInvalid = () =>
  new Problem(400, 'link_invalid', 'This link is invalid, has expired or was already used: ask for a new one.');

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
  403: { description: 'an API key was sent: this route is for a signed-in person (`session_required`)' },
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
      'answers 401 `invalid_credentials` either way; too many wrong guesses from one address or at one account answer 429. ' +
      'Over that limit a right password still starts a session for a person with a second factor (who must give it); ' +
      'for anyone else it answers the same 429 – the emailed sign-in link still works.',
    body: SignInBody,
    responses: {
      200: {
        description: 'signed in (or a second factor is owed)',
        schema: Responses.Session,
        headers: ['Set-Cookie'],
      },
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
        await countWrongGuess(services, req, body.email);
        throw new Problem(401, 'invalid_credentials', 'The email or the password is wrong.');
      }
      const factors = await secondFactorsOf(db, user);
      // Over a limit, only a person who still has to give a second factor gets further.
      if (!factors.length) await refuseRightGuessOverLimit(services, req, body.email);
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
    method: 'post',
    path: '/v1/auth/sign-in-link',
    operationId: 'requestSignInLink',
    tag: 'Accounts',
    summary: 'Email me a sign-in link',
    description:
      'Emails `<LW_PUBLIC_URL>/sign-in/link?token=…` (15 minutes, once) when the address has an account. The answer is ' +
      'the same 202 either way. The link works even while wrong password guesses have the account limited.',
    body: EmailBody,
    responses: { 202: { description: 'accepted', schema: Responses.Accepted }, ...BODY_ERRORS },
    async handler({ body, req, services }) {
      await emailLink(services, req, body.email, 'sign_in_link');
      return { status: 202, body: {} };
    },
  }),

  route({
    method: 'post',
    path: '/v1/auth/sign-in-link/complete',
    operationId: 'completeSignInLink',
    tag: 'Accounts',
    summary: 'Sign in with an emailed link: sets the session cookie',
    description:
      'Uses the link (once: of two concurrent uses exactly one wins). The link proves the inbox, not a second factor: ' +
      'a person who has one starts at `stage: second_factor`. An expired, used or unknown link answers 400 `link_invalid`.',
    body: LinkCompleteBody,
    responses: {
      200: {
        description: 'signed in (or a second factor is owed)',
        schema: Responses.Session,
        headers: ['Set-Cookie'],
      },
      ...BODY_ERRORS,
    },
    async handler({ body, req, res, services }) {
      const db = services.db;
      const token = await consumeOneTimeToken(db, 'sign_in_link', body.token);
      const user = token?.userId ? await userById(db, token.userId) : undefined;
      if (!user || user.disabledAt) throw linkInvalid();
      await markEmailVerified(db, user.id);
      const factors = await secondFactorsOf(db, user);
      const named = await membershipsNamed(db, user.id);
      const session = await startSession(db, req, res, {
        user,
        membershipId: named[0]?.membership.id ?? null,
        method: 'link',
        stage: factors.length ? 'second_factor' : 'full',
        ip: services.clientIp(req),
      });
      return { status: 200, body: await sessionView(db, { session, user }) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/auth/password-reset',
    operationId: 'requestPasswordReset',
    tag: 'Accounts',
    summary: 'Email me a password reset link',
    description:
      'Emails `<LW_PUBLIC_URL>/reset-password?token=…` (30 minutes, once) when the address has an account. The answer ' +
      'is the same 202 either way.',
    body: EmailBody,
    responses: { 202: { description: 'accepted', schema: Responses.Accepted }, ...BODY_ERRORS },
    async handler({ body, req, services }) {
      await emailLink(services, req, body.email, 'password_reset');
      return { status: 202, body: {} };
    },
  }),

  route({
    method: 'post',
    path: '/v1/auth/password-reset/complete',
    operationId: 'completePasswordReset',
    tag: 'Accounts',
    summary: 'Choose a new password with an emailed reset link',
    description:
      'The password must meet the policy (12+ characters, not a common one, not the email): else 400 naming `password` ' +
      'and the link still works. On success every session of the person ends and every older reset link stops working. ' +
      'An expired, used or unknown link answers 400 `link_invalid`.',
    body: ResetCompleteBody,
    responses: { 204: { description: 'the password is changed; sign in with it' }, ...BODY_ERRORS },
    async handler({ body, services }) {
      const db = services.db;
      const token = await peekOneTimeToken(db, 'password_reset', body.token);
      const user = token?.userId ? await userById(db, token.userId) : undefined;
      if (!user || user.disabledAt) throw linkInvalid();
      const problem = passwordProblem(body.password, user.email);
      if (problem) throw invalidField('password', problem);
      const passwordHash = await hashPassword(body.password);
      if (!(await replacePassword(db, { userId: user.id, passwordHash, resetSecret: body.token }))) throw linkInvalid();
      return { status: 204 };
    },
  }),

  route({
    method: 'get',
    path: '/v1/session',
    operationId: 'getSession',
    tag: 'Accounts',
    summary: 'The signed-in person, the organisation the session acts in, and the CSRF token',
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
    session: 'any',
    responses: { 204: { description: 'signed out', headers: ['Set-Cookie'] }, ...SESSION_ERRORS },
    async handler({ signedIn, req, res, services }) {
      await revokeSession(services.db, signedIn!.session.id);
      clearSessionCookie(req, res);
      return { status: 204 };
    },
  }),
];
