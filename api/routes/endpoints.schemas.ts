/**
 * The zod schemas of api/routes/endpoints.ts (a buyer's endpoint for outbound
 * ping-post, #22): its settings, the "test endpoint" call and the endpoint's
 * log. The template and rules are checked beyond their shape by
 * domain/endpoint-mapping.ts (a 400 naming the field and the position).
 */
import { z } from 'zod';

import {
  DEFAULT_ENDPOINT_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_PINGS,
  ENDPOINT_AUTH_KINDS,
  ENDPOINT_CALL_KINDS,
  ENDPOINT_CALL_OUTCOMES,
  ENDPOINT_FORMATS,
  ENDPOINT_METHODS,
  ENDPOINT_STATUS_METHODS,
  ENDPOINT_STATUSES,
  ENDPOINT_STEPS,
  MAX_CONCURRENT_PINGS,
  MAX_ENDPOINT_TIMEOUT_MS,
  MIN_ENDPOINT_TIMEOUT_MS,
} from '../../domain/endpoints';
import { HttpUrl, Id, int, IsoTime, Nullable, recordKey, text } from '../schema-blocks';
import { LeadFieldsSchema } from '../schemas';

const Template = z
  .record(recordKey(100), z.unknown())
  .describe(
    "the body in the buyer's names (JSON): strings may hold placeholders – `{{zip}}`, `{{answers.roof_age|number}}`, `{{phone|digits}}`; filters upper, lower, digits, number. A ping may read only zip, state, city and answers; a post every field, `leadId`, `pingId` and `bid`. docs/buyer-endpoints.md",
  );

const AnswerValue = z.union([
  z.object({ path: text(300).describe('a JSON path: `result.price`, `$.offers[0].id`') }).strict(),
  z
    .object({ jsonata: text(2000).describe('a JSONata expression over the answer; `$status` is the HTTP status') })
    .strict(),
]);

const Rules = z
  .object({
    acceptStatuses: z
      .array(int(100, 599))
      .min(1)
      .max(20)
      .optional()
      .describe('the HTTP statuses that may accept (default 200–299); another is a refusal, a 5xx an error'),
    accepted: z
      .union([
        z
          .object({
            path: text(300),
            equals: z.union([z.string().max(200), z.number(), z.boolean()]).optional(),
          })
          .strict(),
        z.object({ jsonata: text(2000) }).strict(),
      ])
      .optional()
      .describe(
        'whether the answer accepts: a path whose value equals `equals` (else is truthy), or a JSONata expression; absent: the status decides',
      ),
    bid: AnswerValue.optional().describe('where the bid is, in credits (required in ping rules)'),
    pingId: AnswerValue.optional().describe("the buyer's ping id, echoed in the post as {{pingId}}"),
    reason: AnswerValue.optional().describe("the buyer's reason for a refusal"),
  })
  .strict();

const AuthKind = z.enum(ENDPOINT_AUTH_KINDS);
const Status = z.enum(ENDPOINT_STATUSES);
const HeaderName = z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'an HTTP header name');

export const EndpointPut = z
  .object({
    pingUrl: Nullable(HttpUrl)
      .optional()
      .describe('where pings go (the non-identifying fields); absent or null: the lead is posted directly'),
    postUrl: HttpUrl.describe('where the winner is posted the full lead'),
    method: z.enum(ENDPOINT_METHODS).optional().describe('default POST'),
    format: z
      .enum(ENDPOINT_FORMATS)
      .optional()
      .describe('json (default) or form (application/x-www-form-urlencoded, flat templates)'),
    auth: z
      .object({
        kind: AuthKind.describe(
          'none; header (a header with a token); basic (HTTP basic); hmac (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)',
        ),
        header: HeaderName.optional().describe("header: the header's name (default Authorization)"),
        username: text(200).optional().describe('basic: the user name'),
        secret: text(500)
          .optional()
          .describe(
            'the token, the password, or the Standard Webhooks key (whsec_ + base64); write-only, never answered; omitted: the stored one is kept',
          ),
      })
      .strict()
      .optional()
      .describe('default none'),
    timeoutMs: int(MIN_ENDPOINT_TIMEOUT_MS, MAX_ENDPOINT_TIMEOUT_MS)
      .optional()
      .describe(`each call's own timeout (default ${DEFAULT_ENDPOINT_TIMEOUT_MS}, at most ${MAX_ENDPOINT_TIMEOUT_MS})`),
    maxConcurrentPings: int(1, MAX_CONCURRENT_PINGS)
      .optional()
      .describe(`pings in flight at once per worker process (default ${DEFAULT_MAX_CONCURRENT_PINGS})`),
    pingTemplate: Template.optional().describe('required with a ping URL'),
    pingRules: Rules.optional().describe('required with a ping URL; must say where the bid is'),
    postTemplate: Template,
    postRules: Rules.optional().describe('default: a 2xx accepts'),
    statusUrl: Nullable(HttpUrl)
      .optional()
      .describe(
        "the buyer's optional status query: asked about a post sent but unanswered (a timeout), under the post's idempotency key, before it is sent again; absent or null: none. Requires statusRules",
      ),
    statusMethod: z
      .enum(ENDPOINT_STATUS_METHODS)
      .optional()
      .describe('GET (default: the values as the query string) or POST (a body in the endpoint format)'),
    statusTemplate: Template.optional().describe(
      "the status query in the buyer's names; it may read only `{{idempotencyKey}}`, `{{leadId}}` and `{{pingId}}` (flat for GET); absent: `idempotency_key=<key>`",
    ),
    statusRules: Rules.optional().describe(
      "required with a status URL: the post rules' shape; accepted or rejected resolves the post, anything else leaves it unknown",
    ),
    status: Status.optional().describe('active (default) or paused; active again clears a pause and the failure run'),
    pauseReason: text(500).optional(),
  })
  .strict();

