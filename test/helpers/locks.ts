/**
 * Pausing a real Postgres transaction mid-way: hold a row lock from another
 * connection, see the paused statement wait on it, release it. The claim
 * attempt tests hold a sale open across a refusal this way.
 */
import { type SQL, sql } from 'drizzle-orm';

import type { Db } from '../../db/connection';
import { eventually } from './temporal';

/**
 * Holds the locks `lockSql` takes in a transaction of its own until `release()`; resolves once they are held.
 * `release()` may be called again (a `finally` after the test released it): it waits for the same end.
 */
export async function holdLock(db: Db, lockSql: SQL): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = db.transaction(async (tx) => {
    await tx.execute(lockSql);
    locked();
    await released;
  });
  await Promise.race([isLocked, done]);
  return {
    release: async () => {
      release();
      await done;
    },
  };
}

/** Waits until a backend of this database waits on a lock in a statement that starts with `prefix` (lower case). */
export async function waitingOnLock(db: Db, prefix: string, timeoutMs = 10_000): Promise<void> {
  let waiting: string[] = [];
  await eventually(
    async () => {
      const r = await db.execute(
        sql`SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      waiting = (r as unknown as { rows: { query: string }[] }).rows.map((row) => row.query);
      return waiting.some((q) => q.toLowerCase().startsWith(prefix));
    },
    timeoutMs,
    `a statement "${prefix}…" waiting on a lock`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; waiting: ${JSON.stringify(waiting)}`);
  });
}

/** A promise and whether it has settled yet. */
export function tracked<T>(promise: Promise<T>): { settled: boolean; promise: Promise<T> } {
  const t = { settled: false, promise };
  void promise.then(
    () => (t.settled = true),
    () => (t.settled = true),
  );
  return t;
}
