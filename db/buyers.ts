/**
 * The buyers aggregate: a buyer (created with its wallet), its settings
 * (service area, caps, delivery, hours, filters, alerts), its per-campaign
 * prices, its changes recorded in the audit log (db/audit.ts), and the pipeline its won leads move
 * through. Every agency-owned read takes the agency id.
 *
 * Tables: buyers, campaign_buyer_prices, pipeline_changes.
 */
import crypto from 'node:crypto';

import { and, desc, eq, gte, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';

import { createdFields } from '../domain/audit';
import { type BuyerPriceRule, type BuyerSideSettings, pipelineMoveProblem } from '../domain/buyer-side';
import { changesOf } from '../domain/self-service';
import { type Caps, PIPELINE_STATUSES, type PipelineStatus } from '../domain/types';
import { keyStore } from '../lib/key-store';
import { type AuditBy, recordChange, SYSTEM } from './audit';
import type { Db, DbOrTx } from './connection';
import { createApiKey } from './keys';
import { createWallet } from './ledger';
import { olderThan, type Page, type PageArgs, sortKeyAt, toPage } from './pages';
import {
  agencies,
  assignments,
  buyerEndpoints,
  buyers,
  campaignBuyerPrices,
  type DeliverySettings,
  leads,
  offers,
  pipelineChanges,
  wallets,
} from './schema';

export type BuyerRow = typeof buyers.$inferSelect;
/** A buyer's delivery settings (the channels' addresses): the column's type, for the channels and the API's checks. */
export type { DeliverySettings };

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

/** A webhook signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
function generateWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

// ─── webhook secrets, sealed by the key store (lib/key-store.ts) ─────────────

/** The key store purpose of buyers' webhook secrets; the context is the buyer's id (a sealed secret opens on its row only). */
const WEBHOOK_SECRET = 'buyer.webhook_secret';

const sealWebhookSecret = (buyerId: string, secret: string) => keyStore().seal(WEBHOOK_SECRET, secret, buyerId);

/** A buyer's webhook secrets in clear, for signing: the current one and, while its window lasts, the previous one. */
export interface WebhookSecrets {
  current: string | null;
  previous: string | null;
}

/** Opens a buyer's sealed webhook secrets (the previous one only inside its overlap window); throws if a key is missing. */
export function openWebhookSecrets(
  buyer: Pick<BuyerRow, 'id' | 'webhookSecretSealed' | 'webhookSecretPreviousSealed' | 'webhookSecretPreviousUntil'>,
  now = new Date(),
): WebhookSecrets {
  const open = (sealed: string | null) => (sealed ? keyStore().open(sealed, WEBHOOK_SECRET, buyer.id) : null);
  const inWindow = !!buyer.webhookSecretPreviousUntil && buyer.webhookSecretPreviousUntil > now;
  return {
    current: open(buyer.webhookSecretSealed),
    previous: inWindow ? open(buyer.webhookSecretPreviousSealed) : null,
  };
}

/** The master key ids the buyers' sealed webhook secrets name (the key store's start check). */
export async function webhookSecretKeyIds(db: DbOrTx): Promise<string[]> {
  const ids = new Set<string>();
  for (const col of [buyers.webhookSecretSealed, buyers.webhookSecretPreviousSealed]) {
    const rows = await db
      .selectDistinct({ keyId: sql<string>`split_part(${col}, '.', 2)` })
      .from(buyers)
      .where(isNotNull(col));
    for (const r of rows) ids.add(r.keyId);
  }
  return [...ids];
}

type SecretColumn =
  | typeof buyers.webhookSecretSealed
  | typeof buyers.webhookSecretPreviousSealed
  | typeof buyers.webhookSecretPlaintext
  | typeof buyers.webhookSecretPreviousPlaintext;

/**
 * Rewrites up to `limit` buyers' pair of secret columns (current, previous) matching `where`, each row in one UPDATE
 * conditional on the values read (a row changed meanwhile is left to the next pass): idempotent, and safe beside
 * other processes doing the same. Answers how many rows it changed.
 */
async function rewriteSecretPairs(
  db: DbOrTx,
  [current, previous]: [SecretColumn, SecretColumn],
  where: ReturnType<typeof or>,
  write: (r: { id: string; current: string | null; previous: string | null }) => Partial<typeof buyers.$inferInsert>,
  limit: number,
): Promise<number> {
  const rows = await db.select({ id: buyers.id, current, previous }).from(buyers).where(where).limit(limit);
  let done = 0;
  for (const r of rows) {
    const updated = await db
      .update(buyers)
      .set(write(r))
      .where(
        and(
          eq(buyers.id, r.id),
          sql`${current} IS NOT DISTINCT FROM ${r.current}`,
          sql`${previous} IS NOT DISTINCT FROM ${r.previous}`,
        ),
      )
      .returning({ id: buyers.id });
    done += updated.length;
  }
  return done;
}

/** Seals up to `limit` buyers' secrets left in clear (from before migration 0008; or one buyer's) and clears the plaintext. */
export function sealPlaintextWebhookSecrets(db: DbOrTx, limit: number, buyerId?: string): Promise<number> {
  const plain: [SecretColumn, SecretColumn] = [buyers.webhookSecretPlaintext, buyers.webhookSecretPreviousPlaintext];
  const inClear = or(isNotNull(plain[0]), isNotNull(plain[1]));
  return rewriteSecretPairs(
    db,
    plain,
    buyerId ? and(eq(buyers.id, buyerId), inClear) : inClear,
    (r) => ({
      webhookSecretPlaintext: null,
      webhookSecretPreviousPlaintext: null,
      ...(r.current ? { webhookSecretSealed: sealWebhookSecret(r.id, r.current) } : {}),
      ...(r.previous ? { webhookSecretPreviousSealed: sealWebhookSecret(r.id, r.previous) } : {}),
    }),
    limit,
  );
}

/** Rewraps up to `limit` buyers' sealed webhook secrets that are not under the current master key (rotation). */
export function rewrapWebhookSecrets(db: DbOrTx, limit: number): Promise<number> {
  const store = keyStore();
  const sealed: [SecretColumn, SecretColumn] = [buyers.webhookSecretSealed, buyers.webhookSecretPreviousSealed];
  const stale = (col: SecretColumn) => and(isNotNull(col), sql`split_part(${col}, '.', 2) <> ${store.currentKeyId}`);
  return rewriteSecretPairs(
    db,
    sealed,
    or(stale(sealed[0]), stale(sealed[1])),
    (r) => ({
      webhookSecretSealed: r.current && store.rewrap(r.current),
      webhookSecretPreviousSealed: r.previous && store.rewrap(r.previous),
    }),
    limit,
  );
}

/** A new buyer, with its webhook secret in clear: the one moment the API shows it. */
export type CreatedBuyer = BuyerRow & { webhookSecret: string };

/** A buyer and its (empty) wallet, in one transaction. Its webhook secret is generated and sealed here (the API shows it once). */
export async function createBuyer(db: Db, agencyId: string, input: NewBuyer): Promise<CreatedBuyer> {
  const id = crypto.randomUUID();
  const webhookSecret = generateWebhookSecret();
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(buyers)
      .values({
        id,
        agencyId,
        name: input.name,
        status: input.status ?? 'active',
        serviceLines: input.serviceLines,
        zipCodes: input.zipCodes ?? [],
        states: (input.states ?? []).map((s) => s.toUpperCase()),
        caps: input.caps ?? {},
        delivery: input.delivery ?? {},
        pausedBy: input.status === 'paused' ? 'admin' : null,
        webhookSecretSealed: sealWebhookSecret(id, webhookSecret),
        timeZone: input.timeZone ?? null,
        schedule: input.schedule ?? null,
        pauses: input.pauses ?? [],
        filters: input.filters ?? null,
        alerts: input.alerts ?? {},
        lowBalanceThreshold: input.lowBalanceThreshold ?? null,
      })
      .returning();
    await createWallet(tx, row!.id, agencyId);
    return { ...row!, webhookSecret };
  });
}

