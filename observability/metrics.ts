/**
 * The process's Prometheus registry (prom-client): what the worker side
 * counts (activities, lead and offer outcomes, deliveries) and, once
 * `collectProcessMetrics()` ran, Node's own (CPU, memory, event loop lag).
 *
 * The API's `/metrics` serves its own registry merged with this one, so in
 * `npm start` (one process) one scrape sees everything; a split worker serves
 * this registry alone on LW_WORKER_METRICS_PORT (`serveMetrics`).
 */
import http from 'node:http';

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const processRegistry = new Registry();

/** Seconds: from 1 ms to 30 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const activityDuration = new Histogram({
  name: 'leadwire_activity_duration_seconds',
  help: 'Activity attempts by activity type and result (ok or error)',
  labelNames: ['activity', 'result'],
  buckets: LATENCY_BUCKETS,
  registers: [processRegistry],
});

export const activityFailures = new Counter({
  name: 'leadwire_activity_failures_total',
  help: 'Failed activity attempts (Temporal retries them) by activity type and error type',
  labelNames: ['activity', 'error'],
  registers: [processRegistry],
});

export const leadOutcomes = new Counter({
  name: 'leadwire_leads_total',
  help: 'Leads reaching an outcome: sold, manual_review, rejected (a lead sold from review counts under both)',
  labelNames: ['outcome'],
  registers: [processRegistry],
});

export const offersOpened = new Counter({
  name: 'leadwire_offers_opened_total',
  help: 'Offers opened, by kind (ping_post, push)',
  labelNames: ['kind'],
  registers: [processRegistry],
});

export const offersClosed = new Counter({
  name: 'leadwire_offers_closed_total',
  help: 'Offers closed, by outcome (won, expired, cancelled)',
  labelNames: ['outcome'],
  registers: [processRegistry],
});

export const deliveries = new Counter({
  name: 'leadwire_deliveries_total',
  help: 'Deliveries by channel and status: delivered, attempt_failed (an attempt Temporal retries), failed (retries spent)',
  labelNames: ['channel', 'status'],
  registers: [processRegistry],
});

// The periodic jobs (worker/schedules.ts), counted by the worker that ran them: a run is one attempt of the job's
// activity. Across workers, sum the counters and take the max of the timestamps.
export const periodicJobRuns = new Counter({
  name: 'leadwire_periodic_job_runs_total',
  help: 'Runs of a periodic job (one per attempt of its activity), by job',
  labelNames: ['job'],
  registers: [processRegistry],
});

export const periodicJobFailures = new Counter({
  name: 'leadwire_periodic_job_failures_total',
  help: 'Failed runs of a periodic job, by job',
  labelNames: ['job'],
  registers: [processRegistry],
});

export const periodicJobLastRun = new Gauge({
  name: 'leadwire_periodic_job_last_run_timestamp_seconds',
  help: 'When a periodic job last finished a run on this process (Unix seconds), failed or not, by job',
  labelNames: ['job'],
  registers: [processRegistry],
});

export const periodicJobLastSuccess = new Gauge({
  name: 'leadwire_periodic_job_last_success_timestamp_seconds',
  help: 'When a periodic job last finished a run without error on this process (Unix seconds), by job',
  labelNames: ['job'],
  registers: [processRegistry],
});

export const reconciledPayments = new Counter({
  name: 'leadwire_payments_reconciled_total',
  help: "Succeeded Stripe payments the reconciliation job listed, by outcome: credited (its webhook was lost), would_credit (dry run), already_credited, ignored (not Leadwire's), refused (amount or currency differs)",
  labelNames: ['outcome'],
  registers: [processRegistry],
});

export const reconciliationRuns = new Counter({
  name: 'leadwire_payment_reconciliations_total',
  help: 'Reconciliation runs, one per agency, by status: completed, failed (Stripe could not be listed; nothing credited)',
  labelNames: ['status'],
  registers: [processRegistry],
});

/**
 * prom-client's gauges of the sums of `nodejs_active_{handles,requests,resources}` (by type): gauges named like
 * counters, which OpenMetrics readers refuse. `sum(nodejs_active_handles)` etc. give the same number.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

let defaultsOn = false;
/** Node's process metrics (CPU, resident memory, heap, event loop lag, GC) in the process registry; once. */
export function collectProcessMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: processRegistry });
  for (const name of MISNAMED_DEFAULTS) processRegistry.removeSingleMetric(name);
}

/** A bare `/metrics` endpoint for a process without the API (the split worker). */
/** A process's readiness for `/readyz`: `ready` decides 200 or 503, the rest is shown as JSON. */
export type Readiness = () => Promise<{ ready: boolean } & Record<string, unknown>>;

/**
 * `/metrics` from `registry`, `/healthz` (liveness: the process answers) and `/readyz` (200 when
 * `readiness` says ready, else 503, with its details) on `port`: the worker's HTTP face.
 */
export function serveMetrics(
  port: number,
  registry: Registry = processRegistry,
  readiness?: Readiness,
): Promise<http.Server> {
  const json = (res: http.ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return json(res, 200, { status: 'ok' });
    if (req.url === '/readyz') {
      if (!readiness) return json(res, 200, { status: 'ready' });
      readiness().then(
        ({ ready, ...details }) => json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', ...details }),
        (err: unknown) => json(res, 503, { status: 'not_ready', error: String(err) }),
      );
      return;
    }
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
