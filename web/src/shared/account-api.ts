/**
 * The account routes the pages call that are not in the generated client yet
 * (#20: sign-in links, password reset, the account page), hand-written here in
 * ONE place with exactly the paths and bodies the API is being built with.
 * When those routes land, `npm run client:generate` gives them types and these
 * functions become `api.client.POST('/v1/…')` calls; nothing else changes.
 */
import { Api, toApiError } from './api';
import type { SessionView } from './types';

export interface AccountSession {
  id: string;
  current: boolean;
  method: string;
  device: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
}

async function call<T>(api: Api, method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await api.fetch(
    new Request(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    }),
  );
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: the text is the message */
  }
  if (!res.ok) throw toApiError(res.status, parsed);
  return parsed as T;
}

/** Before signing in there is no session: a plain client (no CSRF token, no "session ended" note). */
const anonymous = () => new Api();

export const accountApi = {
  /** POST /v1/auth/sign-in-link {email} → 202 whether or not the address has an account. */
  requestSignInLink: (email: string) => call<unknown>(anonymous(), 'POST', '/v1/auth/sign-in-link', { email }),
  /** POST /v1/auth/sign-in-link/complete {token} → the session (cookie set). */
  completeSignInLink: (token: string) =>
    call<SessionView>(anonymous(), 'POST', '/v1/auth/sign-in-link/complete', { token }),
  /** POST /v1/auth/password-reset {email} → 202 whether or not the address has an account. */
  requestPasswordReset: (email: string) => call<unknown>(anonymous(), 'POST', '/v1/auth/password-reset', { email }),
  /** POST /v1/auth/password-reset/complete {token, password} → 204. */
  completePasswordReset: (token: string, password: string) =>
    call<unknown>(anonymous(), 'POST', '/v1/auth/password-reset/complete', { token, password }),

  /** PATCH /v1/account {displayName}. */
  updateAccount: (api: Api, displayName: string) =>
    call<{ user?: SessionView['user'] } | SessionView['user'] | null>(api, 'PATCH', '/v1/account', { displayName }),
  /** POST /v1/account/password {currentPassword, newPassword} → 204. */
  changePassword: (api: Api, currentPassword: string, newPassword: string) =>
    call<unknown>(api, 'POST', '/v1/account/password', { currentPassword, newPassword }),
  /** GET /v1/account/sessions. */
  sessions: (api: Api) => call<{ sessions: AccountSession[] }>(api, 'GET', '/v1/account/sessions'),
  /** POST /v1/account/sessions/:id/revoke. */
  revokeSession: (api: Api, id: string) =>
    call<unknown>(api, 'POST', `/v1/account/sessions/${encodeURIComponent(id)}/revoke`),
  /** POST /v1/account/sign-out-everywhere. */
  signOutEverywhere: (api: Api) => call<unknown>(api, 'POST', '/v1/account/sign-out-everywhere'),
};
