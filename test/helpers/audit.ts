/** The ledger audit on data broken on purpose: tests that prove a check finds what it should. */
import { TransactionRollbackError } from 'drizzle-orm';

import type { Db, DbOrTx } from '../../db/connection';
import { type AuditReport, runAudit } from '../../ops/audit';

/** The audit of one agency's data after `corrupt`, in a transaction rolled back afterwards: nothing stays broken. */
export async function auditCorrupted(
  db: Db,
  agencyId: string,
  corrupt: (tx: DbOrTx) => Promise<void>,
): Promise<AuditReport> {
  let report: AuditReport | null = null;
  await db
    .transaction(async (tx) => {
      await corrupt(tx);
      report = await runAudit(tx, { agencyId });
      tx.rollback();
    })
    .catch((err: unknown) => {
      if (!(err instanceof TransactionRollbackError)) throw err;
    });
  return report!;
}
