/**
 * Refunds and card disputes of buyers' card payments (#21 item 4). Tables:
 * payment_refunds, payment_disputes (and the payments row each one counts
 * against).
 *
 * A refund is asked of Stripe first, inside the transaction that holds the
 * payment's row lock, and its row is stored (pending) only once Stripe took
 * it: a refusal from Stripe leaves nothing behind, and two concurrent
 * requests cannot refund the same credits twice. Its ledger debit
 * (`card_refund`) happens only when Stripe reports the refund succeeded (a
 * webhook), once, under `stripeLedgerKey.refund(<Stripe refund id>)`. A
 * refund made in the Stripe dashboard gets its row from that webhook.
 *
 * A dispute debits its credits when it is opened (`dispute`, once, under
 * `stripeLedgerKey.dispute(<id>)`) and credits them back when it is won
 * (`dispute_reversal`). Both debits may take the wallet below zero (the money
 * has left); the buyer is then paused with reason `payment_disputed` until the
 * agency resumes it (PATCH /v1/buyers/{id} `{status: 'active'}`).
 *
 * Whatever order the events come in, the handlers meet on the payment's row
 * lock and the ledger keys: a webhook that overtakes the request's own
 * transaction waits for it on the lock and then finds its row.
 */
import { randomUUID } from 'node:crypto';

import { and, asc, eq, sql } from 'drizzle-orm';

import type { AuditBy } from '../domain/audit';
import { PAYMENT_DISPUTED_REASON, paymentAmount, type RefundStatus, stripeLedgerKey } from '../domain/payments';
import { recordChange } from './audit';
import { autoPauseBuyer } from './buyers';
import type { Db, DbOrTx } from './connection';
import { postLedgerEntry, walletBalance } from './ledger';
import { findPayment, type PaymentRow, pendingRefundCredits } from './payments';
import { buyers, paymentDisputes, paymentRefunds, payments } from './schema';

export type RefundRow = typeof paymentRefunds.$inferSelect;
export type DisputeRow = typeof paymentDisputes.$inferSelect;

export interface PaymentDetail {
  payment: PaymentRow;
  refunds: RefundRow[];
  disputes: DisputeRow[];
}

/** One payment of the agency with its refunds and disputes (oldest first). */
export async function paymentDetail(db: DbOrTx, agencyId: string, paymentId: string): Promise<PaymentDetail | null> {
  const [payment] = await db
    .select()
    .from(payments)
    .where(and(eq(payments.id, paymentId), eq(payments.agencyId, agencyId)));
  if (!payment) return null;
  const refunds = await db
    .select()
    .from(paymentRefunds)
    .where(eq(paymentRefunds.paymentId, paymentId))
    .orderBy(asc(paymentRefunds.createdAt), asc(paymentRefunds.id));
  const disputes = await db
    .select()
    .from(paymentDisputes)
    .where(eq(paymentDisputes.paymentId, paymentId))
    .orderBy(asc(paymentDisputes.createdAt), asc(paymentDisputes.id));
  return { payment, refunds, disputes };
}

/** Credits of a payment that may still be refunded: not refunded, not disputed, not in a pending refund. */
async function refundableCredits(db: DbOrTx, payment: PaymentRow): Promise<number> {
  const pending = (await pendingRefundCredits(db, [payment.id])).get(payment.id) ?? 0;
  return payment.credits - payment.refundedCredits - payment.disputedCredits - pending;
}

/** What Stripe is asked: a refund of `amount` of the payment's PaymentIntent, idempotent on the refund's id. */
export interface StripeRefundAsk {
  refundId: string;
  paymentIntentId: string;
  amount: number;
  metadata: Record<string, string>;
}

export type RefundRequestResult =
  | { ok: true; refund: RefundRow; payment: PaymentRow }
  | { ok: false; error: 'not_found' }
  | { ok: false; error: 'payment_not_refundable'; detail: string }
  | { ok: false; error: 'refund_exceeds_payment'; detail: string; refundable: number }
  | { ok: false; error: 'refund_exceeds_balance'; detail: string; balance: number };

