/**
 * Reads (and small updates) the HTTP API needs. Every agency-owned read takes
 * the agency id, so a row of another tenant is simply not found.
 */
import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type {
  AuctionKind,
  AuctionPricing,
  Caps,
  DeliveryMode,
  LeadStatus,
  OfferStatus,
  PriceRules,
  PushStrategy,
} from '../domain/types';
import type { BuyerRow, CampaignRow, LeadRow } from './admin';
import { setCampaignPool, type NewCampaign } from './admin';
import type { Db, DbOrTx } from './connection';
import type { BuyerSideSettings } from '../domain/buyer-side';
import { olderThan, sortKeyAt, toPage, type Page, type PageArgs } from './pages';
import {
  agencies,
  assignments,
  bids,
  buyers,
  campaignBuyers,
  campaigns,
  ledgerEntries,
  leads,
  offers,
  offerTargets,
  serviceLines,
  wallets,
  type DeliverySettings,
} from './schema';

export type OfferRow = typeof offers.$inferSelect;
export type TargetRow = typeof offerTargets.$inferSelect;
export type AssignmentRow = typeof assignments.$inferSelect;
export type LedgerRow = typeof ledgerEntries.$inferSelect;
export type ServiceLineRow = typeof serviceLines.$inferSelect;
export type PoolEntry = { buyerId: string; priority: number; weight: number };

// ─── service lines ───────────────────────────────────────────────────────────

export async function listServiceLines(db: DbOrTx, agencyId: string, page: PageArgs): Promise<Page<ServiceLineRow>> {
  const rows = await db
    .select({ row: serviceLines, sortAt: sortKeyAt(serviceLines.createdAt) })
    .from(serviceLines)
    .where(and(eq(serviceLines.agencyId, agencyId), olderThan(serviceLines.createdAt, serviceLines.id, page.after)))
    .orderBy(desc(serviceLines.createdAt), desc(serviceLines.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => r.row,
  );
}

/** Which of these keys the agency has defined. */
export async function knownServiceLines(db: DbOrTx, agencyId: string, keys: string[]): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const rows = await db
    .select({ key: serviceLines.key })
    .from(serviceLines)
    .where(and(eq(serviceLines.agencyId, agencyId), inArray(serviceLines.key, keys)));
  return new Set(rows.map((r) => r.key));
}

// ─── buyers ──────────────────────────────────────────────────────────────────

/** A buyer with its balance and its agency's zone (the default of its schedule's). */
export type BuyerWithBalance = BuyerRow & { balance: number; agencyTimeZone: string };

export async function getBuyer(db: DbOrTx, agencyId: string, buyerId: string): Promise<BuyerWithBalance | undefined> {
  const [row] = await db
    .select({ buyer: buyers, balance: wallets.balance, agencyTimeZone: agencies.timeZone })
    .from(buyers)
    .innerJoin(agencies, eq(agencies.id, buyers.agencyId))
    .leftJoin(wallets, eq(wallets.buyerId, buyers.id))
    .where(and(eq(buyers.id, buyerId), eq(buyers.agencyId, agencyId)));
  return row ? { ...row.buyer, balance: row.balance ?? 0, agencyTimeZone: row.agencyTimeZone } : undefined;
}