/** A buyer, its wallet and its first API key (answered in clear, once), in one transaction. */
export async function createBuyerWithKey(
  db: Db,
  agencyId: string,
  input: NewBuyer,
  by: AuditBy,
): Promise<{ buyer: CreatedBuyer; key: { key: string; id: string; prefix: string } }> {
  return db.transaction(async (tx) => {
    const buyer = await createBuyer(tx, agencyId, input);
    const key = await createApiKey(tx, { kind: 'buyer', agencyId, buyerId: buyer.id });
    await recordChange(tx, {
      agencyId,
      buyerId: buyer.id,
      by,
      objectType: 'buyer',
      objectId: buyer.id,
      action: 'created',
      changes: createdFields({ ...input }),
      note: `first API key ${key.prefix}… issued`,
    });
    return { buyer, key };
  });
}

/** A buyer by id, whatever its agency (the lifecycle's and the dispatcher's own reads). */
export async function buyerById(db: DbOrTx, buyerId: string): Promise<BuyerRow | undefined> {
  const [row] = await db.select().from(buyers).where(eq(buyers.id, buyerId));
  return row;
}

/**
 * The buyer, given a sealed webhook secret first if it has none: a buyer from before signed webhooks gets a new one
 * (the admin reads it by rotating); one whose secret is still in clear (not yet sealed at start) gets it sealed.
 */
