/**
 * The deliveries aggregate: delivery records, every attempt, and the buyer
 * alerts outbox. Tables: deliveries, delivery_attempts, buyer_alerts.
 *
 * Delivery records: one row per sale and channel (attempts, last error,
 * outcome), the `delivered` / `delivery_failed` timeline events, and the
 * buyer's run of consecutive failures, which pauses it at the agency's limit.
 * Every write is a state transition (pending → delivered | failed), so a
 * retried activity never counts twice.
 */
import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';

import { type AlertSettings, offerAlertChannels } from '../domain/buyer-side';
import type { AlertChannel, AlertStatus, DeliveryAttemptOutcome, DeliveryChannel } from '../domain/types';
import { agencySettings, autoPauseAfterFailures } from './agencies';
import { autoPauseBuyer, countDeliveryFailure, resetDeliveryFailures } from './buyers';
import type { Db, DbOrTx, Tx } from './connection';
import { appendEvents } from './offers';
import {
  agencies,
  assignments,
  buyerAlerts,
  buyers,
  deliveries,
  deliveryAttempts,
  type DeliverySettings,
} from './schema';

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
    await resetDeliveryFailures(tx, a.buyerId);
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
    const buyer = await countDeliveryFailure(tx, a.buyerId);
    const limit = autoPauseAfterFailures(await agencySettings(tx, a.agencyId));
    const consecutive = buyer.consecutiveDeliveryFailures;
    if (limit <= 0 || consecutive < limit || buyer.status !== 'active') return { paused: false, consecutive };
    const pauseReason = `auto-paused: ${consecutive} consecutive failed deliveries (last: ${channel}: ${error.slice(0, 200)})`;
    await autoPauseBuyer(tx, buyer, pauseReason);
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

// ─── delivery attempts ──────────────────────────────────────────────────────

/**
 * The attempt log of the sending channels: one row per attempt (retries and
 * redeliveries alike) with what went out and what came back – outcome, HTTP
 * status, latency, the first bytes of the answer, the wait before the next
 * attempt – and the same facts as a `delivery_attempted` event on the lead's
 * timeline, written in one transaction. Also the webhook endpoint's pause
 * after a 410 Gone.
 */

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
const RESPONSE_SNIPPET = 500;

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
/** A sale's delivery records, one per channel. */
export async function listDeliveries(db: DbOrTx, assignmentId: string): Promise<(typeof deliveries.$inferSelect)[]> {
  return db.select().from(deliveries).where(eq(deliveries.assignmentId, assignmentId));
}

/** A sale's delivery record on one channel, if any. */
export async function getDelivery(
  db: DbOrTx,
  assignmentId: string,
  channel: DeliveryChannel,
): Promise<typeof deliveries.$inferSelect | undefined> {
  const [row] = await db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.assignmentId, assignmentId), eq(deliveries.channel, channel)));
  return row;
}

export async function listDeliveryAttempts(db: Db, assignmentId: string): Promise<DeliveryAttemptRow[]> {
  return db
    .select()
    .from(deliveryAttempts)
    .where(eq(deliveryAttempts.assignmentId, assignmentId))
    .orderBy(asc(deliveryAttempts.createdAt), asc(deliveryAttempts.attempt));
}

// ─── alerts ─────────────────────────────────────────────────────────────────

/**
 * The alert outbox (#12). Offer alerts are rows written by `queueOfferAlerts`
 * inside the transaction that opens the offer, so an alert exists exactly when
 * the offer does and the workflow does no extra work; low-balance alerts are
 * rows the wallet trigger writes when a balance crosses the buyer's threshold
 * (migration 0005). The worker's dispatcher (worker/alert-dispatcher.ts)
 * claims due rows with `FOR UPDATE SKIP LOCKED` (several workers never send
 * one alert twice), sends them and records the outcome.
 *
 * Payloads hold the offer's preview only (the campaign's visible fields), the
 * buyer's own price and the close time: never a hidden field.
 */

export type AlertRow = typeof buyerAlerts.$inferSelect;

/** Whether the buyer has an address for the channel (the process may still lack a provider: the dispatcher skips those). */
function channelAddressed(delivery: DeliverySettings, channel: AlertChannel): boolean {
  switch (channel) {
    case 'webhook':
      return !!delivery.webhookUrl;
    case 'email':
      return !!delivery.email;
    case 'sms':
      return !!delivery.smsTo;
    case 'voice':
      return !!delivery.voiceTo;
    default:
      return false;
  }
}

