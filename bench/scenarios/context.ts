/** What every scenario gets: the stack, an API client, direct database access, and the run's sizes. */
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
}

export const FULL: Sizes = {
  claimers: [10, 50, 200],
  claimRounds: 20,
  feedClients: [100, 1000],
  feedRounds: 15,
  rates: [10, 20, 40, 80, 120, 160],
  stepSeconds: 20,
  bots: 20,
  scaleOffers: 10_000,
  scaleClaimers: 50,
  scaleClaimRounds: 10,
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
};

export interface BenchContext {
  stack: Stack;
  api: ApiClient;
  database: Database;
  sizes: Sizes;
  log(message: string): void;
}

export interface ScenarioResult {
  scenario: 'claim_storm' | 'floor' | 'feed_latency' | 'throughput' | 'scale';
  /** Everything measured (printed as JSON). */
  figures: Record<string, unknown>;
  /** One line for the results table. */
  headline: string;
}
