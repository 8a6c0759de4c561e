/**
 * The OpenAPI 3.1 document is valid, is generated from the route objects, and
 * lists exactly the routes the Express app serves; the docs page renders it.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import express from 'express';
import { openApiPath } from '../../api/openapi';
import { inertApi } from './inert-api';

/** The document needs no database or Temporal. */
const api = inertApi();

/** `METHOD /path` of every route registered on the Express app (its router stack). */
function servedRoutes(app: express.Express): string[] {
  const stack = (app as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router.stack;
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
  return res.body as { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };
}

test('the document is a valid OpenAPI 3.1 document', async () => {
  const doc = await fetchDoc();
  expect(doc.openapi).toBe('3.1.0');
  await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
});

test('it lists every route the app serves, and nothing else', async () => {
  const doc = await fetchDoc();
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
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
    requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown>; additionalProperties: boolean } } } };
    responses: Record<string, { content?: Record<string, unknown> }>;
  };
  expect(createLead.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
  const schema = createLead.requestBody.content['application/json'].schema;
  expect(Object.keys(schema.properties)).toEqual(['campaignId', 'fields', 'consent', 'subId', 'clickId']);
  expect(schema.additionalProperties).toBe(false);
  expect(Object.keys(createLead.responses['400']!.content!)).toEqual(['application/problem+json']);
});

test('the docs page renders every operation without fetching anything', async () => {
  const request = (await import('supertest')).default;
  const res = await request(api.app).get('/v1/docs');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  const doc = await fetchDoc();
  for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) expect(res.text).toContain(`id="${op.operationId}"`);
  expect(res.text).not.toMatch(/<script|https?:\/\/(?!json-schema\.org)/);
});
