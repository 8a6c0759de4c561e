/**
 * The OpenAPI 3.1 document, generated from the route objects and their zod
 * schemas (`z.toJSONSchema`; shared schemas are named components referenced
 * by `$ref`, see openapi-schemas.ts), and a small self-contained HTML page
 * that renders it (no scripts, no CDN).
 */
import { grantsOf, grantWords } from './authorization';
import { exampleOf } from './openapi-examples';
import { type DocumentSchemas, documentSchemas, type SchemaUse } from './openapi-schemas';
import type { AnyRoute, ResponseDoc, ResponseHeader } from './route';
import { WEBHOOK_EVENTS } from './routes/webhook-events.schemas';
import { ProblemSchema } from './schemas';
import { SESSION_COOKIE, SESSION_COOKIE_PLAIN } from './sessions';

type Json = Record<string, unknown>;

/** `/v1/buyers/:id` → `/v1/buyers/{id}`. */
export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parameters(route: AnyRoute, schemas: DocumentSchemas): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ['path', route.params],
    ['query', route.query],
  ] as const) {
    const js = schemas.inline(schema, 'input');
    const props = (js.properties ?? {}) as Record<string, Json>;
    const required = new Set((js.required ?? []) as string[]);
    for (const [name, prop] of Object.entries(props)) {
      const { description, ...propSchema } = prop;
      out.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        ...(description ? { description } : {}),
        schema: propSchema,
      });
    }
  }
  if (route.idempotent) {
    out.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Same key and body: the first answer again. Same key, another body: 409 `idempotency_conflict`.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  }
  return out;
}

/** Every response header the document declares, once, as components referenced by the responses. */
const HEADERS = {
  'Retry-After': {
    description: 'Seconds to wait before trying again.',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
  RateLimit: {
    description:
      'What is left of the quota named in RateLimit-Policy (IETF draft-ietf-httpapi-ratelimit-headers, Structured Field): ' +
      '`"<policy>";r=<requests left>;t=<seconds until the quota is whole again>`.',
    required: true,
    schema: { type: 'string', examples: ['"claims";r=29;t=1'] },
  },
  'RateLimit-Policy': {
    description:
      'The quota this route draws on: `"<policy>";q=<requests in a burst>;w=<seconds in which a spent quota comes back>` (a token bucket refilling continuously).',
    required: true,
    schema: { type: 'string', examples: ['"claims";q=30;w=3'] },
  },
  'Idempotent-Replayed': {
    description: '`true` when this is the stored answer to an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
  Location: { description: 'Where the browser goes next.', required: true, schema: { type: 'string' } },
  'Set-Cookie': { description: 'The session cookie (set or cleared).', required: true, schema: { type: 'string' } },
} satisfies Record<string, Json>;
type HeaderName = keyof typeof HEADERS;

/**
 * The statuses an answer may have before the route's handler runs (the body's shape, authentication, the
 * authorization table's 403), so before a quota is drawn.
 */
const BEFORE_HANDLER = new Set([400, 401, 403, 413, 415]);

/** Every route validates its path and query (an unknown query parameter is refused), so any may answer 400. */
const ANY_BAD_INPUT: ResponseDoc = {
  description: 'invalid input (`validation_failed`): a bad path parameter or an unknown query parameter',
};
/** Any operation may fail unexpectedly: a problem document without internals, with an `errorId` to quote (api/problem.ts). */
const ANY_INTERNAL_ERROR: ResponseDoc = {
  description: 'an unexpected failure (`internal_error`): a problem document with an `errorId` to quote, no internals',
};

/** Which headers a route's answer with this status carries. */
function responseHeaders(route: AnyRoute, status: number, doc: ResponseDoc): HeaderName[] {
  const names: HeaderName[] = [...(doc.headers ?? ([] as ResponseHeader[]))];
  if (status === 429 || status === 503) names.push('Retry-After');
  if (route.quota && !BEFORE_HANDLER.has(status)) names.push('RateLimit', 'RateLimit-Policy');
  if (route.idempotent && status >= 200 && status < 300) names.push('Idempotent-Replayed');
  return names;
}

function response(route: AnyRoute, status: number, doc: ResponseDoc, schemas: DocumentSchemas): Json {
  const names = responseHeaders(route, status, doc);
  const headers = names.length
    ? { headers: Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }])) }
    : {};
  return { description: doc.description, ...headers, ...responseContent(status, doc, schemas) };
}

/** A media type object with its example: the one given, else one built from the schema (success answers and request bodies). */
function withExample(schema: Json, example: unknown, schemas: DocumentSchemas, wanted: boolean): Json {
  if (!wanted) return { schema };
  return { schema, example: example !== undefined ? example : exampleOf(schema, schemas.components) };
}

