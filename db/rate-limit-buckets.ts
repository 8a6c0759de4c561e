/**
 * The shared side of the rate limits (api/shared-rate-limit.ts): one token
 * bucket per (scope, key) in Postgres, refilled by elapsed time and drawn
 * from in small batches by each API process – one statement per lease, so
 * concurrent leases from any number of processes never hand out more than
 * the bucket holds (the row lock serialises them; `tokens >= 0` is a CHECK).
 */
import { lt, sql } from 'drizzle-orm';
import type { DbOrTx } from './connection';
import { rateLimitBuckets } from './schema';

export interface Lease {
  /** Tokens handed to the caller (0 … wanted). */
  granted: number;
  /** Tokens left in the shared bucket after this lease. */
  left: number;
}

/** Takes up to `wanted` whole tokens from the bucket (capacity, refill per second), creating it full. */
export async function leaseTokens(
  db: DbOrTx,
  scope: string,
  key: string,
  wanted: number,
  capacity: number,
  refillPerSecond: number,
): Promise<Lease> {
  const refilled = sql`least(${capacity}::float8, ${rateLimitBuckets.tokens} + ${refillPerSecond}::float8 * greatest(0, extract(epoch from (clock_timestamp() - ${rateLimitBuckets.updatedAt}))))`;
  const grant = sql`least(${wanted}::int, floor(${refilled})::int)`;
  const first = Math.min(wanted, Math.floor(capacity));
  const [row] = await db
    .insert(rateLimitBuckets)
    .values({ scope, key, tokens: capacity - first, lastGrant: first, updatedAt: sql`clock_timestamp()` })
    .onConflictDoUpdate({
      target: [rateLimitBuckets.scope, rateLimitBuckets.key],
      set: { tokens: sql`${refilled} - ${grant}`, lastGrant: grant, updatedAt: sql`clock_timestamp()` },
    })
    .returning({ granted: rateLimitBuckets.lastGrant, left: rateLimitBuckets.tokens });
  return { granted: row!.granted, left: row!.left };
}

/** Buckets untouched for a day are full again by now: forget them (the sweeper). */
export async function purgeIdleBuckets(db: DbOrTx, idleMs = 24 * 3_600_000): Promise<number> {
  const rows = await db
    .delete(rateLimitBuckets)
    .where(lt(rateLimitBuckets.updatedAt, new Date(Date.now() - idleMs)))
    .returning({ key: rateLimitBuckets.key });
  return rows.length;
}
