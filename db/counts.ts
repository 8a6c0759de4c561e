/**
 * How many leads a buyer (or a campaign) has bought in the current day, week
 * and month, counted from period starts computed in the agency's time zone.
 * Refunded assignments do not count: the buyer did not keep the lead.
 */
import { and, eq, gte, inArray, sql } from 'drizzle-orm';
import type { CapPeriod, PeriodCounts } from '../domain/types';
import type { DbOrTx } from './connection';
import { assignments, offers } from './schema';

export const ZERO_COUNTS: PeriodCounts = { daily: 0, weekly: 0, monthly: 0 };

function earliest(starts: Record<CapPeriod, Date>): Date {
  return new Date(Math.min(starts.daily.getTime(), starts.weekly.getTime(), starts.monthly.getTime()));
}

const countsSince = (starts: Record<CapPeriod, Date>) => ({
  daily: sql<number>`count(*) filter (where ${assignments.createdAt} >= ${starts.daily.toISOString()})::int`,
  weekly: sql<number>`count(*) filter (where ${assignments.createdAt} >= ${starts.weekly.toISOString()})::int`,
  monthly: sql<number>`count(*) filter (where ${assignments.createdAt} >= ${starts.monthly.toISOString()})::int`,
});

export async function buyerPeriodCounts(db: DbOrTx, buyerIds: string[], starts: Record<CapPeriod, Date>): Promise<Map<string, PeriodCounts>> {
  const result = new Map<string, PeriodCounts>();
  if (buyerIds.length === 0) return result;
  const rows = await db
    .select({ buyerId: assignments.buyerId, ...countsSince(starts) })
    .from(assignments)
    .where(and(inArray(assignments.buyerId, buyerIds), eq(assignments.status, 'active'), gte(assignments.createdAt, earliest(starts))))
    .groupBy(assignments.buyerId);
  for (const r of rows) result.set(r.buyerId, { daily: Number(r.daily), weekly: Number(r.weekly), monthly: Number(r.monthly) });
  return result;
}

export async function campaignPeriodCounts(db: DbOrTx, campaignId: string, starts: Record<CapPeriod, Date>): Promise<PeriodCounts> {
  const [row] = await db
    .select(countsSince(starts))
    .from(assignments)
    .innerJoin(offers, eq(offers.id, assignments.offerId))
    .where(and(eq(offers.campaignId, campaignId), eq(assignments.status, 'active'), gte(assignments.createdAt, earliest(starts))));
  return row ? { daily: Number(row.daily), weekly: Number(row.weekly), monthly: Number(row.monthly) } : { ...ZERO_COUNTS };
}
