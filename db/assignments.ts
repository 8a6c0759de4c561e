/**
 * The sales aggregate's reads: assignments (won leads) by lead, buyer, offer
 * or id. The sale itself, the one transaction that creates an assignment, is
 * db/sales.ts, the other half of this aggregate.
 *
 * Tables: assignments (created by db/sales.ts; db/deliveries.ts and
 * db/buyers.ts move its delivery and pipeline status). A refund here answers
 * the sale its transaction takes back from the cap counters (db/cap-counters.ts).
 */
import { and, asc, desc, eq } from 'drizzle-orm';

import type { CountedSale } from './cap-counters';
import type { DbOrTx } from './connection';
import type { LeadRow } from './leads';
import { olderThan, type Page, type PageArgs, sortKeyAt, toPage } from './pages';
import { assignments, leads, offers } from './schema';

export type AssignmentRow = typeof assignments.$inferSelect;

export async function leadAssignments(db: DbOrTx, leadId: string): Promise<AssignmentRow[]> {
  return db
    .select()
    .from(assignments)
    .where(eq(assignments.leadId, leadId))
    .orderBy(asc(assignments.createdAt), asc(assignments.id));
}

export async function offerWinnerIds(db: DbOrTx, offerId: string): Promise<Set<string>> {
  const rows = await db
    .select({ buyerId: assignments.buyerId })
    .from(assignments)
    .where(eq(assignments.offerId, offerId));
  return new Set(rows.map((r) => r.buyerId));
}

// ─── assignments (won leads) ─────────────────────────────────────────────────

export type WonLead = AssignmentRow & { lead: LeadRow };

export async function listBuyerLeads(db: DbOrTx, buyerId: string, page: PageArgs): Promise<Page<WonLead>> {
  const rows = await db
    .select({ assignment: assignments, lead: leads, sortAt: sortKeyAt(assignments.createdAt) })
    .from(assignments)
    .innerJoin(leads, eq(leads.id, assignments.leadId))
    .where(and(eq(assignments.buyerId, buyerId), olderThan(assignments.createdAt, assignments.id, page.after)))
    .orderBy(desc(assignments.createdAt), desc(assignments.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.assignment.id,
    (r) => ({ ...r.assignment, lead: r.lead }),
  );
}

/** The sales of an offer (the workflow learns of sales it has no record of). */
export async function offerSales(db: DbOrTx, offerId: string): Promise<{ id: string; buyerId: string }[]> {
  return db
    .select({ id: assignments.id, buyerId: assignments.buyerId })
    .from(assignments)
    .where(eq(assignments.offerId, offerId));
}

/** An assignment of the agency (another tenant's is simply not found). */
export async function agencyAssignment(
  db: DbOrTx,
  agencyId: string,
  assignmentId: string,
): Promise<AssignmentRow | undefined> {
  const [row] = await db
    .select()
    .from(assignments)
    .where(and(eq(assignments.id, assignmentId), eq(assignments.agencyId, agencyId)));
  return row;
}

/**
 * A returned sale: refunded (the dispute's transaction), once: a sale already refunded is left as it is. Answers the
 * sale that stopped counting against its buyer's and campaign's caps, for the caller to take back from the cap
 * counters (db/cap-counters.ts `uncountSale`) as the last write of its transaction; null when nothing changed.
 */
export async function markRefunded(db: DbOrTx, assignmentId: string): Promise<CountedSale | null> {
  const [sale] = await db
    .update(assignments)
    .set({ status: 'refunded' })
    .where(and(eq(assignments.id, assignmentId), eq(assignments.status, 'active')))
    .returning({
      agencyId: assignments.agencyId,
      buyerId: assignments.buyerId,
      offerId: assignments.offerId,
      at: assignments.createdAt,
    });
  if (!sale) return null;
  const [offer] = await db.select({ campaignId: offers.campaignId }).from(offers).where(eq(offers.id, sale.offerId));
  return { agencyId: sale.agencyId, buyerId: sale.buyerId, campaignId: offer?.campaignId ?? null, at: sale.at };
}

/** Whether the lead still has an active sale (a shared lead returned by one of its buyers). */
export async function leadStillSold(db: DbOrTx, leadId: string): Promise<boolean> {
  const rows = await db
    .select({ id: assignments.id })
    .from(assignments)
    .where(and(eq(assignments.leadId, leadId), eq(assignments.status, 'active')))
    .limit(1);
  return rows.length > 0;
}

export async function getAssignment(db: DbOrTx, assignmentId: string): Promise<AssignmentRow | undefined> {
  const [row] = await db.select().from(assignments).where(eq(assignments.id, assignmentId));
  return row;
}
