/**
 * The offers aggregate: offers, their targets (every candidate's verdict),
 * the bids on them and the per-offer timeline. Tables: offers, offer_targets,
 * bids, offer_events.
 *
 * Offer rows and their timeline: opening an offer in two steps – the offer
 * with its targets' ids (after which the feed hears it), then the paperwork:
 * every candidate's verdict, `targeted` / `excluded` events, the alerts – and
 * closing it inside the caller's transaction (its outcome, `lost` for every
 * targeted buyer that did not win – of a ping tree, every pinged one –,
 * `expired` / `cancelled`). The
 * route-and-open activity, the sale transaction (which closes an offer when
 * its last place is sold) and the expiry all call these, so an offer is opened
 * and closed the same way on every path.
 */
import { and, asc, desc, eq, gt, gte, inArray, lte, ne, type SQL, sql } from 'drizzle-orm';

import type { ClaimChannel, TimelineEventInput } from '../claims/vocabulary';
import type { TargetVerdict } from '../domain/eligibility';
import { BUYER_AUCTIONS, buyersSee } from '../domain/offer-view';
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
import {
  agencies,
  assignments,
  bids,
  buyers,
  offerEvents,
  offerPaperwork,
  offers,
  offerTargets,
  targetLists,
} from './schema';

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

/** The eligible buyers of a verdict list and their own prices (#12): what is committed with the offer row. */
export function committedTargets(targets: Pick<TargetVerdict, 'buyerId' | 'eligible' | 'price'>[]): {
  targetIds: string[];
  targetPrices: Record<string, number> | null;
} {
  const eligible = targets.filter((t) => t.eligible);
  const own = eligible.filter((t) => t.price !== null && t.price !== undefined);
  return {
    targetIds: eligible.map((t) => t.buyerId),
    targetPrices: own.length ? Object.fromEntries(own.map((t) => [t.buyerId, t.price!])) : null,
  };
}

/**
 * Opening, step one (publish first, then the paperwork, #26): the offer row with its eligible buyers' ids and own
 * prices, the verdicts still to be written and the lead `offered`, in one short transaction. Once it commits the feed may hear
 * `offer.opened` and a claim is judged from the committed ids (`standingOf`). With `targetList`, the eligible list is
 * stored once under its hash for a feed event too large for NOTIFY (db/offer-bus.ts).
 */
export async function openOfferRow(
  db: Db,
  offer: NewOffer,
  targets: TargetVerdict[],
  targetList?: { id: string; buyerIds: string[]; prices: Record<string, number> | null },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .insert(offers)
      .values({ ...offer, ...committedTargets(targets), route: offer.route ?? null, status: 'open' });
    await tx.insert(offerPaperwork).values({ offerId: offer.id, verdicts: targets });
    if (targetList) await saveTargetList(tx, targetList);
    await markLeadOffered(tx, offer.leadId);
  });
}

/**
 * Opening, step two – the paperwork: every candidate's verdict row, their `targeted` / `excluded` events and the offer
 * alerts' outbox rows, in one transaction that takes the offer's pending row (offer_paperwork),
 * so it is written once whoever runs it: the opening activity right after the feed heard the offer, its retry, or the
 * routing sweep after a crash between the two steps (worker/lead-starter.ts). False: nothing was pending.
 */
export async function finishPaperwork(db: Db, offerId: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [pending] = await tx
      .delete(offerPaperwork)
      .where(eq(offerPaperwork.offerId, offerId))
      .returning({ verdicts: offerPaperwork.verdicts });
    if (!pending) return false;
    const [offer] = await tx.select().from(offers).where(eq(offers.id, offerId));
    if (!offer) return false;
    await writePaperwork(tx, offer, pending.verdicts);
    return true;
  });
}

/** A candidate's verdict as its offer_targets row. */
function targetRowOf(offerId: string, t: TargetVerdict): TargetRow {
  return {
    offerId,
    buyerId: t.buyerId,
    eligible: t.eligible,
    reason: t.reason,
    detail: t.detail,
    snapshot: t.snapshot,
    price: t.price ?? null,
  };
}

