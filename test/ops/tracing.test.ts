/**
 * OpenTelemetry end to end (observability/tracing.ts) with an in-memory exporter: the API, a worker
 * bundled with Temporal's OpenTelemetry plugin and a traced Temporal client, in this process on the
 * run's dev server and Postgres, and a real webhook receiver. One claim over HTTP yields one connected
 * trace: the API's server span (instrumentation-http, named by instrumentation-express's route), its route
 * handler, the client's Update, the workflow's handling of it, the sale activity and its Postgres statements
 * (instrumentation-pg). The lead's own trace reaches the buyer's webhook through the `traceparent` of
 * instrumentation-http's client span. The API's request line and the activities' lines carry the trace
 * (trace_id, span_id) and the request id. (test/ops/instrumentation.test.ts checks the hooks outside Jest.)
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import pino from 'pino';

import { createApi } from '../../api/app';
import type { Database } from '../../db/connection';
import { createInProcessBus } from '../../db/offer-bus';
import { logger } from '../../observability/logger';
import { exporterFromEnv, installTracing, shutdownTracing } from '../../observability/tracing';
import { connectTemporal, plainTarget } from '../../temporal/connection';
import { createLeadwireWorker } from '../../worker/worker';
import { RELAXED_LIMITS } from '../api/harness';
import { call } from '../faults/traffic';
import { openTestPostgres } from '../helpers/db';
import { eventually, temporalAddress } from '../helpers/temporal';
import { leadFields, SERVICE_LINE } from '../helpers/world';

jest.setTimeout(5 * 60_000);

const exporter = new InMemorySpanExporter();
const ROOT = 'tracing-root-token-0123456789';
let database: Database;
let worker: Worker;
let running: Promise<void>;
let client: Client;
let server: http.Server;
let baseUrl: string;
const hook = { server: http.createServer(), url: '', received: [] as http.IncomingHttpHeaders[] };
/** The process logger's lines (its stream swapped for the test; the loggers made from it write there too). */
const lines: Record<string, unknown>[] = [];
const logStream = logger as unknown as Record<symbol, unknown>;
const saved = { stream: logStream[pino.symbols.streamSym], level: logger.level };