/**
 * An agency's refund of `credits` of a succeeded payment. Refused (nothing asked of Stripe) when the payment is not
 * a succeeded one of this agency, when `credits` exceed what is still refundable, or when the buyer's balance is
 * below `credits`: a refund takes back credits the buyer still has, it never overdraws the wallet on purpose.
 * Otherwise Stripe is asked (`ask`, the SDK) while the payment's row is locked, then the refund is stored pending
 * with its audit entry (`refund_requested`) in the same transaction. A Stripe error rolls everything back.
 */
export async function requestRefund(
  db: Db,
  input: { agencyId: string; paymentId: string; credits: number; reason: string | null; by: AuditBy },
  ask: (a: StripeRefundAsk) => Promise<{ id: string }>,
): Promise<RefundRequestResult> {
  return db.transaction(async (tx) => {
    const [payment] = await tx
      .select()
      .from(payments)
      .where(and(eq(payments.id, input.paymentId), eq(payments.agencyId, input.agencyId)))
      .for('update');
    if (!payment) return { ok: false, error: 'not_found' };
    if (payment.status !== 'succeeded' || !payment.stripePaymentIntentId)
      return {
        ok: false,
        error: 'payment_not_refundable',
        detail: `the payment is ${payment.status}; only a succeeded payment can be refunded`,
      };
    const refundable = await refundableCredits(tx, payment);
    if (input.credits > refundable)
      return {
        ok: false,
        error: 'refund_exceeds_payment',
        refundable,
        detail: `${refundable} of the payment's ${payment.credits} credits can still be refunded`,
      };
    const balance = await walletBalance(tx, payment.buyerId);
    if (balance < input.credits)
      return {
        ok: false,
        error: 'refund_exceeds_balance',
        balance,
        detail: `the buyer has ${balance} credits, fewer than the ${input.credits} to take back`,
      };
    const refundId = randomUUID();
    const amount = paymentAmount(input.credits, payment.creditPrice);
    const stripeRefund = await ask({
      refundId,
      paymentIntentId: payment.stripePaymentIntentId,
      amount,
      metadata: {
        leadwireRefundId: refundId,
        leadwirePaymentId: payment.id,
        leadwireBuyerId: payment.buyerId,
        leadwireAgencyId: payment.agencyId,
      },
    });
    const by = input.by.actor;
    const [refund] = await tx
      .insert(paymentRefunds)
      .values({
        id: refundId,
        paymentId: payment.id,
        agencyId: payment.agencyId,
        buyerId: payment.buyerId,
        credits: input.credits,
        amount,
        status: 'pending',
        stripeRefundId: stripeRefund.id,
        reason: input.reason,
        createdByUserId: by.type === 'user' || by.type === 'key' ? by.userId : null,
      })
      .returning();
    await recordChange(tx, {
      agencyId: payment.agencyId,
      buyerId: payment.buyerId,
      by: input.by,
      objectType: 'payment',
      objectId: payment.id,
      action: 'refund_requested',
      changes: {
        refund: { from: null, to: { id: refundId, credits: input.credits, amount, stripeRefundId: stripeRefund.id } },
      },
      note: input.reason,
    });
    return { ok: true, refund: refund!, payment };
  });
}

// ─── what Stripe reports ─────────────────────────────────────────────────────

/** Why a refund or dispute report was not applied: nothing moved. */
type MoneyBackRefusal = 'unknown_payment' | 'currency_mismatch' | 'nothing_left';

export type MoneyBackOutcome =
  | { outcome: 'debited' | 'already_debited' | 'credited_back' | 'recorded'; detail: string; paymentId: string }
  | { outcome: 'refused'; reason: MoneyBackRefusal; detail: string; paymentId: string | null };

interface StripeMoneyRef {
  agencyId: string;
  paymentId?: string | null;
  paymentIntentId?: string | null;
  chargeId?: string | null;
  amount: number;
  currency: string;
}

