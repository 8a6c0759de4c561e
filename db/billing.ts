/**
 * A buyer's card on file and its auto-recharge (#21). Tables: buyer_billing,
 * recharge_requests (the outbox the wallet trigger of migration 0016 writes in
 * the sale's own transaction), and the `recharge_failed` rows of buyer_alerts.
 *
 * The recharge itself is a Temporal workflow per buyer (workflows/recharge.ts)
 * whose activities (activities/recharge.ts) call these functions: the payment
 * row is made with the attempt's idempotency key (db/payments.ts
 * `createPayment`), credits land only through the webhook
 * (`settleSucceededPayment`), and a failure is counted once per payment.
 */
import { and, eq, isNull } from 'drizzle-orm';

import type { AlertSettings } from '../domain/buyer-side';
import { rechargePauseReason } from '../domain/recharge';
import { ALERT_CHANNELS } from '../domain/types';
import type { Db, DbOrTx } from './connection';
import { createPayment, type PaymentRow } from './payments';
import {
  agencyPaymentSettings,
  buyerAlerts,
  buyerBilling,
  buyers,
  payments,
  rechargeRequests,
  wallets,
} from './schema';

export type BillingRow = typeof buyerBilling.$inferSelect;

export async function billingOf(db: DbOrTx, buyerId: string): Promise<BillingRow | null> {
  const [row] = await db.select().from(buyerBilling).where(eq(buyerBilling.buyerId, buyerId));
  return row ?? null;
}

// ─── the outbox ──────────────────────────────────────────────────────────────

export interface RechargeRequest {
  id: string;
  buyerId: string;
  agencyId: string;
  balance: number;
}

/**
 * Takes up to `limit` unstarted recharge requests (`FOR UPDATE SKIP LOCKED`: concurrent drains take disjoint rows),
 * runs `start` for each and marks them started in the same transaction: a request whose start threw (Temporal away)
 * stays due for the next round, and one whose start succeeded but whose commit was lost is started again – the
 * start joins the buyer's recharge in flight or starts one, which the trigger's arming already bounds to one per
 * crossing. Answers how many were started.
 */
export async function drainRechargeRequests(
  db: Db,
  limit: number,
  start: (r: RechargeRequest) => Promise<void>,
): Promise<number> {
  return db.transaction(async (tx) => {
    const due = await tx
      .select({
        id: rechargeRequests.id,
        buyerId: rechargeRequests.buyerId,
        agencyId: rechargeRequests.agencyId,
        balance: rechargeRequests.balance,
      })
      .from(rechargeRequests)
      .where(isNull(rechargeRequests.startedAt))
      .orderBy(rechargeRequests.createdAt)
      .limit(limit)
      .for('update', { skipLocked: true });
    let started = 0;
    for (const r of due) {
      await start(r);
      await tx.update(rechargeRequests).set({ startedAt: new Date() }).where(eq(rechargeRequests.id, r.id));
      started++;
    }
    return started;
  });
}

// ─── one attempt ─────────────────────────────────────────────────────────────

/** What an attempt charges and with which card, when auto-recharge is on, not paused and still needed. */
export interface RechargePlan {
  agencyId: string;
  buyerId: string;
  customerId: string;
  paymentMethodId: string;
  credits: number;
  creditPrice: number;
  currency: string;
}

/** Why an attempt charges nothing. */
export type RechargeSkip = 'not_enabled' | 'paused' | 'no_card' | 'no_payment_settings' | 'not_needed';

/**
 * The pending payment of one attempt, made once per idempotency key (a retried activity finds the row it made), or
 * why nothing is to be charged. A first attempt skips nothing for a balance back at or above the threshold: the
 * request itself says it crossed below; a later attempt (after a failure and a wait) is `not_needed` once the
 * balance is back.
 */
