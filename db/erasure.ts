/**
 * Retention and erasure (#23 item 6): a lead's personal fields erased everywhere the product keeps a copy, after
 * the agency's retention period (the daily `erase-expired-leads` job) or for one person on request (by phone or
 * email). Table: erasure_requests (one row per request, without the identifier).
 *
 * What an erased lead keeps is domain/erasure.ts's. Its other rows are found by the lead's id and their stored
 * text and JSON scrubbed of every copy of its personal values (`lw_erase_jsonb`, `lw_erase_text` of migration
 * 0028: a string that contains one becomes "[erased]"); logged request and response bodies (deliveries, buyer
 * endpoints) go whole. The ledgers (append-only), amounts, suppression HMACs, report facts and the timeline's
 * events, types and times stay.
 *
 * This module writes, for an erasure only, the stored text of other aggregates' rows (leads, offers and their
 * timeline, deliveries, endpoint calls, disputes, pipeline notes, alerts, pings, audit entries, idempotency
 * answers): one transaction that reaches every copy is the point, so it is done here, in one place, and not spread
 * over a dozen modules' "erase" functions.
 */
import { eq, sql } from 'drizzle-orm';

import type { AuditBy } from '../domain/audit';
import { normalizeEmail } from '../domain/dedupe';
import { erasedChecks, erasedConsent, erasedLeadFields, personalNeedles } from '../domain/erasure';
import type { SuppressionValue } from '../domain/suppression';
import type { ConsentEvidence, ContactCheckRecord, ErasureCounts, LeadFields } from '../domain/types';
import { actorRef, recordChange } from './audit';
import type { Db, DbOrTx } from './connection';
import { newestFirst, type Page, type PageArgs } from './pages';
import { erasureRequests } from './schema';
import { addSuppressionEntries } from './suppression';

export type ErasureRequestRow = typeof erasureRequests.$inferSelect;

async function rowsOf<T>(db: DbOrTx, query: ReturnType<typeof sql>): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows;
}

/** The count of rows an UPDATE … RETURNING 1 changed. */
async function changed(db: DbOrTx, query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await rowsOf<{ n: number | string }>(
    db,
    sql`WITH changed AS (${query} RETURNING 1) SELECT count(*)::int AS n FROM changed`,
  );
  return Number(row?.n ?? 0);
}

interface LeadToErase {
  id: string;
  fields: LeadFields;
  consent: ConsentEvidence | null;
  phone_e164: string | null;
  contact_checks: ContactCheckRecord[] | null;
}

/**
 * Erases these leads of the agency (those not erased already) and every copy of their personal values, inside the
 * caller's transaction; answers the rows changed per table (tables with none left out).
 */