export interface OfferAlertInput {
  offerId: string;
  leadId: string;
  agencyId: string;
  /** The offer's price; a target's own price wins. */
  price: number;
  /** The campaign's visible fields only. */
  preview: Record<string, unknown>;
  /** ISO times from the workflow's clock: quiet hours are judged at `openedAt`. */
  openedAt: string;
  closesAt: string;
  targets: { buyerId: string; eligible: boolean; price?: number | null }[];
}

/**
 * One alert row per targeted buyer that opted in and channel it chose and set
 * up, inside the caller's (offer-opening) transaction. Idempotent: a retried
 * open inserts nothing twice (unique offer, buyer, channel).
 */
export async function queueOfferAlerts(tx: Tx, input: OfferAlertInput): Promise<number> {
  const targeted = input.targets.filter((t) => t.eligible);
  if (!targeted.length) return 0;
  const rows = await tx
    .select({
      id: buyers.id,
      alerts: buyers.alerts,
      delivery: buyers.delivery,
      timeZone: buyers.timeZone,
      agencyZone: agencies.timeZone,
    })
    .from(buyers)
    .innerJoin(agencies, eq(agencies.id, buyers.agencyId))
    .where(
      inArray(
        buyers.id,
        targeted.map((t) => t.buyerId),
      ),
    );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const values: (typeof buyerAlerts.$inferInsert)[] = [];
  for (const t of targeted) {
    const b = byId.get(t.buyerId);
    if (!b) continue;
    const price = t.price ?? input.price;
    const channels = offerAlertChannels(b.alerts as AlertSettings, (c) => channelAddressed(b.delivery, c), {
      price,
      now: new Date(input.openedAt),
      timeZone: b.timeZone ?? b.agencyZone,
    });
    for (const channel of channels) {
      values.push({
        agencyId: input.agencyId,
        buyerId: t.buyerId,
        kind: 'offer_opened',
        channel,
        offerId: input.offerId,
        leadId: input.leadId,
        payload: { offerId: input.offerId, preview: input.preview, price, closesAt: input.closesAt },
      });
    }
  }
  if (!values.length) return 0;
  const inserted = await tx.insert(buyerAlerts).values(values).onConflictDoNothing().returning({ id: buyerAlerts.id });
  return inserted.length;
}

/**
 * Claims up to `limit` due alerts for sending: marks each attempt (attempts+1,
 * next attempt pushed out by `leaseMs`, so a crashed sender's row comes due
 * again) and returns them. SKIP LOCKED: concurrent dispatchers take disjoint rows.
 */
export async function claimDueAlerts(db: DbOrTx, limit: number, leaseMs: number): Promise<AlertRow[]> {
  const result = (await db.execute(sql`
    UPDATE ${buyerAlerts} SET attempts = attempts + 1, next_attempt_at = now() + (${leaseMs}::int * interval '1 millisecond')
    WHERE id IN (
      SELECT id FROM ${buyerAlerts} WHERE status = 'pending' AND next_attempt_at <= now()
      ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    )
    RETURNING id`)) as unknown as { rows: { id: string }[] };
  const ids = result.rows.map((r) => r.id);
  if (!ids.length) return [];
  return db.select().from(buyerAlerts).where(inArray(buyerAlerts.id, ids)).orderBy(asc(buyerAlerts.createdAt));
}

/** Records the end of an alert (sent, failed for good, or skipped). */
export async function finishAlert(
  db: DbOrTx,
  id: string,
  status: Exclude<AlertStatus, 'pending'>,
  detail: string | null,
): Promise<void> {
  await db
    .update(buyerAlerts)
    .set({ status, lastError: status === 'sent' ? null : detail, sentAt: status === 'sent' ? new Date() : null })
    .where(eq(buyerAlerts.id, id));
}

/** A failed attempt with attempts left: due again after `delayMs`. */
export async function retryAlertLater(db: DbOrTx, id: string, delayMs: number, error: string): Promise<void> {
  await db
    .update(buyerAlerts)
    .set({ lastError: error.slice(0, 500), nextAttemptAt: new Date(Date.now() + delayMs) })
    .where(and(eq(buyerAlerts.id, id), eq(buyerAlerts.status, 'pending')));
}

/** A buyer's alerts, newest first (tests, the buyer's page). */
export async function listBuyerAlerts(db: DbOrTx, buyerId: string, limit = 50): Promise<AlertRow[]> {
  return db
    .select()
    .from(buyerAlerts)
    .where(eq(buyerAlerts.buyerId, buyerId))
    .orderBy(sql`${buyerAlerts.createdAt} DESC`)
    .limit(limit);
}