function responseContent(status: number, doc: ResponseDoc, schemas: DocumentSchemas): Json {
  const PROBLEM_CONTENT = { 'application/problem+json': { schema: schemas.of(ProblemSchema, 'output') } };
  const success = status >= 200 && status < 300;
  if (doc.schema) {
    const content = {
      [doc.contentType ?? 'application/json']: withExample(
        schemas.of(doc.schema, 'output'),
        doc.example,
        schemas,
        success,
      ),
      ...(doc.alsoAs
        ? { [doc.alsoAs.contentType]: withExample({ type: 'string' }, doc.alsoAs.example, schemas, success) }
        : {}),
      ...(doc.orProblem ? PROBLEM_CONTENT : {}),
    };
    return { content };
  }
  // A body without a schema of its own: a JSON document (the OpenAPI and AsyncAPI documents), else text (CSV, HTML).
  if (doc.contentType)
    return {
      content: {
        [doc.contentType]: withExample(
          { type: /json$/.test(doc.contentType) ? 'object' : 'string' },
          doc.example,
          schemas,
          success && doc.example !== undefined,
        ),
      },
    };
  if (status >= 400) return { content: PROBLEM_CONTENT };
  return {};
}

function operation(route: AnyRoute, schemas: DocumentSchemas): Json {
  const grants = grantsOf(route.operationId);
  const who = route.session
    ? 'Auth: a signed-in person (session cookie; unsafe methods need X-CSRF-Token). Keys cannot call it.'
    : grants.length
      ? `Auth: a session or key acting as ${grants.map(grantWords).join(', ')} (the root token acts as platform operator).`
      : 'No authentication.';
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    description: [route.description, who].filter(Boolean).join('\n\n'),
    ...(route.session
      ? { security: [{ session: [] }] }
      : route.roles.length
        ? {
            security: [{ bearer: [] }, { session: [] }],
            'x-leadwire-roles': [...route.roles],
            'x-leadwire-grants': [...grants],
          }
        : { security: [] }),
    parameters: parameters(route, schemas),
    ...(route.fileBody
      ? {
          requestBody: {
            required: true,
            description: route.fileBody.description,
            content: Object.fromEntries(
              route.fileBody.mediaTypes.map((type) => [
                type,
                { schema: { type: 'string' }, example: route.fileBody!.example },
              ]),
            ),
          },
        }
      : {}),
    ...(route.body
      ? {
          requestBody: {
            required: !route.bodyOptional,
            content: {
              'application/json': withExample(schemas.of(route.body, 'input'), route.bodyExample, schemas, true),
            },
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries({ 400: ANY_BAD_INPUT, ...route.responses, 500: route.responses[500] ?? ANY_INTERNAL_ERROR })
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, doc]) => [status, response(route, Number(status), doc, schemas)]),
    ),
  };
}

/** The Standard Webhooks headers every webhook Leadwire sends carries (activities/channels/signing.ts). */
const WEBHOOK_HEADERS: Json[] = [
  ['webhook-id', 'the message id: the same on every retry and redelivery of one event (deduplicate on it)'],
  ['webhook-timestamp', 'seconds since the epoch when this attempt was signed (refuse old ones)'],
  [
    'webhook-signature',
    '`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with the whsec_ secret; several, space-separated, during a rotation',
  ],
  ['Idempotency-Key', 'the sale (assignment id) or the alert: the same on every retry'],
].map(([name, description]) => ({
  name,
  in: 'header',
  required: name !== 'Idempotency-Key',
  description,
  schema: { type: 'string' },
}));

/** The document's `webhooks`: every event a buyer's webhook URL receives, in both payload versions. */
function webhooks(schemas: DocumentSchemas): Json {
  return Object.fromEntries(
    Object.entries(WEBHOOK_EVENTS).map(([type, { summary, v1, v2 }]) => [
      type,
      {
        post: {
          operationId: `webhook_${type.replace('.', '_')}`,
          tags: ['Webhooks'],
          summary,
          description:
            "Sent to the buyer's webhook URL, signed per Standard Webhooks. The body is payload version 1 (the first shape) " +
            "or 2 (`{type, timestamp, data}`), as the buyer's `delivery.payloadVersion` says. Answer 2xx; anything else is retried with backoff (a `Retry-After` wins), a 410 pauses the endpoint.",
          // No credential of the receiver's: the request proves itself by its signature (the headers above).
          security: [],
          parameters: WEBHOOK_HEADERS,
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { oneOf: [schemas.of(v1, 'output'), schemas.of(v2, 'output')] } },
            },
          },
          responses: { '200': { description: 'received (any 2xx)' } },
        },
      },
    ]),
  );
}

/** Every schema the operations and the webhooks use, and which way. */
function schemaUses(routes: AnyRoute[]): SchemaUse[] {
  const uses: SchemaUse[] = [
    { schema: ProblemSchema, io: 'output' },
    ...Object.values(WEBHOOK_EVENTS).flatMap(({ v1, v2 }) =>
      [v1, v2].map((schema) => ({ schema, io: 'output' as const })),
    ),
  ];
  for (const route of routes) {
    uses.push({ schema: route.params, io: 'input' }, { schema: route.query, io: 'input' });
    if (route.body) uses.push({ schema: route.body, io: 'input' });
    for (const doc of Object.values(route.responses)) if (doc.schema) uses.push({ schema: doc.schema, io: 'output' });
  }
  return uses;
}