/** The agency's payment a refund or dispute is about (by metadata, PaymentIntent, then charge), locked. */
async function lockedPaymentOf(tx: DbOrTx, ref: StripeMoneyRef): Promise<PaymentRow | null> {
  const found = await findPayment(
    tx,
    ref.agencyId,
    { paymentId: ref.paymentId, paymentIntentId: ref.paymentIntentId },
    true,
  );
  if (found || !ref.chargeId) return found;
  const [byCharge] = await tx
    .select()
    .from(payments)
    .where(and(eq(payments.agencyId, ref.agencyId), eq(payments.stripeChargeId, ref.chargeId)))
    .for('update');
  return byCharge ?? null;
}

/**
 * The credits an amount of money stands for: rounded up, so that a partial amount (a dispute of part of a charge,
 * a dashboard refund of an odd sum) never leaves the buyer holding credits for money that has left; capped at what
 * the payment still has – credits not refunded, not disputed and not promised to a pending refund. So a dispute
 * that arrives while a refund is pending takes only what the refund leaves, and when the refund then succeeds the
 * payment's refunded + disputed credits still fit in its credits (the `payments_refunded` CHECK).
 */
async function creditsFor(tx: DbOrTx, payment: PaymentRow, amount: number): Promise<number> {
  return Math.min(Math.ceil(amount / payment.creditPrice), await refundableCredits(tx, payment));
}

/** Pauses the buyer (`payment_disputed`) when its wallet is below zero and it is active. */
async function pauseWhenOverdrawn(tx: DbOrTx, payment: PaymentRow, why: string): Promise<boolean> {
  const balance = await walletBalance(tx, payment.buyerId);
  if (balance >= 0) return false;
  const [buyer] = await tx
    .select({ id: buyers.id, agencyId: buyers.agencyId, pauseReason: buyers.pauseReason, status: buyers.status })
    .from(buyers)
    .where(eq(buyers.id, payment.buyerId))
    .for('update');
  if (!buyer || buyer.status !== 'active') return false;
  await autoPauseBuyer(tx, buyer, PAYMENT_DISPUTED_REASON, `${why}: the wallet is at ${balance} credits`);
  return true;
}

export interface StripeRefundReport extends StripeMoneyRef {
  /** Stripe's refund id (re_…). */
  refundId: string;
  /** Leadwire's refund id, from the refund's metadata. */
  leadwireRefundId?: string | null;
  status: string;
  eventId: string;
}

const REFUND_STATUS_OF: Record<string, RefundStatus> = {
  pending: 'pending',
  requires_action: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
};

/**
 * Applies what Stripe says of a refund: when it succeeded, debits its credits once (and pauses an overdrawn buyer);
 * when it failed or was canceled before that, records so (its credits become refundable again). A refund Leadwire
 * did not ask for (the Stripe dashboard) gets its row here.
 *
 * A refund can fail after it succeeded (the card's bank sends the money back to the agency's Stripe balance):
 * its credits go back to the wallet (`card_refund_reversal`, once, under `stripeLedgerKey.refundFailed`) and become
 * refundable again. Failed is final: a `succeeded` report that arrives after it (out of order) moves nothing.
 */