export async function ensureWebhookSecret(db: DbOrTx, buyer: BuyerRow): Promise<BuyerRow> {
  if (buyer.webhookSecretSealed) return buyer;
  if (buyer.webhookSecretPlaintext) await sealPlaintextWebhookSecrets(db, 1, buyer.id);
  else
    await db
      .update(buyers)
      .set({ webhookSecretSealed: sealWebhookSecret(buyer.id, generateWebhookSecret()) })
      .where(and(eq(buyers.id, buyer.id), isNull(buyers.webhookSecretSealed), isNull(buyers.webhookSecretPlaintext)));
  return (await buyerById(db, buyer.id))!;
}

/** The agency's buyers with their lead filters (the campaign preview runs them over past leads). */
export async function agencyBuyerFilters(
  db: DbOrTx,
  agencyId: string,
): Promise<Pick<BuyerRow, 'id' | 'name' | 'filters'>[]> {
  return db
    .select({ id: buyers.id, name: buyers.name, filters: buyers.filters })
    .from(buyers)
    .where(eq(buyers.agencyId, agencyId));
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
  filter: { status?: string; endpoint?: 'set' | 'none' } = {},
): Promise<Page<BuyerWithBalance>> {
  const hasEndpoint = sql`exists (select 1 from ${buyerEndpoints} where ${buyerEndpoints.buyerId} = ${buyers.id})`;
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
        filter.endpoint === 'set' ? hasEndpoint : filter.endpoint === 'none' ? sql`not ${hasEndpoint}` : undefined,
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

async function updateBuyer(
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

// ─── buyer prices ───────────────────────────────────────────────────────────

/**
 * Per-buyer campaign prices (#12): an agency gives one buyer its own price on
 * a campaign, fixed or a percentage on the campaign's price. The eligibility
 * loader (db/eligibility.ts) reads them to price each target of an offer; the
 * sale charges the target's price.
 */

export type BuyerPriceRow = typeof campaignBuyerPrices.$inferSelect;

export async function listBuyerPrices(db: DbOrTx, campaignId: string): Promise<BuyerPriceRow[]> {
  return db
    .select()
    .from(campaignBuyerPrices)
    .where(eq(campaignBuyerPrices.campaignId, campaignId))
    .orderBy(campaignBuyerPrices.buyerId);
}

/**
 * Sets (or, with null, removes) one buyer's rule on one campaign, and records the change on the campaign in the audit
 * log (`by`: the system when not given), in one transaction.
 */
export async function setBuyerPrice(
  db: DbOrTx,
  campaign: { id: string; agencyId: string },
  buyerId: string,
  rule: BuyerPriceRule | null,
  by: AuditBy = SYSTEM,
): Promise<void> {
  const campaignId = campaign.id;
  const same = and(eq(campaignBuyerPrices.campaignId, campaignId), eq(campaignBuyerPrices.buyerId, buyerId));
  await db.transaction(async (tx) => {
    const [before] = await tx.select().from(campaignBuyerPrices).where(same).for('update');
    if (!rule) await tx.delete(campaignBuyerPrices).where(same);
    else
      await tx
        .insert(campaignBuyerPrices)
        .values({ campaignId, buyerId, kind: rule.kind, value: rule.value })
        .onConflictDoUpdate({
          target: [campaignBuyerPrices.campaignId, campaignBuyerPrices.buyerId],
          set: { kind: rule.kind, value: rule.value, updatedAt: new Date() },
        });
    await recordChange(tx, {
      agencyId: campaign.agencyId,
      buyerId,
      by,
      objectType: 'campaign',
      objectId: campaignId,
      action: 'updated',
      changes: changesOf(
        { [`buyerPrices.${buyerId}`]: before ? { kind: before.kind, value: before.value } : null },
        { [`buyerPrices.${buyerId}`]: rule ? { kind: rule.kind, value: rule.value } : null },
      ),
    });
  });
}

// ─── pipeline ───────────────────────────────────────────────────────────────

/**
 * Pipeline status of bought leads (#12): what became of each lead a buyer won
 * (new, contacted, appointment, quoted, won_job, lost_job), as a history of
 * changes with time and author. The current status is the latest change
 * (none yet: `new`). Never touches money: no ledger, no assignment column.
 */

export type PipelineChangeRow = typeof pipelineChanges.$inferSelect;

export class PipelineMoveRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineMoveRefused';
  }
}