/** Where the API is reached: its public URL (LW_PUBLIC_URL), else the origin the document was fetched from. */
function servers(publicUrl: string | null | undefined): Json[] {
  return publicUrl
    ? [{ url: publicUrl.replace(/\/+$/, ''), description: 'this deployment' }]
    : [{ url: '/', description: 'the origin that served this document (set LW_PUBLIC_URL to name it)' }];
}

export function buildOpenApi(routes: AnyRoute[], opts: { version?: string; publicUrl?: string | null } = {}): Json {
  const version = opts.version ?? '0.1.0';
  const schemas = documentSchemas(schemaUses(routes));
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] = { ...(paths[path] ?? {}), [route.method]: operation(route, schemas) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Leadwire API',
      version,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      description:
        'Real-time lead distribution: agencies submit leads, buyers claim them (ping post) or receive them (push). ' +
        'Errors are `application/problem+json` with a stable `code`. Lists take `?limit=` (1–200) and an opaque `cursor`, and answer `nextCursor`.',
    },
    servers: servers(opts.publicUrl),
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [...new Set([...routes.map((r) => r.tag), 'Webhooks'])].map((name) => ({ name })),
    paths,
    webhooks: webhooks(schemas),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'root token, agency admin key or buyer key' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: `a signed-in person's session (\`${SESSION_COOKIE_PLAIN}\` on plain-http localhost); unsafe methods also send the session's CSRF token in X-CSRF-Token`,
        },
      },
      schemas: {
        ...schemas.components,
      },
      headers: HEADERS,
    },
  };
}

// ─── the docs page ───────────────────────────────────────────────────────────

const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function renderOperation(path: string, method: string, op: Json): string {
  const params = (op.parameters ?? []) as Json[];
  const body = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
  const responses = (op.responses ?? {}) as Record<string, Json>;
  const paramRows = params
    .map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td>${esc(p.description)} <code>${esc(JSON.stringify(p.schema))}</code></td></tr>`,
    )
    .join('');
  return `<section class="op" id="${esc(op.operationId)}">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary)}</p>${op.description ? `<p class="d">${esc(op.description)}</p>` : ''}
${params.length ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>${paramRows}</table>` : ''}
${body ? `<details><summary>request body</summary><pre>${esc(JSON.stringify(body['application/json']?.schema, null, 2))}</pre></details>` : ''}
<ul class="r">${Object.entries(responses)
    .map(([status, r]) => `<li><b>${esc(status)}</b> ${esc(r.description)}</li>`)
    .join('')}</ul>
</section>`;
}

export function docsPage(doc: Json): string {
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const byTag = new Map<string, string[]>();
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = ((op.tags as string[]) ?? ['Other'])[0]!;
      byTag.set(tag, [...(byTag.get(tag) ?? []), renderOperation(path, method, op)]);
    }
  }
  const info = doc.info as Json;
  const schemas = (doc.components as Json).schemas as Record<string, Json>;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)} ${esc(info.version)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1d2330}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f5f6f8;padding:.8em;overflow:auto}
.op{border-top:1px solid #dde;padding:.4em 0}.m{display:inline-block;min-width:4.2em;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:2px 4px}
.get{background:#2f7d32}.post{background:#1f5fa8}.patch{background:#a86a1f}.d{color:#4a5262;white-space:pre-line}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #dde;padding:2px 6px;text-align:left;vertical-align:top}
nav a{margin-right:1em}</style></head>
<body><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description)}</p><p>Machine-readable: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p>
<nav>${[...byTag.keys()].map((t) => `<a href="#tag-${esc(t)}">${esc(t)}</a>`).join('')}</nav>
${[...byTag.entries()].map(([tag, ops]) => `<h2 id="tag-${esc(tag)}">${esc(tag)}</h2>${ops.join('\n')}`).join('\n')}
<h2>Live feed messages</h2>
<p>The WebSocket at <code>/v1/feed</code> is described by its own document: <a href="/v1/asyncapi.json">/v1/asyncapi.json</a> (AsyncAPI 3.0).</p>
<h2>Problem documents</h2><pre>${esc(JSON.stringify(schemas.Problem, null, 2))}</pre>
<h2 id="schemas">Schemas</h2><p>The named schemas (<code>#/components/schemas/…</code>) the operations refer to.</p>
${Object.entries(schemas)
  .map(
    ([name, schema]) =>
      `<details id="schema-${esc(name)}"><summary><code>${esc(name)}</code></summary><pre>${esc(JSON.stringify(schema, null, 2))}</pre></details>`,
  )
  .join('\n')}
</body></html>`;
}