export async function rechargePayment(
  db: Db,
  buyerId: string,
  idempotencyKey: string,
  attempt: number,
): Promise<{ payment: PaymentRow; plan: RechargePlan } | { skip: RechargeSkip }> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ billing: buyerBilling, settings: agencyPaymentSettings, balance: wallets.balance })
      .from(buyerBilling)
      .leftJoin(agencyPaymentSettings, eq(agencyPaymentSettings.agencyId, buyerBilling.agencyId))
      .leftJoin(wallets, eq(wallets.buyerId, buyerBilling.buyerId))
      .where(eq(buyerBilling.buyerId, buyerId))
      .for('update', { of: buyerBilling });
    const [existing] = await tx.select().from(payments).where(eq(payments.stripeIdempotencyKey, idempotencyKey));
    if (!row) return { skip: 'not_enabled' };
    const b = row.billing;
    const plan = (s: NonNullable<typeof row.settings>): RechargePlan => ({
      agencyId: b.agencyId,
      buyerId,
      customerId: b.stripeCustomerId!,
      paymentMethodId: b.paymentMethodId!,
      credits: existing?.credits ?? b.rechargeCredits!,
      creditPrice: existing?.creditPrice ?? s.creditPrice,
      currency: existing?.currency ?? s.currency,
    });
    if (existing && row.settings) return { payment: existing, plan: plan(row.settings) };
    if (!b.rechargeEnabled) return { skip: 'not_enabled' };
    if (b.rechargePausedReason) return { skip: 'paused' };
    if (!b.paymentMethodId || !b.stripeCustomerId) return { skip: 'no_card' };
    if (!row.settings) return { skip: 'no_payment_settings' };
    if (attempt > 1 && (row.balance ?? 0) >= (b.rechargeThreshold ?? 0)) return { skip: 'not_needed' };
    const p = plan(row.settings);
    const payment = await createPayment(tx, {
      agencyId: b.agencyId,
      buyerId,
      kind: 'auto_recharge',
      credits: p.credits,
      creditPrice: p.creditPrice,
      currency: p.currency,
      stripeIdempotencyKey: idempotencyKey,
    });
    return { payment, plan: p };
  });
}

/** A succeeded recharge: the failures in a row start again from zero. */
export async function resetRechargeFailures(db: DbOrTx, buyerId: string): Promise<void> {
  await db
    .update(buyerBilling)
    .set({ rechargeFailures: 0, rechargeFailedPaymentId: null, updatedAt: new Date() })
    .where(eq(buyerBilling.buyerId, buyerId));
}

export interface RechargeFailure {
  buyerId: string;
  paymentId: string;
  code: string | null;
  message: string | null;
}

/**
 * Counts a failed recharge payment once (a retried call for the same payment changes nothing): one more failure
 * in a row, a `recharge_failed` alert on each of the buyer's alert channels, and auto-recharge paused with a reason
 * after the agency's `recharge_max_failures` in a row, or at once when the bank asks for authentication (an
 * off-session retry cannot answer it). Answers the failures in a row and whether recharge is now paused.
 */
export async function recordRechargeFailure(
  db: Db,
  f: RechargeFailure,
): Promise<{ failures: number; paused: boolean; pausedReason: string | null }> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ billing: buyerBilling, maxFailures: agencyPaymentSettings.rechargeMaxFailures, alerts: buyers.alerts })
      .from(buyerBilling)
      .innerJoin(buyers, eq(buyers.id, buyerBilling.buyerId))
      .leftJoin(agencyPaymentSettings, eq(agencyPaymentSettings.agencyId, buyerBilling.agencyId))
      .where(eq(buyerBilling.buyerId, f.buyerId))
      .for('update', { of: buyerBilling });
    if (!row) return { failures: 0, paused: false, pausedReason: null };
    const b = row.billing;
    if (b.rechargeFailedPaymentId === f.paymentId)
      return { failures: b.rechargeFailures, paused: !!b.rechargePausedReason, pausedReason: b.rechargePausedReason };
    const failures = b.rechargeFailures + 1;
    const max = row.maxFailures ?? 3;
    const why = f.code === 'authentication_required' ? 'authentication_required' : failures >= max ? 'failures' : null;
    const pausedReason =
      b.rechargePausedReason ?? (why ? rechargePauseReason(why, { code: f.code, message: f.message, failures }) : null);
    await tx
      .update(buyerBilling)
      .set({
        rechargeFailures: failures,
        rechargeFailedPaymentId: f.paymentId,
        rechargePausedReason: pausedReason,
        rechargePausedAt: pausedReason && !b.rechargePausedReason ? new Date() : b.rechargePausedAt,
        updatedAt: new Date(),
      })
      .where(eq(buyerBilling.buyerId, f.buyerId));
    const channels = ((row.alerts as AlertSettings).channels ?? []).filter((c) => ALERT_CHANNELS.includes(c));
    if (channels.length)
      await tx.insert(buyerAlerts).values(
        channels.map((channel) => ({
          agencyId: b.agencyId,
          buyerId: f.buyerId,
          kind: 'recharge_failed' as const,
          channel,
          payload: {
            paymentId: f.paymentId,
            code: f.code,
            message: f.message,
            failures,
            paused: !!pausedReason,
            pausedReason,
          },
        })),
      );
    return { failures, paused: !!pausedReason, pausedReason };
  });
}

/** The payment's state now (the recharge workflow waits on it). */
export async function paymentStatusOf(
  db: DbOrTx,
  paymentId: string,
): Promise<Pick<PaymentRow, 'status' | 'failureCode' | 'failureMessage'> | null> {
  const [row] = await db
    .select({ status: payments.status, failureCode: payments.failureCode, failureMessage: payments.failureMessage })
    .from(payments)
    .where(eq(payments.id, paymentId));
  return row ?? null;
}

