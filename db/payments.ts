/**
 * The payments aggregate (#21). Tables: agency_payment_settings, payments,
 * stripe_events (and the refunds, disputes and billing tables of migration
 * 0016, whose functions live beside their routes' needs).
 *
 * Credits land only through `settleSucceededPayment`: one transaction locks the
 * payment, checks Stripe's amount and currency against it, marks it succeeded
 * and posts one `top_up` entry under the payment intent's ledger key
 * (domain/payments.ts `stripeLedgerKey`). A retried, duplicated or out-of-order
 * webhook, the other event of the same payment and the reconciliation job all
 * meet at that key, so a payment credits exactly once.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';

import type { AuditBy } from '../domain/audit';
import {
  paymentAmount,
  type PaymentKind,
  type PaymentStatus,
  type StripeEventOutcome,
  stripeLedgerKey,
} from '../domain/payments';
import { keyStore } from '../lib/key-store';
import { recordChange } from './audit';
import type { Db, DbOrTx } from './connection';
import { type LedgerEntry, postLedgerEntry } from './ledger';
import { newestFirst, type Page, type PageArgs } from './pages';
import { agencyPaymentSettings, paymentRefunds, payments, stripeEvents } from './schema';

export type PaymentRow = typeof payments.$inferSelect;
type SettingsRow = typeof agencyPaymentSettings.$inferSelect;

const SECRET_KEY_PURPOSE = 'stripe.secret_key';
const WEBHOOK_SECRET_PURPOSE = 'stripe.webhook_secret';

// ─── the agency's Stripe settings ────────────────────────────────────────────

/** What anyone may see of an agency's payment settings: never a secret, only that they are set. */
export interface PaymentSettings {
  agencyId: string;
  currency: string;
  creditPrice: number;
  minCredits: number;
  maxCredits: number;
  rechargeMaxFailures: number;
  /** `acct_…` once "test connection" has read it. */
  stripeAccountId: string | null;
  /** The last four characters of the secret key, to tell keys apart (`sk_test_…abcd`). */
  secretKeyHint: string;
  mode: 'test' | 'live';
  updatedAt: Date;
}

function viewOf(row: SettingsRow): PaymentSettings {
  const secretKey = keyStore().open(row.stripeSecretKeySealed, SECRET_KEY_PURPOSE, row.agencyId);
  return {
    agencyId: row.agencyId,
    currency: row.currency,
    creditPrice: row.creditPrice,
    minCredits: row.minCredits,
    maxCredits: row.maxCredits,
    rechargeMaxFailures: row.rechargeMaxFailures,
    stripeAccountId: row.stripeAccountId,
    secretKeyHint: `${secretKey.slice(0, secretKey.indexOf('_', 3) + 1)}…${secretKey.slice(-4)}`,
    mode: /^(sk|rk)_live_/.test(secretKey) ? 'live' : 'test',
    updatedAt: row.updatedAt,
  };
}

export async function paymentSettingsOf(db: DbOrTx, agencyId: string): Promise<PaymentSettings | null> {
  const [row] = await db.select().from(agencyPaymentSettings).where(eq(agencyPaymentSettings.agencyId, agencyId));
  return row ? viewOf(row) : null;
}

/** The agency's Stripe secrets, opened: for the server's own calls and signature checks only, never an answer or a log. */
export async function stripeSecretsOf(
  db: DbOrTx,
  agencyId: string,
): Promise<{ secretKey: string; webhookSecret: string; settings: PaymentSettings } | null> {
  const [row] = await db.select().from(agencyPaymentSettings).where(eq(agencyPaymentSettings.agencyId, agencyId));
  if (!row) return null;
  const store = keyStore();
  return {
    secretKey: store.open(row.stripeSecretKeySealed, SECRET_KEY_PURPOSE, agencyId),
    webhookSecret: store.open(row.stripeWebhookSecretSealed, WEBHOOK_SECRET_PURPOSE, agencyId),
    settings: viewOf(row),
  };
}

export interface PaymentSettingsInput {
  /** Omitted: keep the stored one (required the first time). */
  secretKey?: string;
  webhookSecret?: string;
  currency: string;
  creditPrice: number;
  minCredits: number;
  maxCredits: number;
  rechargeMaxFailures?: number;
}

