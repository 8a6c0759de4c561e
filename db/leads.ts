/**
 * The leads aggregate: a lead as it came in (fields, consent, its source and
 * the seller's tracking ids) and its status; intake with its dedupe; the
 * whole record of one lead for the operators' tools. Every agency-owned read
 * takes the agency id, so another tenant's lead is simply not found.
 *
 * Tables: leads.
 */
import crypto from 'node:crypto';

import { and, arrayOverlaps, asc, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm';

import { leadWorkflowId } from '../domain/ids';
import type { ConsentEvidence, ContactCheckRecord, LeadFields, LeadStatus, PhoneType } from '../domain/types';
import { type AuditBy, recordReviewDecision } from './audit';
import type { Db, DbOrTx } from './connection';
import { releaseHeldReserves } from './ledger';
import { appendEvents, leadTimeline, type TimelineEvent, type TimelineEventInput } from './offers';
import { newestFirst, type Page, type PageArgs } from './pages';
import { assignments, deliveries, leads, ledgerEntries, offers, offerTargets } from './schema';

export type LeadRow = typeof leads.$inferSelect;

/** Where a lead came from: its source (null: the agency itself) and the seller's tracking ids. */
export interface LeadSource {
  sourceId: string | null;
  subId?: string | null;
  clickId?: string | null;
}

/** What intake's contact checks found: the normalised number, its type, and every check with result and latency. */
export interface LeadContact {
  phoneE164: string;
  phoneType: PhoneType;
  checks: ContactCheckRecord[];
}

export async function insertLead(
  db: DbOrTx,
  input: {
    id?: string;
    agencyId: string;
    campaignId: string;
    fields: LeadFields;
    dedupeKeys?: string[];
    consent?: ConsentEvidence | null;
    workflowId: (leadId: string) => string;
    /** The source that posted it, with the seller's tracking ids. */
    source?: LeadSource | null;
    /** What intake's contact checks found (#23). */
    contact?: LeadContact | null;
    /** Stored straight into manual review with this reason (a suppressed contact, #23); default routing. */
    reviewReason?: string | null;
  },
): Promise<LeadRow> {
  const id = input.id ?? crypto.randomUUID();
  const [row] = await db
    .insert(leads)
    .values({
      id,
      agencyId: input.agencyId,
      campaignId: input.campaignId,
      fields: input.fields,
      dedupeKeys: input.dedupeKeys ?? [],
      consent: input.consent ?? null,
      workflowId: input.workflowId(id),
      ...(input.reviewReason ? { status: 'manual_review' as const, statusReason: input.reviewReason } : {}),
      sourceId: input.source?.sourceId ?? null,
      subId: input.source?.subId ?? null,
      clickId: input.source?.clickId ?? null,
      phoneE164: input.contact?.phoneE164 ?? null,
      phoneType: input.contact?.phoneType ?? null,
      contactChecks: input.contact?.checks ?? null,
    })
    .returning();
  return row!;
}

// ─── leads ───────────────────────────────────────────────────────────────────

export async function getLead(db: DbOrTx, agencyId: string, leadId: string): Promise<LeadRow | undefined> {
  const [row] = await db
    .select()
    .from(leads)
    .where(and(eq(leads.id, leadId), eq(leads.agencyId, agencyId)));
  return row;
}

/** A lead by id, whatever its agency (the lifecycle's own reads). */
export async function leadById(db: DbOrTx, leadId: string): Promise<LeadRow | undefined> {
  const [row] = await db.select().from(leads).where(eq(leads.id, leadId));
  return row;
}

/** The agency's newest leads (the campaign preview replays them), newest first. */
export async function recentLeads(db: DbOrTx, agencyId: string, limit: number): Promise<LeadRow[]> {
  return db
    .select()
    .from(leads)
    .where(eq(leads.agencyId, agencyId))
    .orderBy(desc(leads.createdAt), desc(leads.id))
    .limit(limit);
}

/** Leads still `routing` after `olderThanMs`, whose workflow may never have started (the stuck-leads job's list, at most 500). */
export async function stuckLeads(
  db: DbOrTx,
  olderThanMs: number,
): Promise<{ id: string; agencyId: string; campaignId: string }[]> {
  return db
    .select({ id: leads.id, agencyId: leads.agencyId, campaignId: leads.campaignId })
    .from(leads)
    .where(and(eq(leads.status, 'routing'), lt(leads.createdAt, new Date(Date.now() - olderThanMs))))
    .limit(500);
}

/** Sets the lead's status (manual review, rejected…) and writes its event, in one transaction. */
export async function setLeadStatus(
  db: Db,
  input: {
    leadId: string;
    status: LeadStatus;
    reason?: string | null;
    event?: TimelineEventInput;
    /** A person's (or key's) decision from manual review: recorded in the audit log, named on the event. */
    by?: AuditBy;
  },
): Promise<void> {
  await db.transaction(async (tx) => {
    const [before] = await tx
      .select({ id: leads.id, agencyId: leads.agencyId, status: leads.status })
      .from(leads)
      .where(eq(leads.id, input.leadId))
      .for('update');
    await tx
      .update(leads)
      .set({ status: input.status, statusReason: input.reason ?? null })
      .where(eq(leads.id, input.leadId));
    let event = input.event;
    if (input.by && before && input.status === 'rejected' && before.status !== 'rejected') {
      const actor = await recordReviewDecision(tx, {
        lead: before,
        by: input.by,
        action: 'rejected',
        changes: {
          status: { from: before.status, to: input.status },
          reason: { from: null, to: input.reason ?? null },
        },
      });
      if (event) event = { ...event, data: { ...(event.data ?? {}), actor } };
    }
    if (event) await appendEvents(tx, [event]);
    // A rejected lead's held endpoint bid (a post whose fate was unknown, #22) goes back to its buyer.
    if (input.status === 'rejected') await releaseHeldReserves(tx, input.leadId);
  });
}

/**
 * A re-offer decided in manual review: its timeline event with the actor who decided it (`data.actor`) and, when
 * `by` is given, its audit log entry, in one transaction.
 */
export async function recordReoffer(db: Db, event: TimelineEventInput, by: AuditBy | undefined): Promise<void> {
  await db.transaction(async (tx) => {
    // The re-offer ends a held endpoint bid (a post whose fate was unknown, #22): it goes back to its buyer.
    await releaseHeldReserves(tx, event.leadId);
    if (!by) return appendEvents(tx, [event]);
    const [lead] = await tx
      .select({ id: leads.id, agencyId: leads.agencyId })
      .from(leads)
      .where(eq(leads.id, event.leadId));
    const actor = await recordReviewDecision(tx, {
      lead: lead!,
      by,
      action: 'reoffered',
      changes: { campaignId: { from: null, to: event.data?.campaignId ?? null } },
    });
    await appendEvents(tx, [{ ...event, data: { ...(event.data ?? {}), actor } }]);
  });
}

export async function listLeads(
  db: DbOrTx,
  agencyId: string,
  page: PageArgs,
  filter: { status?: LeadStatus; campaignId?: string } = {},
): Promise<Page<LeadRow>> {
  return newestFirst(
    db,
    leads,
    and(
      eq(leads.agencyId, agencyId),
      filter.status ? eq(leads.status, filter.status) : undefined,
      filter.campaignId ? eq(leads.campaignId, filter.campaignId) : undefined,
    ),
    page,
  );
}

// ─── intake ─────────────────────────────────────────────────────────────────

/**
 * Lead intake's write: store a lead unless the agency already has the same
 * person for the same service line (dedupe keys) within the window. The keys
 * are locked for the transaction, so two identical leads posted at the same
 * instant cannot both get in.
 */

/** Lock space of intake's advisory locks (two-key form, apart from the migrator's). */
const DEDUPE_LOCK_SPACE = 7301;

export type IntakeResult =
  | { outcome: 'created'; lead: LeadRow }
  /** A lead with this id already exists: a retried intake (same Idempotency-Key). */
  | { outcome: 'existing'; lead: LeadRow }
  | { outcome: 'duplicate'; duplicateOf: string };

export interface IntakeInput {
  id: string;
  agencyId: string;
  campaignId: string;
  fields: LeadFields;
  consent?: ConsentEvidence | null;
  dedupeKeys: string[];
  /** How far back a lead with the same keys makes this one a duplicate; 0 turns dedupe off. */
  duplicateWindowMs: number;
  /** The source that posted it (null: the agency itself). */
  source?: LeadSource | null;
  /** What the contact checks found; each check becomes a `checked` event. */
  contact?: LeadContact | null;
  /** Stored straight into manual review with this reason (a suppressed contact, #23). */
  reviewReason?: string | null;
}

export async function intakeLead(db: Db, input: IntakeInput): Promise<IntakeResult> {
  return db.transaction(async (tx) => {
    const [same] = await tx.select().from(leads).where(eq(leads.id, input.id));
    if (same) {
      return same.agencyId === input.agencyId
        ? { outcome: 'existing', lead: same }
        : { outcome: 'duplicate', duplicateOf: same.id };
    }
    if (input.duplicateWindowMs > 0 && input.dedupeKeys.length) {
      for (const key of [...input.dedupeKeys].sort()) {
        await tx.execute(
          sql`SELECT pg_advisory_xact_lock(${DEDUPE_LOCK_SPACE}, hashtext(${input.agencyId + ':' + key}))`,
        );
      }
      const [dup] = await tx
        .select({ id: leads.id })
        .from(leads)
        .where(
          and(
            eq(leads.agencyId, input.agencyId),
            arrayOverlaps(leads.dedupeKeys, input.dedupeKeys),
            gt(leads.createdAt, new Date(Date.now() - input.duplicateWindowMs)),
          ),
        )
        .limit(1);
      if (dup) return { outcome: 'duplicate', duplicateOf: dup.id };
    }
    const lead = await insertLead(tx, {
      id: input.id,
      agencyId: input.agencyId,
      campaignId: input.campaignId,
      fields: input.fields,
      dedupeKeys: input.dedupeKeys,
      consent: input.consent ?? null,
      workflowId: leadWorkflowId,
      source: input.source ?? null,
      contact: input.contact ?? null,
      reviewReason: input.reviewReason ?? null,
    });
    // The lead's first event: what arrived, with its consent evidence, before any offer; then each contact check.
    await appendEvents(tx, [
      {
        leadId: lead.id,
        type: 'received',
        data: { campaignId: input.campaignId, consent: input.consent ?? null },
        dedupeKey: `received:${lead.id}`,
      },
      ...(input.contact?.checks ?? []).map((c) => ({
        leadId: lead.id,
        type: 'checked' as const,
        reason: c.result,
        data: { ...c },
        dedupeKey: `checked:${lead.id}:${c.check}`,
      })),
    ]);
    return { outcome: 'created', lead };
  });
}

// ─── the whole record of one lead (ops/replay.ts) ───────────────────────────

export interface LeadRecords {
  lead: LeadRow;
  offers: (typeof offers.$inferSelect)[];
  targets: (typeof offerTargets.$inferSelect)[];
  events: TimelineEvent[];
  assignments: (typeof assignments.$inferSelect)[];
  ledger: (typeof ledgerEntries.$inferSelect)[];
  deliveries: (typeof deliveries.$inferSelect)[];
}

/** Everything the database holds on one lead: its offers, targets, timeline, sales, ledger entries and deliveries. */
export async function leadRecords(db: DbOrTx, leadId: string): Promise<LeadRecords | null> {
  const [lead] = await db.select().from(leads).where(eq(leads.id, leadId));
  if (!lead) return null;
  const offerRows = await db.select().from(offers).where(eq(offers.leadId, leadId)).orderBy(asc(offers.openedAt));
  const offerIds = offerRows.map((o) => o.id);
  const assignmentRows = await db
    .select()
    .from(assignments)
    .where(eq(assignments.leadId, leadId))
    .orderBy(asc(assignments.createdAt));
  return {
    lead,
    offers: offerRows,
    targets: offerIds.length ? await db.select().from(offerTargets).where(inArray(offerTargets.offerId, offerIds)) : [],
    events: await leadTimeline(db, leadId),
    assignments: assignmentRows,
    ledger: await db
      .select()
      .from(ledgerEntries)
      .where(eq(ledgerEntries.leadId, leadId))
      .orderBy(asc(ledgerEntries.createdAt)),
    deliveries: assignmentRows.length
      ? await db
          .select()
          .from(deliveries)
          .where(
            inArray(
              deliveries.assignmentId,
              assignmentRows.map((a) => a.id),
            ),
          )
      : [],
  };
}

// ─── status moves inside other aggregates' transactions ─────────────────────

/** An offer opened for the lead: `offered`, unless it is already past that (sold, rejected…). */
/** A sale's transaction: the lead is sold (whatever review or routing state it was in). */
export async function markLeadSold(tx: DbOrTx, leadId: string): Promise<void> {
  await tx.update(leads).set({ status: 'sold', statusReason: null }).where(eq(leads.id, leadId));
}

export async function markLeadOffered(tx: DbOrTx, leadId: string): Promise<void> {
  await tx
    .update(leads)
    .set({ status: 'offered' })
    .where(and(eq(leads.id, leadId), inArray(leads.status, ['routing', 'offered', 'manual_review'])));
}

/** A returned lead with no active sale left goes back to routing (to be offered again). */
export async function reopenReturnedLead(tx: DbOrTx, leadId: string): Promise<void> {
  await tx.update(leads).set({ status: 'routing', statusReason: 'returned' }).where(eq(leads.id, leadId));
}
