/**
 * The wallets-and-ledger aggregate. Tables: wallets, ledger_entries. Also the
 * Postgres error helpers (unique and check violations) the other modules use.
 *
 * The credit ledger. Every movement of credits is one append-only entry with a
 * unique idempotency key; the database trigger moves the wallet in the same
 * statement and the wallet's CHECK refuses an overdraft.
 */
import { and, eq } from 'drizzle-orm';

import { ledgerReleaseKey } from '../domain/ids';
import type { LedgerEntryKind } from '../domain/types';
import { type AuditBy, recordChange } from './audit';
import type { Db, DbOrTx } from './connection';
import { newestFirst, type Page, type PageArgs } from './pages';
import { ledgerEntries, wallets } from './schema';

export type LedgerEntry = typeof ledgerEntries.$inferSelect;

export interface LedgerEntryInput {
  buyerId: string;
  agencyId: string;
  kind: LedgerEntryKind;
  /** Signed credits: negative for a charge. */
  amount: number;
  idempotencyKey: string;
  leadId?: string | null;
  offerId?: string | null;
  reference?: string | null;
}

/** Raised when an entry would take a wallet below zero. Nothing was written. */
export class InsufficientCreditsError extends Error {
  constructor(readonly buyerId: string) {
    super(`insufficient credits for buyer ${buyerId}`);
    this.name = 'InsufficientCreditsError';
  }
}

export async function createWallet(db: DbOrTx, buyerId: string, agencyId: string): Promise<void> {
  await db.insert(wallets).values({ buyerId, agencyId }).onConflictDoNothing();
}

export async function walletBalance(db: DbOrTx, buyerId: string): Promise<number> {
  const [row] = await db.select({ balance: wallets.balance }).from(wallets).where(eq(wallets.buyerId, buyerId));
  return row?.balance ?? 0;
}

/**
 * Posts one entry, at most once per idempotency key: a repeated key returns
 * the first entry with `created: false` and moves nothing. Call it inside the
 * transaction that also writes what the money is for, so both land or neither.
 */
export async function postLedgerEntry(
  db: DbOrTx,
  input: LedgerEntryInput,
): Promise<{ entry: LedgerEntry; created: boolean }> {
  let inserted: LedgerEntry[];
  try {
    inserted = await db
      .insert(ledgerEntries)
      .values({
        buyerId: input.buyerId,
        agencyId: input.agencyId,
        kind: input.kind,
        amount: input.amount,
        idempotencyKey: input.idempotencyKey,
        leadId: input.leadId ?? null,
        offerId: input.offerId ?? null,
        reference: input.reference ?? null,
      })
      .onConflictDoNothing({ target: ledgerEntries.idempotencyKey })
      .returning();
  } catch (err) {
    if (isCheckViolation(err, 'wallets_balance_non_negative')) throw new InsufficientCreditsError(input.buyerId);
    throw err;
  }
  if (inserted[0]) return { entry: inserted[0], created: true };
  const [existing] = await db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.idempotencyKey, input.idempotencyKey));
  if (!existing) throw new Error(`ledger entry ${input.idempotencyKey} vanished`);
  return { entry: existing, created: false };
}

/** Postgres error helpers: both drivers surface `code` and `constraint` on the error or its cause. */
export function pgErrorOf(err: unknown): { code?: string; constraint?: string } {
  let e = err as { code?: string; constraint?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 4; i++) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e;
    e = e.cause as typeof e;
  }
  return {};
}

function isCheckViolation(err: unknown, constraint?: string): boolean {
  const e = pgErrorOf(err);
  return e.code === '23514' && (!constraint || e.constraint === constraint);
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = pgErrorOf(err);
  return e.code === '23505' && (!constraint || e.constraint === constraint);
}

/** Adds credits. The idempotency key makes a retried top-up a no-op. */
export async function topUp(
  db: DbOrTx,
  input: { buyerId: string; agencyId: string; amount: number; idempotencyKey: string; reference?: string | null },
) {
  return postLedgerEntry(db, { ...input, kind: 'top_up' });
}

/**
 * A manual top-up by a person or a key (POST /v1/buyers/:id/credits), recorded
 * in the audit log in the same transaction; a repeated idempotency key credits
 * nothing and records nothing.
 */
export async function creditBuyer(
  db: Db,
  input: { buyerId: string; agencyId: string; amount: number; idempotencyKey: string; reference?: string | null },
  by: AuditBy,
) {
  return db.transaction(async (tx) => {
    const posted = await topUp(tx, input);
    if (posted.created)
      await recordChange(tx, {
        agencyId: input.agencyId,
        buyerId: input.buyerId,
        by,
        objectType: 'wallet',
        objectId: input.buyerId,
        action: 'credited',
        changes: { balance: { from: posted.entry.balanceAfter - input.amount, to: posted.entry.balanceAfter } },
        note: `${input.amount} credits${input.reference ? ` (${input.reference})` : ''}; ledger entry ${posted.entry.id}`,
      });
    return posted;
  });
}

/** Whether the ledger holds an entry under this idempotency key (the audit's check of a Stripe payment). */
export async function ledgerHasKey(db: DbOrTx, idempotencyKey: string): Promise<boolean> {
  const [row] = await db
    .select({ id: ledgerEntries.id })
    .from(ledgerEntries)
    .where(eq(ledgerEntries.idempotencyKey, idempotencyKey));
  return row !== undefined;
}

export type LedgerRow = typeof ledgerEntries.$inferSelect;

// ─── ledger ──────────────────────────────────────────────────────────────────

export async function listLedger(db: DbOrTx, buyerId: string, page: PageArgs): Promise<Page<LedgerRow>> {
  return newestFirst(db, ledgerEntries, eq(ledgerEntries.buyerId, buyerId), page);
}

/**
 * Gives back every endpoint bid still held for this lead (#22): a post whose fate was unknown left its reserve held
 * while the lead waited in manual review; whatever a person decides there (assign, re-offer, reject), the hold ends
 * with that decision, in its transaction. Idempotent (each release is keyed by its reserve). Answers how many it gave back.
 */
export async function releaseHeldReserves(db: DbOrTx, leadId: string): Promise<number> {
  const held = await db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.leadId, leadId), eq(ledgerEntries.kind, 'reserve')));
  let released = 0;
  for (const reserve of held) {
    if (!reserve.offerId) continue;
    const { created } = await postLedgerEntry(db, {
      buyerId: reserve.buyerId,
      agencyId: reserve.agencyId,
      kind: 'release',
      amount: -reserve.amount,
      idempotencyKey: ledgerReleaseKey(reserve.offerId, reserve.buyerId),
      leadId,
      offerId: reserve.offerId,
    });
    if (created) released++;
  }
  return released;
}
