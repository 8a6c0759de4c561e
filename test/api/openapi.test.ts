/**
 * The OpenAPI 3.1 document is valid, is generated from the route objects, and
 * lists exactly the routes the Express app serves; shared schemas are named
 * components referenced by `$ref`; the docs page renders it.
 */
import fs from 'node:fs';
import path from 'node:path';

import SwaggerParser from '@apidevtools/swagger-parser';
import express from 'express';
import { z } from 'zod';

import { documentApi } from '../../api/document-app';
import { openApiPath } from '../../api/openapi';
import { namedSchemas } from '../../api/openapi-schemas';
import { ContractGuard } from './contract';

/** The document needs no database or Temporal: the app with inert dependencies. */
const api = documentApi();

/** `METHOD /path` of every route registered on the Express app (its router stack). */
function servedRoutes(app: express.Express): string[] {
  const stack = (
    app as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }
  ).router.stack;
  return stack.flatMap((layer) =>
    layer.route
      ? Object.keys(layer.route.methods)
          .filter((m) => m !== '_all')
          .map((m) => `${m.toUpperCase()} ${openApiPath(layer.route!.path)}`)
      : [],
  );
}

async function fetchDoc() {
  const request = (await import('supertest')).default;
  const res = await request(api.app).get('/v1/openapi.json');
  expect(res.status).toBe(200);
  return res.body as {
    openapi: string;
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    components: { schemas: Record<string, Record<string, unknown>> };
  };
}

type Schema = Record<string, unknown> & { $ref?: string };
const componentName = (schema: Schema) => schema.$ref?.replace('#/components/schemas/', '');

test('the document is a valid OpenAPI 3.1 document', async () => {
  const doc = await fetchDoc();
  expect(doc.openapi).toBe('3.1.0');
  await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
});

test('it lists every route the app serves, and nothing else', async () => {
  const doc = await fetchDoc();
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
  const served = servedRoutes(api.app);
  expect(served.length).toBeGreaterThanOrEqual(40);
  expect(documented.sort()).toEqual([...new Set(served)].sort());
});

test('every operation has an id, documented answers, and problem documents for its errors', async () => {
  const doc = await fetchDoc();
  const ids = new Set<string>();
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops)) {
      expect(ids.has(op.operationId)).toBe(false);
      ids.add(op.operationId);
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
    }
  }
  const createLead = doc.paths['/v1/leads']!.post as unknown as {
    parameters: { name: string; in: string }[];
    requestBody: { content: { 'application/json': { schema: Schema } } };
    responses: Record<string, { content?: Record<string, unknown> }>;
  };
  expect(createLead.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
  const ref = componentName(createLead.requestBody.content['application/json'].schema);
  expect(ref).toBe('LeadCreate');
  const schema = doc.components.schemas[ref!] as { properties: Record<string, unknown>; additionalProperties: boolean };
  expect(Object.keys(schema.properties)).toEqual(['campaignId', 'fields', 'consent', 'subId', 'clickId']);
  expect(schema.additionalProperties).toBe(false);
  expect(Object.keys(createLead.responses['400']!.content!)).toEqual(['application/problem+json']);
});

