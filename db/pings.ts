/**
 * Pings: a source asks "would you take this lead, and what would you pay?"
 * before it sends the person's identity. Each ping is recorded with its
 * decision (for the source report's count and accept rate) and may be posted
 * once, before it expires. Claiming a ping for its post is one conditional
 * UPDATE, so two posts of the same ping cannot both pass.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { PingDecision, PingRejection } from '../domain/types';
import type { DbOrTx } from './connection';
import { pings, type PingFields } from './schema';

export type PingRow = typeof pings.$inferSelect;

/** A ping to record: what the source sent and the decision (its id may be given, or is made here). */
export interface NewPing {
  id?: string;
  agencyId: string;
  sourceId: string;
  campaignId: string;
  fields: PingFields;
  subId?: string | null;
  clickId?: string | null;
  decision: PingDecision;
  reason: PingRejection | null;
  price?: number | null;
  payout?: number | null;
  expiresAt: Date;
}

/**
 * Records pings, many in one INSERT (a burst of pings is written together:
 * api/pings.ts), answering the rows in the order given. One statement of
 * fixed text whatever the batch's size (the batch is its one parameter), so
 * building it costs the same for one ping or fifty.
 */
export async function recordPings(db: DbOrTx, inputs: NewPing[]): Promise<PingRow[]> {
  if (!inputs.length) return [];
  const rows = inputs.map((p) => ({
    ...p,
    id: p.id ?? randomUUID(),
    subId: p.subId ?? null,
    clickId: p.clickId ?? null,
    price: p.price ?? null,
    payout: p.payout ?? null,
  }));
  // One parameter: the batch as a JSON array of the rows themselves (the same on node-postgres and PGlite).
  const result = (await db.execute(sql`
    INSERT INTO pings (id, agency_id, source_id, campaign_id, fields, sub_id, click_id, decision, reason, price, payout, expires_at)
    SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(
      "id" uuid, "agencyId" uuid, "sourceId" uuid, "campaignId" uuid, "fields" jsonb, "subId" text, "clickId" text,
      "decision" text, "reason" text, "price" int, "payout" int, "expiresAt" timestamptz)
    RETURNING id, created_at`)) as unknown as { rows: { id: string; created_at: string | Date }[] };
  const createdAt = new Map(result.rows.map((r) => [r.id, new Date(r.created_at)]));
  return rows.map((p) => ({ ...p, postedAt: null, leadId: null, createdAt: createdAt.get(p.id)! }));
}

/** The ping of this source (another source's ping is not found). */
export async function getPing(db: DbOrTx, sourceId: string, pingId: string): Promise<PingRow | undefined> {
  const [row] = await db
    .select()
    .from(pings)
    .where(and(eq(pings.id, pingId), eq(pings.sourceId, sourceId)));
  return row;
}

/**
 * Marks an accepted, unexpired, unposted ping as posted with the lead's id.
 * Null when another post got there first, or it expired meanwhile (the
 * database clock decides, the same for every API instance).
 */
export async function claimPing(db: DbOrTx, pingId: string, leadId: string): Promise<PingRow | null> {
  const [row] = await db
    .update(pings)
    .set({ postedAt: sql`now()`, leadId })
    .where(
      and(
        eq(pings.id, pingId),
        eq(pings.decision, 'accepted'),
        isNull(pings.postedAt),
        gt(pings.expiresAt, sql`now()`),
      ),
    )
    .returning();
  return row ?? null;
}

/** Whether the database's clock has passed the ping's expiry (the same clock claimPing uses). */
export async function pingExpired(db: DbOrTx, pingId: string): Promise<boolean> {
  const [row] = await db
    .select({ expired: sql<boolean>`${pings.expiresAt} <= now()` })
    .from(pings)
    .where(eq(pings.id, pingId));
  return Boolean(row?.expired);
}