export async function applyStripeRefund(db: Db, r: StripeRefundReport): Promise<MoneyBackOutcome> {
  return db.transaction(async (tx) => {
    const payment = await lockedPaymentOf(tx, r);
    if (!payment)
      return {
        outcome: 'refused',
        reason: 'unknown_payment',
        detail: `no payment of this agency matches ${r.refundId}`,
        paymentId: null,
      };
    if (r.currency.toLowerCase() !== payment.currency)
      return {
        outcome: 'refused',
        reason: 'currency_mismatch',
        detail: `Stripe says ${r.currency}, the payment is in ${payment.currency}`,
        paymentId: payment.id,
      };
    const status = REFUND_STATUS_OF[r.status] ?? 'pending';
    let [row] = await tx
      .select()
      .from(paymentRefunds)
      .where(eq(paymentRefunds.stripeRefundId, r.refundId))
      .for('update');
    if (!row) {
      const credits = await creditsFor(tx, payment, r.amount);
      if (credits <= 0)
        return {
          outcome: 'refused',
          reason: 'nothing_left',
          detail: `refund ${r.refundId}: the payment has no credits left to refund`,
          paymentId: payment.id,
        };
      [row] = await tx
        .insert(paymentRefunds)
        .values({
          paymentId: payment.id,
          agencyId: payment.agencyId,
          buyerId: payment.buyerId,
          credits,
          amount: r.amount,
          status: 'pending',
          stripeRefundId: r.refundId,
          reason: 'refunded in Stripe',
        })
        .returning();
    }
    const refund = row!;
    if (status === 'failed' && refund.status === 'succeeded') return refundFailedAfterSuccess(tx, payment, refund, r);
    if (refund.status === 'failed' || refund.status === 'canceled')
      return {
        outcome: 'recorded',
        detail: `refund ${r.refundId} is already ${refund.status}; Stripe's report (${r.status}) changes nothing`,
        paymentId: payment.id,
      };
    if (status !== 'succeeded') {
      if (refund.status === 'pending' && status !== 'pending')
        await tx.update(paymentRefunds).set({ status, updatedAt: new Date() }).where(eq(paymentRefunds.id, refund.id));
      return { outcome: 'recorded', detail: `refund ${r.refundId} is ${r.status}`, paymentId: payment.id };
    }
    const posted = await postLedgerEntry(tx, {
      buyerId: payment.buyerId,
      agencyId: payment.agencyId,
      kind: 'card_refund',
      amount: -refund.credits,
      idempotencyKey: stripeLedgerKey.refund(r.refundId),
      reference: `refund ${refund.id} of card payment ${payment.id} (${r.eventId})`,
    });
    if (!posted.created)
      return {
        outcome: 'already_debited',
        detail: `already debited (ledger entry ${posted.entry.id})`,
        paymentId: payment.id,
      };
    await tx
      .update(paymentRefunds)
      .set({ status: 'succeeded', updatedAt: new Date() })
      .where(eq(paymentRefunds.id, refund.id));
    await tx
      .update(payments)
      .set({ refundedCredits: sql`${payments.refundedCredits} + ${refund.credits}`, updatedAt: new Date() })
      .where(eq(payments.id, payment.id));
    const paused = await pauseWhenOverdrawn(tx, payment, `refund ${r.refundId}`);
    return {
      outcome: 'debited',
      detail: `debited ${refund.credits} credits (ledger entry ${posted.entry.id})${paused ? '; buyer paused' : ''}`,
      paymentId: payment.id,
    };
  });
}

/** The credits of a refund that failed after it succeeded go back to the wallet, once; the refund is failed. */
async function refundFailedAfterSuccess(
  tx: DbOrTx,
  payment: PaymentRow,
  refund: RefundRow,
  r: StripeRefundReport,
): Promise<MoneyBackOutcome> {
  const posted = await postLedgerEntry(tx, {
    buyerId: payment.buyerId,
    agencyId: payment.agencyId,
    kind: 'card_refund_reversal',
    amount: refund.credits,
    idempotencyKey: stripeLedgerKey.refundFailed(r.refundId),
    reference: `refund ${refund.id} of card payment ${payment.id} failed after it succeeded (${r.eventId})`,
  });
  await tx
    .update(paymentRefunds)
    .set({ status: 'failed', updatedAt: new Date() })
    .where(eq(paymentRefunds.id, refund.id));
  if (!posted.created)
    return {
      outcome: 'recorded',
      detail: `refund ${r.refundId} failed; already credited back (ledger entry ${posted.entry.id})`,
      paymentId: payment.id,
    };
  await tx
    .update(payments)
    .set({ refundedCredits: sql`${payments.refundedCredits} - ${refund.credits}`, updatedAt: new Date() })
    .where(eq(payments.id, payment.id));
  return {
    outcome: 'credited_back',
    detail: `refund ${r.refundId} failed after it succeeded: credited ${refund.credits} credits back (ledger entry ${posted.entry.id})`,
    paymentId: payment.id,
  };
}

export interface StripeDisputeReport extends StripeMoneyRef {
  disputeId: string;
  status: string;
  reason: string | null;
  eventId: string;
}

/** Stripe's dispute statuses that end it. */
const DISPUTE_CLOSED = new Set(['won', 'lost', 'warning_closed', 'prevented']);

