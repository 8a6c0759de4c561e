/**
 * The API instance's Prometheus metrics for `GET /metrics` (prom-client):
 * requests by route and status, claims by answer and their latency, feed
 * connections and feed delivery latency, offers open. Each instance has its
 * own registry (a process may run several, e.g. in tests); a scrape merges it
 * with the process registry (observability/metrics.ts: activities, lead and
 * offer outcomes, deliveries, Node's process metrics when enabled).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { LATENCY_BUCKETS, processRegistry } from '../observability/metrics';

type Labels = Record<string, string>;

export class Metrics {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter<string>>();
  private readonly histograms = new Map<string, Histogram<string>>();

  counter(name: string, help: string, labelNames: string[] = []): void {
    if (!this.counters.has(name))
      this.counters.set(name, new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  /** A gauge read when scraped. */
  gauge(name: string, help: string, read: () => number | Promise<number>): void {
    this.registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        this.set(await read());
      },
    });
  }

  /**
   * A counter read when scraped, for a count kept elsewhere that only grows (since the process started):
   * exported as a counter, so rate() and increase() work on it.
   */
  counterFrom(name: string, help: string, read: () => number): void {
    this.registry.removeSingleMetric(name);
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /** Seconds, 1 ms to 30 s unless told. */
  histogram(name: string, help: string, labelNames: string[] = [], buckets: number[] = LATENCY_BUCKETS): void {
    if (!this.histograms.has(name))
      this.histograms.set(name, new Histogram({ name, help, labelNames, buckets, registers: [this.registry] }));
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    this.counters.get(name)?.inc(labels, by);
  }

  observe(name: string, labels: Labels, seconds: number): void {
    this.histograms.get(name)?.observe(labels, seconds);
  }

  /** The text exposition of this instance and of the process. */
  async render(): Promise<string> {
    return Registry.merge([this.registry, processRegistry]).metrics();
  }
}
