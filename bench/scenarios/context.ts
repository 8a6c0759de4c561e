/** What every scenario gets: the stack, an API client, direct database access, and the run's sizes. */
import { sql } from 'drizzle-orm';

import type { Database } from '../../db/connection';
import type { ApiClient } from '../lib/client';
import type { Stack } from '../lib/stack';

export interface Sizes {
  /** Claim storm: simultaneous claimers per round, and rounds per size. */
  claimers: number[];
  claimRounds: number;
  /** Feed: connected buyers, and leads per size. */
  feedClients: number[];
  feedRounds: number;
  /** Throughput: offered rates (leads/s), seconds per step, bot buyers. */
  rates: number[];
  stepSeconds: number;
  bots: number;
  /** Scale: offers open at once, and the claim storm run beside them. */
  scaleOffers: number;
  scaleClaimers: number;
  scaleClaimRounds: number;
  /** Engine floor: offered rates (workflows/s), same step length as throughput. */
  floorRates: number[];
  /** Storm over many offers: buyers each claiming every one of the offers at once, and rounds. */
  manyBuyers: number;
  manyOffers: number;
  manyRounds: number;
  /** Supply: rounds of 50 concurrent pings, and leads seeded for the report timings. */
  pingRounds: number;
  reportLeads: number;
  /** Feed flood: wallet reads per sample (idle, flooded), and frames a flooding socket sends. */
  floodReads: number;
  floodFrames: number;
  /** Ping tree: endpoint buyers, the fixed rate (leads/s) and its seconds, then the rising rates (stepSeconds each). */
  pingTreeEndpoints: number;
  pingTreeRate: number;
  pingTreeSeconds: number;
  pingTreeRates: number[];
  /** Intake checks: leads timed per configuration, and hashes in each list when they are full. */
  intakeCheckLeads: number;
  intakeListEntries: number;
  /** Ping with suppression: hashes listed (nine tenths national DNC, a tenth the agency's). */
  suppressionHashes: number;
  /** Suppression CSV: numbers per file. */
  csvLines: number;
}

export const FULL: Sizes = {
  claimers: [10, 50, 200],
  claimRounds: 20,
  feedClients: [100, 1000],
  feedRounds: 15,
  rates: [4, 8, 12, 16, 24, 32, 48, 64, 100, 140],
  stepSeconds: 20,
  bots: 20,
  scaleOffers: 10_000,
  scaleClaimers: 50,
  scaleClaimRounds: 10,
  floorRates: [8, 16, 24, 32, 48, 64, 80, 100, 120, 140, 170, 200],
  manyBuyers: 50,
  manyOffers: 30,
  manyRounds: 3,
  pingRounds: 20,
  reportLeads: 1_000_000,
  floodReads: 3_000,
  floodFrames: 10_000,
  pingTreeEndpoints: 50,
  pingTreeRate: 5,
  pingTreeSeconds: 30,
  pingTreeRates: [5, 10, 15, 20, 30, 40, 60, 80],
  intakeCheckLeads: 500,
  intakeListEntries: 100_000,
  suppressionHashes: 10_000_000,
  csvLines: 1_000_000,
};

/** `npm run bench:ci`: every scenario, tiny, so the harness cannot rot (well under 3 minutes). */
export const CI: Sizes = {
  claimers: [3],
  claimRounds: 2,
  feedClients: [5],
  feedRounds: 2,
  rates: [2],
  stepSeconds: 3,
  bots: 2,
  scaleOffers: 20,
  scaleClaimers: 3,
  scaleClaimRounds: 2,
  floorRates: [2],
  manyBuyers: 3,
  manyOffers: 2,
  manyRounds: 1,
  pingRounds: 2,
  reportLeads: 2_000,
  floodReads: 20,
  floodFrames: 1_000,
  pingTreeEndpoints: 10,
  pingTreeRate: 2,
  pingTreeSeconds: 3,
  pingTreeRates: [3],
  intakeCheckLeads: 10,
  intakeListEntries: 1_000,
  suppressionHashes: 20_000,
  csvLines: 5_000,
};

export interface BenchContext {
  stack: Stack;
  api: ApiClient;
  database: Database;
  sizes: Sizes;
  log(message: string): void;
}

export interface ScenarioResult {
  scenario:
    | 'claim_storm'
    | 'floor'
    | 'feed_latency'
    | 'throughput'
    | 'engine_floor'
    | 'scale'
    | 'storm_many'
    | 'supply'
    | 'feed_flood'
    | 'ping_tree'
    | 'intake_checks'
    | 'suppression_csv'
    | 'ping_suppression';
  /** Everything measured (printed as JSON). */
  figures: Record<string, unknown>;
  /** One line for the results table. */
  headline: string;
}

/** The floor's offers have no workflow (they stay open, their sales undelivered): the workflow id marks them. */
export const FLOOR_WORKFLOW_PREFIX = 'bench-floor-';
const FLOOR_PREFIX = `${FLOOR_WORKFLOW_PREFIX}%`;
/**
 * The supply scenario's seeded history (a year of sold leads written straight into the tables, no workflow, no
 * delivery): the workflow id marks it, so `settle` does not wait for deliveries that will never come.
 */
export const SEEDED_WORKFLOW_PREFIX = 'bench-lead-';
const SEEDED_PREFIX = `${SEEDED_WORKFLOW_PREFIX}%`;

/**
 * Waits (up to `timeoutMs`) until the previous work is done: no offer open, no
 * lead still routing, no sold lead waiting for its delivery. Scenarios and
 * throughput steps start from an idle system, so one's backlog is not
 * measured as the next one's latency. Returns what was still pending.
 */
export async function settle(ctx: BenchContext, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = (await ctx.database.db.execute(sql`
      SELECT (SELECT count(*) FROM offers WHERE status = 'open' AND workflow_id NOT LIKE ${FLOOR_PREFIX})
           + (SELECT count(*) FROM leads WHERE status = 'routing')
           + (SELECT count(*) FROM assignments a JOIN offers o ON o.id = a.offer_id
               WHERE o.workflow_id NOT LIKE ${FLOOR_PREFIX} AND o.workflow_id NOT LIKE ${SEEDED_PREFIX}
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.assignment_id = a.id)) AS n`)) as unknown as {
      rows: { n: string }[];
    };
    const pending = Number(result.rows[0]?.n ?? 0);
    if (pending === 0) return 0;
    if (Date.now() > deadline) {
      ctx.log(`still ${pending} offers/leads/deliveries pending after ${Math.round(timeoutMs / 1000)} s; going on`);
      return pending;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