export async function listBuyers(
  db: DbOrTx,
  agencyId: string,
  page: PageArgs,
  filter: { status?: string } = {},
): Promise<Page<BuyerWithBalance>> {
  const rows = await db
    .select({
      buyer: buyers,
      balance: wallets.balance,
      agencyTimeZone: agencies.timeZone,
      sortAt: sortKeyAt(buyers.createdAt),
    })
    .from(buyers)
    .innerJoin(agencies, eq(agencies.id, buyers.agencyId))
    .leftJoin(wallets, eq(wallets.buyerId, buyers.id))
    .where(
      and(
        eq(buyers.agencyId, agencyId),
        filter.status ? eq(buyers.status, filter.status as BuyerRow['status']) : undefined,
        olderThan(buyers.createdAt, buyers.id, page.after),
      ),
    )
    .orderBy(desc(buyers.createdAt), desc(buyers.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.buyer.id,
    (r) => ({ ...r.buyer, balance: r.balance ?? 0, agencyTimeZone: r.agencyTimeZone }),
  );
}

/** Which of these ids are buyers of the agency. */
export async function agencyBuyerIds(db: DbOrTx, agencyId: string, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await db
    .select({ id: buyers.id })
    .from(buyers)
    .where(and(eq(buyers.agencyId, agencyId), inArray(buyers.id, ids)));
  return new Set(rows.map((r) => r.id));
}

export interface BuyerPatch extends BuyerSideSettings {
  name?: string;
  status?: 'active' | 'paused';
  pauseReason?: string | null;
  serviceLines?: string[];
  zipCodes?: string[];
  states?: string[];
  caps?: Caps;
  delivery?: DeliverySettings;
  /** Who pauses (when status is 'paused'); default admin. */
  pausedBy?: 'admin' | 'buyer' | 'system';
}

export async function updateBuyer(
  db: DbOrTx,
  agencyId: string,
  buyerId: string,
  patch: BuyerPatch,
): Promise<BuyerRow | undefined> {
  const set: Partial<typeof buyers.$inferInsert> = { updatedAt: new Date() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.status === 'active') {
    set.pauseReason = null;
    set.pausedBy = null;
    set.consecutiveDeliveryFailures = 0; // resumed: a new run of deliveries
  }
  if (patch.status === 'paused') set.pausedBy = patch.pausedBy ?? 'admin';
  if (patch.pauseReason !== undefined && patch.status !== 'active') set.pauseReason = patch.pauseReason;
  if (patch.serviceLines !== undefined) set.serviceLines = patch.serviceLines;
  if (patch.zipCodes !== undefined) set.zipCodes = patch.zipCodes;
  if (patch.states !== undefined) set.states = patch.states.map((s) => s.toUpperCase());
  if (patch.caps !== undefined) set.caps = patch.caps;
  if (patch.delivery !== undefined) set.delivery = patch.delivery;
  if (patch.timeZone !== undefined) set.timeZone = patch.timeZone;
  if (patch.schedule !== undefined) set.schedule = patch.schedule;
  if (patch.pauses !== undefined) set.pauses = patch.pauses;
  if (patch.filters !== undefined) set.filters = patch.filters;
  if (patch.alerts !== undefined) set.alerts = patch.alerts;
  if (patch.lowBalanceThreshold !== undefined) {
    set.lowBalanceThreshold = patch.lowBalanceThreshold;
    set.lowBalanceArmed = true; // a new threshold: the next crossing alerts
  }
  const [row] = await db
    .update(buyers)
    .set(set)
    .where(and(eq(buyers.id, buyerId), eq(buyers.agencyId, agencyId)))
    .returning();
  return row;
}

// ─── ledger ──────────────────────────────────────────────────────────────────

export async function listLedger(db: DbOrTx, buyerId: string, page: PageArgs): Promise<Page<LedgerRow>> {
  const rows = await db
    .select({ row: ledgerEntries, sortAt: sortKeyAt(ledgerEntries.createdAt) })
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.buyerId, buyerId), olderThan(ledgerEntries.createdAt, ledgerEntries.id, page.after)))
    .orderBy(desc(ledgerEntries.createdAt), desc(ledgerEntries.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => r.row,
  );
}

// ─── campaigns ───────────────────────────────────────────────────────────────

export type CampaignWithPool = CampaignRow & { pool: PoolEntry[] };

export async function campaignPools(db: DbOrTx, campaignIds: string[]): Promise<Map<string, PoolEntry[]>> {
  const pools = new Map<string, PoolEntry[]>(campaignIds.map((id) => [id, []]));
  if (!campaignIds.length) return pools;
  const rows = await db
    .select()
    .from(campaignBuyers)
    .where(inArray(campaignBuyers.campaignId, campaignIds))
    .orderBy(asc(campaignBuyers.priority), asc(campaignBuyers.buyerId));
  for (const r of rows) pools.get(r.campaignId)?.push({ buyerId: r.buyerId, priority: r.priority, weight: r.weight });
  return pools;
}

/** A campaign of the agency, without its pool (the ping reads the pool with its candidates). */
export async function getCampaignRow(
  db: DbOrTx,
  agencyId: string,
  campaignId: string,
): Promise<CampaignRow | undefined> {
  const [row] = await db
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.id, campaignId), eq(campaigns.agencyId, agencyId)));
  return row;
}

export async function getCampaign(
  db: DbOrTx,
  agencyId: string,
  campaignId: string,
): Promise<CampaignWithPool | undefined> {
  const row = await getCampaignRow(db, agencyId, campaignId);
  if (!row) return undefined;
  return { ...row, pool: (await campaignPools(db, [row.id])).get(row.id) ?? [] };
}

export async function listCampaigns(
  db: DbOrTx,
  agencyId: string,
  page: PageArgs,
  filter: { status?: string; mode?: string } = {},
): Promise<Page<CampaignWithPool>> {
  const rows = await db
    .select({ row: campaigns, sortAt: sortKeyAt(campaigns.createdAt) })
    .from(campaigns)
    .where(
      and(
        eq(campaigns.agencyId, agencyId),
        filter.status ? eq(campaigns.status, filter.status as CampaignRow['status']) : undefined,
        filter.mode ? eq(campaigns.mode, filter.mode as DeliveryMode) : undefined,
        olderThan(campaigns.createdAt, campaigns.id, page.after),
      ),
    )
    .orderBy(desc(campaigns.createdAt), desc(campaigns.id))
    .limit(page.limit + 1);
  const page1 = toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => r.row,
  );
  const pools = await campaignPools(
    db,
    page1.items.map((c) => c.id),
  );
  return { items: page1.items.map((c) => ({ ...c, pool: pools.get(c.id) ?? [] })), next: page1.next };
}

export interface CampaignPatch {
  name?: string;
  serviceLine?: string;
  mode?: DeliveryMode;
  claimWindowSeconds?: number;
  previewFields?: string[];
  price?: PriceRules;
  maxWinners?: number;
  fallbackCampaignId?: string | null;
  pushStrategy?: PushStrategy;
  caps?: Caps;
  status?: 'active' | 'paused';
  auction?: AuctionKind;
  floorPrice?: number | null;
  pricing?: AuctionPricing;
  pool?: NewCampaign['buyers'];
}