/** Latest change per assignment, for these assignments. */
async function latestChanges(db: DbOrTx, assignmentIds: string[]): Promise<Map<string, PipelineChangeRow>> {
  if (!assignmentIds.length) return new Map();
  const rows = await db
    .selectDistinctOn([pipelineChanges.assignmentId])
    .from(pipelineChanges)
    .where(inArray(pipelineChanges.assignmentId, assignmentIds))
    .orderBy(pipelineChanges.assignmentId, desc(pipelineChanges.createdAt), desc(pipelineChanges.id));
  return new Map(rows.map((r) => [r.assignmentId, r]));
}

/** The buyer's own assignment, or undefined (another buyer's is not found). */
export async function buyerAssignment(db: DbOrTx, buyerId: string, assignmentId: string) {
  const [row] = await db
    .select()
    .from(assignments)
    .where(and(eq(assignments.id, assignmentId), eq(assignments.buyerId, buyerId)));
  return row;
}

/**
 * Marks a bought lead. The assignment row is locked so two changes at once
 * are judged one after the other; a move back or out of a final status is
 * refused (PipelineMoveRefused).
 */
export async function setPipelineStatus(
  db: Db,
  input: {
    buyerId: string;
    agencyId: string;
    assignmentId: string;
    status: PipelineStatus;
    note?: string | null;
    jobValue?: number | null;
    authorKeyId: string | null;
  },
): Promise<PipelineChangeRow | undefined> {
  return db.transaction(async (tx) => {
    const [a] = await tx
      .select({ id: assignments.id })
      .from(assignments)
      .where(and(eq(assignments.id, input.assignmentId), eq(assignments.buyerId, input.buyerId)))
      .for('update');
    if (!a) return undefined;
    const current = (await latestChanges(tx, [a.id])).get(a.id)?.status ?? null;
    const problem = pipelineMoveProblem(current, input.status);
    if (problem) throw new PipelineMoveRefused(problem);
    const [row] = await tx
      .insert(pipelineChanges)
      .values({
        assignmentId: a.id,
        buyerId: input.buyerId,
        agencyId: input.agencyId,
        status: input.status,
        note: input.note ?? null,
        jobValue: input.jobValue ?? null,
        authorKeyId: input.authorKeyId,
      })
      .returning();
    return row;
  });
}

export async function pipelineHistory(db: DbOrTx, assignmentId: string): Promise<PipelineChangeRow[]> {
  return db
    .select()
    .from(pipelineChanges)
    .where(eq(pipelineChanges.assignmentId, assignmentId))
    .orderBy(desc(pipelineChanges.createdAt), desc(pipelineChanges.id));
}

export interface PipelineItem {
  assignmentId: string;
  leadId: string;
  campaignId: string | null;
  price: number;
  boughtAt: Date;
  name: string;
  city: string | null;
  status: PipelineStatus;
  note: string | null;
  jobValue: number | null;
  changedAt: Date | null;
}