/** The first save of an agency's payment settings lacks a secret. */
export class PaymentSettingsIncomplete extends Error {
  constructor(readonly field: 'secretKey' | 'webhookSecret') {
    super(`${field} is required the first time payment settings are saved`);
    this.name = 'PaymentSettingsIncomplete';
  }
}

/**
 * Saves (creates or replaces) an agency's payment settings, sealing the secrets, with the change in the audit log
 * (secrets as "[redacted]"). A new secret key forgets the account id "test connection" had read.
 */
export async function savePaymentSettings(
  db: Db,
  agencyId: string,
  input: PaymentSettingsInput,
  by: AuditBy,
): Promise<PaymentSettings> {
  return db.transaction(async (tx) => {
    const [before] = await tx
      .select()
      .from(agencyPaymentSettings)
      .where(eq(agencyPaymentSettings.agencyId, agencyId))
      .for('update');
    if (!before && !input.secretKey) throw new PaymentSettingsIncomplete('secretKey');
    if (!before && !input.webhookSecret) throw new PaymentSettingsIncomplete('webhookSecret');
    const store = keyStore();
    const values = {
      currency: input.currency,
      creditPrice: input.creditPrice,
      minCredits: input.minCredits,
      maxCredits: input.maxCredits,
      rechargeMaxFailures: input.rechargeMaxFailures ?? before?.rechargeMaxFailures ?? 3,
      updatedAt: new Date(),
      ...(input.secretKey
        ? { stripeSecretKeySealed: store.seal(SECRET_KEY_PURPOSE, input.secretKey, agencyId), stripeAccountId: null }
        : {}),
      ...(input.webhookSecret
        ? { stripeWebhookSecretSealed: store.seal(WEBHOOK_SECRET_PURPOSE, input.webhookSecret, agencyId) }
        : {}),
    };
    const [row] = before
      ? await tx
          .update(agencyPaymentSettings)
          .set(values)
          .where(eq(agencyPaymentSettings.agencyId, agencyId))
          .returning()
      : await tx
          .insert(agencyPaymentSettings)
          .values({
            agencyId,
            ...values,
            stripeSecretKeySealed: values.stripeSecretKeySealed!,
            stripeWebhookSecretSealed: values.stripeWebhookSecretSealed!,
          })
          .returning();
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const k of ['currency', 'creditPrice', 'minCredits', 'maxCredits', 'rechargeMaxFailures'] as const)
      if (before?.[k] !== row![k]) changes[k] = { from: before?.[k] ?? null, to: row![k] };
    // recordChange redacts fields named like secrets
    if (input.secretKey) changes.secretKey = { from: before ? 'set' : null, to: 'set' };
    if (input.webhookSecret) changes.webhookSecret = { from: before ? 'set' : null, to: 'set' };
    await recordChange(tx, {
      agencyId,
      by,
      objectType: 'payment_settings',
      objectId: agencyId,
      action: before ? 'updated' : 'created',
      changes,
    });
    return viewOf(row!);
  });
}

/** The agencies that have Stripe settings (or the one named, if it has them), for the reconciliation job. */
export async function agenciesWithPaymentSettings(db: DbOrTx, agencyId?: string | null): Promise<string[]> {
  const rows = await db
    .select({ agencyId: agencyPaymentSettings.agencyId })
    .from(agencyPaymentSettings)
    .where(agencyId ? eq(agencyPaymentSettings.agencyId, agencyId) : undefined)
    .orderBy(agencyPaymentSettings.agencyId);
  return rows.map((r) => r.agencyId);
}

/** "Test connection" read the account the key belongs to: events naming another account are refused from now on. */
export async function recordStripeAccount(db: DbOrTx, agencyId: string, accountId: string): Promise<void> {
  await db
    .update(agencyPaymentSettings)
    .set({ stripeAccountId: accountId, updatedAt: new Date() })
    .where(eq(agencyPaymentSettings.agencyId, agencyId));
}

/** The master key ids the sealed Stripe secrets name (the key store's start check). */
export async function stripeSecretKeyIds(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .select({
      a: sql<string>`split_part(${agencyPaymentSettings.stripeSecretKeySealed}, '.', 2)`,
      b: sql<string>`split_part(${agencyPaymentSettings.stripeWebhookSecretSealed}, '.', 2)`,
    })
    .from(agencyPaymentSettings);
  return [...new Set(rows.flatMap((r) => [r.a, r.b]))];
}

