/** The buyer audit trail: who changed which setting of a buyer, from what to what. */
import { and, desc, eq } from 'drizzle-orm';
import type { ChangeActor } from '../domain/types';
import type { DbOrTx } from './connection';
import { olderThan, sortKeyAt, toPage, type Page, type PageArgs } from './pages';
import { buyerChanges } from './schema';

export type BuyerChangeRow = typeof buyerChanges.$inferSelect;

export async function recordBuyerChange(
  db: DbOrTx,
  input: {
    agencyId: string;
    buyerId: string;
    actor: ChangeActor;
    changes: Record<string, { from: unknown; to: unknown }>;
    note?: string | null;
  },
): Promise<void> {
  if (!Object.keys(input.changes).length) return;
  await db.insert(buyerChanges).values({
    agencyId: input.agencyId,
    buyerId: input.buyerId,
    actor: input.actor,
    changes: input.changes,
    note: input.note ?? null,
  });
}

export async function listBuyerChanges(db: DbOrTx, buyerId: string, page: PageArgs): Promise<Page<BuyerChangeRow>> {
  const rows = await db
    .select({ row: buyerChanges, sortAt: sortKeyAt(buyerChanges.createdAt) })
    .from(buyerChanges)
    .where(and(eq(buyerChanges.buyerId, buyerId), olderThan(buyerChanges.createdAt, buyerChanges.id, page.after)))
    .orderBy(desc(buyerChanges.createdAt), desc(buyerChanges.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => r.row,
  );
}
