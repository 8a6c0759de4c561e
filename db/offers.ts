/**
 * The offers aggregate: offers, their targets (every candidate's verdict),
 * the bids on them and the per-offer timeline. Tables: offers, offer_targets,
 * bids, offer_events.
 *
 * Offer rows and their timeline, written inside the caller's transaction:
 * opening an offer (the offer, every candidate's verdict, `targeted` /
 * `excluded` events, the lead `offered`) and closing it (its outcome, `lost`
 * for every targeted buyer that did not win, `expired` / `cancelled`). The
 * route-and-open activity, the sale transaction (which closes an offer when
 * its last place is sold) and the expiry all call these, so an offer is opened
 * and closed the same way on every path.
 */
import { and, asc, desc, eq, gt, gte, lte, ne, sql } from 'drizzle-orm';

import type { ClaimChannel, TimelineEventInput } from '../claims/vocabulary';
import type { TargetVerdict } from '../domain/eligibility';
import type {
  AuctionKind,
  AuctionPricing,
  FeedCloseOutcome,
  OfferKind,
  OfferStatus,
  TimelineEventType,
} from '../domain/types';
import { turnBatcher } from '../lib/burst';
import type { Db, DbOrTx, Tx } from './connection';
import { queueOfferAlerts } from './deliveries';
import { markLeadOffered } from './leads';
import { olderThan, type Page, type PageArgs, sortKeyAt, toPage } from './pages';
import { assignments, bids, buyers, offerEvents, offers, offerTargets } from './schema';

/** One candidate buyer's verdict, kept with the offer for "why didn't I get this lead?". */
export type { TargetVerdict } from '../domain/eligibility';

export interface NewOffer {
  id: string;
  leadId: string;
  agencyId: string;
  campaignId: string;
  kind: Exclude<OfferKind, 'manual'>;
  workflowId: string;
  price: number;
  preview: Record<string, unknown>;
  maxWinners: number;
  depth: number;
  auction: AuctionKind;
  pricing: AuctionPricing;
  openedAt: Date;
  closesAt: Date;
  /** The campaign settings the lead runs under (route-and-open), for a retried open and for audits. */
  route?: Record<string, unknown> | null;
}

/** Stores a new offer, every candidate's verdict and their timeline events; the lead is `offered`. */
async function storeOffer(tx: Tx, offer: NewOffer, targets: TargetVerdict[]): Promise<void> {
  await tx.insert(offers).values({ ...offer, route: offer.route ?? null, status: 'open' });
  if (targets.length) {
    await tx.insert(offerTargets).values(
      targets.map((t) => ({
        offerId: offer.id,
        buyerId: t.buyerId,
        eligible: t.eligible,
        reason: t.reason,
        detail: t.detail,
        snapshot: t.snapshot,
        price: t.price ?? null,
      })),
    );
  }
  await appendEvents(
    tx,
    targets.map((t) => ({
      leadId: offer.leadId,
      offerId: offer.id,
      type: (t.eligible ? 'targeted' : 'excluded') as TimelineEventType,
      buyerId: t.buyerId,
      reason: t.reason,
      data: { ...(t.detail ? { detail: t.detail } : {}), snapshot: t.snapshot },
      at: offer.openedAt,
    })),
  );
  // Offer alerts on the buyers' channels (#12): outbox rows in this transaction, sent by the worker's dispatcher, off the workflow.
  if (offer.kind === 'ping_post')
    await queueOfferAlerts(tx, {
      offerId: offer.id,
      leadId: offer.leadId,
      agencyId: offer.agencyId,
      price: offer.price,
      preview: offer.preview,
      openedAt: offer.openedAt.toISOString(),
      closesAt: offer.closesAt.toISOString(),
      targets,
    });
  await markLeadOffered(tx, offer.leadId);
}

export type CloseOutcome = 'won' | 'expired' | 'cancelled';

export interface ClosedOffer {
  offerId: string;
  agencyId: string;
  kind: OfferKind;
  outcome: CloseOutcome;
  /** Buyers who bought it: the feed tells them `won_by_you`, the other targets `taken` (or `expired`). */
  winners: string[];
}

/** `storeOffer` in a transaction of its own. */
export async function saveOffer(db: Db, offer: NewOffer, targets: TargetVerdict[]): Promise<void> {
  await db.transaction((tx) => storeOffer(tx, offer, targets));
}

/** `closeOfferWithin` in a transaction of its own. */
export async function closeOffer(
  db: Db,
  offerId: string,
  input: { outcome: CloseOutcome; reason?: string | null; at: Date },
): Promise<ClosedOffer | null> {
  return db.transaction((tx) => closeOfferWithin(tx, offerId, input));
}

/**
 * Closes an open offer with its outcome and writes who lost it: `lost` for
 * every targeted buyer that did not win, and `expired` / `cancelled` for the
 * offer itself. An offer that has a sale closes `won` whatever the caller
 * asked. Null when the offer was closed already (a retry, or the sale that
 * sold its last place closed it).
 */
