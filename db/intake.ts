/**
 * Lead intake's write: store a lead unless the agency already has the same
 * person for the same service line (dedupe keys) within the window. The keys
 * are locked for the transaction, so two identical leads posted at the same
 * instant cannot both get in.
 */
import { and, arrayOverlaps, eq, gt, sql } from 'drizzle-orm';
import { leadWorkflowId } from '../domain/ids';
import type { ConsentEvidence, LeadFields } from '../domain/types';
import { insertLead, type LeadRow, type LeadSource } from './admin';
import type { Db } from './connection';
import { leads } from './schema';
import { appendEvents } from './timeline';

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
    });
    // The lead's first event: what arrived, with its consent evidence, before any offer.
    await appendEvents(tx, [
      {
        leadId: lead.id,
        type: 'received',
        data: { campaignId: input.campaignId, consent: input.consent ?? null },
        dedupeKey: `received:${lead.id}`,
      },
    ]);
    return { outcome: 'created', lead };
  });
}
