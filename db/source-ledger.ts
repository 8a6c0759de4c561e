/**
 * The source ledger: what the agency owes each lead source. The same shape and
 * guarantees as the buyers' ledger (db/ledger.ts, migrations 0001 and 0006):
 * integer amounts, a unique idempotency key, the balance moved by a trigger in
 * the same statement, append-only. A payout is written inside the sale's own
 * transaction (`recordSourcePayout`, called by `sellWithin`), so there is no
 * sold lead without its payout and no payout without a sale; an approved
 * return reverses it exactly once (`reverseSourcePayout`, called by
 * `resolveDispute`), and the database refuses a reversal that is not exactly
 * its payout. A settlement (the agency paid the source) or an adjustment (a
 * correction) is written by `recordSourceSettlement`, which decides under the
 * wallet's row lock whether the balance can bear it.
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { payoutFor, sourcePayoutKey, sourceReversalKey } from '../domain/payout';
import type { SourceLedgerKind } from '../domain/types';
import type { Db, DbOrTx } from './connection';
import { olderThan, sortKeyAt, toPage, type Page, type PageArgs } from './pages';
import { leads, sourceCampaigns, sourceLedgerEntries, sourceWallets } from './schema';

export type SourceLedgerEntry = typeof sourceLedgerEntries.$inferSelect;

export interface SourceEntryInput {
  sourceId: string;
  agencyId: string;
  kind: SourceLedgerKind;
  amount: number;
  idempotencyKey: string;
  leadId?: string | null;
  assignmentId?: string | null;
  reference?: string | null;
}

/** Posts one entry at most once per idempotency key (a repeat returns the first, `created: false`). */
export async function postSourceEntry(
  db: DbOrTx,
  input: SourceEntryInput,
): Promise<{ entry: SourceLedgerEntry; created: boolean }> {
  const inserted = await db
    .insert(sourceLedgerEntries)
    .values({
      sourceId: input.sourceId,
      agencyId: input.agencyId,
      kind: input.kind,
      amount: input.amount,
      idempotencyKey: input.idempotencyKey,
      leadId: input.leadId ?? null,
      assignmentId: input.assignmentId ?? null,
      reference: input.reference ?? null,
    })
    .onConflictDoNothing({ target: sourceLedgerEntries.idempotencyKey })
    .returning();
  if (inserted[0]) return { entry: inserted[0], created: true };
  const [existing] = await db
    .select()
    .from(sourceLedgerEntries)
    .where(eq(sourceLedgerEntries.idempotencyKey, input.idempotencyKey));
  if (!existing) throw new Error(`source ledger entry ${input.idempotencyKey} vanished`);
  return { entry: existing, created: false };
}

export async function createSourceWallet(db: DbOrTx, sourceId: string, agencyId: string): Promise<void> {
  await db.insert(sourceWallets).values({ sourceId, agencyId }).onConflictDoNothing();
}

export async function sourceBalance(db: DbOrTx, sourceId: string): Promise<number> {
  const [row] = await db
    .select({ balance: sourceWallets.balance })
    .from(sourceWallets)
    .where(eq(sourceWallets.sourceId, sourceId));
  return row?.balance ?? 0;
}

/**
 * The payout of a sale, inside the sale's transaction, right after its
 * assignment: nothing for a lead the agency entered itself; for a source's
 * lead, the rule of the campaign the source posted it into, applied to the
 * sale price. Idempotent per assignment.
 */