test('shared schemas are named components, referenced by $ref wherever they are used', async () => {
  const doc = await fetchDoc();
  const schemas = doc.components.schemas;
  // Answers, request bodies, the problem document and the vocabularies are all named.
  for (const name of [
    'Problem',
    'ClaimWon',
    'ClaimRefused',
    'LeadCreate',
    'Lead',
    'BuyerView',
    'FullLead',
    'ClaimFailureReason',
    'LeadStatus',
    'PingRejection',
  ]) {
    expect(schemas[name]).toBeDefined();
  }
  expect(schemas.ClaimFailureReason).toMatchObject({
    type: 'string',
    enum: expect.arrayContaining(['lost_race', 'insufficient_credits']),
  });
  expect((schemas.ClaimRefused!.properties as Record<string, Schema>).reason).toEqual({
    $ref: '#/components/schemas/ClaimFailureReason',
  });
  expect((schemas.ClaimWon!.properties as Record<string, Schema>).lead).toEqual({
    $ref: '#/components/schemas/FullLead',
  });

  // Every JSON body of every operation is a reference to a component, and every reference resolves.
  const bodies: Schema[] = [];
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops) as {
      requestBody?: { content: Record<string, { schema: Schema }> };
      responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
    }[]) {
      for (const media of [op.requestBody?.content ?? {}, ...Object.values(op.responses).map((r) => r.content ?? {})]) {
        for (const [type, { schema }] of Object.entries(media)) if (type.endsWith('json')) bodies.push(schema);
      }
    }
  }
  expect(bodies.length).toBeGreaterThan(100);
  // (The OpenAPI and AsyncAPI documents themselves are served as JSON objects without a schema of their own.)
  expect(bodies.filter((b) => !b.$ref && b.type !== 'object')).toEqual([]);
  expect(bodies.filter((b) => !b.$ref)).toHaveLength(2);
  const refs = new Set<string>();
  JSON.stringify(doc, (key, value) => (key === '$ref' && refs.add(value), value));
  for (const ref of [...refs].filter((r) => r.startsWith('#/components/schemas/')))
    expect(schemas[ref.replace('#/components/schemas/', '')]).toBeDefined();
  // A vocabulary used in many places is one component: every lead status is a reference to it.
  const leadStatusInline = JSON.stringify(schemas.LeadStatus);
  expect(JSON.stringify(doc).split(leadStatusInline).length - 1).toBe(1);
});

test("every route module's schemas file is among the components' sources: none of its answers or bodies is left inline", async () => {
  const named = new Set(namedSchemas().values());
  const dir = path.join(__dirname, '../../api/routes');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.schemas.ts'));
  expect(files.length).toBeGreaterThanOrEqual(10);
  for (const file of files) {
    const mod = (await import(path.join(dir, file))) as Record<string, unknown>;
    const responses = Object.values((mod.Responses ?? {}) as Record<string, unknown>);
    const bodies = Object.entries(mod)
      .filter(([name, value]) => value instanceof z.ZodType && !/(Query|Params)$/.test(name))
      .map(([, value]) => value);
    for (const schema of [...responses, ...bodies])
      expect({ file, named: named.has(schema as z.ZodType) }).toEqual({ file, named: true });
  }
});

test('the docs page renders every operation without fetching anything', async () => {
  const request = (await import('supertest')).default;
  const res = await request(api.app).get('/v1/docs');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  const doc = await fetchDoc();
  for (const ops of Object.values(doc.paths))
    for (const op of Object.values(ops)) expect(res.text).toContain(`id="${op.operationId}"`);
  expect(res.text).not.toMatch(/<script|https?:\/\/(?!json-schema\.org)/);
});

test('response headers are declared: Retry-After on every 429 and 503, the quota on claims, bids and pings, Idempotent-Replayed, Location', async () => {
  const doc = (await fetchDoc()) as unknown as {
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, { headers?: object }> }>>;
    components: { headers: Record<string, unknown> };
  };
  const ops = Object.values(doc.paths).flatMap((byMethod) => Object.values(byMethod));
  const headersOf = (operationId: string, status: string) =>
    Object.keys(ops.find((o) => o.operationId === operationId)!.responses[status]!.headers ?? {});
  for (const op of ops)
    for (const [status, res] of Object.entries(op.responses)) {
      if (status === '429' || status === '503') expect(Object.keys(res.headers ?? {})).toContain('Retry-After');
      for (const ref of Object.values(res.headers ?? {}) as { $ref: string }[])
        expect(doc.components.headers[ref.$ref.replace('#/components/headers/', '')]).toBeDefined();
    }
  for (const op of ['claimOffer', 'bidOnOffer', 'ping']) {
    expect(headersOf(op, '200')).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy']));
    expect(headersOf(op, '429')).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy', 'Retry-After']));
    expect(headersOf(op, '400')).not.toContain('RateLimit'); // refused before the quota is drawn
  }
  expect(headersOf('createLead', '202')).toContain('Idempotent-Replayed');
  expect(headersOf('startSso', '302')).toContain('Location');
});