async function writePaperwork(tx: Tx, offer: OfferRow, targets: TargetVerdict[]): Promise<void> {
  if (targets.length) {
    await tx
      .insert(offerTargets)
      .values(targets.map((t) => targetRowOf(offer.id, t)))
      .onConflictDoNothing();
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
  // Offer alerts on the buyers' channels (#12): outbox rows in this transaction, sent by the worker's dispatcher, off the
  // workflow. Only for an offer buyers see (not a ping tree's, #22: the buyers' own systems decide it).
  if (buyersSee(offer))
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
}

/** A target list for an `offer.opened` too large for NOTIFY (db/offer-bus.ts targetListOf): stored once per content. */
export async function saveTargetList(
  db: DbOrTx,
  list: { id: string; buyerIds: string[]; prices: Record<string, number> | null },
): Promise<void> {
  await db.insert(targetLists).values(list).onConflictDoNothing({ target: targetLists.id });
}

/** A stored target list (null: none with that id). */
export async function targetList(
  db: DbOrTx,
  id: string,
): Promise<{ targets: string[]; prices: Record<string, number> | null } | null> {
  const [row] = await db
    .select({ targets: targetLists.buyerIds, prices: targetLists.prices })
    .from(targetLists)
    .where(eq(targetLists.id, id));
  return row ?? null;
}

/** A stored target list outlives the opening that stored it by this much, at least (the expiry job, `purgeTargetLists`). */
const TARGET_LIST_TTL_MS = 60 * 60_000;

/**
 * Purges the stored target lists older than `olderThanMs` that no open offer uses (the `expire-records` job):
 * a list is read when a gateway hears the `offer.opened` that names it, and kept by that gateway afterwards, so it is
 * needed only while its offer is open. An offer's list is the one holding its committed targets and prices (the list's
 * id is their hash: equal content, one row), so an open offer whose ids and prices are a list's keeps it. The open
 * offers are read agency by agency through `offers_agency_status_idx` (no scan of every offer ever made). An offer
 * opening with the content of a list purged at that moment – it found the row and wrote nothing – costs its gateways
 * one read: a list they cannot find, they read from the offer itself (api/feed/fan-out.ts). Answers how many went.
 */
export async function purgeTargetLists(db: DbOrTx, olderThanMs = TARGET_LIST_TTL_MS): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs);
  const result = (await db.execute(sql`
    WITH open_targets AS MATERIALIZED (
      SELECT o.target_ids, o.target_prices
      FROM ${agencies} a
      CROSS JOIN LATERAL (
        SELECT target_ids, target_prices FROM ${offers}
        WHERE ${offers.agencyId} = a.id AND ${offers.status} = 'open' AND ${offers.targetIds} IS NOT NULL
      ) o
    )
    DELETE FROM ${targetLists} l
    WHERE l.created_at < ${cutoff.toISOString()}::timestamptz
      AND NOT EXISTS (
        SELECT 1 FROM open_targets t
        WHERE cardinality(t.target_ids) = cardinality(l.buyer_ids)
          AND l.buyer_ids <@ t.target_ids
          AND t.target_prices IS NOT DISTINCT FROM l.prices
      )
    RETURNING l.id`)) as unknown as { rows: unknown[] };
  return result.rows.length;
}

/** Offers whose paperwork has waited longer than `olderThanMs`: their opening died between its two steps. */
export async function stalePaperwork(db: DbOrTx, olderThanMs: number, limit = 500): Promise<string[]> {
  const rows = await db
    .select({ offerId: offerPaperwork.offerId })
    .from(offerPaperwork)
    .where(lte(offerPaperwork.createdAt, new Date(Date.now() - olderThanMs)))
    .orderBy(asc(offerPaperwork.createdAt))
    .limit(limit);
  return rows.map((r) => r.offerId);
}

/**
 * A buyer's standing on an offer from what the offer row committed (step one): eligible when the buyer is among its
 * target ids, at its own price if it has one. Null when the offer predates the committed ids (migration 0033): then
 * only the verdict row can tell.
 */
export function standingOf(
  offer: Pick<OfferRow, 'targetIds' | 'targetPrices'>,
  buyerId: string,
): { eligible: boolean; price: number | null } | null {
  if (!offer.targetIds) return null;
  return { eligible: offer.targetIds.includes(buyerId), price: offer.targetPrices?.[buyerId] ?? null };
}