/** A buyer's board: every lead it bought (newest first, up to `limit`) with its status, and counts per status. */
export async function buyerPipeline(
  db: DbOrTx,
  buyerId: string,
  limit = 500,
): Promise<{ counts: Record<PipelineStatus, number>; items: PipelineItem[] }> {
  const rows = await db
    .select({ a: assignments, fields: leads.fields, campaignId: offers.campaignId })
    .from(assignments)
    .innerJoin(leads, eq(leads.id, assignments.leadId))
    .innerJoin(offers, eq(offers.id, assignments.offerId))
    .where(eq(assignments.buyerId, buyerId))
    .orderBy(desc(assignments.createdAt), desc(assignments.id))
    .limit(limit);
  const latest = await latestChanges(
    db,
    rows.map((r) => r.a.id),
  );
  const counts = Object.fromEntries(PIPELINE_STATUSES.map((s) => [s, 0])) as Record<PipelineStatus, number>;
  const items = rows.map((r): PipelineItem => {
    const l = latest.get(r.a.id);
    const status = l?.status ?? 'new';
    counts[status]++;
    return {
      assignmentId: r.a.id,
      leadId: r.a.leadId,
      campaignId: r.campaignId,
      price: r.a.price,
      boughtAt: r.a.createdAt,
      name: `${r.fields.firstName} ${r.fields.lastName}`,
      city: r.fields.city ?? null,
      status,
      note: l?.note ?? null,
      jobValue: l?.jobValue ?? null,
      changedAt: l?.createdAt ?? null,
    };
  });
  return { counts, items };
}

export interface CloseRates {
  bought: number;
  byStatus: Record<PipelineStatus, number>;
  /** won_job ÷ leads bought (null: none bought). */
  closeRate: number | null;
  jobValue: number;
  byCampaign: Record<string, { bought: number; won: number; lost: number; closeRate: number | null }>;
}

/** Close rates of a buyer's purchases since a date, overall and per campaign (the agency's engagement stats). */
export async function buyerCloseRates(db: DbOrTx, buyerId: string, since: Date): Promise<CloseRates> {
  const rows = await db
    .select({ id: assignments.id, campaignId: offers.campaignId })
    .from(assignments)
    .innerJoin(offers, eq(offers.id, assignments.offerId))
    .where(and(eq(assignments.buyerId, buyerId), gte(assignments.createdAt, since)));
  const latest = await latestChanges(
    db,
    rows.map((r) => r.id),
  );
  const byStatus = Object.fromEntries(PIPELINE_STATUSES.map((s) => [s, 0])) as Record<PipelineStatus, number>;
  const byCampaign: CloseRates['byCampaign'] = {};
  let jobValue = 0;
  for (const r of rows) {
    const l = latest.get(r.id);
    const status = l?.status ?? 'new';
    byStatus[status]++;
    if (status === 'won_job') jobValue += l?.jobValue ?? 0;
    const c = (byCampaign[r.campaignId ?? 'manual'] ??= { bought: 0, won: 0, lost: 0, closeRate: null });
    c.bought++;
    if (status === 'won_job') c.won++;
    if (status === 'lost_job') c.lost++;
  }
  for (const c of Object.values(byCampaign)) c.closeRate = c.bought ? c.won / c.bought : null;
  return {
    bought: rows.length,
    byStatus,
    closeRate: rows.length ? byStatus.won_job / rows.length : null,
    jobValue,
    byCampaign,
  };
}

// ─── changes with their log ──────────────────────────────────────────────────

/**
 * Applies a patch to a buyer and logs what changed, in one transaction: the
 * log compares `before` with the row after, over `fields` (the ones the caller
 * set). New delivery settings resume a webhook endpoint paused after a 410
 * Gone. Undefined when the buyer is not the agency's.
 */
export async function changeBuyer(
  db: Db,
  input: {
    agencyId: string;
    buyerId: string;
    by: AuditBy;
    patch: BuyerPatch;
    before: BuyerRow;
    fields: string[];
  },
): Promise<BuyerRow | undefined> {
  return db.transaction(async (tx) => {
    const row = await updateBuyer(tx, input.agencyId, input.buyerId, input.patch);
    if (!row) return undefined;
    if (input.patch.delivery && row.webhookPausedAt)
      await tx.update(buyers).set({ webhookPausedAt: null, webhookPauseReason: null }).where(eq(buyers.id, row.id));
    const after = row as unknown as Record<string, unknown>;
    const changes = changesOf(
      input.before as unknown as Record<string, unknown>,
      Object.fromEntries(input.fields.map((k) => [k, after[k]])),
    );
    await recordChange(tx, {
      agencyId: input.agencyId,
      buyerId: row.id,
      by: input.by,
      objectType: 'buyer',
      objectId: row.id,
      action: 'updated',
      changes,
    });
    return row;
  });
}

