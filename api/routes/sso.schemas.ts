/**
 * The zod schemas of api/routes/sso.ts, kept beside it: an agency's single
 * sign-on settings (the client secret goes in, never out) and the discovery of
 * an email's SSO. The rules themselves (issuer URLs, domains, roles) are in
 * domain/sso.ts.
 */
import { z } from 'zod';

import { DOMAIN, issuerProblem, normaliseDomain, SSO_DEFAULT_ROLES, SSO_ERROR_CODES } from '../../domain/sso';
import { Email, IsoTime, text } from '../schema-blocks';

const Issuer = text(500)
  .superRefine((issuer, ctx) => {
    const problem = issuerProblem(issuer);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe("the provider's issuer URL, exactly as its discovery document names it (https; http only on localhost)");

const AllowedDomain = z
  .string()
  .max(253)
  .transform(normaliseDomain)
  .refine((d) => DOMAIN.test(d), { message: 'a domain name such as example.com' });

export const SsoSettingsPut = z
  .object({
    issuer: Issuer,
    clientId: text(300).describe('the client id the provider gave this agency'),
    clientSecret: text(1000)
      .optional()
      .describe('the client secret; write-only (never answered), omitted = keep the stored one'),
    allowedDomains: z
      .array(AllowedDomain)
      .min(1)
      .max(50)
      .transform((ds) => [...new Set(ds)])
      .describe('email domains that sign in through this provider (lower-cased); a domain belongs to one agency'),
    defaultRole: z.enum(SSO_DEFAULT_ROLES).describe("a new member's role at their first sign-in"),
    enabled: z.boolean(),
  })
  .strict();

export const SsoSettingsView = z.object({
  issuer: z.string(),
  clientId: z.string(),
  clientSecretSet: z.literal(true).describe('a client secret is stored (it is never shown)'),
  allowedDomains: z.array(z.string()),
  defaultRole: z.enum(SSO_DEFAULT_ROLES),
  enabled: z.boolean(),
  redirectUri: z.string().nullable().describe('register this at the provider (null: LW_PUBLIC_URL is not set)'),
  updatedAt: IsoTime,
});

/** Why a sign-in ended on `/admin/sign-in?error=<code>` (the pages word each one). */
export const SsoErrorCodeSchema = z.enum(SSO_ERROR_CODES);

export const SsoDiscover = z.object({ email: Email }).strict();

export const SsoStartParams = z.object({ agencyId: z.uuid() }).strict();

/** What the provider sends back to the callback (every other parameter is read by the OpenID client). */
export const SsoCallbackQuery = z
  .object({
    state: z.string().max(1000).optional(),
    code: z.string().max(4000).optional(),
    error: z.string().max(1000).optional(),
  })
  .catchall(z.string().max(4000));

/**
 * The answers these routes document (their `responses`), each a named
 * component by its key.
 */
export const Responses = {
  SsoSettings: z.object({ sso: SsoSettingsView.nullable().describe('null: no SSO configured') }),
  SsoDiscovered: z.object({ url: z.string().describe("where the browser goes: this API's start of the agency's SSO") }),
};
