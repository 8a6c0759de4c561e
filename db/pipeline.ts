/**
 * Pipeline status of bought leads (#12): what became of each lead a buyer won
 * (new, contacted, appointment, quoted, won_job, lost_job), as a history of
 * changes with time and author. The current status is the latest change
 * (none yet: `new`). Never touches money: no ledger, no assignment column.
 */
import { and, desc, eq, gte, inArray } from 'drizzle-orm';
import { pipelineMoveProblem } from '../domain/buyer-side';
import { PIPELINE_STATUSES, type PipelineStatus } from '../domain/types';
import type { Db, DbOrTx } from './connection';
import { assignments, leads, offers, pipelineChanges } from './schema';

export type PipelineChangeRow = typeof pipelineChanges.$inferSelect;

export class PipelineMoveRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineMoveRefused';
  }
}

/** Latest change per assignment, for these assignments. */
async function latestChanges(db: DbOrTx, assignmentIds: string[]): Promise<Map<string, PipelineChangeRow>> {
  if (!assignmentIds.length) return new Map();
  const rows = await db
    .selectDistinctOn([pipelineChanges.assignmentId])
    .from(pipelineChanges)
    .where(inArray(pipelineChanges.assignmentId, assignmentIds))
    .orderBy(pipelineChanges.assignmentId, desc(pipelineChanges.createdAt), desc(pipelineChanges.id));
  return new Map(rows.map((r) => [r.assignmentId, r]));
}

/** The buyer's own assignment, or undefined (another buyer's is not found). */
export async function buyerAssignment(db: DbOrTx, buyerId: string, assignmentId: string) {
  const [row] = await db
    .select()
    .from(assignments)
    .where(and(eq(assignments.id, assignmentId), eq(assignments.buyerId, buyerId)));
  return row;
}

/**
 * Marks a bought lead. The assignment row is locked so two changes at once
 * are judged one after the other; a move back or out of a final status is
 * refused (PipelineMoveRefused).
 */
export async function setPipelineStatus(
  db: Db,
  input: {
    buyerId: string;
    agencyId: string;
    assignmentId: string;
    status: PipelineStatus;
    note?: string | null;
    jobValue?: number | null;
    authorKeyId: string | null;
  },
): Promise<PipelineChangeRow | undefined> {
  return db.transaction(async (tx) => {
    const [a] = await tx
      .select({ id: assignments.id })
      .from(assignments)
      .where(and(eq(assignments.id, input.assignmentId), eq(assignments.buyerId, input.buyerId)))
      .for('update');
    if (!a) return undefined;
    const current = (await latestChanges(tx, [a.id])).get(a.id)?.status ?? null;
    const problem = pipelineMoveProblem(current, input.status);
    if (problem) throw new PipelineMoveRefused(problem);
    const [row] = await tx
      .insert(pipelineChanges)
      .values({
        assignmentId: a.id,
        buyerId: input.buyerId,
        agencyId: input.agencyId,
        status: input.status,
        note: input.note ?? null,
        jobValue: input.jobValue ?? null,
        authorKeyId: input.authorKeyId,
      })
      .returning();
    return row;
  });
}

export async function pipelineHistory(db: DbOrTx, assignmentId: string): Promise<PipelineChangeRow[]> {
  return db
    .select()
    .from(pipelineChanges)
    .where(eq(pipelineChanges.assignmentId, assignmentId))
    .orderBy(desc(pipelineChanges.createdAt), desc(pipelineChanges.id));
}

export interface PipelineItem {
  assignmentId: string;
  leadId: string;
  campaignId: string | null;
  price: number;
  boughtAt: Date;
  name: string;
  city: string | null;
  status: PipelineStatus;
  note: string | null;
  jobValue: number | null;
  changedAt: Date | null;
}

/** A buyer's board: every lead it bought (newest first, up to `limit`) with its status, and counts per status. */
export async function buyerPipeline(
  db: DbOrTx,
  buyerId: string,
  limit = 500,
): Promise<{ counts: Record<PipelineStatus, number>; items: PipelineItem[] }> {
  const rows = await db
    .select({ a: assignments, fields: leads.fields, campaignId: offers.campaignId })
    .from(assignments)
    .innerJoin(leads, eq(leads.id, assignments.leadId))
    .innerJoin(offers, eq(offers.id, assignments.offerId))
    .where(eq(assignments.buyerId, buyerId))
    .orderBy(desc(assignments.createdAt), desc(assignments.id))
    .limit(limit);
  const latest = await latestChanges(
    db,
    rows.map((r) => r.a.id),
  );
  const counts = Object.fromEntries(PIPELINE_STATUSES.map((s) => [s, 0])) as Record<PipelineStatus, number>;
  const items = rows.map((r): PipelineItem => {
    const l = latest.get(r.a.id);
    const status = l?.status ?? 'new';
    counts[status]++;
    return {
      assignmentId: r.a.id,
      leadId: r.a.leadId,
      campaignId: r.campaignId,
      price: r.a.price,
      boughtAt: r.a.createdAt,
      name: `${r.fields.firstName} ${r.fields.lastName}`,
      city: r.fields.city ?? null,
      status,
      note: l?.note ?? null,
      jobValue: l?.jobValue ?? null,
      changedAt: l?.createdAt ?? null,
    };
  });
  return { counts, items };
}

export interface CloseRates {
  bought: number;
  byStatus: Record<PipelineStatus, number>;
  /** won_job ÷ leads bought (null: none bought). */
  closeRate: number | null;
  jobValue: number;
  byCampaign: Record<string, { bought: number; won: number; lost: number; closeRate: number | null }>;
}

/** Close rates of a buyer's purchases since a date, overall and per campaign (the agency's engagement stats). */
export async function buyerCloseRates(db: DbOrTx, buyerId: string, since: Date): Promise<CloseRates> {
  const rows = await db
    .select({ id: assignments.id, campaignId: offers.campaignId })
    .from(assignments)
    .innerJoin(offers, eq(offers.id, assignments.offerId))
    .where(and(eq(assignments.buyerId, buyerId), gte(assignments.createdAt, since)));
  const latest = await latestChanges(
    db,
    rows.map((r) => r.id),
  );
  const byStatus = Object.fromEntries(PIPELINE_STATUSES.map((s) => [s, 0])) as Record<PipelineStatus, number>;
  const byCampaign: CloseRates['byCampaign'] = {};
  let jobValue = 0;
  for (const r of rows) {
    const l = latest.get(r.id);
    const status = l?.status ?? 'new';
    byStatus[status]++;
    if (status === 'won_job') jobValue += l?.jobValue ?? 0;
    const c = (byCampaign[r.campaignId ?? 'manual'] ??= { bought: 0, won: 0, lost: 0, closeRate: null });
    c.bought++;
    if (status === 'won_job') c.won++;
    if (status === 'lost_job') c.lost++;
  }
  for (const c of Object.values(byCampaign)) c.closeRate = c.bought ? c.won / c.bought : null;
  return {
    bought: rows.length,
    byStatus,
    closeRate: rows.length ? byStatus.won_job / rows.length : null,
    jobValue,
    byCampaign,
  };
}
