/**
 * The idempotency aggregate: remembered answers and the shared rate-limit
 * buckets. Tables: idempotency_records, rate_limit_buckets.
 *
 * Remembered answers for `Idempotency-Key`. A request first reserves its key
 * (a row with status 0 and a **lease**), runs, then stores its answer; a
 * concurrent request with the same key sees the reservation and does not run
 * twice. The running request renews its lease every few seconds
 * (`renewIdempotencyLease`), so a reservation whose lease lapsed belongs to a
 * request that died with its process, and the next request takes it over
 * within seconds instead of minutes. Each reservation has its own lease id:
 * completing, releasing or renewing touches that reservation only, never a
 * later one that took over.
 *
 * Records expire: `purgeIdempotencyRecords` (the expire-records job) deletes
 * those older than the TTL (default 24 h, `LW_IDEMPOTENCY_TTL_HOURS`), after
 * which the same key is a new request.
 */
import crypto from 'node:crypto';

import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';

import { SETTINGS } from '../lib/config';
import type { DbOrTx } from './connection';
import { idempotencyRecords, rateLimitBuckets } from './schema';

const PENDING = 0;

/** How long a reservation stays someone's without renewal. */
export const IDEMPOTENCY_LEASE_MS = 10_000;

/** A running request renews its lease this often. */
export const IDEMPOTENCY_RENEW_MS = 3_000;

/** Rows from before leases: abandoned after this. */
const LEGACY_ABANDONED_AFTER_MS = 2 * 60_000;

/** How long an answer is remembered by default. */
const IDEMPOTENCY_TTL_MS = SETTINGS.LW_IDEMPOTENCY_TTL_HOURS.fallback * 3_600_000;

export type Reservation =
  | { state: 'reserved'; leaseId: string }
  | { state: 'replay'; status: number; body: unknown }
  | { state: 'conflict' }
  | { state: 'in_progress' };

const leaseUntil = () => sql`now() + make_interval(secs => ${IDEMPOTENCY_LEASE_MS / 1000})`;

const byKey = (scope: string, key: string) => and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key));

export async function reserveIdempotencyKey(
  db: DbOrTx,
  scope: string,
  key: string,
  requestHash: string,
): Promise<Reservation> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const leaseId = crypto.randomUUID();
    const inserted = await db
      .insert(idempotencyRecords)
      .values({ scope, key, requestHash, status: PENDING, body: {}, leaseId, leaseExpiresAt: leaseUntil() })
      .onConflictDoNothing()
      .returning({ key: idempotencyRecords.key });
    if (inserted.length) return { state: 'reserved', leaseId };

    const [row] = await db.select().from(idempotencyRecords).where(byKey(scope, key));
    if (!row) continue; // released in between: try again
    if (row.requestHash !== requestHash) return { state: 'conflict' };
    if (row.status !== PENDING) return { state: 'replay', status: row.status, body: row.body };
    // Still running – unless its lease lapsed (the request died with its process): then take it over.
    const abandoned = await db
      .delete(idempotencyRecords)
      .where(
        and(
          byKey(scope, key),
          eq(idempotencyRecords.status, PENDING),
          or(
            lt(idempotencyRecords.leaseExpiresAt, sql`now()`),
            and(
              isNull(idempotencyRecords.leaseExpiresAt),
              lt(idempotencyRecords.createdAt, new Date(Date.now() - LEGACY_ABANDONED_AFTER_MS)),
            ),
          ),
        ),
      )
      .returning({ key: idempotencyRecords.key });
    if (!abandoned.length) return { state: 'in_progress' };
  }
  return { state: 'in_progress' };
}

/** Keeps a running request's reservation its own. False when it was lost (taken over after a lapse). */
export async function renewIdempotencyLease(db: DbOrTx, scope: string, key: string, leaseId: string): Promise<boolean> {
  const rows = await db
    .update(idempotencyRecords)
    .set({ leaseExpiresAt: leaseUntil() })
    .where(and(byKey(scope, key), eq(idempotencyRecords.leaseId, leaseId), eq(idempotencyRecords.status, PENDING)))
    .returning({ key: idempotencyRecords.key });
  return rows.length > 0;
}

export async function completeIdempotencyKey(
  db: DbOrTx,
  scope: string,
  key: string,
  leaseId: string,
  status: number,
  body: unknown,
): Promise<void> {
  await db
    .update(idempotencyRecords)
    .set({ status, body: (body ?? {}) as object, leaseExpiresAt: null })
    .where(and(byKey(scope, key), eq(idempotencyRecords.leaseId, leaseId)));
}

/** Forgets a reservation whose request failed, so the client's retry runs again. */
export async function releaseIdempotencyKey(db: DbOrTx, scope: string, key: string, leaseId: string): Promise<void> {
  await db
    .delete(idempotencyRecords)
    .where(and(byKey(scope, key), eq(idempotencyRecords.status, PENDING), eq(idempotencyRecords.leaseId, leaseId)));
}

/** Deletes the records older than `ttlMs` (answers and lapsed reservations alike). Returns how many. */
export async function purgeIdempotencyRecords(db: DbOrTx, ttlMs = IDEMPOTENCY_TTL_MS): Promise<number> {
  const rows = await db
    .delete(idempotencyRecords)
    .where(lt(idempotencyRecords.createdAt, new Date(Date.now() - ttlMs)))
    .returning({ key: idempotencyRecords.key });
  return rows.length;
}

// ─── rate limit buckets ─────────────────────────────────────────────────────

/**
 * The shared side of the rate limits (api/shared-rate-limit.ts): one token
 * bucket per (scope, key) in Postgres, refilled by elapsed time and drawn
 * from by each API process for the requests waiting on it – one statement per lease, so
 * concurrent leases from any number of processes never hand out more than
 * the bucket holds (the row lock serialises them; `tokens >= 0` is a CHECK).
 */

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

/** The whole tokens a bucket holds now (refilled to this moment), without taking any; a bucket never used is full. */
export async function peekTokens(
  db: DbOrTx,
  scope: string,
  key: string,
  capacity: number,
  refillPerSecond: number,
): Promise<number> {
  const [row] = await db
    .select({
      tokens: sql<number>`least(${capacity}::float8, ${rateLimitBuckets.tokens} + ${refillPerSecond}::float8 * greatest(0, extract(epoch from (clock_timestamp() - ${rateLimitBuckets.updatedAt}))))`,
    })
    .from(rateLimitBuckets)
    .where(and(eq(rateLimitBuckets.scope, scope), eq(rateLimitBuckets.key, key)));
  return row ? Number(row.tokens) : capacity;
}

/** Buckets untouched for a day are full again by now: forget them (the expire-records job). */
export async function purgeIdleBuckets(db: DbOrTx, idleMs = 24 * 3_600_000): Promise<number> {
  const rows = await db
    .delete(rateLimitBuckets)
    .where(lt(rateLimitBuckets.updatedAt, new Date(Date.now() - idleMs)))
    .returning({ key: rateLimitBuckets.key });
  return rows.length;
}
