/**
 * Disputes: a buyer contests a lead it bought; the agency approves (refund
 * through the ledger) or rejects it. Approval is one transaction: the refund
 * entry, the assignment marked refunded, the dispute closed and the timeline
 * event land together or not at all, and the refund's idempotency key
 * (`refund:<assignmentId>`) refunds an assignment at most once. The source's
 * payout of a returned sale is reversed in the same transaction, once.
 */
import { and, count, eq, gte, inArray } from 'drizzle-orm';

import { createdFields } from '../domain/audit';
import { ledgerRefundKey } from '../domain/ids';
import { checkReturn, RETURN_RATE_DAYS, type ReturnRefusal } from '../domain/returns';
import { changesOf } from '../domain/self-service';
import { FRAUD_RETURN_CODE } from '../domain/suppression';
import type { DisputeStatus } from '../domain/types';
import { agencySettings } from './agencies';
import { leadStillSold, markRefunded } from './assignments';
import { actorRef, type AuditBy, recordChange, SYSTEM } from './audit';
import { uncountSale } from './cap-counters';
import type { Db, DbOrTx } from './connection';
import { leadById, reopenReturnedLead } from './leads';
import { isUniqueViolation, type LedgerEntry, postLedgerEntry } from './ledger';
import { appendEvents } from './offers';
import { newestFirst, type Page, type PageArgs } from './pages';
import { assignments, disputes } from './schema';
import { reverseSourcePayout } from './sources';
import { suppressionHasher, suppressReturnedLead } from './suppression';

export type DisputeRow = typeof disputes.$inferSelect;

export type OpenDisputeResult =
  | { ok: true; dispute: DisputeRow }
  | { ok: false; error: 'not_found' | 'already_refunded' | 'dispute_exists' }
  | { ok: false; error: ReturnRefusal; detail: string };

const DAY_MS = 86_400_000;

/**
 * Opens a dispute on the buyer's own assignment (another buyer's is not
 * found), under the agency's return rules: the window, the allowed reason
 * codes and the buyer's return rate (open and approved disputes ÷ purchases
 * over the last 30 days, this one included).
 */
export async function openDispute(
  db: Db,
  input: {
    assignmentId: string;
    buyerId: string;
    reason: string;
    code?: string | null;
    /** Who opens it (the audit log); the system when not given. */
    by?: AuditBy;
  },
): Promise<OpenDisputeResult> {
  const [assignment] = await db.select().from(assignments).where(eq(assignments.id, input.assignmentId));
  if (!assignment || assignment.buyerId !== input.buyerId) return { ok: false, error: 'not_found' };
  if (assignment.status === 'refunded') return { ok: false, error: 'already_refunded' };
  const rules = (await agencySettings(db, assignment.agencyId)).returns ?? {};
  if (Object.keys(rules).length) {
    const since = new Date(Date.now() - RETURN_RATE_DAYS * DAY_MS);
    const [purchases] = await db
      .select({ n: count() })
      .from(assignments)
      .where(and(eq(assignments.buyerId, input.buyerId), gte(assignments.createdAt, since)));
    const [returns] = await db
      .select({ n: count() })
      .from(disputes)
      .where(
        and(
          eq(disputes.buyerId, input.buyerId),
          inArray(disputes.status, ['open', 'approved']),
          gte(disputes.createdAt, since),
        ),
      );
    const verdict = checkReturn({
      rules,
      soldAt: assignment.createdAt,
      now: new Date(),
      reasonCode: input.code,
      purchases: Number(purchases?.n ?? 0),
      returns: Number(returns?.n ?? 0),
    });
    if (!verdict.ok) return { ok: false, error: verdict.code, detail: verdict.detail };
  }
  try {
    const row = await insertDispute(db, assignment, { reason: input.reason, code: input.code ?? null, by: input.by });
    return { ok: true, dispute: row };
  } catch (err) {
    if (isUniqueViolation(err, 'disputes_assignment_active_uq')) return { ok: false, error: 'dispute_exists' };
    throw err;
  }
}

