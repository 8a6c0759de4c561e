/**
 * Observability: the Prometheus metrics a real claim and a real feed produce (the HTTP duration histogram by
 * route template among them), the /metrics of the API and of the worker read as Prometheus and OpenMetrics
 * readers do, request ids, the request id and trace on log lines, the ids on activity logs, and the Temporal
 * SDK's logs through pino at WARN.
 */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import { context, propagation, trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Context } from '@temporalio/activity';
import pino from 'pino';

import { activityLog, observeActivities } from '../../observability/activity';
import { logContext, PinoTemporalLogger, temporalLogLevel, withRequestId } from '../../observability/logger';
import { collectProcessMetrics, offersOpened, processRegistry, serveMetrics } from '../../observability/metrics';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  type Harness,
  startHarness,
} from '../api/harness';
import { expositionProblems, sample } from '../helpers/metrics';
import { eventually } from '../helpers/temporal';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

/** The value of one sample line, e.g. `leadwire_leads_total{outcome="sold"}`. */
test('a claim through the API and a feed client show up in /metrics: latencies, offers open, activities, lead outcomes, deliveries', async () => {
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 30 });
  const feed = await connectFeed(h.main.wsUrl, buyer.apiKey);
  try {
    await feed.next((m) => m.type === 'snapshot');
    const lead = await apiLead(h, adminKey, campaign.id);
    const opened = await feed.next(
      (m) => m.type === 'offer.opened' && (m.offer as { leadId: string }).leadId === lead.id,
    );
    const offerId = (opened.offer as { id: string }).id;

    const during = (await h.http.get('/metrics')).text;
    expect(sample(during, 'leadwire_offers_open')).toBeGreaterThanOrEqual(1);
    expect(sample(during, 'leadwire_feed_connections_open')).toBe(1);
    expect(sample(during, 'leadwire_feed_delivery_seconds_count', { type: 'offer.opened' })).toBeGreaterThanOrEqual(1);

    const won = await h.http.post(`/v1/offers/${offerId}/claim`).set(bearer(buyer.apiKey)).send({});
    expect(won.status).toBe(200);

    const after = await eventually(
      async () => {
        const text = (await h.http.get('/metrics')).text;
        return (
          (sample(text, 'leadwire_leads_total', { outcome: 'sold' }) ?? 0) >= 1 &&
          (sample(text, 'leadwire_deliveries_total', { status: 'delivered' }) ?? 0) >= 1 &&
          text
        );
      },
      20_000,
      'the sale and its delivery in /metrics',
    );
    expect(
      sample(after, 'leadwire_claim_duration_seconds_count', { via: 'api', outcome: 'won' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(after, 'leadwire_claim_duration_seconds_bucket', { via: 'api', outcome: 'won', le: '+Inf' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'leadwire_claims_total', { via: 'api', outcome: 'won' })).toBeGreaterThanOrEqual(1);
    expect(
      sample(after, 'leadwire_activity_duration_seconds_count', { activity: 'postAndCharge', result: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'leadwire_offers_opened_total', { kind: 'ping_post' })).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'leadwire_offers_closed_total', { outcome: 'won' })).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^# TYPE leadwire_activity_failures_total counter$/m);
    // The request duration histogram, by route template: never the raw path (the offer's id).
    expect(
      sample(after, 'http_server_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/offers/:id/claim',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^# TYPE http_server_request_duration_seconds histogram$/m);
    const routes = [...after.matchAll(/^http_server_request_duration_seconds_count\{[^}]*route="([^"]*)"/gm)].map(
      (m) => m[1],
    );
    expect(routes).toContain('/metrics');
    expect(routes.filter((r) => r!.includes(offerId) || r!.includes(lead.id))).toEqual([]);
  } finally {
    await feed.close();
  }
});

test('the /metrics of the API and of the worker read clean: no family twice, counters with _total, no collisions', async () => {
  collectProcessMetrics(); // Node's own metrics, as bin/*.ts turn them on
  const api = (await h.http.get('/metrics')).text;
  expect(expositionProblems(api)).toEqual([]);
  const server = await serveMetrics(0);
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    const worker = await res.text();
    expect(worker).toMatch(/^# TYPE leadwire_activity_duration_seconds histogram$/m);
    expect(expositionProblems(worker)).toEqual([]);
  } finally {
    await new Promise((r) => server.close(r));
  }
  // The check finds what it looks for: the names this API exported before (a gauge beside a counter of the same
  // OpenMetrics family, a count as a gauge), a counter without _total, a sample under another family.
  expect(
    expositionProblems(
      [
        '# TYPE leadwire_feed_connections_total counter',
        'leadwire_feed_connections_total 3',
        '# TYPE leadwire_feed_connections gauge',
        'leadwire_feed_connections 1',
        '# TYPE leadwire_feed_bus_reconnects_total gauge',
        'leadwire_feed_bus_reconnects_total 1',
        '# TYPE leadwire_things counter',
        'leadwire_things 1',
        '# TYPE leadwire_open gauge',
        'leadwire_closed 1',
        '# TYPE leadwire_open gauge',
        '',
      ].join('\n'),
    ),
  ).toEqual([
    'leadwire_closed: a sample under the gauge leadwire_open',
    'leadwire_open: declared twice',
    'leadwire_feed_connections and leadwire_feed_connections_total collide on leadwire_feed_connections',
    'leadwire_feed_bus_reconnects_total: a gauge named like a counter',
    'leadwire_things: a counter without _total',
  ]);
});

test("every answer carries a request id: the caller's X-Request-Id when it is a plain token, else a new one", async () => {
  const given = await h.http.get('/healthz').set('X-Request-Id', 'lb-7f3a:42');
  expect(given.headers['x-request-id']).toBe('lb-7f3a:42');
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  for (const bad of ['has spaces', 'x'.repeat(129), '<script>', '']) {
    const res = await h.http.get('/healthz').set('X-Request-Id', bad);
    expect(res.headers['x-request-id']).toMatch(UUID);
  }
  const none = await h.http.get('/v1/nothing-here');
  expect(none.status).toBe(404);
  expect(none.headers['x-request-id']).toMatch(UUID);
  expect(none.headers['x-request-id']).not.toBe((await h.http.get('/v1/nothing-here')).headers['x-request-id']);
});

test('log lines carry the request id and the active span (trace_id, span_id) where there are', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { mixin: logContext },
    {
      write: (l: string) => {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    },
  );
  const provider = new NodeTracerProvider(); // AsyncLocalStorage context, as installTracing registers it
  provider.register();
  let ids = { traceId: '', spanId: '' };
  try {
    log.info('outside');
    await withRequestId('req-1', async () => {
      log.info('inside a request');
      await trace.getTracer('test').startActiveSpan('request', async (span) => {
        ids = span.spanContext();
        await new Promise((r) => setTimeout(r, 1));
        log.child({ component: 'api' }).info('inside its span, after an await');
        span.end();
      });
    });
  } finally {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  }
  expect(lines[0]).not.toHaveProperty('requestId');
  expect(lines[0]).not.toHaveProperty('trace_id');
  expect(lines[1]).toMatchObject({ requestId: 'req-1' });
  expect(lines[1]).not.toHaveProperty('trace_id');
  expect(lines[2]).toMatchObject({ requestId: 'req-1', component: 'api', trace_id: ids.traceId, span_id: ids.spanId });
});

