/**
 * Single sign-on for agencies (#20): an agency's OpenID Connect settings
 * (owners and admins), and the three public steps of a browser's sign-in –
 * which agency's SSO an email belongs to, the start (to the provider) and the
 * callback (back from it, to the console with a session). The conversation
 * with the provider is api/sso.ts; the storage db/sso.ts.
 */
import type { z } from 'zod';

import { domainsTakenElsewhere, saveSsoSettings, ssoForDomain, type SsoRow, ssoSettings } from '../../db/sso';
import { domainOfEmail } from '../../domain/sso';
import { Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, type Reply, type ResponseHeader, route } from '../route';
import { beginSignIn, finishSignIn, redirectUriOf, SIGNED_IN_PATH, signInErrorPath, SsoRefusal } from '../sso';
import {
  Responses,
  SsoCallbackQuery,
  SsoDiscover,
  SsoSettingsPut,
  type SsoSettingsView,
  SsoStartParams,
} from './sso.schemas';

/** The settings as the API shows them: everything but the client secret. */
function ssoView(row: SsoRow, publicUrl: string | null): z.infer<typeof SsoSettingsView> {
  return {
    issuer: row.issuer,
    clientId: row.clientId,
    clientSecretSet: true,
    allowedDomains: row.allowedDomains,
    defaultRole: row.defaultRole,
    enabled: row.enabled,
    redirectUri: publicUrl ? redirectUriOf(publicUrl) : null,
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Only an agency's owners and admins manage its SSO (the authorization table will say so centrally). */

/** A browser redirect; refusals go to the sign-in page with their reason code. */
const redirect = (location: string, cookie?: string): Reply => ({
  status: 302,
  headers: { Location: location, ...(cookie ? { 'Set-Cookie': cookie } : {}) },
});
async function redirecting(step: () => Promise<Reply>): Promise<Reply> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof SsoRefusal) return redirect(signInErrorPath(err.code));
    throw err;
  }
}

const REDIRECT_DOC = {
  302: {
    headers: ['Location'] as ResponseHeader[],
    description:
      'to the provider (start) or the console (callback); any refusal to `/admin/sign-in?error=<code>` (`sso_not_configured`, `sso_state_invalid`, `sso_provider_error`, `sso_denied`, `sso_email_unverified`, `sso_domain_not_allowed`, `sso_account_conflict`, `account_disabled`)',
  },
};

export const ssoRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/sso',
    operationId: 'getSso',
    tag: 'Accounts',
    summary: "The agency's single sign-on settings (the client secret is never shown)",
    responses: {
      200: { description: 'the settings, or null', schema: Responses.SsoSettings },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services }) {
      const row = await ssoSettings(services.db, principal.agencyId);
      return { status: 200, body: { sso: row ? ssoView(row, services.publicUrl) : null } };
    },
  }),

  route({
    method: 'put',
    path: '/v1/sso',
    operationId: 'putSso',
    tag: 'Accounts',
    summary: "Set the agency's single sign-on (OpenID Connect): issuer, client, allowed email domains, default role",
    description:
      'The client secret is write-only: sealed at rest by the key store, never answered; omit it to keep the stored one ' +
      '(the first PUT must carry it). Register `redirectUri` (`<LW_PUBLIC_URL>/v1/auth/sso/callback`) at the provider.',
    body: SsoSettingsPut,
    responses: {
      200: { description: 'the settings as stored', schema: Responses.SsoSettings },
      409: { description: "a domain is already allowed by another agency's SSO (`sso_domain_taken`)" },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      const taken = await domainsTakenElsewhere(services.db, principal.agencyId, body.allowedDomains);
      if (taken.length)
        throw new Problem(
          409,
          'sso_domain_taken',
          `Another agency's single sign-on already allows ${taken.join(', ')}; a domain signs in to one agency.`,
        );
      const row = await saveSsoSettings(services.db, principal.agencyId, body);
      if (!row) {
        const errors = [{ in: 'body' as const, path: 'clientSecret', message: 'required the first time' }];
        throw new Problem(400, 'validation_failed', 'clientSecret: required the first time', { errors });
      }
      return { status: 200, body: { sso: ssoView(row, services.publicUrl) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/auth/sso/discover',
    operationId: 'discoverSso',
    tag: 'Accounts',
    summary: "Where an email signs in with single sign-on: the start of its domain's agency SSO",
    description:
      "The answer depends only on the email's domain (whether an agency allows it), never on whether the person has an account.",
    body: SsoDiscover,
    responses: {
      200: { description: 'the URL to send the browser to', schema: Responses.SsoDiscovered },
      404: { description: 'no enabled SSO allows that domain (`sso_not_configured`)' },
      ...BODY_ERRORS,
    },
    async handler({ body, services }) {
      const sso = await ssoForDomain(services.db, domainOfEmail(body.email));
      if (!sso) throw new Problem(404, 'sso_not_configured', 'No single sign-on allows that email domain.');
      return { status: 200, body: { url: `/v1/auth/sso/${sso.agencyId}/start` } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/auth/sso/:agencyId/start',
    operationId: 'startSso',
    tag: 'Accounts',
    summary: "A browser's single sign-on begins: off to the agency's provider",
    description:
      'Sets a short-lived HttpOnly cookie (`lw_sso`, path /v1/auth/sso) that binds the sign-in to this browser.',
    params: SsoStartParams,
    responses: { ...REDIRECT_DOC, ...BAD_INPUT },
    async handler({ params, services }) {
      return redirecting(async () => {
        const { location, cookie } = await beginSignIn(services, params.agencyId);
        return redirect(location, cookie);
      });
    },
  }),

  route({
    method: 'get',
    path: '/v1/auth/sso/callback',
    operationId: 'ssoCallback',
    tag: 'Accounts',
    summary: 'Back from the provider: a session and the console, or the sign-in page with the reason',
    description:
      'Works once, in the browser that started the sign-in; needs `email_verified` and an allowed domain. A first ' +
      'sign-in creates the user and the agency membership with the default role; a member keeps the role they have.',
    query: SsoCallbackQuery,
    responses: { ...REDIRECT_DOC, ...BAD_INPUT },
    async handler({ req, res, services }) {
      return redirecting(async () => {
        await finishSignIn(services, req, res);
        return redirect(SIGNED_IN_PATH);
      });
    },
  }),
];