export type CloseOutcome = 'won' | 'expired' | 'cancelled';

export interface ClosedOffer {
  offerId: string;
  agencyId: string;
  kind: OfferKind;
  outcome: CloseOutcome;
  /** Buyers who bought it: the feed tells them `won_by_you`, the other targets `taken` (or `expired`). */
  winners: string[];
  /** Its places: with `winners`, what a claim on it is answered now (`noPlaceLeft`). */
  maxWinners: number;
}

/** Both steps of opening an offer, with nothing between them (no feed event): the offer, its verdicts, its timeline. */
export async function saveOffer(db: Db, offer: NewOffer, targets: TargetVerdict[]): Promise<void> {
  await openOfferRow(db, offer, targets);
  await finishPaperwork(db, offer.id);
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
 * every targeted buyer that did not win (of a ping tree's, every pinged one),
 * and `expired` / `cancelled` for the offer itself. An offer that has a sale closes `won` whatever the caller
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
  // The committed target ids: the verdict rows may not be written yet (the paperwork follows the feed).
  const targeted =
    offer.targetIds ??
    (
      await tx
        .select({ buyerId: offerTargets.buyerId })
        .from(offerTargets)
        .where(and(eq(offerTargets.offerId, offer.id), eq(offerTargets.eligible, true)))
    ).map((t) => t.buyerId);
  // A ping tree's offer (#22) is decided by the buyers' own systems: only the buyers it pinged took part, so only they
  // lose it. The others (a later tier's when an earlier one sold, eligible buyers outside the tree) were never asked:
  // their part of the timeline is `targeted` (or `excluded`) and nothing more.
  const tookPart = offer.auction === 'ping_tree' ? await pingedBuyers(tx, offer.id) : null;
  const lostReason = outcome === 'won' ? 'taken' : outcome;
  const events: TimelineEventInput[] = targeted
    .filter((buyerId) => !winners.includes(buyerId) && (!tookPart || tookPart.has(buyerId)))
    .map((buyerId) => ({
      leadId: offer.leadId,
      offerId: offer.id,
      type: 'lost',
      buyerId,
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
  return {
    offerId: offer.id,
    agencyId: offer.agencyId,
    kind: offer.kind,
    outcome,
    winners,
    maxWinners: offer.maxWinners,
  };
}

/** The buyers an offer's endpoint pings reached (its `pinged` events): a ping tree's participants. */
async function pingedBuyers(tx: Tx, offerId: string): Promise<Set<string>> {
  const rows = await tx
    .selectDistinct({ buyerId: offerEvents.buyerId })
    .from(offerEvents)
    .where(and(eq(offerEvents.offerId, offerId), eq(offerEvents.type, 'pinged')));
  return new Set(rows.flatMap((r) => (r.buyerId ? [r.buyerId] : [])));
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

/** A sealed bid as the workflow accepted it. */
export interface PlacedBid {
  buyerId: string;
  amount: number;
  requestId: string;
  /** The workflow's acceptance order (a tie goes to the earlier). */
  seq: number;
  raised: boolean;
  at: string;
  /** Placed by an endpoint bidder's ping (#22), not through the feed or the API. */
  via?: 'endpoint';
}

/**
 * Stores a buyer's bid on an offer (its latest: a bid with a lower sequence
 * number never overwrites a newer one) and writes `bid_placed`, in one
 * transaction; the sequence number keys the event, so a retry writes nothing twice.
 */
export async function recordBid(db: Db, offer: { id: string; leadId: string }, bid: PlacedBid): Promise<void> {
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
        data: {
          amount: bid.amount,
          requestId: bid.requestId,
          raised: bid.raised,
          seq: bid.seq,
          ...(bid.via ? { via: bid.via } : {}),
        },
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

/**
 * Whether an offer targets a buyer, and at what price (null: the offer's): from the ids committed with the offer row
 * (`standingOf`: right from the feed's `offer.opened`, before the verdict rows are written), else – an offer opened
 * before those ids were kept, or a manual one – from its verdict row. Null: the buyer is no candidate of it.
 */
export async function buyerStanding(
  db: DbOrTx,
  offer: Pick<OfferRow, 'id' | 'targetIds' | 'targetPrices'>,
  buyerId: string,
): Promise<{ eligible: boolean; price: number | null } | null> {
  const committed = standingOf(offer, buyerId);
  if (committed) return committed;
  const row = await getTarget(db, offer.id, buyerId);
  return row ? { eligible: row.eligible, price: row.price } : null;
}

async function getTarget(db: DbOrTx, offerId: string, buyerId: string): Promise<TargetRow | undefined> {
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
  // Between the two steps of an opening (#26) the verdicts wait in offer_paperwork: read from there, so the view does
  // not trail the feed. Read first: the transaction that writes the rows deletes the pending row as it commits them.
  const [pending] = await db
    .select({ verdicts: offerPaperwork.verdicts })
    .from(offerPaperwork)
    .where(eq(offerPaperwork.offerId, offerId));
  if (pending) {
    const verdicts = pending.verdicts.filter((v) => !buyerId || v.buyerId === buyerId);
    // The buyers in the rows' order (name, then id, by the database's collation), to sort as the rows are sorted.
    const named = verdicts.length
      ? await db
          .select({ id: buyers.id, name: buyers.name })
          .from(buyers)
          .where(
            inArray(
              buyers.id,
              verdicts.map((v) => v.buyerId),
            ),
          )
          .orderBy(asc(buyers.name), asc(buyers.id))
      : [];
    const rank = new Map(named.map((b, i) => [b.id, { i, name: b.name }]));
    return verdicts
      .flatMap((v) => {
        const buyer = rank.get(v.buyerId);
        return buyer ? [{ row: { ...targetRowOf(offerId, v), buyerName: buyer.name }, i: buyer.i }] : [];
      })
      .sort((a, b) => Number(b.row.eligible) - Number(a.row.eligible) || a.i - b.i)
      .map((x) => x.row);
  }
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
 * `buyersSee` (domain/offer-view.ts) in SQL, on the offers table: a ping-post offer of an auction buyers take part in
 * (not a ping tree's, #22). Every read of the offers a buyer sees uses it – the open-offer list (`listBuyerOffers`),
 * the feed's snapshot (with `awaitingPaperwork`) and its catch-up of closes (`closedSince`) – so they agree.
 */
function seenByBuyers(): SQL {
  return and(eq(offers.kind, 'ping_post'), inArray(offers.auction, [...BUYER_AUCTIONS]))!;
}

/**
 * The open offers buyers see (`seenByBuyers`) targeting a buyer whose verdict rows are not written yet (the paperwork follows the feed:
 * `listBuyerOffers` cannot see them), each at this buyer's price – for the feed's snapshot, so that a buyer who
 * connects between the two steps of an opening still has the offer. Reads the few rows of offer_paperwork.
 */
export async function awaitingPaperwork(db: DbOrTx, buyerId: string): Promise<OfferRow[]> {
  const rows = await db
    .select({ row: offers })
    .from(offerPaperwork)
    .innerJoin(offers, eq(offers.id, offerPaperwork.offerId))
    .where(
      and(
        sql`${buyerId}::uuid = ANY(${offers.targetIds})`,
        seenByBuyers(),
        eq(offers.status, 'open'),
        gt(offers.closesAt, sql`now()`),
      ),
    )
    .orderBy(desc(offers.openedAt), desc(offers.id));
  return rows.map((r) => ({ ...r.row, price: r.row.targetPrices?.[buyerId] ?? r.row.price }));
}

/**
 * The offers buyers see (`seenByBuyers`) targeted to a buyer (eligible target row): push and manual offers are never
 * shown, nobody claims them, nor a ping tree's (#22), decided by the buyers' own systems. "open" also means not past
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
        seenByBuyers(),
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
 * the buyer's targeted offers that closed since a moment (of those buyers
 * see, `seenByBuyers`: never a ping tree's), with the outcome for that buyer. Sent after the snapshot on a resumed connection
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
        seenByBuyers(),
        ne(offers.status, 'open'),
        gte(offers.closedAt, since),
      ),
    )
    .orderBy(asc(offers.closedAt))
    .limit(MAX_MISSED);
  return rows.map((r) => ({ offerId: r.offerId, outcome: r.mine ? 'won_by_you' : r.taken ? 'taken' : 'expired' }));
}