export async function closeOfferWithin(
  tx: Tx,
  offerId: string,
  input: { outcome: CloseOutcome; reason?: string | null; at: Date },
): Promise<ClosedOffer | null> {
  // Lock the offer first: a sale in flight holds the same lock, so the sales read below are every sale there is.
  const [open] = await tx
    .select({ id: offers.id })
    .from(offers)
    .where(and(eq(offers.id, offerId), eq(offers.status, 'open')))
    .for('update');
  if (!open) return null;
  const winners = (
    await tx.select({ buyerId: assignments.buyerId }).from(assignments).where(eq(assignments.offerId, offerId))
  ).map((a) => a.buyerId);
  // An offer with a sale is won, whatever the caller decided: its workflow may lack the sale's record (a worker
  // crash between the sale's commit and the record in history), and the timer then asks to expire it.
  const outcome: CloseOutcome = winners.length > 0 ? 'won' : input.outcome;
  const [offer] = await tx
    .update(offers)
    .set({ status: outcome, closedAt: input.at, closeReason: outcome === 'won' ? null : (input.reason ?? null) })
    .where(eq(offers.id, offerId))
    .returning();
  const targeted = await tx
    .select({ buyerId: offerTargets.buyerId })
    .from(offerTargets)
    .where(and(eq(offerTargets.offerId, offer.id), eq(offerTargets.eligible, true)));
  const lostReason = outcome === 'won' ? 'taken' : outcome;
  const events: TimelineEventInput[] = targeted
    .filter((t) => !winners.includes(t.buyerId))
    .map((t) => ({
      leadId: offer.leadId,
      offerId: offer.id,
      type: 'lost',
      buyerId: t.buyerId,
      reason: lostReason,
      at: input.at,
    }));
  if (outcome !== 'won')
    events.unshift({
      leadId: offer.leadId,
      offerId: offer.id,
      type: outcome,
      reason: input.reason ?? null,
      at: input.at,
    });
  await appendEvents(tx, events);
  return { offerId: offer.id, agencyId: offer.agencyId, kind: offer.kind, outcome, winners };
}

export type OfferRow = typeof offers.$inferSelect;

export type TargetRow = typeof offerTargets.$inferSelect;

export async function leadOffers(db: DbOrTx, leadId: string): Promise<OfferRow[]> {
  return db.select().from(offers).where(eq(offers.leadId, leadId)).orderBy(asc(offers.openedAt), asc(offers.id));
}

// ─── offers ──────────────────────────────────────────────────────────────────

export async function getOffer(db: DbOrTx, offerId: string): Promise<OfferRow | undefined> {
  const [row] = await db.select().from(offers).where(eq(offers.id, offerId));
  return row;
}

/** The bid a buyer placed on an offer with this request id, if it stands. */
/** Every candidate's verdict on an offer, with its own price (null: the offer's). */
export async function targetVerdicts(
  db: DbOrTx,
  offerId: string,
): Promise<{ buyerId: string; eligible: boolean; price: number | null }[]> {
  return db
    .select({ buyerId: offerTargets.buyerId, eligible: offerTargets.eligible, price: offerTargets.price })
    .from(offerTargets)
    .where(eq(offerTargets.offerId, offerId));
}

/** Offers open right now (the `leadwire_offers_open` gauge). */
export async function countOpenOffers(db: DbOrTx): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(offers)
    .where(eq(offers.status, 'open'));
  return Number(row?.n ?? 0);
}

/** The bid a buyer placed with this sequence number, if it stands. */
export async function bidWithSeq(db: DbOrTx, offerId: string, buyerId: string, seq: number) {
  const [row] = await db
    .select()
    .from(bids)
    .where(and(eq(bids.offerId, offerId), eq(bids.buyerId, buyerId), eq(bids.seq, seq)));
  return row;
}

/**
 * Stores a buyer's bid on an offer (its latest: a bid with a lower sequence
 * number never overwrites a newer one) and writes `bid_placed`, in one
 * transaction; the sequence number keys the event, so a retry writes nothing twice.
 */
export async function recordBid(
  db: Db,
  offer: { id: string; leadId: string },
  bid: { buyerId: string; amount: number; requestId: string; seq: number; raised: boolean; at: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .insert(bids)
      .values({
        offerId: offer.id,
        buyerId: bid.buyerId,
        amount: bid.amount,
        requestId: bid.requestId,
        seq: bid.seq,
        placedAt: new Date(bid.at),
      })
      .onConflictDoUpdate({
        target: [bids.offerId, bids.buyerId],
        set: { amount: bid.amount, requestId: bid.requestId, seq: bid.seq, placedAt: new Date(bid.at) },
        setWhere: lte(bids.seq, sql`excluded.seq`),
      });
    await appendEvents(tx, [
      {
        leadId: offer.leadId,
        offerId: offer.id,
        type: 'bid_placed',
        buyerId: bid.buyerId,
        data: { amount: bid.amount, requestId: bid.requestId, raised: bid.raised, seq: bid.seq },
        at: bid.at,
        dedupeKey: `bid:${offer.id}:${bid.seq}`,
      },
    ]);
  });
}