// ─── the card on file and the settings ───────────────────────────────────────

/** The Stripe Customer of a buyer, made once: the stored id, else `create()`'s, kept unless another call won. */
export async function ensureStripeCustomer(
  db: Db,
  buyer: { buyerId: string; agencyId: string },
  create: () => Promise<string>,
): Promise<string> {
  const existing = await billingOf(db, buyer.buyerId);
  if (existing?.stripeCustomerId) return existing.stripeCustomerId;
  const customerId = await create();
  await db
    .insert(buyerBilling)
    .values({ ...buyer })
    .onConflictDoNothing();
  const [row] = await db
    .update(buyerBilling)
    .set({ stripeCustomerId: customerId, updatedAt: new Date() })
    .where(and(eq(buyerBilling.buyerId, buyer.buyerId), isNull(buyerBilling.stripeCustomerId)))
    .returning();
  return row?.stripeCustomerId ?? (await billingOf(db, buyer.buyerId))!.stripeCustomerId!;
}

export interface SavedCard {
  paymentMethodId: string;
  brand: string | null;
  last4: string | null;
  /** MM/YYYY */
  exp: string | null;
}

/**
 * Stores the card a setup-mode Checkout saved for the buyer whose Customer it is (answers false for another
 * customer: nothing changes). A new card clears a recharge pause and the failures in a row.
 */
export async function saveCard(
  db: DbOrTx,
  buyer: { buyerId: string; agencyId: string },
  customerId: string,
  card: SavedCard,
): Promise<boolean> {
  const rows = await db
    .update(buyerBilling)
    .set({
      paymentMethodId: card.paymentMethodId,
      cardBrand: card.brand,
      cardLast4: card.last4,
      cardExp: card.exp,
      rechargeFailures: 0,
      rechargeFailedPaymentId: null,
      rechargePausedReason: null,
      rechargePausedAt: null,
      updatedAt: new Date(),
    })
    .where(
      and(
        eq(buyerBilling.buyerId, buyer.buyerId),
        eq(buyerBilling.agencyId, buyer.agencyId),
        eq(buyerBilling.stripeCustomerId, customerId),
      ),
    )
    .returning({ buyerId: buyerBilling.buyerId });
  return rows.length > 0;
}

/** Forgets the card and turns auto-recharge off; answers the payment method that was removed. */
export async function removeCard(db: DbOrTx, buyerId: string): Promise<string | null> {
  const before = await billingOf(db, buyerId);
  if (!before?.paymentMethodId) return null;
  await db
    .update(buyerBilling)
    .set({
      paymentMethodId: null,
      cardBrand: null,
      cardLast4: null,
      cardExp: null,
      rechargeEnabled: false,
      updatedAt: new Date(),
    })
    .where(eq(buyerBilling.buyerId, buyerId));
  return before.paymentMethodId;
}

export interface RechargeSettings {
  enabled: boolean;
  threshold: number;
  credits: number;
}

/** Auto-recharge needs a card on file first. */
export class NoSavedCard extends Error {
  constructor() {
    super('save a card before turning auto-recharge on');
    this.name = 'NoSavedCard';
  }
}

/**
 * Sets the buyer's auto-recharge. Turned on with the balance already below the threshold, it asks for a recharge at
 * once (the wallet trigger only sees crossings), disarmed like the trigger does.
 */
export async function setRechargeSettings(
  db: Db,
  buyer: { buyerId: string; agencyId: string },
  s: RechargeSettings,
): Promise<BillingRow> {
  const { buyerId } = buyer;
  return db.transaction(async (tx) => {
    await tx.insert(buyerBilling).values(buyer).onConflictDoNothing();
    const [b] = await tx.select().from(buyerBilling).where(eq(buyerBilling.buyerId, buyerId)).for('update');
    if (s.enabled && !b?.paymentMethodId) throw new NoSavedCard();
    const [balance] = await tx.select({ balance: wallets.balance }).from(wallets).where(eq(wallets.buyerId, buyerId));
    const startNow = s.enabled && !b!.rechargePausedReason && (balance?.balance ?? 0) < s.threshold && b!.rechargeArmed;
    const [row] = await tx
      .update(buyerBilling)
      .set({
        rechargeEnabled: s.enabled,
        rechargeThreshold: s.threshold,
        rechargeCredits: s.credits,
        ...(startNow ? { rechargeArmed: false } : {}),
        updatedAt: new Date(),
      })
      .where(eq(buyerBilling.buyerId, buyerId))
      .returning();
    if (startNow)
      await tx.insert(rechargeRequests).values({ buyerId, agencyId: row!.agencyId, balance: balance?.balance ?? 0 });
    return row!;
  });
}
