/**
 * "A buyer never buys the same person twice inside the window": which buyers
 * already hold (or held and returned) this lead, or a lead of the same person
 * (a shared dedupe key: same normalized phone or email for the service line)
 * sold to them inside the agency's duplicate window. Used by eligibility
 * (exclusion `already_bought`) and by the post-and-charge transaction (refusal).
 */
import { and, arrayOverlaps, eq, gt, inArray, or } from 'drizzle-orm';
import type { DbOrTx } from './connection';
import { assignments, leads } from './schema';

export interface PersonOfLead {
  leadId: string;
  dedupeKeys: string[];
}

export async function buyersWhoBought(db: DbOrTx, lead: PersonOfLead, buyerIds: string[], windowMs: number): Promise<Set<string>> {
  if (!buyerIds.length) return new Set();
  // The same lead is never sold twice to a buyer, window or not (a returned lead is not offered back to who returned it).
  const samePerson =
    windowMs > 0 && lead.dedupeKeys.length
      ? and(arrayOverlaps(leads.dedupeKeys, lead.dedupeKeys), gt(assignments.createdAt, new Date(Date.now() - windowMs)))
      : undefined;
  const rows = await db
    .selectDistinct({ buyerId: assignments.buyerId })
    .from(assignments)
    .innerJoin(leads, eq(leads.id, assignments.leadId))
    .where(and(inArray(assignments.buyerId, buyerIds), samePerson ? or(eq(assignments.leadId, lead.leadId), samePerson) : eq(assignments.leadId, lead.leadId)));
  return new Set(rows.map((r) => r.buyerId));
}
