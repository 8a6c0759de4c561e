/**
 * The reconciliation job's record (#21 item 5; table payment_reconciliations, migration 0022): one row per agency
 * per run, with what it checked and what it fixed. payments/reconcile.ts writes it; the crediting itself goes
 * through `settleSucceededPayment` (db/payments.ts), never here.
 */
import type { DbOrTx } from './connection';
import { paymentReconciliations } from './schema';

export type ReconciliationRow = typeof paymentReconciliations.$inferSelect;
type NewReconciliation = typeof paymentReconciliations.$inferInsert;

export async function recordReconciliation(db: DbOrTx, run: NewReconciliation): Promise<ReconciliationRow> {
  const [row] = await db.insert(paymentReconciliations).values(run).returning();
  return row!;
}