/** Moves up to `limit` agencies' Stripe secrets to the current master key, each conditional on the values read. */
export async function rewrapStripeSecrets(db: DbOrTx, limit: number): Promise<number> {
  const store = keyStore();
  const current = store.currentKeyId;
  const rows = await db
    .select({
      agencyId: agencyPaymentSettings.agencyId,
      key: agencyPaymentSettings.stripeSecretKeySealed,
      hook: agencyPaymentSettings.stripeWebhookSecretSealed,
    })
    .from(agencyPaymentSettings)
    .where(
      sql`split_part(${agencyPaymentSettings.stripeSecretKeySealed}, '.', 2) <> ${current} OR split_part(${agencyPaymentSettings.stripeWebhookSecretSealed}, '.', 2) <> ${current}`,
    )
    .limit(limit);
  let moved = 0;
  for (const r of rows) {
    const done = await db
      .update(agencyPaymentSettings)
      .set({ stripeSecretKeySealed: store.rewrap(r.key), stripeWebhookSecretSealed: store.rewrap(r.hook) })
      .where(
        and(
          eq(agencyPaymentSettings.agencyId, r.agencyId),
          eq(agencyPaymentSettings.stripeSecretKeySealed, r.key),
          eq(agencyPaymentSettings.stripeWebhookSecretSealed, r.hook),
        ),
      )
      .returning({ agencyId: agencyPaymentSettings.agencyId });
    moved += done.length;
  }
  return moved;
}

// ─── payments ────────────────────────────────────────────────────────────────

export interface NewPayment {
  agencyId: string;
  buyerId: string;
  kind: PaymentKind;
  credits: number;
  creditPrice: number;
  currency: string;
  stripeCheckoutSessionId?: string | null;
  stripePaymentIntentId?: string | null;
  stripeIdempotencyKey?: string | null;
  createdByUserId?: string | null;
}

/** A pending payment, written before Stripe is asked so that its id travels in the Stripe object's metadata. */
export async function createPayment(db: DbOrTx, input: NewPayment): Promise<PaymentRow> {
  const [row] = await db
    .insert(payments)
    .values({
      ...input,
      amount: paymentAmount(input.credits, input.creditPrice),
    })
    .returning();
  return row!;
}

/** Records the Stripe object a pending payment became (its Checkout Session or PaymentIntent). */
export async function attachStripeIds(
  db: DbOrTx,
  paymentId: string,
  ids: { stripeCheckoutSessionId?: string; stripePaymentIntentId?: string },
): Promise<void> {
  await db
    .update(payments)
    .set({ ...ids, updatedAt: new Date() })
    .where(eq(payments.id, paymentId));
}

export async function paymentById(db: DbOrTx, id: string): Promise<PaymentRow | null> {
  const [row] = await db.select().from(payments).where(eq(payments.id, id));
  return row ?? null;
}

