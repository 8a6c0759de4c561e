/**
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
 * Records expire: `purgeIdempotencyRecords` (the worker's sweeper) deletes
 * those older than the TTL (default 24 h, `LW_IDEMPOTENCY_TTL_HOURS`), after
 * which the same key is a new request.
 */
import crypto from 'node:crypto';
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from './connection';
import { idempotencyRecords } from './schema';

const PENDING = 0;
/** How long a reservation stays someone's without renewal. */
export const IDEMPOTENCY_LEASE_MS = 10_000;
/** A running request renews its lease this often. */
export const IDEMPOTENCY_RENEW_MS = 3_000;
/** Rows from before leases: abandoned after this. */
const LEGACY_ABANDONED_AFTER_MS = 2 * 60_000;
/** How long an answer is remembered by default. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

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
