/**
 * A buyer's endpoint for outbound ping-post (#22), managed by the agency:
 * its settings (URLs, authentication, timeout, template and rules), the
 * console's "test endpoint" (a sample lead pinged – and posted if asked –
 * through the real call library, answered with the mapped request and the
 * parsed answer) and the endpoint's log. The secret is write-only: no answer
 * and no log carries it. Every URL passes the address guard when it is set
 * and again when it is called.
 */
import { Webhook } from 'standardwebhooks';

import {
  deleteEndpoint,
  endpointForCalls,
  endpointOfBuyer,
  type EndpointSettings,
  listEndpointCalls,
  recordEndpointCall,
  saveEndpoint,
} from '../../db/endpoints';
import { type MappingIssue, rulesIssues, SAMPLE_LEAD, templateIssues } from '../../domain/endpoint-mapping';
import { DEFAULT_ENDPOINT_TIMEOUT_MS, DEFAULT_MAX_CONCURRENT_PINGS } from '../../domain/endpoints';
import { type CallReport, testEndpoint } from '../../lib/endpoint-calls';
import { auditBy } from '../audit';
import { checkUrlField } from '../delivery-check';
import { type FieldError, notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams } from '../schemas';
import type { ApiServices } from '../services';
import { describeErrors, invalidField } from '../validate';
import { endpointCallView, endpointView } from '../views';
import { loadBuyer } from './buyers';
import { EndpointPut, EndpointTestBody, Responses } from './endpoints.schemas';

type Put = ReturnType<typeof EndpointPut.parse>;

/** A 400 naming every issue of the templates and rules, with the character position of each. */
function mappingProblem(put: Put): Problem | null {
  const format = put.format ?? 'json';
  const at = (field: string, issues: MappingIssue[]): FieldError[] =>
    issues.map((i) => ({ in: 'body', path: `${field}.${i.path}`, message: i.message, position: i.position }));
  const errors = [
    ...(put.pingTemplate ? at('pingTemplate', templateIssues(put.pingTemplate, 'ping', format)) : []),
    ...(put.pingRules ? at('pingRules', rulesIssues(put.pingRules, 'ping')) : []),
    ...at('postTemplate', templateIssues(put.postTemplate, 'post', format)),
    ...(put.postRules ? at('postRules', rulesIssues(put.postRules, 'post')) : []),
    // A GET status query sends its template as the query string: flat, as a form's.
    ...(put.statusTemplate
      ? at(
          'statusTemplate',
          templateIssues(put.statusTemplate, 'status', put.statusMethod === 'POST' ? format : 'form'),
        )
      : []),
    ...(put.statusRules ? at('statusRules', rulesIssues(put.statusRules, 'status')) : []),
  ];
  return errors.length ? new Problem(400, 'validation_failed', describeErrors(errors), { errors }) : null;
}

/** Everything the schema cannot judge alone: the ping's three parts together, the authentication's parts, the URLs. */
async function checkPut(put: Put, services: ApiServices): Promise<void> {
  if (put.pingUrl) {
    if (!put.pingTemplate) throw invalidField('pingTemplate', 'required with a ping URL');
    if (!put.pingRules) throw invalidField('pingRules', 'required with a ping URL');
  } else {
    if (put.pingTemplate)
      throw invalidField('pingTemplate', 'a direct-post endpoint (no pingUrl) has no ping template');
    if (put.pingRules) throw invalidField('pingRules', 'a direct-post endpoint (no pingUrl) has no ping rules');
  }
  if (put.statusUrl) {
    if (!put.statusRules) throw invalidField('statusRules', 'required with a status URL');
  } else {
    if (put.statusRules) throw invalidField('statusUrl', 'required with status rules');
    if (put.statusTemplate) throw invalidField('statusUrl', 'required with a status template');
  }
  const problem = mappingProblem(put);
  if (problem) throw problem;
  const auth = put.auth ?? { kind: 'none' };
  if (auth.kind === 'basic' && !auth.username) throw invalidField('auth.username', 'required for basic authentication');
  if (auth.kind === 'hmac' && auth.secret !== undefined) {
    if (!auth.secret.startsWith('whsec_'))
      throw invalidField('auth.secret', 'a Standard Webhooks key: whsec_ followed by base64');
    try {
      new Webhook(auth.secret);
    } catch {
      throw invalidField('auth.secret', 'a Standard Webhooks key: whsec_ followed by base64');
    }
  }
  if (put.pingUrl) await checkUrlField(put.pingUrl, services.webhookAllowlist, 'pingUrl');
  await checkUrlField(put.postUrl, services.webhookAllowlist, 'postUrl');
  if (put.statusUrl) await checkUrlField(put.statusUrl, services.webhookAllowlist, 'statusUrl');
}