/** The dispute row and its `opened` audit entry, in one transaction (a second active one is a unique violation). */
function insertDispute(
  db: Db,
  assignment: typeof assignments.$inferSelect,
  input: { reason: string; code: string | null; by?: AuditBy },
): Promise<DisputeRow> {
  return db.transaction(async (tx) => {
    const [made] = await tx
      .insert(disputes)
      .values({
        assignmentId: assignment.id,
        buyerId: assignment.buyerId,
        agencyId: assignment.agencyId,
        reason: input.reason,
        reasonCode: input.code,
      })
      .returning();
    await recordChange(tx, {
      agencyId: assignment.agencyId,
      buyerId: assignment.buyerId,
      by: input.by ?? SYSTEM,
      objectType: 'dispute',
      objectId: made!.id,
      action: 'opened',
      changes: createdFields({
        assignmentId: assignment.id,
        leadId: assignment.leadId,
        reason: input.reason,
        reasonCode: input.code,
      }),
    });
    return made!;
  });
}

/**
 * A return the system opens itself (a sale whose consent certificate could not be claimed, #23): no return rules
 * (the buyer did not ask). Answers the sale's active dispute – this one, or the one a retry or the buyer opened
 * first; null when the assignment is gone.
 */
export async function openSystemReturn(
  db: Db,
  input: { assignmentId: string; reason: string; code: string },
): Promise<DisputeRow | null> {
  const active = () =>
    db
      .select()
      .from(disputes)
      .where(and(eq(disputes.assignmentId, input.assignmentId), inArray(disputes.status, ['open', 'approved'])));
  const [found] = await active();
  if (found) return found;
  const [assignment] = await db.select().from(assignments).where(eq(assignments.id, input.assignmentId));
  if (!assignment) return null;
  try {
    return await insertDispute(db, assignment, { reason: input.reason, code: input.code });
  } catch (err) {
    if (!isUniqueViolation(err, 'disputes_assignment_active_uq')) throw err;
    return (await active())[0] ?? null;
  }
}

export async function getDispute(db: DbOrTx, agencyId: string, disputeId: string): Promise<DisputeRow | undefined> {
  const [row] = await db
    .select()
    .from(disputes)
    .where(and(eq(disputes.id, disputeId), eq(disputes.agencyId, agencyId)));
  return row;
}

export async function listDisputes(
  db: DbOrTx,
  scope: { agencyId: string; buyerId?: string; status?: DisputeStatus },
  page: PageArgs,
): Promise<Page<DisputeRow>> {
  return newestFirst(
    db,
    disputes,
    and(
      eq(disputes.agencyId, scope.agencyId),
      scope.buyerId ? eq(disputes.buyerId, scope.buyerId) : undefined,
      scope.status ? eq(disputes.status, scope.status) : undefined,
    ),
    page,
  );
}

export type ResolveDisputeResult =
  | {
      ok: true;
      dispute: DisputeRow;
      refund: { entry: LedgerEntry; balance: number } | null;
      reoffer: { leadId: string; campaignId: string } | null;
    }
  | { ok: false; error: 'not_found' | 'not_open' };

