/**
 * Remembered answers for `Idempotency-Key`. A request first reserves its key
 * (a row with status 0), runs, then stores its answer; a concurrent request
 * with the same key sees the reservation and does not run twice. A
 * reservation left behind by a crashed process is taken over after a while.
 */
import { and, eq, lt } from 'drizzle-orm';
import type { DbOrTx } from './connection';
import { idempotencyRecords } from './schema';

const PENDING = 0;
/** A reservation this old belongs to a request that died; the next one may take it over. */
const ABANDONED_AFTER_MS = 2 * 60_000;

export type Reservation =
  | { state: 'reserved' }
  | { state: 'replay'; status: number; body: unknown }
  | { state: 'conflict' }
  | { state: 'in_progress' };

export async function reserveIdempotencyKey(db: DbOrTx, scope: string, key: string, requestHash: string): Promise<Reservation> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const inserted = await db
      .insert(idempotencyRecords)
      .values({ scope, key, requestHash, status: PENDING, body: {} })
      .onConflictDoNothing()
      .returning({ key: idempotencyRecords.key });
    if (inserted.length) return { state: 'reserved' };

    const [row] = await db.select().from(idempotencyRecords).where(and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key)));
    if (!row) continue; // released in between: try again
    if (row.requestHash !== requestHash) return { state: 'conflict' };
    if (row.status !== PENDING) return { state: 'replay', status: row.status, body: row.body };
    const abandoned = await db
      .delete(idempotencyRecords)
      .where(
        and(
          eq(idempotencyRecords.scope, scope),
          eq(idempotencyRecords.key, key),
          eq(idempotencyRecords.status, PENDING),
          lt(idempotencyRecords.createdAt, new Date(Date.now() - ABANDONED_AFTER_MS)),
        ),
      )
      .returning({ key: idempotencyRecords.key });
    if (!abandoned.length) return { state: 'in_progress' };
  }
  return { state: 'in_progress' };
}

export async function completeIdempotencyKey(db: DbOrTx, scope: string, key: string, status: number, body: unknown): Promise<void> {
  await db
    .update(idempotencyRecords)
    .set({ status, body: (body ?? {}) as object })
    .where(and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key)));
}

/** Forgets a reservation whose request failed, so the client's retry runs again. */
export async function releaseIdempotencyKey(db: DbOrTx, scope: string, key: string): Promise<void> {
  await db
    .delete(idempotencyRecords)
    .where(and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key), eq(idempotencyRecords.status, PENDING)));
}
