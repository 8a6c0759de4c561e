/**
 * The account calls the sign-in page and the account page make (#20: sign-in
 * links, password reset, the account and its sessions), through the typed
 * client like every other call: a path or body the contract does not have
 * fails the typecheck.
 */
import { Api, ok } from './api';
import type { SessionView } from './types';

/** Before signing in there is no session: a plain client (no CSRF token, no "session ended" note). */
const anonymous = () => new Api();

export const accountApi = {
  /** 202 whether or not the address has an account. */
  requestSignInLink: (email: string) => ok(anonymous().client.POST('/v1/auth/sign-in-link', { body: { email } })),
  /** The session (cookie set). */
  completeSignInLink: (token: string): Promise<SessionView> =>
    ok(anonymous().client.POST('/v1/auth/sign-in-link/complete', { body: { token } })),
  /** 202 whether or not the address has an account. */
  requestPasswordReset: (email: string) => ok(anonymous().client.POST('/v1/auth/password-reset', { body: { email } })),
  completePasswordReset: (token: string, password: string) =>
    ok(anonymous().client.POST('/v1/auth/password-reset/complete', { body: { token, password } })),

  updateAccount: (api: Api, displayName: string) => ok(api.client.PATCH('/v1/account', { body: { displayName } })),
  changePassword: (api: Api, currentPassword: string, newPassword: string) =>
    ok(api.client.POST('/v1/account/password', { body: { currentPassword, newPassword } })),
  sessions: (api: Api) => ok(api.client.GET('/v1/account/sessions')),
  revokeSession: (api: Api, id: string) =>
    ok(api.client.POST('/v1/account/sessions/{id}/revoke', { params: { path: { id } } })),
  signOutEverywhere: (api: Api) => ok(api.client.POST('/v1/account/sign-out-everywhere')),
};