export async function resolveDispute(
  db: Db,
  input: {
    agencyId: string;
    disputeId: string;
    approve: boolean;
    note?: string | null;
    /** With approval: the lead goes back to routing for a new auction (the caller starts it); campaignId null = the lead's. */
    reoffer?: { campaignId: string | null } | null;
    /** Who decides (the audit log and the timeline's `data.actor`); the system when not given. */
    by?: AuditBy;
  },
): Promise<ResolveDisputeResult> {
  // An approval may list the lead (a fraud return): its key is made before the transaction, since on PGlite's
  // single connection a read through the database inside it would wait for the transaction to end.
  if (input.approve) await suppressionHasher(db, { agencyId: input.agencyId });
  return db.transaction(async (tx) => {
    const [dispute] = await tx
      .select()
      .from(disputes)
      .where(and(eq(disputes.id, input.disputeId), eq(disputes.agencyId, input.agencyId)))
      .for('update');
    if (!dispute) return { ok: false, error: 'not_found' };
    if (dispute.status !== 'open') return { ok: false, error: 'not_open' };
    const now = new Date();
    const by = input.by ?? SYSTEM;
    const decided = (status: DisputeStatus, extra: Record<string, unknown> = {}) =>
      recordChange(tx, {
        agencyId: dispute.agencyId,
        buyerId: dispute.buyerId,
        by,
        objectType: 'dispute',
        objectId: dispute.id,
        action: 'resolved',
        changes: { status: { from: dispute.status, to: status }, ...changesOf({}, extra) },
        note: input.note ?? null,
      });

    if (!input.approve) {
      const [row] = await tx
        .update(disputes)
        .set({ status: 'rejected', resolvedAt: now })
        .where(eq(disputes.id, dispute.id))
        .returning();
      await decided('rejected');
      return { ok: true, dispute: row!, refund: null, reoffer: null };
    }
    const actor = await actorRef(tx, by.actor);

    const [assignment] = await tx
      .select()
      .from(assignments)
      .where(eq(assignments.id, dispute.assignmentId))
      .for('update');
    if (!assignment) throw new Error(`assignment ${dispute.assignmentId} of dispute ${dispute.id} is missing`);
    const { entry } = await postLedgerEntry(tx, {
      buyerId: assignment.buyerId,
      agencyId: assignment.agencyId,
      kind: 'refund',
      amount: assignment.price,
      idempotencyKey: ledgerRefundKey(assignment.id),
      leadId: assignment.leadId,
      offerId: assignment.offerId,
      reference: `dispute:${dispute.id}`,
    });
    const uncounted = await markRefunded(tx, assignment.id);
    await reverseSourcePayout(tx, assignment.id, `dispute:${dispute.id}`);
    const [row] = await tx
      .update(disputes)
      .set({ status: 'approved', resolvedAt: now, refundEntryId: entry.id })
      .where(eq(disputes.id, dispute.id))
      .returning();
    await appendEvents(tx, [
      {
        leadId: assignment.leadId,
        offerId: assignment.offerId,
        type: 'refunded',
        buyerId: assignment.buyerId,
        reason: 'dispute_approved',
        data: {
          disputeId: dispute.id,
          assignmentId: assignment.id,
          amount: assignment.price,
          ledgerEntryId: entry.id,
          ...(input.note ? { note: input.note } : {}),
          actor,
        },
        dedupeKey: `refunded:${assignment.id}`,
      },
    ]);
    // A return approved as fraud (#23): the lead's phone and email go on the agency's `returned_fraud` list, so the
    // same person is suppressed at the next intake, ping and sale.
    const fraud =
      dispute.reasonCode === FRAUD_RETURN_CODE
        ? await suppressReturnedLead(db, tx, {
            agencyId: dispute.agencyId,
            leadId: assignment.leadId,
            disputeId: dispute.id,
          })
        : null;
    let reoffer: { leadId: string; campaignId: string } | null = null;
    if (input.reoffer) {
      const lead = await leadById(tx, assignment.leadId);
      const campaignId = input.reoffer.campaignId ?? lead!.campaignId;
      if (!(await leadStillSold(tx, assignment.leadId))) await reopenReturnedLead(tx, assignment.leadId);
      await appendEvents(tx, [
        {
          leadId: assignment.leadId,
          type: 'reoffered',
          reason: 'returned',
          data: { campaignId, disputeId: dispute.id, excludedBuyerId: assignment.buyerId, actor },
          dedupeKey: `reoffered:return:${dispute.id}`,
        },
      ]);
      reoffer = { leadId: assignment.leadId, campaignId };
    }
    await decided('approved', {
      ...(fraud ? { suppressed: 'returned_fraud' } : {}),
      refund: assignment.price,
      ledgerEntryId: entry.id,
      ...(reoffer ? { reofferCampaignId: reoffer.campaignId } : {}),
    });
    // #26: the sale no longer counts against the caps; last, after the lead's row, as a sale takes them (no deadlock).
    if (uncounted) await uncountSale(tx, uncounted);
    return { ok: true, dispute: row!, refund: { entry, balance: entry.balanceAfter }, reoffer };
  });
}
