/**
 * Refusals at intake (#23 item 7): the aggregate of `intake_refusals`, one row
 * per lead intake refused – a contact check, a paused campaign, missing
 * consent, a duplicate, a post that contradicts its ping – or stored only to
 * be held in review (`suppressed`). Appended by the refusing path (api/routes
 * leads.ts `submitLead`, supply.ts), never updated; it keeps the reason, the
 * field named, the source and its sub and click ids, never the person's fields.
 *
 * Ping refusals are not copied here: a ping is its own row (`pings`, its
 * decision and reason), and the reports read them where they are. The agency's
 * report counts both by reason and by source; a source reads its own, with its
 * recent refused leads (its sub and click ids say which).
 */
import { and, desc, eq, type SQL, sql } from 'drizzle-orm';

import type { IntakeRefusal, RefusalReason } from '../domain/types';
import type { DbOrTx } from './connection';
import { type DateRange, inRange } from './reports';
import { campaigns, intakeRefusals } from './schema';

export interface RefusalInput {
  agencyId: string;
  sourceId: string | null;
  campaignId: string;
  reason: IntakeRefusal;
  field?: string | null;
  subId?: string | null;
  clickId?: string | null;
  pingId?: string | null;
  leadId?: string | null;
}

/** Records one refused intake (one INSERT, on the refusing path only). */
export async function recordRefusal(db: DbOrTx, r: RefusalInput): Promise<void> {
  await db.insert(intakeRefusals).values({
    agencyId: r.agencyId,
    sourceId: r.sourceId,
    campaignId: r.campaignId,
    reason: r.reason,
    field: r.field ?? null,
    subId: r.subId ?? null,
    clickId: r.clickId ?? null,
    pingId: r.pingId ?? null,
    leadId: r.leadId ?? null,
  });
}

/** One reason's count: leads refused at intake, pings rejected. */
export interface RefusalCount {
  reason: RefusalReason;
  leads: number;
  pings: number;
}

interface SourceRefusalCounts {
  /** A source's id, or `none`: leads the agency sent itself. */
  sourceId: string;
  name: string | null;
  leads: number;
  pings: number;
  reasons: RefusalCount[];
}

export interface RefusalReport {
  byReason: RefusalCount[];
  bySource: SourceRefusalCounts[];
}

type CountRow = { source: string; name: string | null; reason: string; leads: number; pings: number };

/** Intake refusals and rejected pings of the range, per (source, reason), from `scope`'s rows. */
async function countRows(db: DbOrTx, scope: { refusals: SQL; pings: SQL }, range: DateRange): Promise<CountRow[]> {
  const result = (await db.execute(sql`
    WITH c AS (
      SELECT coalesce(r.source_id::text, 'none') AS source, r.reason, count(*) AS leads, 0 AS pings
      FROM intake_refusals r
      WHERE ${scope.refusals} AND ${inRange(sql`r.created_at`, range)}
      GROUP BY 1, 2
      UNION ALL
      SELECT p.source_id::text AS source, p.reason, 0 AS leads, count(*) AS pings
      FROM pings p
      WHERE ${scope.pings} AND p.decision = 'rejected' AND ${inRange(sql`p.created_at`, range)}
      GROUP BY 1, 2
    )
    SELECT c.source, (SELECT s.name FROM sources s WHERE s.id::text = c.source) AS name, c.reason,
           sum(c.leads)::int AS leads, sum(c.pings)::int AS pings
    FROM c GROUP BY c.source, c.reason ORDER BY c.source, c.reason`)) as unknown as { rows: CountRow[] };
  return result.rows.map((r) => ({ ...r, leads: Number(r.leads), pings: Number(r.pings) }));
}

/** Sums rows into one count per reason, reasons in order. */
function byReason(rows: CountRow[]): RefusalCount[] {
  const out = new Map<string, RefusalCount>();
  for (const r of rows) {
    const c = out.get(r.reason) ?? { reason: r.reason as RefusalReason, leads: 0, pings: 0 };
    c.leads += r.leads;
    c.pings += r.pings;
    out.set(r.reason, c);
  }
  return [...out.values()].sort((a, b) => a.reason.localeCompare(b.reason));
}

/** The agency's refusals of the range: by reason, and by source with each source's reasons. */
export async function refusalReport(db: DbOrTx, agencyId: string, range: DateRange): Promise<RefusalReport> {
  const rows = await countRows(
    db,
    { refusals: sql`r.agency_id = ${agencyId}`, pings: sql`p.agency_id = ${agencyId}` },
    range,
  );
  const sources = new Map<string, CountRow[]>();
  for (const r of rows) sources.set(r.source, [...(sources.get(r.source) ?? []), r]);
  const bySource = [...sources.entries()].map(([sourceId, own]) => {
    const reasons = byReason(own);
    return {
      sourceId,
      name: own[0]!.name,
      leads: reasons.reduce((a, c) => a + c.leads, 0),
      pings: reasons.reduce((a, c) => a + c.pings, 0),
      reasons,
    };
  });
  return { byReason: byReason(rows), bySource };
}

/** The most recent refused leads a source reads. */
const RECENT_REFUSALS = 100;

export interface RecentRefusal {
  at: Date;
  reason: IntakeRefusal;
  field: string | null;
  campaignId: string;
  campaignName: string;
  subId: string | null;
  clickId: string | null;
  pingId: string | null;
}

/** A source's own refusals of the range: counts by reason, and its last refused leads (newest first). */
export async function sourceRefusals(
  db: DbOrTx,
  sourceId: string,
  range: DateRange,
): Promise<{ byReason: RefusalCount[]; recent: RecentRefusal[] }> {
  const rows = await countRows(
    db,
    { refusals: sql`r.source_id = ${sourceId}`, pings: sql`p.source_id = ${sourceId}` },
    range,
  );
  const recent = await db
    .select({
      at: intakeRefusals.createdAt,
      reason: intakeRefusals.reason,
      field: intakeRefusals.field,
      campaignId: intakeRefusals.campaignId,
      campaignName: campaigns.name,
      subId: intakeRefusals.subId,
      clickId: intakeRefusals.clickId,
      pingId: intakeRefusals.pingId,
    })
    .from(intakeRefusals)
    .innerJoin(campaigns, eq(campaigns.id, intakeRefusals.campaignId))
    .where(and(eq(intakeRefusals.sourceId, sourceId), inRange(intakeRefusals.createdAt, range)))
    .orderBy(desc(intakeRefusals.createdAt), desc(intakeRefusals.id))
    .limit(RECENT_REFUSALS);
  return { byReason: byReason(rows), recent };
}
