/**
 * A buyer's monthly statement read from the ledger (domain/statements.ts
 * builds it). The opening balance is the sum of the entries before the month
 * (the ledger's invariant sum = balance), so entries written in one
 * transaction, which share a created_at, need no order among themselves.
 *
 * Stripe-sourced entries are matched to their payment through the one ledger
 * key definition (domain/payments.ts `stripeLedgerKey`): a top-up by its
 * payment intent, a card refund by its refund, a dispute by its dispute.
 */
import { and, asc, eq, gte, inArray, isNull, lt, sql } from 'drizzle-orm';

import { stripeLedgerKey } from '../domain/payments';
import { buildStatement, monthBounds, type Statement, type StatementPayment } from '../domain/statements';
import type { DbOrTx } from './connection';
import { ledgerEntries, paymentDisputes, paymentRefunds, payments } from './schema';

export type StatementPaymentRow = typeof payments.$inferSelect;

/** The months (`YYYY-MM` in the zone) in which the buyer's ledger moved, newest first. */
export async function statementMonths(db: DbOrTx, buyerId: string, timeZone: string): Promise<string[]> {
  const month = sql<string>`to_char(${ledgerEntries.createdAt} AT TIME ZONE ${timeZone}, 'YYYY-MM')`;
  const rows = await db
    .selectDistinct({ month })
    .from(ledgerEntries)
    .where(eq(ledgerEntries.buyerId, buyerId))
    .orderBy(sql`1 DESC`);
  return rows.map((r) => r.month);
}

/**
 * The statement of one month. `receiptOf` may fill in a succeeded payment's missing receipt link (it is called
 * once per payment shown without one).
 */
export async function buyerStatement(
  db: DbOrTx,
  buyerId: string,
  month: string,
  timeZone: string,
  receiptOf?: (p: StatementPaymentRow) => Promise<string | null>,
): Promise<Statement> {
  const { start, end } = monthBounds(month, timeZone);
  const [before] = await db
    .select({ sum: sql<string>`coalesce(sum(${ledgerEntries.amount}), 0)` })
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.buyerId, buyerId), lt(ledgerEntries.createdAt, start)));
  const entries = await db
    .select()
    .from(ledgerEntries)
    .where(
      and(eq(ledgerEntries.buyerId, buyerId), gte(ledgerEntries.createdAt, start), lt(ledgerEntries.createdAt, end)),
    )
    .orderBy(asc(ledgerEntries.createdAt), asc(ledgerEntries.balanceAfter));
  const lookup = entries.some((e) => e.idempotencyKey.startsWith('stripe:'))
    ? await paymentsByLedgerKey(db, buyerId)
    : () => undefined;
  const statement = buildStatement({
    month,
    timeZone,
    openingBalance: Number(before?.sum ?? 0),
    entries: entries.map((e) => ({
      id: e.id,
      kind: e.kind,
      amount: e.amount,
      balanceAfter: e.balanceAfter,
      createdAt: e.createdAt,
      leadId: e.leadId,
      reference: e.reference,
      payment: lookup(e.idempotencyKey)?.view ?? null,
    })),
  });
  if (receiptOf) {
    // Only the payments this month shows, each once (the lines of one payment share its view).
    const missing = new Map(
      entries.flatMap((e) => {
        const p = lookup(e.idempotencyKey);
        return p && !p.view.receiptUrl && p.row.status === 'succeeded' ? [[p.row.id, p] as const] : [];
      }),
    );
    for (const p of missing.values()) p.view.receiptUrl = await receiptOf(p.row);
  }
  return statement;
}

interface Found {
  row: StatementPaymentRow;
  view: StatementPayment;
}

/** A lookup from a Stripe ledger key to its payment, over one buyer's payments. */
async function paymentsByLedgerKey(db: DbOrTx, buyerId: string): Promise<(key: string) => Found | undefined> {
  const rows = await db.select().from(payments).where(eq(payments.buyerId, buyerId));
  const views = new Map<string, Found>();
  for (const p of rows)
    views.set(p.id, {
      row: p,
      view: {
        paymentId: p.id,
        amount: p.amount,
        currency: p.currency,
        cardBrand: p.cardBrand,
        cardLast4: p.cardLast4,
        receiptUrl: p.receiptUrl,
      },
    });
  const keys = new Map<string, Found>();
  for (const p of rows)
    if (p.stripePaymentIntentId) keys.set(stripeLedgerKey.payment(p.stripePaymentIntentId), views.get(p.id)!);
  if (rows.length) {
    const ids = rows.map((p) => p.id);
    const refunds = await db
      .select({ id: paymentRefunds.stripeRefundId, paymentId: paymentRefunds.paymentId })
      .from(paymentRefunds)
      .where(inArray(paymentRefunds.paymentId, ids));
    for (const r of refunds) if (r.id) keys.set(stripeLedgerKey.refund(r.id), views.get(r.paymentId)!);
    const disputes = await db
      .select({ id: paymentDisputes.stripeDisputeId, paymentId: paymentDisputes.paymentId })
      .from(paymentDisputes)
      .where(inArray(paymentDisputes.paymentId, ids));
    for (const d of disputes) {
      keys.set(stripeLedgerKey.dispute(d.id), views.get(d.paymentId)!);
      keys.set(stripeLedgerKey.disputeReversal(d.id), views.get(d.paymentId)!);
    }
  }
  return (key) => keys.get(key);
}

/** Keeps the receipt link Stripe gave for a payment (and its charge), unless one was stored meanwhile. */
export async function keepReceiptUrl(
  db: DbOrTx,
  paymentId: string,
  receiptUrl: string,
  chargeId: string | null,
): Promise<void> {
  await db
    .update(payments)
    .set({ receiptUrl, ...(chargeId ? { stripeChargeId: chargeId } : {}), updatedAt: new Date() })
    .where(and(eq(payments.id, paymentId), isNull(payments.receiptUrl)));
}
