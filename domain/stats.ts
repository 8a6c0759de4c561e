/** Engagement statistics as pure functions over plain numbers. */

export interface Distribution {
  count: number;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  /** Upper bounds in ms with how many values are ≤ each (and above the previous); the last is open (le: null). */
  buckets: { le: number | null; count: number }[];
}

const LATENCY_BUCKETS_MS = [250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function distribution(values: number[], bounds: number[] = LATENCY_BUCKETS_MS): Distribution {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const buckets: Distribution['buckets'] = [
    ...bounds.map((le) => ({ le: le as number | null, count: 0 })),
    { le: null, count: 0 },
  ];
  for (const v of sorted) {
    const i = bounds.findIndex((b) => v <= b);
    buckets[i < 0 ? bounds.length : i].count++;
  }
  return {
    count: sorted.length,
    min: sorted[0] ?? null,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? null,
    buckets,
  };
}

/** A share in [0, 1], or null when nothing was counted. */
export const rate = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);