async function eraseLeadsWithin(tx: DbOrTx, agencyId: string, leadIds: string[]): Promise<ErasureCounts> {
  if (!leadIds.length) return {};
  const ids = sql.param(leadIds);
  const leads = await rowsOf<LeadToErase>(
    tx,
    sql`SELECT id, fields, consent, phone_e164, contact_checks FROM leads
        WHERE agency_id = ${agencyId}::uuid AND id = ANY(${ids}::uuid[]) AND erased_at IS NULL
        ORDER BY id FOR UPDATE`,
  );
  if (!leads.length) return {};
  const lockedIds = sql.param(leads.map((l) => l.id));
  const needles = sql.param([
    ...new Set(
      leads.flatMap((l) => personalNeedles({ fields: l.fields, consent: l.consent, phoneE164: l.phone_e164 })),
    ),
  ]);
  const erased = JSON.stringify(
    leads.map((l) => ({
      id: l.id,
      fields: erasedLeadFields(l.fields),
      consent: erasedConsent(l.consent),
      checks: erasedChecks(l.contact_checks),
    })),
  );
  const counts: ErasureCounts = {};
  const count = async (table: string, query: ReturnType<typeof sql>) => {
    const n = await changed(tx, query);
    if (n) counts[table] = (counts[table] ?? 0) + n;
  };
  // The lead's own row: its personal fields, normalised phone and dedupe keys (which hold the phone and email).
  await count(
    'leads',
    sql`UPDATE leads l SET fields = lw_erase_jsonb(v.fields, ${needles}::text[]), consent = v.consent,
          contact_checks = v.checks, phone_e164 = NULL, dedupe_keys = '{}'::text[],
          status_reason = lw_erase_text(l.status_reason, ${needles}::text[]), erased_at = now(), updated_at = now()
        FROM jsonb_to_recordset(${erased}::jsonb) AS v(id uuid, fields jsonb, consent jsonb, checks jsonb)
        WHERE l.id = v.id`,
  );
  /** `col = lw_erase_jsonb(col, needles)`, and the same for a text column. */
  const scrub = (col: string) => sql`${sql.raw(col)} = lw_erase_jsonb(${sql.raw(col)}, ${needles}::text[])`;
  const scrubText = (col: string) => sql`${sql.raw(col)} = lw_erase_text(${sql.raw(col)}, ${needles}::text[])`;
  await count(
    'offers',
    sql`UPDATE offers SET ${scrub('preview')}, ${scrub('route')}
        WHERE lead_id = ANY(${lockedIds}::uuid[])`,
  );
  await count(
    'offer_targets',
    sql`UPDATE offer_targets SET ${scrub('snapshot')}, ${scrubText('detail')}
        WHERE offer_id IN (SELECT id FROM offers WHERE lead_id = ANY(${lockedIds}::uuid[]))`,
  );
  // Verdicts not yet written (an opening that died before its paperwork, #26): scrubbed before they are.
  await count(
    'offer_paperwork',
    sql`UPDATE offer_paperwork SET ${scrub('verdicts')}
        WHERE offer_id IN (SELECT id FROM offers WHERE lead_id = ANY(${lockedIds}::uuid[]))`,
  );
  await count(
    'offer_events',
    sql`UPDATE offer_events SET ${scrub('data')}, ${scrubText('reason')}
        WHERE lead_id = ANY(${lockedIds}::uuid[])`,
  );
  const assignmentsOf = sql`(SELECT id FROM assignments WHERE lead_id = ANY(${lockedIds}::uuid[]))`;
  await count(
    'deliveries',
    sql`UPDATE deliveries SET ${scrubText('last_error')}
        WHERE assignment_id IN ${assignmentsOf} AND last_error IS NOT NULL`,
  );
  // A delivery's logged answer is the buyer's body: it goes whole.
  await count(
    'delivery_attempts',
    sql`UPDATE delivery_attempts SET response = CASE WHEN response IS NULL THEN NULL ELSE '[erased]' END,
          ${scrubText('error')}
        WHERE assignment_id IN ${assignmentsOf}`,
  );
  await count('disputes', sql`UPDATE disputes SET ${scrubText('reason')} WHERE assignment_id IN ${assignmentsOf}`);
  await count(
    'pipeline_changes',
    sql`UPDATE pipeline_changes SET ${scrubText('note')}
        WHERE assignment_id IN ${assignmentsOf} AND note IS NOT NULL`,
  );
  await count(
    'buyer_alerts',
    sql`UPDATE buyer_alerts SET ${scrub('payload')}, ${scrubText('last_error')}
        WHERE lead_id = ANY(${lockedIds}::uuid[])`,
  );
  // A ping carries no contact fields, but its answers may be free text.
  await count('pings', sql`UPDATE pings SET ${scrub('fields')} WHERE lead_id = ANY(${lockedIds}::uuid[])`);
  // The buyer endpoints' log: bodies sent and answered go whole; a URL or header that holds a value goes too.
  await count(
    'endpoint_calls',
    sql`UPDATE endpoint_calls SET
          request = lw_erase_jsonb(request || '{"body":"[erased]"}'::jsonb, ${needles}::text[]),
          response = CASE WHEN response IS NULL THEN NULL ELSE response || '{"body":"[erased]"}'::jsonb END,
          ${scrubText('reason')}
        WHERE lead_id = ANY(${lockedIds}::uuid[])
           OR ping_id IN (SELECT id::text FROM pings WHERE lead_id = ANY(${lockedIds}::uuid[]))`,
  );
  // Audit entries about the lead or its sales and returns (a manual edit, a dispute's reason).
  await count(
    'audit_log',
    sql`UPDATE audit_log SET ${scrub('changes')}, ${scrubText('note')}
        WHERE agency_id = ${agencyId}::uuid
          AND (object_id = ANY(${lockedIds}::uuid[])
            OR object_id IN (SELECT d.id FROM disputes d WHERE d.assignment_id IN ${assignmentsOf}))`,
  );
  // Remembered answers to an Idempotency-Key (a claim answers the won lead's fields): found by the lead's id.
  await count(
    'idempotency_records',
    sql`UPDATE idempotency_records SET ${scrub('body')}
        WHERE body::text LIKE ANY(SELECT '%' || i || '%' FROM unnest(${lockedIds}::text[]) AS i)`,
  );
  return counts;
}

/**
 * The agency's leads of one person, by the normalised phone (E.164) or email as intake stored them: the normalised
 * phone column, the dedupe keys (which hold the normalised phone and email), the email as sent.
 */