test('activity logs carry the ids of the input and the workflow; outcomes are counted from the input', async () => {
  const ctx = {
    info: { activityType: 'openOffer', workflowExecution: { workflowId: 'lead-abc', runId: 'r' }, attempt: 2 },
  } as unknown as Context;
  const before = (await offersOpened.get()).values.find((v) => v.labels.kind === 'push')?.value ?? 0;
  let bindings: Record<string, unknown> = {};
  const input = { offerId: 'o-1', leadId: 'l-1', kind: 'push', agencyId: 'a-1' };
  const result = await observeActivities(ctx).inbound!.execute!({ args: [input], headers: {} }, async () => {
    bindings = activityLog().bindings();
    return { eligible: 0 };
  });
  expect(result).toEqual({ eligible: 0 });
  expect(bindings).toMatchObject({
    activity: 'openOffer',
    workflowId: 'lead-abc',
    attempt: 2,
    offerId: 'o-1',
    leadId: 'l-1',
  });
  expect((await offersOpened.get()).values.find((v) => v.labels.kind === 'push')?.value).toBe(before + 1);

  // A failing attempt is counted by activity and error type, and rethrown for Temporal to retry.
  const failing = observeActivities({
    ...ctx,
    info: { ...ctx.info, activityType: 'closeOffer' },
  } as unknown as Context);
  await expect(
    failing.inbound!.execute!({ args: [{ offerId: 'o-1' }], headers: {} }, async () =>
      Promise.reject(new TypeError('boom')),
    ),
  ).rejects.toThrow('boom');
  expect(await processRegistry.getSingleMetricAsString('leadwire_activity_failures_total')).toMatch(
    /activity="closeOffer",error="TypeError"\} 1/,
  );
});

test("the Temporal SDK's logs go through pino, at WARN and above unless LW_TEMPORAL_LOG_LEVEL says otherwise", () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = new PinoTemporalLogger(pino({ level: 'trace' }, sink), temporalLogLevel(undefined));
  log.info('Worker state changed', { sdkComponent: 'worker' });
  log.warn('Activity failed', { workflowId: 'lead-1', error: new Error('x') });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 40, msg: 'Activity failed', workflowId: 'lead-1', err: { message: 'x' } });
  expect(temporalLogLevel('debug')).toBe('DEBUG');
  expect(temporalLogLevel('nonsense')).toBe('WARN');
});
