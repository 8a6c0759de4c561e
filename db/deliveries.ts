/**
 * Delivery records: one row per sale and channel (attempts, last error,
 * outcome), the `delivered` / `delivery_failed` timeline events, and the
 * buyer's run of consecutive failures, which pauses it at the agency's limit.
 * Every write is a state transition (pending → delivered | failed), so a
 * retried activity never counts twice.
 */
import { and, eq, ne, sql } from 'drizzle-orm';
import type { DeliveryChannel } from '../domain/types';
import type { Db, DbOrTx } from './connection';
import { agencies, assignments, buyerChanges, buyers, deliveries } from './schema';
import { autoPauseAfterFailures } from './settings';
import { appendEvents } from './timeline';

type AssignmentRow = typeof assignments.$inferSelect;

/**
 * The dashboard channel: the lead is in the buyer's "my leads" the moment the
 * sale commits, so the sale transaction records it as delivered (once).
 */
export async function recordDashboardDelivery(
  tx: DbOrTx,
  a: Pick<AssignmentRow, 'id' | 'leadId' | 'offerId' | 'buyerId'>,
): Promise<void> {
  const inserted = await tx
    .insert(deliveries)
    .values({ assignmentId: a.id, channel: 'dashboard', status: 'delivered', attempts: 1, deliveredAt: new Date() })
    .onConflictDoNothing()
    .returning({ id: deliveries.id });
  if (inserted.length) {
    await appendEvents(tx, [
      {
        leadId: a.leadId,
        offerId: a.offerId,
        type: 'delivered',
        buyerId: a.buyerId,
        data: { channel: 'dashboard', assignmentId: a.id },
      },
    ]);
  }
}

async function ensureRow(db: Db, assignmentId: string, channel: DeliveryChannel) {
  await db.insert(deliveries).values({ assignmentId, channel, status: 'pending', attempts: 0 }).onConflictDoNothing();
}

/** One attempt failed (another may follow): remembered for the final record. */
export async function recordAttemptFailed(
  db: Db,
  assignmentId: string,
  channel: DeliveryChannel,
  attempt: number,
  error: string,
): Promise<void> {
  await ensureRow(db, assignmentId, channel);
  await db
    .update(deliveries)
    .set({ attempts: sql`greatest(${deliveries.attempts}, ${attempt})`, lastError: error.slice(0, 1000) })
    .where(
      and(eq(deliveries.assignmentId, assignmentId), eq(deliveries.channel, channel), eq(deliveries.status, 'pending')),
    );
}

export async function recordDelivered(
  db: Db,
  a: AssignmentRow,
  channel: DeliveryChannel,
  attempt: number,
  detail: string,
): Promise<void> {
  await ensureRow(db, a.id, channel);
  await db.transaction(async (tx) => {
    const done = await tx
      .update(deliveries)
      .set({
        status: 'delivered',
        attempts: sql`greatest(${deliveries.attempts}, ${attempt})`,
        deliveredAt: new Date(),
      })
      .where(
        and(eq(deliveries.assignmentId, a.id), eq(deliveries.channel, channel), ne(deliveries.status, 'delivered')),
      )
      .returning({ id: deliveries.id });
    if (!done.length) return;
    await appendEvents(tx, [
      {
        leadId: a.leadId,
        offerId: a.offerId,
        type: 'delivered',
        buyerId: a.buyerId,
        data: { channel, assignmentId: a.id, attempts: attempt, detail },
      },
    ]);
    await tx.update(buyers).set({ consecutiveDeliveryFailures: 0 }).where(eq(buyers.id, a.buyerId));
  });
}

/**
 * The channel failed for good: `delivery_failed` with {channel, attempts,
 * error}, one more consecutive failure for the buyer, and at the agency's
 * limit (default 5; 0 = never) the buyer is paused with the reason, audited
 * and on this lead's timeline.
 */
export async function recordDeliveryFailed(
  db: Db,
  a: AssignmentRow,
  channel: DeliveryChannel,
  error: string,
  at?: string,
): Promise<{ paused: boolean; consecutive: number }> {
  await ensureRow(db, a.id, channel);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(deliveries)
      .set({ status: 'failed', lastError: error.slice(0, 1000) })
      .where(and(eq(deliveries.assignmentId, a.id), eq(deliveries.channel, channel), eq(deliveries.status, 'pending')))
      .returning();
    if (!row) return { paused: false, consecutive: 0 };
    const attempts = Math.max(row.attempts, 1);
    await appendEvents(tx, [
      {
        leadId: a.leadId,
        offerId: a.offerId,
        type: 'delivery_failed',
        buyerId: a.buyerId,
        reason: channel,
        data: { channel, attempts, error, assignmentId: a.id },
        at,
      },
    ]);
    const [buyer] = await tx
      .update(buyers)
      .set({ consecutiveDeliveryFailures: sql`${buyers.consecutiveDeliveryFailures} + 1` })
      .where(eq(buyers.id, a.buyerId))
      .returning();
    const [agency] = await tx.select({ settings: agencies.settings }).from(agencies).where(eq(agencies.id, a.agencyId));
    const limit = autoPauseAfterFailures(agency?.settings ?? {});
    const consecutive = buyer!.consecutiveDeliveryFailures;
    if (limit <= 0 || consecutive < limit || buyer!.status !== 'active') return { paused: false, consecutive };
    const pauseReason = `auto-paused: ${consecutive} consecutive failed deliveries (last: ${channel}: ${error.slice(0, 200)})`;
    await tx
      .update(buyers)
      .set({ status: 'paused', pauseReason, pausedBy: 'system', updatedAt: new Date() })
      .where(eq(buyers.id, a.buyerId));
    await tx.insert(buyerChanges).values({
      agencyId: a.agencyId,
      buyerId: a.buyerId,
      actor: 'system',
      changes: { status: { from: 'active', to: 'paused' }, pauseReason: { from: buyer!.pauseReason, to: pauseReason } },
      note: 'consecutive delivery failures',
    });
    await appendEvents(tx, [
      {
        leadId: a.leadId,
        offerId: a.offerId,
        type: 'buyer_paused',
        buyerId: a.buyerId,
        reason: 'delivery_failures',
        data: { consecutiveFailures: consecutive, limit, pauseReason },
      },
    ]);
    return { paused: true, consecutive };
  });
}