async function leadsOfPerson(tx: DbOrTx, agencyId: string, value: SuppressionValue): Promise<string[]> {
  const match =
    value.kind === 'phone'
      ? sql`(phone_e164 = ${value.normalised}
            OR EXISTS (SELECT 1 FROM unnest(dedupe_keys) k WHERE k LIKE 'phone:%' AND right(k, ${value.normalised.length + 1}) = ${`:${value.normalised}`}))`
      : sql`(lower(trim(fields->>'email')) = ${value.normalised}
            OR EXISTS (SELECT 1 FROM unnest(dedupe_keys) k WHERE k LIKE 'email:%' AND right(k, ${normalizeEmail(value.normalised).length + 1}) = ${`:${normalizeEmail(value.normalised)}`}))`;
  const found = await rowsOf<{ id: string }>(
    tx,
    sql`SELECT id FROM leads WHERE agency_id = ${agencyId}::uuid AND erased_at IS NULL AND ${match}`,
  );
  return found.map((r) => r.id);
}

/**
 * One person's erasure request: erases every lead of the agency with their phone or email and every copy of their
 * values (above), optionally puts them on the agency's `do_not_contact` list, records the request (a keyed HMAC of
 * the identifier, never the identifier) and the audit entry (its counts only), in one transaction.
 */
export async function requestErasure(
  db: Db,
  input: { agencyId: string; value: SuppressionValue; hmac: string; suppress: boolean; by: AuditBy },
): Promise<ErasureRequestRow> {
  return db.transaction(async (tx) => {
    const leadIds = await leadsOfPerson(tx, input.agencyId, input.value);
    const counts = await eraseLeadsWithin(tx, input.agencyId, leadIds);
    // Already on the list counts as suppressed: the entry stays as it was.
    const suppressed = input.suppress;
    if (suppressed)
      await addSuppressionEntries(tx, {
        agencyId: input.agencyId,
        list: 'do_not_contact',
        source: 'api',
        note: 'erasure request',
        entries: [{ kind: input.value.kind, hmac: input.hmac }],
      });
    const actor = await actorRef(tx, input.by.actor);
    const [row] = await tx
      .insert(erasureRequests)
      .values({
        agencyId: input.agencyId,
        kind: input.value.kind,
        identifierHmac: input.hmac,
        actorLabel: actor.label,
        actorUserId: actor.userId,
        suppressed,
        leads: counts.leads ?? 0,
        counts,
      })
      .returning();
    await recordChange(tx, {
      agencyId: input.agencyId,
      by: input.by,
      objectType: 'erasure_request',
      objectId: row!.id,
      action: 'created',
      changes: {
        kind: { from: null, to: input.value.kind },
        leads: { from: null, to: row!.leads },
        suppressed: { from: null, to: suppressed },
      },
    });
    return row!;
  });
}

/** The agency's erasure requests, newest first. */
export async function listErasureRequests(
  db: DbOrTx,
  agencyId: string,
  page: PageArgs,
): Promise<Page<ErasureRequestRow>> {
  return newestFirst(db, erasureRequests, eq(erasureRequests.agencyId, agencyId), page);
}

/** Leads erased per batch (one transaction each). */
const BATCH = 500;
/** At most this many leads per run: a backlog is worked off over the next daily runs. */
const MAX_PER_RUN = 50_000;

/**
 * The retention job: for each agency with `retentionDays`, erases its leads created longer ago than that, a batch
 * per transaction, oldest first. Erased leads are skipped, so a second run changes nothing. Answers the leads
 * erased per agency (agencies with none left out).
 */
export async function eraseExpiredLeads(
  db: Db,
  now: Date = new Date(),
  limits: { batch?: number; maxPerRun?: number } = {},
): Promise<Record<string, number>> {
  const batch = limits.batch ?? BATCH;
  let budget = limits.maxPerRun ?? MAX_PER_RUN;
  const agencies = await rowsOf<{ id: string; days: number }>(
    db,
    sql`SELECT id, (settings->>'retentionDays')::int AS days FROM agencies
        WHERE jsonb_typeof(settings->'retentionDays') = 'number' ORDER BY id`,
  );
  const erased: Record<string, number> = {};
  for (const agency of agencies) {
    const cutoff = new Date(now.getTime() - agency.days * 86_400_000);
    while (budget > 0) {
      const n = await db.transaction(async (tx) => {
        const due = await rowsOf<{ id: string }>(
          tx,
          sql`SELECT id FROM leads WHERE agency_id = ${agency.id}::uuid AND erased_at IS NULL
                AND created_at < ${cutoff.toISOString()}::timestamptz
              ORDER BY created_at LIMIT ${Math.min(batch, budget)}`,
        );
        const counts = await eraseLeadsWithin(
          tx,
          agency.id,
          due.map((r) => r.id),
        );
        return counts.leads ?? 0;
      });
      if (!n) break;
      budget -= n;
      erased[agency.id] = (erased[agency.id] ?? 0) + n;
    }
  }
  return erased;
}
