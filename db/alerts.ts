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
import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { offerAlertChannels, type AlertSettings } from '../domain/buyer-side';
import type { AlertChannel, AlertStatus } from '../domain/types';
import type { DbOrTx, Tx } from './connection';
import { agencies, buyerAlerts, buyers, type DeliverySettings } from './schema';

export type AlertRow = typeof buyerAlerts.$inferSelect;

/** Whether the buyer has an address for the channel (the process may still lack a provider: the dispatcher skips those). */
export function channelAddressed(delivery: DeliverySettings, channel: AlertChannel): boolean {
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

/** Pending alerts due now (tests wait on this to drain). */
export async function pendingAlertCount(db: DbOrTx): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(buyerAlerts)
    .where(and(eq(buyerAlerts.status, 'pending'), lte(buyerAlerts.nextAttemptAt, sql`now() + interval '1 day'`)));
  return row?.n ?? 0;
}
