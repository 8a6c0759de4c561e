/** Percentiles and small summaries for latency samples (milliseconds). */

export interface Summary {
  n: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Nearest-rank percentile of unsorted samples; null when empty. */
function percentile(samples: number[], p: number): number | null {
  if (!samples.length) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);

export function summarize(samples: number[]): Summary {
  return {
    n: samples.length,
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    p99: round(percentile(samples, 99)),
    max: round(samples.length ? Math.max(...samples) : null),
    mean: round(samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : null),
  };
}

/** "p50 12.3 / p95 20.1 / p99 40.2 ms (n 150)" */
export function fmt(s: Summary): string {
  if (!s.n) return 'no samples';
  return `p50 ${s.p50} / p95 ${s.p95} / p99 ${s.p99} ms (n ${s.n})`;
}

export const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || b === 0 ? null : Math.round((a / b) * 10) / 10;

/** "api 1.2, worker 3.4" */
export const cpuText = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
