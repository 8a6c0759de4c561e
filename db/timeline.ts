/**
 * The offer timeline: append-only events in Postgres, queried by the API and
 * the console. Writers pass a dedupe key where a retry could write twice.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { ClaimChannel, TimelineEventInput } from '../claims/vocabulary';
import type { TimelineEventType } from '../domain/types';
import type { DbOrTx } from './connection';
import { turnBatcher } from '../lib/burst';
import { offerEvents } from './schema';

export type { TimelineEventInput };

export interface TimelineEvent {
  id: number;
  type: TimelineEventType;
  at: string;
  leadId: string;
  offerId: string | null;
  buyerId: string | null;
  reason: string | null;
  data: Record<string, unknown> | null;
}

export async function appendEvents(db: DbOrTx, events: TimelineEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insert(offerEvents)
    .values(
      events.map((e) => ({
        leadId: e.leadId,
        offerId: e.offerId ?? null,
        type: e.type,
        buyerId: e.buyerId ?? null,
        reason: e.reason ?? null,
        data: e.data ?? null,
        ...(e.at ? { at: new Date(e.at) } : {}),
        dedupeKey: e.dedupeKey ?? null,
      })),
    )
    .onConflictDoNothing({ target: offerEvents.dedupeKey });
}

/**
 * `appendEvents` for a hot path with many writers at once (a claim storm's
 * refusals): events handed in during one turn of the event loop go to the
 * database as one multi-row insert, and every caller's promise settles with
 * that insert.
 */
export function batchedAppender(db: DbOrTx): (events: TimelineEventInput[]) => Promise<void> {
  return turnBatcher(async (batches: TimelineEventInput[][]) => {
    await appendEvents(db, batches.flat());
    return batches.map(() => undefined);
  });
}

/** Records that a buyer saw an offer, once per buyer and offer however often it is shown. */
export async function recordViewed(
  db: DbOrTx,
  leadId: string,
  offerId: string,
  buyerId: string,
  channel: ClaimChannel,
): Promise<void> {
  await appendEvents(db, [
    { leadId, offerId, type: 'viewed', buyerId, data: { channel }, dedupeKey: `viewed:${offerId}:${buyerId}` },
  ]);
}

function toEvent(row: typeof offerEvents.$inferSelect): TimelineEvent {
  return {
    id: row.id,
    type: row.type,
    at: row.at.toISOString(),
    leadId: row.leadId,
    offerId: row.offerId,
    buyerId: row.buyerId,
    reason: row.reason,
    data: row.data,
  };
}

export async function offerTimeline(db: DbOrTx, offerId: string): Promise<TimelineEvent[]> {
  const rows = await db
    .select()
    .from(offerEvents)
    .where(eq(offerEvents.offerId, offerId))
    .orderBy(asc(offerEvents.at), asc(offerEvents.id));
  return rows.map(toEvent);
}

export async function leadTimeline(db: DbOrTx, leadId: string): Promise<TimelineEvent[]> {
  const rows = await db
    .select()
    .from(offerEvents)
    .where(eq(offerEvents.leadId, leadId))
    .orderBy(asc(offerEvents.at), asc(offerEvents.id));
  return rows.map(toEvent);
}

export async function countEvents(db: DbOrTx, offerId: string, type: TimelineEventType): Promise<number> {
  const rows = await db
    .select({ id: offerEvents.id })
    .from(offerEvents)
    .where(and(eq(offerEvents.offerId, offerId), eq(offerEvents.type, type)));
  return rows.length;
}
