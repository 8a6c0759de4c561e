/**
 * Pings: a source asks "would you take this lead, and what would you pay?"
 * before it sends the person's identity. Each ping is recorded with its
 * decision (for the source report's count and accept rate) and may be posted
 * once, before it expires. Claiming a ping for its post is one conditional
 * UPDATE, so two posts of the same ping cannot both pass.
 */
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { PingDecision, PingRejection } from '../domain/types';
import type { DbOrTx } from './connection';
import { pings, type PingFields } from './schema';

export type PingRow = typeof pings.$inferSelect;

export async function recordPing(
  db: DbOrTx,
  input: {
    agencyId: string;
    sourceId: string;
    campaignId: string;
    fields: PingFields;
    subId: string | null;
    clickId: string | null;
    decision: PingDecision;
    reason: PingRejection | null;
    price: number | null;
    payout: number | null;
    expiresAt: Date;
  },
): Promise<PingRow> {
  const [row] = await db.insert(pings).values(input).returning();
  return row!;
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