export async function recordSourcePayout(
  tx: DbOrTx,
  sale: { leadId: string; assignmentId: string; agencyId: string; price: number },
): Promise<SourceLedgerEntry | null> {
  const [row] = await tx
    .select({ sourceId: leads.sourceId, rule: sourceCampaigns })
    .from(leads)
    .leftJoin(
      sourceCampaigns,
      and(eq(sourceCampaigns.sourceId, leads.sourceId), eq(sourceCampaigns.campaignId, leads.campaignId)),
    )
    .where(eq(leads.id, sale.leadId));
  if (!row?.sourceId) return null;
  // A source posts only into campaigns with a rule; should the rule be gone, the payout is 0, still recorded.
  let amount = row.rule
    ? payoutFor(
        {
          kind: row.rule.payoutKind,
          amount: row.rule.payoutAmount ?? undefined,
          shareBps: row.rule.payoutShareBps ?? undefined,
        },
        sale.price,
      )
    : 0;
  // A fixed amount is per lead: a second sale of a shared lead pays nothing more while the first payout stands.
  if (row.rule?.payoutKind === 'fixed' && amount > 0) {
    const [standing] = await tx
      .select({ net: sql<number>`coalesce(sum(${sourceLedgerEntries.amount}), 0)::int` })
      .from(sourceLedgerEntries)
      .where(
        and(eq(sourceLedgerEntries.leadId, sale.leadId), inArray(sourceLedgerEntries.kind, ['payout', 'reversal'])),
      );
    if ((standing?.net ?? 0) > 0) amount = 0;
  }
  const { entry } = await postSourceEntry(tx, {
    sourceId: row.sourceId,
    agencyId: sale.agencyId,
    kind: 'payout',
    amount,
    idempotencyKey: sourcePayoutKey(sale.assignmentId),
    leadId: sale.leadId,
    assignmentId: sale.assignmentId,
  });
  return entry;
}

/** Reverses the payout of a returned sale, once; nothing when the sale had no payout. */
export async function reverseSourcePayout(
  tx: DbOrTx,
  assignmentId: string,
  reference: string,
): Promise<SourceLedgerEntry | null> {
  const [payout] = await tx
    .select()
    .from(sourceLedgerEntries)
    .where(and(eq(sourceLedgerEntries.assignmentId, assignmentId), eq(sourceLedgerEntries.kind, 'payout')));
  if (!payout) return null;
  const { entry } = await postSourceEntry(tx, {
    sourceId: payout.sourceId,
    agencyId: payout.agencyId,
    kind: 'reversal',
    amount: -payout.amount,
    idempotencyKey: sourceReversalKey(assignmentId),
    leadId: payout.leadId,
    assignmentId,
    reference,
  });
  return entry;
}

export interface SettlementInput {
  sourceId: string;
  agencyId: string;
  kind: Extract<SourceLedgerKind, 'settlement' | 'adjustment'>;
  /** The entry's signed amount: a settlement is negative, an adjustment either way (never 0). */
  amount: number;
  reference: string;
  idempotencyKey: string;
}

export type SettlementResult =
  | { refused: false; entry: SourceLedgerEntry; created: boolean }
  /** The entry would take the balance below zero: the agency would have paid more than it owes. */
  | { refused: true; balance: number };

/**
 * Records that the agency paid a source (or corrects its balance), at most
 * once per idempotency key. The wallet row is locked first, so concurrent
 * settlements of one source are decided one after the other on the balance
 * the previous one left: together they can never pay more than is owed. The
 * key is looked up under that lock, so a retry of a settlement that already
 * committed answers its entry even though the balance has since dropped.
 * An entry that raises the balance (a positive adjustment) is never refused.
 */
export async function recordSourceSettlement(db: Db, input: SettlementInput): Promise<SettlementResult> {
  return db.transaction(async (tx) => {
    const [wallet] = await tx
      .select({ balance: sourceWallets.balance })
      .from(sourceWallets)
      .where(eq(sourceWallets.sourceId, input.sourceId))
      .for('update');
    if (!wallet) throw new Error(`no wallet for source ${input.sourceId}`);
    const [existing] = await tx
      .select()
      .from(sourceLedgerEntries)
      .where(eq(sourceLedgerEntries.idempotencyKey, input.idempotencyKey));
    if (existing) return { refused: false, entry: existing, created: false };
    if (input.amount < 0 && wallet.balance + input.amount < 0) return { refused: true, balance: wallet.balance };
    const { entry, created } = await postSourceEntry(tx, input);
    return { refused: false, entry, created };
  });
}

export async function listSourceLedger(db: DbOrTx, sourceId: string, page: PageArgs): Promise<Page<SourceLedgerEntry>> {
  const rows = await db
    .select({ row: sourceLedgerEntries, sortAt: sortKeyAt(sourceLedgerEntries.createdAt) })
    .from(sourceLedgerEntries)
    .where(
      and(
        eq(sourceLedgerEntries.sourceId, sourceId),
        olderThan(sourceLedgerEntries.createdAt, sourceLedgerEntries.id, page.after),
      ),
    )
    .orderBy(desc(sourceLedgerEntries.createdAt), desc(sourceLedgerEntries.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => r.row,
  );
}
