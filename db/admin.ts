/**
 * Agency administration writes shared by the API, the seed script and the
 * tests: tenants, buyers with their wallets, campaigns with their pools, leads.
 */
import crypto from 'node:crypto';
import { eq } from 'drizzle-orm';
import { DEFAULT_PREVIEW_FIELDS } from '../domain/preview';
import type {
  AgencySettings,
  AuctionKind,
  AuctionPricing,
  Caps,
  ConsentEvidence,
  DeliveryMode,
  LeadFields,
  PriceRules,
  PushStrategy,
} from '../domain/types';
import type { Db, DbOrTx } from './connection';
import type { BuyerSideSettings } from '../domain/buyer-side';
import { createWallet, postLedgerEntry } from './ledger';
import { agencies, buyers, campaignBuyers, campaigns, leads, serviceLines, type DeliverySettings } from './schema';

export type AgencyRow = typeof agencies.$inferSelect;
export type BuyerRow = typeof buyers.$inferSelect;
export type CampaignRow = typeof campaigns.$inferSelect;
export type LeadRow = typeof leads.$inferSelect;

export async function createAgency(
  db: DbOrTx,
  input: { name: string; timeZone?: string; settings?: AgencySettings },
): Promise<AgencyRow> {
  const [row] = await db
    .insert(agencies)
    .values({ name: input.name, timeZone: input.timeZone ?? 'UTC', settings: input.settings ?? {} })
    .returning();
  return row!;
}

export async function createServiceLine(db: DbOrTx, agencyId: string, input: { key: string; name: string }) {
  const [row] = await db.insert(serviceLines).values({ agencyId, key: input.key, name: input.name }).returning();
  return row!;
}

/** A new buyer; its buyer-side settings (#12: hours, pauses, filters, alerts, low-balance threshold) are optional. */
export interface NewBuyer extends BuyerSideSettings {
  name: string;
  serviceLines: string[];
  zipCodes?: string[];
  states?: string[];
  caps?: Caps;
  delivery?: DeliverySettings;
  status?: 'active' | 'paused';
}

/** A webhook signing secret: 32 random bytes, hex, prefixed so it is recognisable in a config file. */
/** A webhook signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

/** A buyer and its (empty) wallet, in one transaction. Its webhook secret is generated here (the API shows it once). */
export async function createBuyer(db: Db, agencyId: string, input: NewBuyer): Promise<BuyerRow> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(buyers)
      .values({
        agencyId,
        name: input.name,
        status: input.status ?? 'active',
        serviceLines: input.serviceLines,
        zipCodes: input.zipCodes ?? [],
        states: (input.states ?? []).map((s) => s.toUpperCase()),
        caps: input.caps ?? {},
        delivery: input.delivery ?? {},
        pausedBy: input.status === 'paused' ? 'admin' : null,
        webhookSecret: generateWebhookSecret(),
        timeZone: input.timeZone ?? null,
        schedule: input.schedule ?? null,
        pauses: input.pauses ?? [],
        filters: input.filters ?? null,
        alerts: input.alerts ?? {},
        lowBalanceThreshold: input.lowBalanceThreshold ?? null,
      })
      .returning();
    await createWallet(tx, row!.id, agencyId);
    return row!;
  });
}

/** Adds credits. The idempotency key makes a retried top-up a no-op. */
export async function topUp(
  db: DbOrTx,
  input: { buyerId: string; agencyId: string; amount: number; idempotencyKey: string; reference?: string | null },
) {
  return postLedgerEntry(db, { ...input, kind: 'top_up' });
}

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
}

export async function createCampaign(db: Db, agencyId: string, input: NewCampaign): Promise<CampaignRow> {
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
      })
      .returning();
    await setCampaignPool(tx, row!.id, input.buyers);
    return row!;
  });
}

/** Replaces the campaign's buyer pool (none: every buyer of the agency). */
export async function setCampaignPool(db: DbOrTx, campaignId: string, pool: NewCampaign['buyers']): Promise<void> {
  if (pool === undefined) return;
  await db.delete(campaignBuyers).where(eq(campaignBuyers.campaignId, campaignId));
  if (pool.length) {
    await db
      .insert(campaignBuyers)
      .values(pool.map((b) => ({ campaignId, buyerId: b.buyerId, priority: b.priority ?? 0, weight: b.weight ?? 1 })));
  }
}

/** Where a lead came from: its source (null: the agency itself) and the seller's tracking ids. */
export interface LeadSource {
  sourceId: string | null;
  subId?: string | null;
  clickId?: string | null;
}

export async function insertLead(
  db: DbOrTx,
  input: {
    id?: string;
    agencyId: string;
    campaignId: string;
    fields: LeadFields;
    dedupeKeys?: string[];
    consent?: ConsentEvidence | null;
    workflowId: (leadId: string) => string;
    /** The source that posted it, with the seller's tracking ids. */
    source?: LeadSource | null;
  },
): Promise<LeadRow> {
  const id = input.id ?? crypto.randomUUID();
  const [row] = await db
    .insert(leads)
    .values({
      id,
      agencyId: input.agencyId,
      campaignId: input.campaignId,
      fields: input.fields,
      dedupeKeys: input.dedupeKeys ?? [],
      consent: input.consent ?? null,
      workflowId: input.workflowId(id),
      sourceId: input.source?.sourceId ?? null,
      subId: input.source?.subId ?? null,
      clickId: input.source?.clickId ?? null,
    })
    .returning();
  return row!;
}
