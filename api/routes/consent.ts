/**
 * Consent-certificate providers (#23 item 4): an agency's account with
 * TrustedForm and Jornaya – the base URL its claims go to and the credential,
 * sealed by the key store on arrival and never answered back. Campaigns name
 * the provider in their certificate rule (api/routes/campaigns.schemas.ts);
 * the lead workflow claims each sale's certificate through the account.
 */
import { deleteProviderAccount, type ProviderAccount, providerAccounts, saveProviderAccount } from '../../db/consent';
import { DEFAULT_PROVIDER_BASE_URLS } from '../../lib/consent-providers';
import { auditBy } from '../audit';
import { checkUrlField } from '../delivery-check';
import { notFound } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { ProviderAccountSet, ProviderParams, Responses } from './consent.schemas';

const accountView = (a: ProviderAccount) => ({
  provider: a.provider,
  baseUrl: a.baseUrl,
  credential: 'set' as const,
  updatedAt: a.updatedAt.toISOString(),
});

export const consentRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/consent-providers',
    operationId: 'consentProviders',
    tag: 'Compliance',
    summary: "The agency's consent-certificate provider accounts (never their credentials)",
    responses: {
      200: { description: 'the accounts', schema: Responses.ProviderAccounts },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services }) {
      const accounts = await providerAccounts(services.db, principal.agencyId);
      return { status: 200, body: { providers: accounts.map(accountView) } };
    },
  }),

  route({
    method: 'put',
    path: '/v1/consent-providers/:provider',
    operationId: 'setConsentProvider',
    tag: 'Compliance',
    summary: "Set the agency's account with a consent-certificate provider: base URL and credential (stored sealed)",
    description:
      "TrustedForm: the API key (claims are `POST <baseUrl>/<certificate id>` with Basic auth `API:<key>`). Jornaya: the account code (`GET <baseUrl>/Authenticate?lac=<code>&id=<token>`). The base URL is checked like a webhook's (no private, loopback or link-local target unless allowed); the credential is never shown again.",
    params: ProviderParams,
    body: ProviderAccountSet,
    responses: {
      200: { description: 'set', schema: Responses.ProviderAccount },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const baseUrl = body.baseUrl ?? DEFAULT_PROVIDER_BASE_URLS[params.provider];
      await checkUrlField(baseUrl, services.webhookAllowlist, 'baseUrl');
      const saved = await saveProviderAccount(services.db, {
        agencyId: principal.agencyId,
        provider: params.provider,
        baseUrl,
        credential: body.credential,
        by: auditBy(principal),
      });
      return { status: 200, body: { provider: accountView(saved) } };
    },
  }),

  route({
    method: 'delete',
    path: '/v1/consent-providers/:provider',
    operationId: 'deleteConsentProvider',
    tag: 'Compliance',
    summary: "Remove the agency's account with a provider (claims through it fail until one is set again)",
    params: ProviderParams,
    responses: { 204: { description: 'removed' }, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, services }) {
      const gone = await deleteProviderAccount(services.db, {
        agencyId: principal.agencyId,
        provider: params.provider,
        by: auditBy(principal),
      });
      if (!gone) throw notFound('provider account');
      return { status: 204 };
    },
  }),
];