test('every member a problem document may carry is declared, and a manual sale declares its buyer', async () => {
  const doc = (await fetchDoc()) as unknown as {
    components: { schemas: Record<string, { properties: Record<string, { description?: string }> }> };
  };
  const problem = doc.components.schemas.Problem!.properties;
  // The members the docs tell integrators to read (api/problem.ts accepts no other: ProblemExtensions in api/schemas.ts).
  for (const [member, code] of [
    ['duplicateOf', 'duplicate_lead'],
    ['leadId', 'ping_already_posted'],
    ['expiredAt', 'ping_expired'],
    ['balance', 'settlement_exceeds_balance'],
    ['retryAfter', 'rate_limited'],
    ['leadStatus', 'not_in_manual_review'],
    ['offerStatus', 'offer_not_open'],
    ['offerId', 'bid_required'],
    ['requestId', 'claim_pending'],
  ])
    expect(problem[member!]?.description).toContain(code);
  expect(Object.keys(doc.components.schemas.LeadAssigned!.properties)).toContain('buyerId');
});

test('the webhooks section declares every event a buyer receives, in both payload versions, with the Standard Webhooks headers', async () => {
  const doc = (await fetchDoc()) as unknown as {
    webhooks: Record<string, { post: { parameters: { name: string; in: string }[]; requestBody: unknown } }>;
  };
  expect(Object.keys(doc.webhooks).sort()).toEqual([
    'balance.low',
    'lead.delivered',
    'offer.opened',
    'recharge.failed',
  ]);
  for (const [type, { post }] of Object.entries(doc.webhooks)) {
    expect(post.parameters.filter((p) => p.in === 'header').map((p) => p.name)).toEqual(
      expect.arrayContaining(['webhook-id', 'webhook-timestamp', 'webhook-signature']),
    );
    const { oneOf } = (
      post.requestBody as { content: { 'application/json': { schema: { oneOf: { $ref: string }[] } } } }
    ).content['application/json'].schema;
    expect(oneOf).toHaveLength(2);
    expect(oneOf.map((s) => s.$ref)).toEqual([expect.stringMatching(/V1$/), expect.stringMatching(/V2$/)]);
    expect(type).toMatch(/^[a-z]+\.[a-z]+$/);
  }
});

test('every success answer and every request body has an example, valid against its schema', async () => {
  const doc = (await fetchDoc()) as unknown as Record<string, unknown> & {
    paths: Record<
      string,
      Record<
        string,
        {
          operationId: string;
          requestBody?: { content: Record<string, { example?: unknown }> };
          responses: Record<string, { content?: Record<string, { example?: unknown }> }>;
        }
      >
    >;
  };
  const guard = new ContractGuard(doc);
  const seg = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  let checked = 0;
  const missing: string[] = [];
  const invalid: { at: string; errors: string[] }[] = [];
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops)) {
      const media: [string, string, { example?: unknown }][] = [
        ...Object.entries(op.requestBody?.content ?? {}).map(
          ([type, m]) => [`requestBody/content/${seg(type)}`, type, m] as [string, string, { example?: unknown }],
        ),
        ...Object.entries(op.responses)
          .filter(([status]) => status.startsWith('2'))
          .flatMap(([status, r]) =>
            Object.entries(r.content ?? {}).map(
              ([type, m]) =>
                [`responses/${status}/content/${seg(type)}`, type, m] as [string, string, { example?: unknown }],
            ),
          ),
      ];
      for (const [where, type, m] of media) {
        const at = `${op.operationId} ${where}`;
        if (!('example' in m)) {
          missing.push(at);
          continue;
        }
        checked++;
        const errors = guard.schemaErrors(`#/paths/${seg(path)}/${method}/${where}/schema`, m.example);
        if (type.endsWith('json') ? errors.length : typeof m.example !== 'string') invalid.push({ at, errors });
      }
    }
  expect(missing).toEqual([]);
  expect(invalid).toEqual([]);
  expect(checked).toBeGreaterThan(150);
});