export const EndpointTestBody = z
  .object({
    fields: LeadFieldsSchema.optional().describe('the lead to send (default: a sample lead)'),
    post: z.boolean().optional().describe('post as well after the ping (a direct-post endpoint always posts)'),
  })
  .strict();

export const EndpointView = z.object({
  id: Id,
  buyerId: Id,
  pingUrl: Nullable(z.string()),
  postUrl: z.string(),
  method: z.enum(ENDPOINT_METHODS),
  format: z.enum(ENDPOINT_FORMATS),
  auth: z.object({
    kind: AuthKind,
    header: Nullable(z.string()),
    username: Nullable(z.string()),
    secretSet: z.boolean().describe('whether a secret is stored (it is never answered)'),
  }),
  timeoutMs: z.number().int(),
  maxConcurrentPings: z.number().int(),
  pingTemplate: Nullable(z.record(z.string(), z.unknown())),
  pingRules: Nullable(z.record(z.string(), z.unknown())),
  postTemplate: z.record(z.string(), z.unknown()),
  postRules: z.record(z.string(), z.unknown()),
  statusUrl: Nullable(z.string()),
  statusMethod: z.enum(ENDPOINT_STATUS_METHODS),
  statusTemplate: Nullable(z.record(z.string(), z.unknown())),
  statusRules: Nullable(z.record(z.string(), z.unknown())),
  status: Status,
  pauseReason: Nullable(z.string()),
  pausedBy: Nullable(z.enum(['agency', 'system'])),
  pausedAt: Nullable(IsoTime),
  consecutiveFailures: z.number().int(),
  updatedAt: IsoTime,
});

const LoggedRequestView = z.object({
  method: z.enum([...ENDPOINT_METHODS, 'GET']),
  url: z.string(),
  headers: z.record(z.string(), z.string()).describe('as sent, secrets masked (••••)'),
  body: z.string().describe('as sent (truncated)'),
});
const LoggedResponseView = z.object({
  status: z.number().int(),
  body: z.string().describe('redacted and truncated'),
});

export const EndpointCallView = z.object({
  id: Id,
  leadId: Nullable(Id),
  kind: z.enum(ENDPOINT_CALL_KINDS),
  step: z.enum(ENDPOINT_STEPS).describe('ping, post, or status: the status query asked about an unanswered post'),
  outcome: z.enum(ENDPOINT_CALL_OUTCOMES),
  bid: Nullable(z.number().int()),
  pingId: Nullable(z.string()),
  reason: Nullable(z.string()),
  latencyMs: z.number().int(),
  idempotencyKey: Nullable(z.string()),
  request: LoggedRequestView,
  response: Nullable(LoggedResponseView),
  at: IsoTime,
});

/** One call of a test: what was sent, what came back, what the rules made of it. */
const TestCallView = z.object({
  outcome: z.enum(ENDPOINT_CALL_OUTCOMES),
  bid: Nullable(z.number().int()),
  pingId: Nullable(z.string()),
  reason: Nullable(z.string()),
  latencyMs: z.number().int(),
  request: LoggedRequestView,
  response: Nullable(LoggedResponseView),
});

export const Responses = {
  Endpoint: z.object({ endpoint: EndpointView }),
  EndpointOrNone: z.object({ endpoint: EndpointView.nullable() }),
  EndpointDeleted: z.object({ deleted: z.boolean() }),
  EndpointTest: z.object({
    ping: Nullable(TestCallView).describe('null for a direct-post endpoint'),
    post: Nullable(TestCallView).describe('null unless asked (or direct post)'),
  }),
  EndpointCalls: z.object({ calls: z.array(EndpointCallView).describe('newest first, at most 100') }),
};
