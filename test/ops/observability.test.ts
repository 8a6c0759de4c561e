/**
 * Observability: the Prometheus metrics a real claim and a real feed produce,
 * the ids on activity logs, and the Temporal SDK's logs through pino at WARN.
 */
import { Writable } from 'node:stream';

import type { Context } from '@temporalio/activity';
import pino from 'pino';

import { activityLog, observeActivities } from '../../observability/activity';
import { PinoTemporalLogger, temporalLogLevel } from '../../observability/logger';
import { offersOpened, processRegistry } from '../../observability/metrics';
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
import { sample } from '../helpers/metrics';
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
  } finally {
    await feed.close();
  }
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
