/**
 * A signed-in person's own account (#20): their display name, their password,
 * their sessions (the list with device and last use, ending one, signing out
 * everywhere). Session routes only – a key cannot call them.
 *
 * Changing the password needs the current one (when there is one); a wrong
 * current password counts as a wrong sign-in guess, so a stolen cookie cannot
 * be used to try passwords faster than the sign-in form allows. The change
 * ends every other session and every unused reset link; this one continues.
 */
import {
  liveSessionsOf,
  replacePassword,
  revokeSessionOf,
  revokeUserSessions,
  setDisplayName,
} from '../../db/accounts';
import { deviceLabel } from '../../lib/device';
import { hashPassword, passwordProblem, verifyPassword } from '../../lib/passwords';
import { notFound } from '../problem';
import { type AnyRoute, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams } from '../schemas';
import { clearSessionCookie } from '../sessions';
import { invalidField } from '../validate';
import { AccountPatchBody, PasswordChangeBody, Responses } from './account.schemas';
import { countWrongGuess, refuseRightGuessOverLimit, userView } from './session';

const SESSION_ERRORS = {
  401: { description: 'not signed in (`unauthorized`), or the second factor is still owed (`second_factor_required`)' },
  403: {
    description:
      'an API key cannot call it (`session_required`); a cookie request from another site or without the CSRF token (`cross_site_request`, `csrf_token_invalid`)',
  },
};

export const accountRoutes: AnyRoute[] = [
  route({
    method: 'patch',
    path: '/v1/account',
    operationId: 'updateAccount',
    tag: 'Accounts',
    summary: 'Change my display name',
    session: 'full',
    body: AccountPatchBody,
    responses: { 200: { description: 'the person', schema: Responses.User }, ...BODY_ERRORS, ...SESSION_ERRORS },
    async handler({ body, signedIn, services }) {
      const user = await setDisplayName(services.db, signedIn!.user.id, body.displayName);
      return { status: 200, body: userView(user) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/password',
    operationId: 'changePassword',
    tag: 'Accounts',
    summary: 'Change (or set) my password',
    description:
      '`currentPassword` is required when the person has a password; a wrong one answers 400 naming it and counts as ' +
      'a wrong sign-in guess (429 once over the limit). The new password must meet the policy (400 naming ' +
      '`newPassword`). Every other session ends; this one continues.',
    session: 'full',
    body: PasswordChangeBody,
    responses: {
      204: { description: 'changed' },
      ...BODY_ERRORS,
      ...SESSION_ERRORS,
      429: { description: 'too many wrong guesses (`rate_limited`)' },
    },
    async handler({ body, signedIn, req, services }) {
      const { user, session } = signedIn!;
      const problem = passwordProblem(body.newPassword, user.email);
      if (problem) throw invalidField('newPassword', problem);
      if (user.passwordHash) {
        if (body.currentPassword === undefined) throw invalidField('currentPassword', 'Give your current password.');
        if (!(await verifyPassword(user.passwordHash, body.currentPassword))) {
          await countWrongGuess(services, req, user.email);
          throw invalidField('currentPassword', 'This is not your current password.');
        }
        await refuseRightGuessOverLimit(services, req, user.email);
      }
      const passwordHash = await hashPassword(body.newPassword);
      await replacePassword(services.db, { userId: user.id, passwordHash, keepSessionId: session.id });
      return { status: 204 };
    },
  }),

  route({
    method: 'get',
    path: '/v1/account/sessions',
    operationId: 'listMySessions',
    tag: 'Accounts',
    summary: 'My live sessions, with device and last use',
    session: 'full',
    responses: { 200: { description: 'the live sessions', schema: Responses.Sessions }, ...SESSION_ERRORS },
    async handler({ signedIn, services }) {
      const rows = await liveSessionsOf(services.db, signedIn!.user.id);
      return {
        status: 200,
        body: {
          sessions: rows.map((s) => ({
            id: s.id,
            current: s.id === signedIn!.session.id,
            method: s.method,
            device: deviceLabel(s.userAgent),
            ip: s.ip,
            createdAt: s.createdAt.toISOString(),
            lastUsedAt: s.lastUsedAt.toISOString(),
            expiresAt: s.expiresAt.toISOString(),
          })),
        },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/sessions/:id/revoke',
    operationId: 'revokeMySession',
    tag: 'Accounts',
    summary: 'End one of my sessions',
    description: 'Ending the current session also clears its cookie. Another person’s session is a 404.',
    session: 'full',
    params: IdParams,
    responses: { 204: { description: 'ended' }, ...SESSION_ERRORS, ...NOT_FOUND },
    async handler({ params, signedIn, req, res, services }) {
      if (!(await revokeSessionOf(services.db, signedIn!.user.id, params.id))) throw notFound('session');
      if (params.id === signedIn!.session.id) clearSessionCookie(req, res);
      return { status: 204 };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/sign-out-everywhere',
    operationId: 'signOutEverywhere',
    tag: 'Accounts',
    summary: 'End every one of my sessions, this one included',
    session: 'full',
    responses: { 204: { description: 'signed out everywhere' }, ...SESSION_ERRORS },
    async handler({ signedIn, req, res, services }) {
      await revokeUserSessions(services.db, signedIn!.user.id);
      clearSessionCookie(req, res);
      return { status: 204 };
    },
  }),
];
