/**
 * Reads the worker's Prometheus metrics (LW_WORKER_METRICS_PORT) before and
 * after a measurement, so a scenario can say how much of a latency was the
 * activity itself (database work) and how much the rest (HTTP, Temporal).
 */
type Samples = Map<string, number>;

export async function scrape(url: string): Promise<Samples> {
  const text = await (await fetch(url)).text();
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Quantile (ms) of a histogram's observations between two scrapes, interpolated within buckets like PromQL. */
function quantile(
  before: Samples,
  after: Samples,
  name: string,
  labels: string,
  q: number,
): { ms: number | null; count: number } {
  const buckets: { le: number; n: number }[] = [];
  for (const [key, v] of after) {
    if (!key.startsWith(`${name}_bucket{`) || !key.includes(labels)) continue;
    const le = /le="([^"]+)"/.exec(key)![1]!;
    buckets.push({ le: le === '+Inf' ? Infinity : Number(le), n: v - (before.get(key) ?? 0) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (!total) return { ms: null, count: 0 };
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const b of buckets) {
    if (b.n >= rank) {
      if (b.le === Infinity) return { ms: prevLe * 1000, count: total };
      const within = b.n - prevN ? (rank - prevN) / (b.n - prevN) : 1;
      return { ms: Math.round((prevLe + (b.le - prevLe) * within) * 10000) / 10, count: total };
    }
    prevLe = b.le;
    prevN = b.n;
  }
  return { ms: null, count: total };
}

/** p50/p99 (ms) and count of each activity's successful attempts between two scrapes. */
export function activityTimes(
  before: Samples,
  after: Samples,
  activities: string[],
): Record<string, { count: number; p50: number | null; p99: number | null }> {
  const out: Record<string, { count: number; p50: number | null; p99: number | null }> = {};
  for (const a of activities) {
    const labels = `activity="${a}",result="ok"`;
    const p50 = quantile(before, after, 'leadwire_activity_duration_seconds', labels, 0.5);
    const p99 = quantile(before, after, 'leadwire_activity_duration_seconds', labels, 0.99);
    if (p50.count) out[a] = { count: p50.count, p50: p50.ms, p99: p99.ms };
  }
  return out;
}