/**
 * A new webhook signing secret for the buyer; for `overlapSeconds` (0: not at
 * all) the previous one signs too. Ends the deprecated legacy signature and
 * logs the rotation, in one transaction.
 */
export async function rotateWebhookSecret(
  db: Db,
  buyer: Pick<BuyerRow, 'id' | 'agencyId' | 'webhookSecretSealed'>,
  overlapSeconds: number,
  by: AuditBy,
): Promise<{ webhookSecret: string; previousSecretUntil: Date | null }> {
  const webhookSecret = generateWebhookSecret();
  const previousSecretUntil =
    overlapSeconds > 0 && buyer.webhookSecretSealed ? new Date(Date.now() + overlapSeconds * 1000) : null;
  await db.transaction(async (tx) => {
    await tx
      .update(buyers)
      .set({
        webhookSecretSealed: sealWebhookSecret(buyer.id, webhookSecret),
        // Sealed for this buyer's row and purpose, so it moves from one column to the other as it is.
        webhookSecretPreviousSealed: previousSecretUntil ? buyer.webhookSecretSealed : null,
        webhookSecretPreviousUntil: previousSecretUntil,
        webhookSecretPlaintext: null,
        webhookSecretPreviousPlaintext: null,
        legacySignatureUntil: null,
        updatedAt: new Date(),
      })
      .where(eq(buyers.id, buyer.id));
    await recordChange(tx, {
      agencyId: buyer.agencyId,
      buyerId: buyer.id,
      by,
      objectType: 'buyer',
      objectId: buyer.id,
      action: 'webhook_secret_rotated',
      changes: { webhookSecret: { from: 'rotated', to: 'rotated' } },
      note: previousSecretUntil
        ? `previous secret signs until ${previousSecretUntil.toISOString()}`
        : 'previous secret stopped at once',
    });
  });
  return { webhookSecret, previousSecretUntil };
}

// ─── delivery health (db/deliveries.ts) ──────────────────────────────────────

/** A delivery went out: the buyer's run of consecutive failures starts again. */
export async function resetDeliveryFailures(db: DbOrTx, buyerId: string): Promise<void> {
  await db.update(buyers).set({ consecutiveDeliveryFailures: 0 }).where(eq(buyers.id, buyerId));
}

/** A delivery failed for good: one more in the buyer's run; answers the buyer as it is now. */
export async function countDeliveryFailure(db: DbOrTx, buyerId: string): Promise<BuyerRow> {
  const [row] = await db
    .update(buyers)
    .set({ consecutiveDeliveryFailures: sql`${buyers.consecutiveDeliveryFailures} + 1` })
    .where(eq(buyers.id, buyerId))
    .returning();
  return row!;
}

/** Pauses an active buyer for the system (consecutive delivery failures), with the change in its log. */
export async function autoPauseBuyer(
  db: DbOrTx,
  buyer: Pick<BuyerRow, 'id' | 'agencyId' | 'pauseReason'>,
  pauseReason: string,
  note = 'consecutive delivery failures',
): Promise<void> {
  await db
    .update(buyers)
    .set({ status: 'paused', pauseReason, pausedBy: 'system', updatedAt: new Date() })
    .where(eq(buyers.id, buyer.id));
  await recordChange(db, {
    agencyId: buyer.agencyId,
    buyerId: buyer.id,
    by: SYSTEM,
    objectType: 'buyer',
    objectId: buyer.id,
    action: 'updated',
    changes: { status: { from: 'active', to: 'paused' }, pauseReason: { from: buyer.pauseReason, to: pauseReason } },
    note,
  });
}

/** The endpoint answered 410 Gone: pause the buyer's webhook (once) until its URL is changed or it is resumed. */
export async function pauseWebhookEndpoint(db: Db, buyerId: string, reason: string): Promise<boolean> {
  const rows = await db
    .update(buyers)
    .set({ webhookPausedAt: new Date(), webhookPauseReason: reason.slice(0, 500), updatedAt: new Date() })
    .where(and(eq(buyers.id, buyerId), isNull(buyers.webhookPausedAt)))
    .returning({ id: buyers.id });
  return rows.length > 0;
}
