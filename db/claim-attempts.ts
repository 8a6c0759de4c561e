/**
 * Claim attempts (#27.1): the answer a buyer is given and the sale cannot
 * disagree. A claim attempt is (offer, buyer, the client's requestId), the
 * claim Update's id; it has one row here, taken by whichever decides it first:
 *
 * - the sale transaction takes it `sold` next to the charge (db/sales.ts), and
 *   rolls the charge back when it finds the attempt already `refused`;
 * - the claim relay takes it `refused` before it answers a refusal the
 *   workflow gave (claims/relay.ts), and answers the win instead when it finds
 *   the attempt `sold`.
 *
 * The primary key makes the two exclusive: an insert that meets the other's
 * uncommitted row waits for its commit (or rollback) and then sees it, so a
 * stale worker's sale still in flight when the buyer is refused can no longer
 * commit a charge afterwards. One row, one index (the key), no foreign keys
 * (a key check would lock the offer row that every sale of the offer holds).
 * The first decision stands: a refused attempt stays refused, as a completed
 * claim Update keeps its answer.
 */
import { and, eq, sql } from 'drizzle-orm';

import type { ClaimFailureReason } from '../domain/types';
import type { Db, DbOrTx, Tx } from './connection';
import { pgErrorOf } from './ledger';
import { claimAttempts } from './schema';

/** One claim attempt: the offer, the buyer and the client's requestId. */
export interface ClaimAttemptKey {
  offerId: string;
  buyerId: string;
  requestId: string;
}

/** How an attempt was decided: sold (its charge committed), or refused with the reason its buyer was given. */
export type AttemptDecision = { state: 'sold' } | { state: 'refused'; reason: ClaimFailureReason };

/**
 * Takes the attempt's row with this decision unless one is there already, and returns the decision that holds it
 * (the first one stands). Meeting another transaction's uncommitted row, it waits for that one to end. One
 * statement: the conflict's no-op update locks the row and returns what it holds.
 */
async function take(db: DbOrTx, key: ClaimAttemptKey, decision: AttemptDecision): Promise<AttemptDecision> {
  const [row] = await db
    .insert(claimAttempts)
    .values({ ...key, state: decision.state, reason: decision.state === 'refused' ? decision.reason : null })
    .onConflictDoUpdate({
      target: [claimAttempts.offerId, claimAttempts.buyerId, claimAttempts.requestId],
      set: { state: sql.raw('"claim_attempts"."state"') },
    })
    .returning({ state: claimAttempts.state, reason: claimAttempts.reason });
  if (!row) throw new Error(`claim attempt ${key.requestId} on offer ${key.offerId}: no row`);
  return row.state === 'refused' ? { state: 'refused', reason: row.reason! } : { state: 'sold' };
}

/**
 * The sale's side, inside the sale's transaction (before the charge): the attempt is now this sale's, unless the
 * buyer was already answered a refusal (`refused`: the sale must not charge). The row stays locked until the sale
 * commits or rolls back.
 */
export function takeAttemptForSale(tx: Tx, key: ClaimAttemptKey): Promise<AttemptDecision> {
  return take(tx, key, { state: 'sold' });
}

/**
 * The refusal's side, before the buyer is answered: records the attempt refused with `reason`, unless its sale
 * committed first (`sold`: answer the win) or an earlier refusal of it stands (its reason). A sale of the attempt in
 * flight holds the row: this waits for it up to `waitMs`, then gives up (`undecided`: the outcome is not known yet).
 */
export async function refuseAttempt(
  db: Db,
  key: ClaimAttemptKey,
  reason: ClaimFailureReason,
  waitMs: number,
): Promise<AttemptDecision | { state: 'undecided' }> {
  try {
    return await db.transaction(async (tx) => {
      await tx.execute(sql`SELECT set_config('lock_timeout', ${`${Math.max(1, Math.ceil(waitMs))}ms`}, true)`);
      return take(tx, key, { state: 'refused', reason });
    });
  } catch (err) {
    if (pgErrorOf(err).code === LOCK_NOT_AVAILABLE) return { state: 'undecided' };
    throw err;
  }
}

/** Postgres: a lock wait ran out (`lock_timeout`). */
const LOCK_NOT_AVAILABLE = '55P03';

/** The decision recorded for an attempt, if any (tests and the operators' tools). */
export async function attemptDecision(db: DbOrTx, key: ClaimAttemptKey): Promise<AttemptDecision | null> {
  const rows = await db
    .select({ state: claimAttempts.state, reason: claimAttempts.reason })
    .from(claimAttempts)
    .where(
      and(
        eq(claimAttempts.offerId, key.offerId),
        eq(claimAttempts.buyerId, key.buyerId),
        eq(claimAttempts.requestId, key.requestId),
      ),
    );
  const row = rows[0];
  if (!row) return null;
  return row.state === 'refused' ? { state: 'refused', reason: row.reason! } : { state: 'sold' };
}