export async function getPlacedBid(db: DbOrTx, offerId: string, buyerId: string, requestId: string) {
  const [row] = await db
    .select()
    .from(bids)
    .where(and(eq(bids.offerId, offerId), eq(bids.buyerId, buyerId), eq(bids.requestId, requestId)));
  return row;
}

export async function getTarget(db: DbOrTx, offerId: string, buyerId: string): Promise<TargetRow | undefined> {
  const [row] = await db
    .select()
    .from(offerTargets)
    .where(and(eq(offerTargets.offerId, offerId), eq(offerTargets.buyerId, buyerId)));
  return row;
}

/** Every candidate of an offer (or one), with the buyer's name, eligible ones first. */
export async function listTargets(
  db: DbOrTx,
  offerId: string,
  buyerId?: string,
): Promise<(TargetRow & { buyerName: string })[]> {
  const rows = await db
    .select({ target: offerTargets, buyerName: buyers.name })
    .from(offerTargets)
    .innerJoin(buyers, eq(buyers.id, offerTargets.buyerId))
    .where(and(eq(offerTargets.offerId, offerId), buyerId ? eq(offerTargets.buyerId, buyerId) : undefined))
    .orderBy(desc(offerTargets.eligible), asc(buyers.name), asc(offerTargets.buyerId));
  return rows.map((r) => ({ ...r.target, buyerName: r.buyerName }));
}

/** The eligible targets of an offer with each one's own price (null: the offer's), for the feed's fan-out. */
export async function eligibleTargetPrices(db: DbOrTx, offerId: string): Promise<Map<string, number | null>> {
  const rows = await db
    .select({ buyerId: offerTargets.buyerId, price: offerTargets.price })
    .from(offerTargets)
    .where(and(eq(offerTargets.offerId, offerId), eq(offerTargets.eligible, true)));
  return new Map(rows.map((r) => [r.buyerId, r.price]));
}

/**
 * Auction offers targeted to a buyer (eligible target row). Push and manual
 * offers are never shown: nobody claims them. "open" also means not past
 * closesAt, so an offer whose close is still being written is not offered.
 */
export async function listBuyerOffers(
  db: DbOrTx,
  buyerId: string,
  status: OfferStatus,
  page: PageArgs,
): Promise<Page<OfferRow>> {
  const rows = await db
    .select({ row: offers, ownPrice: offerTargets.price, sortAt: sortKeyAt(offers.openedAt) })
    .from(offerTargets)
    .innerJoin(offers, eq(offers.id, offerTargets.offerId))
    .where(
      and(
        eq(offerTargets.buyerId, buyerId),
        eq(offerTargets.eligible, true),
        eq(offers.kind, 'ping_post'),
        eq(offers.status, status),
        status === 'open' ? gt(offers.closesAt, sql`now()`) : undefined,
        olderThan(offers.openedAt, offers.id, page.after),
      ),
    )
    .orderBy(desc(offers.openedAt), desc(offers.id))
    .limit(page.limit + 1);
  // Each buyer sees its own price (a per-buyer campaign rule), else the offer's.
  return toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => ({ ...r.row, price: r.ownPrice ?? r.row.price }),
  );
}

// ─── timeline ───────────────────────────────────────────────────────────────

/**
 * The offer timeline: append-only events in Postgres, queried by the API and
 * the console. Writers pass a dedupe key where a retry could write twice.
 */

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

// ─── feed resume ────────────────────────────────────────────────────────────

/**
 * What a Live Leads client missed while it (or its gateway's bus) was away:
 * the buyer's targeted offers that closed since a moment, with the outcome
 * for that buyer. Sent after the snapshot on a resumed connection
 * (`/v1/feed?since=<seq>`) and on a gateway's resync, so a client that had an
 * offer on screen hears how it ended. Open offers need no catching up: the
 * snapshot holds them.
 */

export interface MissedClose {
  offerId: string;
  outcome: FeedCloseOutcome;
}

/** At most this many closes are replayed (the newest are what a returning client still has on screen). */
const MAX_MISSED = 500;

export async function closedSince(db: DbOrTx, buyerId: string, since: Date): Promise<MissedClose[]> {
  const rows = await db
    .select({
      offerId: offers.id,
      mine: sql<boolean>`exists (select 1 from assignments a where a.offer_id = ${offers.id} and a.buyer_id = ${buyerId})`,
      taken: sql<boolean>`exists (select 1 from assignments a where a.offer_id = ${offers.id})`,
    })
    .from(offerTargets)
    .innerJoin(offers, eq(offers.id, offerTargets.offerId))
    .where(
      and(
        eq(offerTargets.buyerId, buyerId),
        eq(offerTargets.eligible, true),
        eq(offers.kind, 'ping_post'),
        ne(offers.status, 'open'),
        gte(offers.closedAt, since),
      ),
    )
    .orderBy(asc(offers.closedAt))
    .limit(MAX_MISSED);
  return rows.map((r) => ({ offerId: r.offerId, outcome: r.mine ? 'won_by_you' : r.taken ? 'taken' : 'expired' }));
}