beforeAll(async () => {
  logStream[pino.symbols.streamSym] = { write: (line: string) => lines.push(JSON.parse(line)) };
  logger.level = 'debug';
  installTracing(new SimpleSpanProcessor(exporter), 'leadwire-test');
  hook.server.on('request', (req, res) => {
    req.resume();
    req.on('end', () => {
      hook.received.push(req.headers);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hook`;

  database = await openTestPostgres();
  const bus = createInProcessBus();
  const taskQueue = `tracing-${crypto.randomUUID()}`;
  // No prebuilt bundle: the worker bundles the workflows with the plugin's workflow interceptors.
  ({ worker } = await createLeadwireWorker({
    target: plainTarget(temporalAddress()),
    taskQueue,
    db: database.db,
    bus,
    delivery: { allowlist: '127.0.0.1' },
  }));
  running = worker.run();
  client = await connectTemporal(plainTarget(temporalAddress()));
  const api = createApi({
    db: database.db,
    bus,
    temporal: client,
    taskQueue,
    rootToken: ROOT,
    rateLimits: RELAXED_LIMITS,
    webhookAllowlist: '127.0.0.1',
    logger: { error: () => undefined, warn: () => undefined },
    requestLogger: logger.child({ component: 'api' }),
  });
  server = http.createServer(api.app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  worker?.shutdown();
  await running;
  await client?.connection.close();
  await database?.close();
  await new Promise<void>((r) => hook.server.close(() => r()));
  await shutdownTracing();
  logStream[pino.symbols.streamSym] = saved.stream;
  logger.level = saved.level;
});

async function ok(
  method: string,
  path: string,
  key: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<Record<string, unknown>> {
  const answer = await call(baseUrl, method, path, { key, body, headers });
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** Every span of the trace reaches the root through parents that are in the trace too. */
function connected(spans: ReadableSpan[]): boolean {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  return roots.length === 1;
}

const EXPRESS = '@opentelemetry/instrumentation-express';
const scope = (s: ReadableSpan) => s.instrumentationLibrary.name;

const ancestors = (span: ReadableSpan, byId: Map<string, ReadableSpan>): ReadableSpan[] => {
  const out: ReadableSpan[] = [];
  for (
    let p = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    p;
    p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined
  )
    out.push(p);
  return out;
};

test('one claim over HTTP is one connected trace: API request → Update → workflow → sale activity → its SQL; the lead trace reaches the webhook', async () => {
  const created = await ok('POST', '/v1/agencies', ROOT, { name: 'tracing' });
  const adminKey = created.adminKey as string;
  await ok('POST', '/v1/service-lines', adminKey, { key: SERVICE_LINE, name: 'Roofing' });
  const b = await ok('POST', '/v1/buyers', adminKey, {
    name: 'traced',
    serviceLines: [SERVICE_LINE],
    delivery: { webhookUrl: hook.url },
  });
  const buyer = { id: (b.buyer as { id: string }).id, key: b.apiKey as string };
  await ok('POST', `/v1/buyers/${buyer.id}/credits`, adminKey, { amount: 100 });
  const c = await ok('POST', '/v1/campaigns', adminKey, {
    name: 'traced',
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    claimWindowSeconds: 60,
    price: { base: 10 },
  });
  exporter.reset();
  const lead = await ok('POST', '/v1/leads', adminKey, {
    campaignId: (c.campaign as { id: string }).id,
    fields: leadFields(),
  });
  const leadId = (lead.lead as { id: string }).id;
  const offerId = await eventually(
    async () => {
      const open = await ok('GET', '/v1/offers?status=open', buyer.key);
      return (open.offers as { id: string; leadId: string }[] | undefined)?.find((o) => o.leadId === leadId)?.id;
    },
    60_000,
    'the offer',
  );

  const claim = await ok(
    'POST',
    `/v1/offers/${offerId}/claim`,
    buyer.key,
    { requestId: 'traced-claim' },
    { 'X-Request-Id': 'claim-req-1' },
  );
  expect(claim.result).toBe('won');
  // The lead's workflow span ends when the workflow does (after the delivery).
  await eventually(
    async () => exporter.getFinishedSpans().some((s) => s.name === 'RunWorkflow:leadWorkflow'),
    60_000,
    'the workflow span',
  );
  const spans = exporter.getFinishedSpans();
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const inTrace = (traceId: string) => spans.filter((s) => s.spanContext().traceId === traceId);
  const one = (name: string, traceId: string) => {
    const found = inTrace(traceId).filter((s) => s.name === name);
    expect([name, found.length]).toEqual([name, 1]);
    return found[0]!;
  };

  // The claim: one trace from the API's request down to the sale's SQL.
  const claimRoot = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/offers/:id/claim')!;
  expect(claimRoot).toBeDefined();
  const claimTrace = claimRoot.spanContext().traceId;
  expect(connected(inTrace(claimTrace))).toBe(true);
  const sale = one('RunActivity:postAndCharge', claimTrace);
  const saleAncestors = ancestors(sale, byId);
  expect(saleAncestors.filter((s) => scope(s) !== EXPRESS).map((s) => s.name)).toEqual([
    'StartActivity:postAndCharge',
    'HandleUpdate:claim',
    'StartWorkflowUpdate:claim',
    'POST /v1/offers/:id/claim',
  ]);
  // The Update was sent from the route's handler: Express's spans sit between the request and the client call.
  expect(saleAncestors[3]!.name).toMatch(/^request handler/);
  expect(scope(saleAncestors[3]!)).toBe(EXPRESS);
  expect(claimRoot.attributes['http.route']).toBe('/v1/offers/:id/claim');
  // The sale's transaction, statement by statement, in the order they started.
  const saleSql = inTrace(claimTrace)
    .filter((s) => s.parentSpanId === sale.spanContext().spanId)
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
    .map((s) => String(s.attributes['db.statement']));
  const at = (re: RegExp) => saleSql.findIndex((q) => re.test(q));
  const [begin, charge, assignment, commit] = [
    /^begin/i,
    /insert into "ledger_entries"/i,
    /insert into "assignments"/i,
    /^commit/i,
  ].map(at);
  expect([begin, charge, assignment, commit].every((i) => i >= 0)).toBe(true);
  expect(begin).toBeLessThan(Math.min(charge!, assignment!));
  expect(commit).toBeGreaterThan(Math.max(charge!, assignment!));

  // The lead: its request, the workflow run, and the delivery POST whose traceparent the buyer received.
  const leadRoot = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/leads')!;
  const leadTrace = leadRoot.spanContext().traceId;
  expect(connected(inTrace(leadTrace))).toBe(true);
  const posts = inTrace(leadTrace).filter(
    (s) => s.kind === SpanKind.CLIENT && scope(s) === '@opentelemetry/instrumentation-http',
  );
  expect(posts.map((s) => [s.name, s.attributes['http.url']])).toEqual([['POST', hook.url]]);
  const post = posts[0]!;
  expect(
    ancestors(post, byId)
      .filter((s) => scope(s) !== EXPRESS)
      .map((s) => s.name),
  ).toEqual([
    'RunActivity:deliverWebhook',
    'StartActivity:deliverWebhook',
    'RunWorkflow:leadWorkflow',
    'StartWorkflow:leadWorkflow',
    'POST /v1/leads',
  ]);
  expect(hook.received.map((h) => h.traceparent)).toEqual([`00-${leadTrace}-${post.spanContext().spanId}-01`]);

  // The logs: the claim's request line carries the caller's request id and the request's trace; the activities'
  // lines their workflow's trace (the sale: the claim's; the delivery: the lead's).
  const spanIds = new Set(spans.map((s) => s.spanContext().spanId));
  const claimLine = lines.find((l) => l.msg === 'request' && l.route === '/v1/offers/:id/claim');
  expect(claimLine).toMatchObject({ requestId: 'claim-req-1', trace_id: claimTrace, component: 'api', status: 200 });
  expect(spanIds.has(claimLine!.span_id as string)).toBe(true);
  const leadLine = lines.find((l) => l.msg === 'request' && l.route === '/v1/leads');
  expect(leadLine).toMatchObject({ trace_id: leadTrace });
  expect(leadLine!.requestId).toMatch(/^[0-9a-f-]{36}$/);
  const done = (activity: string) => lines.find((l) => l.activity === activity && l.msg === 'activity completed');
  expect(done('postAndCharge')).toMatchObject({ trace_id: claimTrace });
  expect(done('deliverWebhook')).toMatchObject({ trace_id: leadTrace });
});

test('tracing is off unless the standard OTEL_* variables ask for an exporter', () => {
  expect(exporterFromEnv({})).toBeNull();
  expect(exporterFromEnv({ OTEL_SERVICE_NAME: 'api' })).toBeNull();
  expect(exporterFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('otlp');
  expect(exporterFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe('otlp');
  expect(exporterFromEnv({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe('otlp');
  expect(exporterFromEnv({ OTEL_TRACES_EXPORTER: 'console' })).toBe('console');
  expect(
    exporterFromEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }),
  ).toBeNull();
  expect(exporterFromEnv({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBeNull();
});