/** How a Stripe object names its payment: Leadwire's id in its metadata, else its Checkout Session or PaymentIntent. */
export interface PaymentRef {
  paymentId?: string | null;
  checkoutSessionId?: string | null;
  paymentIntentId?: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The agency's payment a Stripe object refers to, locked for the transaction when `lock`. */
export async function findPayment(
  db: DbOrTx,
  agencyId: string,
  ref: PaymentRef,
  lock = false,
): Promise<PaymentRow | null> {
  const tries = [
    ref.paymentId && UUID.test(ref.paymentId) ? eq(payments.id, ref.paymentId) : null,
    ref.checkoutSessionId ? eq(payments.stripeCheckoutSessionId, ref.checkoutSessionId) : null,
    ref.paymentIntentId ? eq(payments.stripePaymentIntentId, ref.paymentIntentId) : null,
  ];
  for (const where of tries) {
    if (!where) continue;
    const q = db
      .select()
      .from(payments)
      .where(and(where, eq(payments.agencyId, agencyId)));
    const [row] = lock ? await q.for('update') : await q;
    if (row) return row;
  }
  return null;
}

/** What Stripe says of a succeeded payment (from a webhook's object, or the reconciliation's list). */
export interface StripeSuccess extends PaymentRef {
  agencyId: string;
  paymentIntentId: string;
  /** In minor units, as Stripe received it. */
  amount: number;
  currency: string;
  chargeId?: string | null;
  cardBrand?: string | null;
  cardLast4?: string | null;
  receiptUrl?: string | null;
  /** The event that told us (null: the reconciliation job found it). */
  eventId: string | null;
}

/** Why a success report was not credited: nothing moved. */
type SettleRefusal = 'unknown_payment' | 'amount_mismatch' | 'currency_mismatch' | 'payment_mismatch';

export type SettleOutcome =
  | { outcome: 'credited'; payment: PaymentRow; entry: LedgerEntry }
  | { outcome: 'already_credited'; payment: PaymentRow; entry: LedgerEntry }
  | { outcome: 'refused'; reason: SettleRefusal; detail: string; payment: PaymentRow | null };

export interface SettleOptions {
  /** An audit-log entry for a payment this credits (the reconciliation job's: a webhook would leave its event). */
  by?: AuditBy;
  /** Decide everything, then roll back: what the call would do, nothing moved (the reconciliation's dry run). */
  dryRun?: boolean;
}

/** Carries a dry run's outcome out of the transaction it rolls back. */
class DryRunRollback extends Error {
  constructor(readonly outcome: SettleOutcome) {
    super('dry run: rolled back');
  }
}

/**
 * Credits a succeeded payment exactly once (see the top of this file). Refuses, moving nothing, a report for a
 * payment this agency does not have, for another amount or currency than the payment's, or naming another
 * PaymentIntent than the one the payment already has.
 */
export async function settleSucceededPayment(
  db: Db,
  s: StripeSuccess,
  opts: SettleOptions = {},
): Promise<SettleOutcome> {
  if (!opts.dryRun) return settleInTransaction(db, s, opts.by);
  try {
    await db.transaction(async (tx) => {
      throw new DryRunRollback(await settleInTransaction(tx, s, opts.by));
    });
  } catch (err) {
    if (err instanceof DryRunRollback) return err.outcome;
    throw err;
  }
  throw new Error('unreachable: a dry run always rolls back');
}

async function settleInTransaction(db: DbOrTx, s: StripeSuccess, by: AuditBy | undefined): Promise<SettleOutcome> {
  return db.transaction(async (tx) => {
    const payment = await findPayment(tx, s.agencyId, s, true);
    if (!payment)
      return {
        outcome: 'refused',
        reason: 'unknown_payment',
        detail: `no payment of this agency matches ${s.paymentIntentId}`,
        payment: null,
      };
    if (s.currency.toLowerCase() !== payment.currency)
      return {
        outcome: 'refused',
        reason: 'currency_mismatch',
        detail: `Stripe says ${s.currency}, the payment is in ${payment.currency}`,
        payment,
      };
    if (s.amount !== payment.amount)
      return {
        outcome: 'refused',
        reason: 'amount_mismatch',
        detail: `Stripe says ${s.amount}, the payment is ${payment.amount} (${payment.credits} credits × ${payment.creditPrice})`,
        payment,
      };
    if (payment.stripePaymentIntentId && payment.stripePaymentIntentId !== s.paymentIntentId)
      return {
        outcome: 'refused',
        reason: 'payment_mismatch',
        detail: `the payment is ${payment.stripePaymentIntentId}, not ${s.paymentIntentId}`,
        payment,
      };
    const [updated] = await tx
      .update(payments)
      .set({
        status: 'succeeded',
        succeededAt: payment.succeededAt ?? new Date(),
        stripePaymentIntentId: s.paymentIntentId,
        stripeChargeId: s.chargeId ?? payment.stripeChargeId,
        cardBrand: s.cardBrand ?? payment.cardBrand,
        cardLast4: s.cardLast4 ?? payment.cardLast4,
        receiptUrl: s.receiptUrl ?? payment.receiptUrl,
        failureCode: null,
        failureMessage: null,
        updatedAt: new Date(),
      })
      .where(eq(payments.id, payment.id))
      .returning();
    const posted = await postLedgerEntry(tx, {
      buyerId: payment.buyerId,
      agencyId: payment.agencyId,
      kind: 'top_up',
      amount: payment.credits,
      idempotencyKey: stripeLedgerKey.payment(s.paymentIntentId),
      reference: `card payment ${payment.id}${s.eventId ? ` (${s.eventId})` : ' (reconciled)'}`,
    });
    if (posted.created && by)
      await recordChange(tx, {
        agencyId: payment.agencyId,
        buyerId: payment.buyerId,
        by,
        objectType: 'payment',
        objectId: payment.id,
        action: 'credited',
        changes: {
          status: { from: payment.status, to: 'succeeded' },
          credits: { from: null, to: payment.credits },
          stripePaymentIntentId: { from: payment.stripePaymentIntentId, to: s.paymentIntentId },
        },
        note: s.eventId ? `Stripe event ${s.eventId}` : 'reconciled: Stripe lists it succeeded, no webhook credited it',
      });
    return { outcome: posted.created ? 'credited' : 'already_credited', payment: updated!, entry: posted.entry };
  });
}

/** Stripe said the payment failed (a decline, `authentication_required`): recorded, nothing credited. */
export async function markPaymentFailed(
  db: DbOrTx,
  paymentId: string,
  failure: { code: string | null; message: string | null },
): Promise<PaymentRow | null> {
  const [row] = await db
    .update(payments)
    .set({
      status: 'failed',
      failureCode: failure.code?.slice(0, 100) ?? null,
      failureMessage: failure.message?.slice(0, 500) ?? null,
      updatedAt: new Date(),
    })
    .where(and(eq(payments.id, paymentId), eq(payments.status, 'pending')))
    .returning();
  return row ?? null;
}

export interface PaymentFilter {
  agencyId: string;
  buyerId?: string;
  status?: PaymentStatus;
}

/** The credits of each payment's refunds still pending at Stripe (a payment without one is absent: 0). */
export async function pendingRefundCredits(db: DbOrTx, paymentIds: string[]): Promise<Map<string, number>> {
  if (!paymentIds.length) return new Map();
  const rows = await db
    .select({ paymentId: paymentRefunds.paymentId, credits: sql<number>`sum(${paymentRefunds.credits})::int` })
    .from(paymentRefunds)
    .where(and(inArray(paymentRefunds.paymentId, paymentIds), eq(paymentRefunds.status, 'pending')))
    .groupBy(paymentRefunds.paymentId);
  return new Map(rows.map((r) => [r.paymentId, r.credits]));
}

/** A payment as the lists show it: with the credits of its refunds still pending at Stripe. */
export type ListedPayment = PaymentRow & { pendingRefundCredits: number };

/** One payment of the agency, as the lists show it. */
export async function listedPayment(db: DbOrTx, payment: PaymentRow): Promise<ListedPayment> {
  return { ...payment, pendingRefundCredits: (await pendingRefundCredits(db, [payment.id])).get(payment.id) ?? 0 };
}

export async function listPayments(db: DbOrTx, filter: PaymentFilter, page: PageArgs): Promise<Page<ListedPayment>> {
  const found = await newestFirst(
    db,
    payments,
    and(
      eq(payments.agencyId, filter.agencyId),
      filter.buyerId ? eq(payments.buyerId, filter.buyerId) : undefined,
      filter.status ? eq(payments.status, filter.status) : undefined,
    ),
    page,
  );
  const pending = await pendingRefundCredits(
    db,
    found.items.map((p) => p.id),
  );
  return { ...found, items: found.items.map((p) => ({ ...p, pendingRefundCredits: pending.get(p.id) ?? 0 })) };
}

// ─── Stripe events ───────────────────────────────────────────────────────────

export type StripeEventRow = typeof stripeEvents.$inferSelect;

export async function stripeEventById(db: DbOrTx, id: string): Promise<StripeEventRow | null> {
  const [row] = await db.select().from(stripeEvents).where(eq(stripeEvents.id, id));
  return row ?? null;
}

/**
 * Records what a verified event did, once per event id: answers false when it was already recorded (a duplicate
 * delivery that raced this one). A refused event is recorded again with its latest reason when it comes back.
 */
export async function recordStripeEvent(
  db: DbOrTx,
  e: {
    id: string;
    agencyId: string;
    type: string;
    objectId: string | null;
    paymentId: string | null;
    outcome: StripeEventOutcome;
    detail: string | null;
  },
): Promise<boolean> {
  const rows = await db
    .insert(stripeEvents)
    .values({ ...e, detail: e.detail?.slice(0, 1000) ?? null })
    .onConflictDoUpdate({
      target: stripeEvents.id,
      set: { outcome: e.outcome, detail: e.detail?.slice(0, 1000) ?? null, paymentId: e.paymentId },
      setWhere: sql`${stripeEvents.outcome} = 'refused'`,
    })
    .returning({ id: stripeEvents.id });
  return rows.length > 0;
}
