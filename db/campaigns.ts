/**
 * The campaigns aggregate: a campaign (mode, price rules, claim window,
 * caps, fallback) and its buyer pool with push priority and weight, created
 * and patched with the pool in one transaction.
 *
 * Tables: campaigns, campaign_buyers, push_rotation.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';

import { createdFields } from '../domain/audit';
import { DEFAULT_PREVIEW_FIELDS } from '../domain/preview';
import { changesOf } from '../domain/self-service';
import type {
  AuctionKind,
  AuctionPricing,
  Caps,
  ConsentCertificateRule,
  DeliveryMode,
  DncRule,
  PingTree,
  PriceRules,
  PushStrategy,
} from '../domain/types';
import { type AuditBy, recordChange, SYSTEM } from './audit';
import type { Db, DbOrTx, Tx } from './connection';
import { newestFirst, type Page, type PageArgs } from './pages';
import { campaignBuyers, campaigns, offerTargets, pushRotation } from './schema';

export type CampaignRow = typeof campaigns.$inferSelect;

export interface NewCampaign {
  name: string;
  serviceLine: string;
  mode: DeliveryMode;
  claimWindowSeconds?: number;
  previewFields?: string[];
  price: PriceRules;
  maxWinners?: number;
  fallbackCampaignId?: string | null;
  pushStrategy?: PushStrategy;
  caps?: Caps;
  /** The campaign's buyer pool, with optional push priority and weight. */
  buyers?: { buyerId: string; priority?: number; weight?: number }[];
  status?: 'active' | 'paused';
  auction?: AuctionKind;
  floorPrice?: number | null;
  pricing?: AuctionPricing;
  dncRule?: DncRule;
  /** A consent certificate required at intake and claimed at the sale (#23); null: none. */
  consentCertificate?: ConsentCertificateRule | null;
  /** Auction `ping_tree`: its tiers (#22). */
  pingTree?: PingTree | null;
  /** Auction `highest_bid`: buyers whose endpoints bid in the window (#22); null: none. */
  endpointBidders?: string[] | null;
}

/** A new campaign with its pool, and its entry in the audit log (`by`: the system when not given), in one transaction. */
export async function createCampaign(
  db: Db,
  agencyId: string,
  input: NewCampaign,
  by: AuditBy = SYSTEM,
): Promise<CampaignRow> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(campaigns)
      .values({
        agencyId,
        name: input.name,
        serviceLine: input.serviceLine,
        mode: input.mode,
        claimWindowSeconds: input.claimWindowSeconds ?? 60,
        previewFields: input.previewFields ?? [...DEFAULT_PREVIEW_FIELDS],
        price: input.price,
        maxWinners: input.maxWinners ?? 1,
        fallbackCampaignId: input.fallbackCampaignId ?? null,
        pushStrategy: input.pushStrategy ?? 'round_robin',
        caps: input.caps ?? {},
        status: input.status ?? 'active',
        auction: input.auction ?? 'first_claim',
        floorPrice: input.floorPrice ?? null,
        pricing: input.pricing ?? 'first_price',
        dncRule: input.dncRule ?? 'suppress',
        consentCertificate: input.consentCertificate ?? null,
        pingTree: input.pingTree ?? null,
        endpointBidders: input.endpointBidders ?? null,
      })
      .returning();
    await setCampaignPool(tx, row!.id, input.buyers);
    const { id: _id, agencyId: _agency, createdAt: _c, updatedAt: _u, ...fields } = row!;
    await recordChange(tx, {
      agencyId,
      by,
      objectType: 'campaign',
      objectId: row!.id,
      action: 'created',
      changes: createdFields({ ...fields, pool: input.buyers }),
    });
    return row!;
  });
}

/** Replaces the campaign's buyer pool (none: every buyer of the agency). */
async function setCampaignPool(db: DbOrTx, campaignId: string, pool: NewCampaign['buyers']): Promise<void> {
  if (pool === undefined) return;
  await db.delete(campaignBuyers).where(eq(campaignBuyers.campaignId, campaignId));
  if (pool.length) {
    await db
      .insert(campaignBuyers)
      .values(pool.map((b) => ({ campaignId, buyerId: b.buyerId, priority: b.priority ?? 0, weight: b.weight ?? 1 })));
  }
}

export type PoolEntry = { buyerId: string; priority: number; weight: number };

// ─── campaigns ───────────────────────────────────────────────────────────────

