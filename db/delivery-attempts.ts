/**
 * The attempt log of the sending channels: one row per attempt (retries and
 * redeliveries alike) with what went out and what came back – outcome, HTTP
 * status, latency, the first bytes of the answer, the wait before the next
 * attempt – and the same facts as a `delivery_attempted` event on the lead's
 * timeline, written in one transaction. Also the webhook endpoint's pause
 * after a 410 Gone.
 */
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { DeliveryAttemptOutcome, DeliveryChannel } from '../domain/types';
import type { Db } from './connection';
import { assignments, buyers, deliveryAttempts } from './schema';
import { appendEvents } from './timeline';

type AssignmentRow = typeof assignments.$inferSelect;
export type DeliveryAttemptRow = typeof deliveryAttempts.$inferSelect;

export interface AttemptRecord {
  channel: DeliveryChannel;
  attempt: number;
  redelivery: boolean;
  messageId: string | null;
  outcome: DeliveryAttemptOutcome;
  statusCode: number | null;
  latencyMs: number;
  response: string | null;
  error: string | null;
  nextRetryMs: number | null;
}

/** The response snippet kept per attempt. */
export const RESPONSE_SNIPPET = 500;

export async function logDeliveryAttempt(db: Db, a: AssignmentRow, r: AttemptRecord): Promise<void> {
  const row = {
    ...r,
    response: r.response?.slice(0, RESPONSE_SNIPPET) ?? null,
    error: r.error?.slice(0, 1000) ?? null,
    latencyMs: Math.max(0, Math.round(r.latencyMs)),
  };
  await db.transaction(async (tx) => {
    await tx.insert(deliveryAttempts).values({ assignmentId: a.id, ...row });
    await appendEvents(tx, [
      {
        leadId: a.leadId,
        offerId: a.offerId,
        type: 'delivery_attempted',
        buyerId: a.buyerId,
        reason: r.outcome,
        data: {
          assignmentId: a.id,
          channel: r.channel,
          attempt: r.attempt,
          outcome: r.outcome,
          status: r.statusCode,
          latencyMs: row.latencyMs,
          response: row.response,
          ...(r.error ? { error: row.error } : {}),
          ...(r.nextRetryMs !== null ? { nextRetryMs: r.nextRetryMs } : {}),
          ...(r.messageId ? { messageId: r.messageId } : {}),
          ...(r.redelivery ? { redelivery: true } : {}),
        },
      },
    ]);
  });
}

/** A sale's attempts, oldest first. */
export async function listDeliveryAttempts(db: Db, assignmentId: string): Promise<DeliveryAttemptRow[]> {
  return db
    .select()
    .from(deliveryAttempts)
    .where(eq(deliveryAttempts.assignmentId, assignmentId))
    .orderBy(asc(deliveryAttempts.createdAt), asc(deliveryAttempts.attempt));
}

/** The endpoint answered 410 Gone: pause the buyer's webhook (once) until its URL is changed or it is resumed. */
export async function pauseWebhookEndpoint(db: Db, buyerId: string, reason: string): Promise<boolean> {
  const rows = await db
    .update(buyers)
    .set({ webhookPausedAt: new Date(), webhookPauseReason: reason.slice(0, 500), updatedAt: new Date() })
    .where(and(eq(buyers.id, buyerId), isNull(buyers.webhookPausedAt)))
    .returning({ id: buyers.id });
  return rows.length > 0;
}