/**
 * Applies what Stripe says of a dispute, whichever event comes first: the first report opens it (its row and a
 * `dispute` debit of its credits, once; an overdrawn buyer is paused); a report that it is closed as `won` credits
 * the same credits back (`dispute_reversal`, once) and frees them; any closed one resolves the row. A later report
 * never reopens a resolved dispute.
 */
export async function applyStripeDispute(db: Db, d: StripeDisputeReport): Promise<MoneyBackOutcome> {
  return db.transaction(async (tx) => {
    const payment = await lockedPaymentOf(tx, d);
    if (!payment)
      return {
        outcome: 'refused',
        reason: 'unknown_payment',
        detail: `no payment of this agency matches ${d.disputeId}`,
        paymentId: null,
      };
    if (d.currency.toLowerCase() !== payment.currency)
      return {
        outcome: 'refused',
        reason: 'currency_mismatch',
        detail: `Stripe says ${d.currency}, the payment is in ${payment.currency}`,
        paymentId: payment.id,
      };
    const details: string[] = [];
    let [row] = await tx
      .select()
      .from(paymentDisputes)
      .where(eq(paymentDisputes.stripeDisputeId, d.disputeId))
      .for('update');
    if (!row) {
      const credits = await creditsFor(tx, payment, d.amount);
      if (credits <= 0)
        return {
          outcome: 'refused',
          reason: 'nothing_left',
          detail: `dispute ${d.disputeId}: the payment has no credits left to dispute`,
          paymentId: payment.id,
        };
      [row] = await tx
        .insert(paymentDisputes)
        .values({
          paymentId: payment.id,
          agencyId: payment.agencyId,
          buyerId: payment.buyerId,
          stripeDisputeId: d.disputeId,
          credits,
          amount: d.amount,
          status: d.status,
          reason: d.reason,
        })
        .returning();
      const posted = await postLedgerEntry(tx, {
        buyerId: payment.buyerId,
        agencyId: payment.agencyId,
        kind: 'dispute',
        amount: -credits,
        idempotencyKey: stripeLedgerKey.dispute(d.disputeId),
        reference: `dispute ${d.disputeId} of card payment ${payment.id} (${d.eventId})`,
      });
      await tx
        .update(payments)
        .set({ disputedCredits: sql`${payments.disputedCredits} + ${credits}`, updatedAt: new Date() })
        .where(eq(payments.id, payment.id));
      details.push(`debited ${credits} credits (ledger entry ${posted.entry.id})`);
      if (await pauseWhenOverdrawn(tx, payment, `dispute ${d.disputeId}`)) details.push('buyer paused');
    }
    const dispute = row!;
    let outcome: 'debited' | 'credited_back' | 'recorded' = details.length ? 'debited' : 'recorded';
    if (dispute.resolvedAt) {
      details.push(`already resolved (${dispute.status})`);
    } else if (DISPUTE_CLOSED.has(d.status)) {
      if (d.status === 'won') {
        const posted = await postLedgerEntry(tx, {
          buyerId: payment.buyerId,
          agencyId: payment.agencyId,
          kind: 'dispute_reversal',
          amount: dispute.credits,
          idempotencyKey: stripeLedgerKey.disputeReversal(d.disputeId),
          reference: `dispute ${d.disputeId} won (${d.eventId})`,
        });
        if (posted.created) {
          await tx
            .update(payments)
            .set({ disputedCredits: sql`${payments.disputedCredits} - ${dispute.credits}`, updatedAt: new Date() })
            .where(eq(payments.id, payment.id));
          details.push(`won: credited ${dispute.credits} credits back (ledger entry ${posted.entry.id})`);
          outcome = 'credited_back';
        }
      } else details.push(`closed as ${d.status}: the credits stay debited`);
      await tx
        .update(paymentDisputes)
        .set({ status: d.status, resolvedAt: new Date(), updatedAt: new Date() })
        .where(eq(paymentDisputes.id, dispute.id));
    } else if (dispute.status !== d.status) {
      await tx
        .update(paymentDisputes)
        .set({ status: d.status, updatedAt: new Date() })
        .where(eq(paymentDisputes.id, dispute.id));
      details.push(`status ${d.status}`);
    } else details.push(`status ${d.status}, unchanged`);
    return { outcome, detail: details.join('; '), paymentId: payment.id };
  });
}