export type CampaignWithPool = CampaignRow & { pool: PoolEntry[] };

async function campaignPools(db: DbOrTx, campaignIds: string[]): Promise<Map<string, PoolEntry[]>> {
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
  const page1 = await newestFirst(
    db,
    campaigns,
    and(
      eq(campaigns.agencyId, agencyId),
      filter.status ? eq(campaigns.status, filter.status as CampaignRow['status']) : undefined,
      filter.mode ? eq(campaigns.mode, filter.mode as DeliveryMode) : undefined,
    ),
    page,
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
  dncRule?: DncRule;
  consentCertificate?: ConsentCertificateRule | null;
  pingTree?: PingTree | null;
  endpointBidders?: string[] | null;
  pool?: NewCampaign['buyers'];
}

/**
 * Applies the patch and replaces the pool (when given), and records the fields that changed (price among them) in
 * the audit log, in one transaction.
 */
export async function updateCampaign(
  db: Db,
  agencyId: string,
  campaignId: string,
  patch: CampaignPatch,
  by: AuditBy = SYSTEM,
): Promise<CampaignWithPool | undefined> {
  return db.transaction(async (tx) => {
    const { pool, ...fields } = patch;
    const [before] = await tx
      .select()
      .from(campaigns)
      .where(and(eq(campaigns.id, campaignId), eq(campaigns.agencyId, agencyId)))
      .for('update');
    if (!before) return undefined;
    const poolBefore = pool === undefined ? [] : ((await campaignPools(tx, [campaignId])).get(campaignId) ?? []);
    const set: Partial<typeof campaigns.$inferInsert> = { updatedAt: new Date() };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) (set as Record<string, unknown>)[k] = v;
    const [row] = await tx
      .update(campaigns)
      .set(set)
      .where(and(eq(campaigns.id, campaignId), eq(campaigns.agencyId, agencyId)))
      .returning();
    if (!row) return undefined;
    await setCampaignPool(tx, row.id, pool);
    const poolAfter = (await campaignPools(tx, [row.id])).get(row.id) ?? [];
    const after = row as unknown as Record<string, unknown>;
    await recordChange(tx, {
      agencyId,
      by,
      objectType: 'campaign',
      objectId: row.id,
      action: 'updated',
      changes: changesOf(
        { ...(before as unknown as Record<string, unknown>), pool: poolBefore },
        {
          ...Object.fromEntries(Object.keys(fields).map((k) => [k, after[k]])),
          ...(pool === undefined ? {} : { pool: poolAfter }),
        },
      ),
    });
    return { ...row, pool: poolAfter };
  });
}

/**
 * The push rotation of a campaign, taken for the caller's transaction: the row is created on first use and locked
 * until the transaction ends, so concurrent push leads of one campaign take turns in order. Returns the buyer the
 * last lead went to (null: none yet).
 */
export async function takePushTurn(tx: Tx, campaignId: string): Promise<string | null> {
  await tx.insert(pushRotation).values({ campaignId }).onConflictDoNothing();
  const [rotation] = await tx.select().from(pushRotation).where(eq(pushRotation.campaignId, campaignId)).for('update');
  return rotation?.lastBuyerId ?? null;
}

/** Records the buyer the campaign's latest push lead went to (inside the transaction that took the turn). */
export async function recordPushTurn(tx: Tx, campaignId: string, buyerId: string): Promise<void> {
  await tx
    .update(pushRotation)
    .set({ lastBuyerId: buyerId, updatedAt: new Date() })
    .where(eq(pushRotation.campaignId, campaignId));
}

/** The eligible targets of a push offer with their pool priority and weight (defaults 0 and 1 off the pool). */
export async function pushCandidates(
  tx: DbOrTx,
  offerId: string,
  campaignId: string,
): Promise<{ buyerId: string; priority: number; weight: number }[]> {
  const rows = await tx
    .select({ buyerId: offerTargets.buyerId, priority: campaignBuyers.priority, weight: campaignBuyers.weight })
    .from(offerTargets)
    .leftJoin(
      campaignBuyers,
      and(eq(campaignBuyers.buyerId, offerTargets.buyerId), eq(campaignBuyers.campaignId, campaignId)),
    )
    .where(and(eq(offerTargets.offerId, offerId), eq(offerTargets.eligible, true)));
  return rows.map((t) => ({ buyerId: t.buyerId, priority: t.priority ?? 0, weight: t.weight ?? 1 }));
}
