/**
 * The ping tree scenario's buyer endpoints, the load generator's side: the
 * plan (which tier each server is in, its floor), the rule that decides how
 * many tiers refuse a lead (shared with the servers' process,
 * bench/processes/endpoints.ts), starting that process and reading its notes.
 */
import { type Proc, spawnTs, stopProc } from './stack';

export interface EndpointPlan {
  /** 0-based tier of the campaign's ping tree. */
  tier: number;
  floor: number;
}

/** One call a server received: when (host wall clock, ms) and how long it held it before answering. */
export interface EndpointEvent {
  server: number;
  tier: number;
  step: 'ping' | 'post';
  /** A ping's lead sequence number (the lead's `bench_seq` answer). */
  seq: number | null;
  /** A post's lead id. */
  leadId: string | null;
  at: number;
  delayMs: number;
}

/**
 * How many tiers (from the first) refuse the lead with sequence number `seq`: half the leads sell in tier 1, a
 * quarter fall to tier 2, a quarter to tier 3 (never past the last tier).
 */
export function fallThrough(seq: number, tiers: number): number {
  return Math.min(tiers - 1, [0, 0, 1, 2][seq % 4]!);
}

export interface EndpointServers {
  proc: Proc;
  /** ping and post URL of each server, in plan order. */
  urls: { pingUrl: string; postUrl: string }[];
  /** The notes since the last call. */
  events(): Promise<EndpointEvent[]>;
  close(): Promise<void>;
}

export async function startEndpointServers(
  plan: EndpointPlan[],
  opts: { seed: number; minMs: number; maxMs: number },
): Promise<EndpointServers> {
  const { proc, match } = await spawnTs(
    'endpoints',
    'bench/processes/endpoints.ts',
    {
      LW_BENCH_ENDPOINT_PLAN: JSON.stringify(plan),
      LW_BENCH_ENDPOINT_SEED: String(opts.seed),
      LW_BENCH_ENDPOINT_MIN_MS: String(opts.minMs),
      LW_BENCH_ENDPOINT_MAX_MS: String(opts.maxMs),
    },
    /^READY (.+)$/,
  );
  const { control, ports } = JSON.parse(match[1]!) as { control: number; ports: number[] };
  return {
    proc,
    urls: ports.map((p) => ({ pingUrl: `http://127.0.0.1:${p}/ping`, postUrl: `http://127.0.0.1:${p}/post` })),
    async events() {
      const res = await fetch(`http://127.0.0.1:${control}/events`);
      return (await res.json()) as EndpointEvent[];
    },
    close: () => stopProc(proc),
  };
}