/** Applies the patch and replaces the pool (when given) in one transaction. */
export async function updateCampaign(
  db: Db,
  agencyId: string,
  campaignId: string,
  patch: CampaignPatch,
): Promise<CampaignWithPool | undefined> {
  return db.transaction(async (tx) => {
    const { pool, ...fields } = patch;
    const set: Partial<typeof campaigns.$inferInsert> = { updatedAt: new Date() };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) (set as Record<string, unknown>)[k] = v;
    const [row] = await tx
      .update(campaigns)
      .set(set)
      .where(and(eq(campaigns.id, campaignId), eq(campaigns.agencyId, agencyId)))
      .returning();
    if (!row) return undefined;
    await setCampaignPool(tx, row.id, pool);
    return { ...row, pool: (await campaignPools(tx, [row.id])).get(row.id) ?? [] };
  });
}

// ─── leads ───────────────────────────────────────────────────────────────────

export async function getLead(db: DbOrTx, agencyId: string, leadId: string): Promise<LeadRow | undefined> {
  const [row] = await db
    .select()
    .from(leads)
    .where(and(eq(leads.id, leadId), eq(leads.agencyId, agencyId)));
  return row;
}

export async function listLeads(
  db: DbOrTx,
  agencyId: string,
  page: PageArgs,
  filter: { status?: LeadStatus; campaignId?: string } = {},
): Promise<Page<LeadRow>> {
  const rows = await db
    .select({ row: leads, sortAt: sortKeyAt(leads.createdAt) })
    .from(leads)
    .where(
      and(
        eq(leads.agencyId, agencyId),
        filter.status ? eq(leads.status, filter.status) : undefined,
        filter.campaignId ? eq(leads.campaignId, filter.campaignId) : undefined,
        olderThan(leads.createdAt, leads.id, page.after),
      ),
    )
    .orderBy(desc(leads.createdAt), desc(leads.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => r.row,
  );
}

export async function leadOffers(db: DbOrTx, leadId: string): Promise<OfferRow[]> {
  return db.select().from(offers).where(eq(offers.leadId, leadId)).orderBy(asc(offers.openedAt), asc(offers.id));
}

export async function leadAssignments(db: DbOrTx, leadId: string): Promise<AssignmentRow[]> {
  return db
    .select()
    .from(assignments)
    .where(eq(assignments.leadId, leadId))
    .orderBy(asc(assignments.createdAt), asc(assignments.id));
}

// ─── offers ──────────────────────────────────────────────────────────────────

export async function getOffer(db: DbOrTx, offerId: string): Promise<OfferRow | undefined> {
  const [row] = await db.select().from(offers).where(eq(offers.id, offerId));
  return row;
}

/** The bid a buyer placed on an offer with this request id, if it stands. */
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

export async function eligibleTargetIds(db: DbOrTx, offerId: string): Promise<string[]> {
  const rows = await db
    .select({ buyerId: offerTargets.buyerId })
    .from(offerTargets)
    .where(and(eq(offerTargets.offerId, offerId), eq(offerTargets.eligible, true)));
  return rows.map((r) => r.buyerId);
}

/** The eligible targets of an offer with each one's own price (null: the offer's), for the feed's fan-out. */
export async function eligibleTargetPrices(db: DbOrTx, offerId: string): Promise<Map<string, number | null>> {
  const rows = await db
    .select({ buyerId: offerTargets.buyerId, price: offerTargets.price })
    .from(offerTargets)
    .where(and(eq(offerTargets.offerId, offerId), eq(offerTargets.eligible, true)));
  return new Map(rows.map((r) => [r.buyerId, r.price]));
}

export async function offerWinnerIds(db: DbOrTx, offerId: string): Promise<Set<string>> {
  const rows = await db
    .select({ buyerId: assignments.buyerId })
    .from(assignments)
    .where(eq(assignments.offerId, offerId));
  return new Set(rows.map((r) => r.buyerId));
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

// ─── assignments (won leads) ─────────────────────────────────────────────────

export type WonLead = AssignmentRow & { lead: LeadRow };

export async function listBuyerLeads(db: DbOrTx, buyerId: string, page: PageArgs): Promise<Page<WonLead>> {
  const rows = await db
    .select({ assignment: assignments, lead: leads, sortAt: sortKeyAt(assignments.createdAt) })
    .from(assignments)
    .innerJoin(leads, eq(leads.id, assignments.leadId))
    .where(and(eq(assignments.buyerId, buyerId), olderThan(assignments.createdAt, assignments.id, page.after)))
    .orderBy(desc(assignments.createdAt), desc(assignments.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.assignment.id,
    (r) => ({ ...r.assignment, lead: r.lead }),
  );
}

export async function getAssignment(db: DbOrTx, assignmentId: string): Promise<AssignmentRow | undefined> {
  const [row] = await db.select().from(assignments).where(eq(assignments.id, assignmentId));
  return row;
}