function settingsOf(put: Put): EndpointSettings {
  const auth = put.auth ?? { kind: 'none' as const };
  return {
    pingUrl: put.pingUrl ?? null,
    postUrl: put.postUrl,
    method: put.method ?? 'POST',
    format: put.format ?? 'json',
    authKind: auth.kind,
    authHeader: auth.kind === 'header' ? (auth.header ?? 'Authorization') : null,
    authUsername: auth.kind === 'basic' ? (auth.username ?? null) : null,
    timeoutMs: put.timeoutMs ?? DEFAULT_ENDPOINT_TIMEOUT_MS,
    maxConcurrentPings: put.maxConcurrentPings ?? DEFAULT_MAX_CONCURRENT_PINGS,
    pingTemplate: put.pingUrl ? put.pingTemplate! : null,
    postTemplate: put.postTemplate,
    pingRules: put.pingUrl ? put.pingRules! : null,
    postRules: put.postRules ?? {},
    statusUrl: put.statusUrl ?? null,
    statusMethod: put.statusMethod ?? 'GET',
    statusTemplate: put.statusUrl ? (put.statusTemplate ?? null) : null,
    statusRules: put.statusUrl ? put.statusRules! : null,
    status: put.status ?? 'active',
    pauseReason: put.pauseReason ?? null,
  };
}

/** A test call as answered: the report without its internals. */
const testCallView = (r: CallReport | null) =>
  r && {
    outcome: r.outcome,
    bid: r.bid,
    pingId: r.pingId,
    reason: r.reason,
    latencyMs: Math.round(r.latencyMs),
    request: r.request,
    response: r.response,
  };

export const endpointRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/buyers/:id/endpoint',
    operationId: 'getBuyerEndpoint',
    tag: 'Buyer endpoints',
    summary: "A buyer's endpoint for outbound ping-post (its secret never: only whether one is set)",
    params: IdParams,
    responses: {
      200: { description: 'the endpoint, or null when the buyer has none', schema: Responses.EndpointOrNone },
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const endpoint = await endpointOfBuyer(services.db, buyer.id);
      // A buyer without an endpoint is an answer, not an error: the console asks for every buyer it shows.
      return { status: 200, body: { endpoint: endpoint ? endpointView(endpoint) : null } };
    },
  }),

  route({
    method: 'put',
    path: '/v1/buyers/:id/endpoint',
    operationId: 'putBuyerEndpoint',
    tag: 'Buyer endpoints',
    summary:
      "Set a buyer's endpoint: ping and post URLs, authentication, timeout, request templates and response rules, and an optional status query",
    description:
      'Creates or replaces the endpoint. Templates and rules are checked: a ping template that reads a hidden field, an unknown field or filter, a bad JSON path or JSONata expression is a 400 naming the field (`errors[].path`) and the character (`errors[].position`). The secret is write-only; omitted, the stored one is kept. URLs pass the address guard (no private ranges unless allowed). docs/buyer-endpoints.md',
    params: IdParams,
    body: EndpointPut,
    responses: {
      200: { description: 'saved', schema: Responses.Endpoint },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      await checkPut(body, services);
      const saved = await saveEndpoint(services.db, {
        agencyId: principal.agencyId,
        buyerId: buyer.id,
        settings: settingsOf(body),
        secret: body.auth?.secret,
        by: auditBy(principal),
      });
      if (saved === 'missing_secret')
        throw invalidField('auth.secret', `required for ${body.auth?.kind} authentication`);
      return { status: 200, body: { endpoint: endpointView(saved) } };
    },
  }),

  route({
    method: 'delete',
    path: '/v1/buyers/:id/endpoint',
    operationId: 'deleteBuyerEndpoint',
    tag: 'Buyer endpoints',
    summary: "Remove a buyer's endpoint and its log (answers whether there was one)",
    params: IdParams,
    responses: {
      200: { description: 'removed, or there was none', schema: Responses.EndpointDeleted },
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const deleted = await deleteEndpoint(services.db, {
        agencyId: principal.agencyId,
        buyerId: buyer.id,
        by: auditBy(principal),
      });
      return { status: 200, body: { deleted } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/buyers/:id/endpoint/test',
    operationId: 'testBuyerEndpoint',
    tag: 'Buyer endpoints',
    summary:
      "Test a buyer's endpoint: ping a sample lead (and post it, if asked); answers the mapped request and the parsed answer",
    description:
      'The calls go out through the same library as the auction (the address guard, the timeout, the template and the rules) and land in the endpoint log as `test` calls, which never count against its health. A paused endpoint can be tested. The answer is 200 whatever the buyer answered: the outcome says it.',
    params: IdParams,
    body: EndpointTestBody,
    bodyOptional: true,
    responses: {
      200: { description: 'what was sent and what came back', schema: Responses.EndpointTest },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const endpoint = await endpointForCalls(services.db, buyer.id);
      if (!endpoint) throw notFound('endpoint');
      const { ping, post } = await testEndpoint(
        endpoint,
        { fields: body.fields ?? SAMPLE_LEAD, leadId: 'test' },
        { post: !!body.post },
        { record: (call, opts) => recordEndpointCall(services.db, call, opts), allowlist: services.webhookAllowlist },
      );
      return { status: 200, body: { ping: testCallView(ping), post: testCallView(post) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id/endpoint/calls',
    operationId: 'buyerEndpointCalls',
    tag: 'Buyer endpoints',
    summary:
      "A buyer's endpoint log: its last 100 calls, newest first, with the request as sent (secrets masked) and the answer (redacted, truncated)",
    params: IdParams,
    responses: {
      200: { description: 'the log (empty without an endpoint)', schema: Responses.EndpointCalls },
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const buyer = await loadBuyer(services, principal.agencyId, params.id);
      const endpoint = await endpointOfBuyer(services.db, buyer.id);
      const calls = endpoint ? await listEndpointCalls(services.db, endpoint.id) : [];
      return { status: 200, body: { calls: calls.map(endpointCallView) } };
    },
  }),
];
