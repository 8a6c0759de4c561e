/**
 * The sources aggregate (the supply side): sources, their campaigns and payout
 * rules, their wallet and ledger, and their pings. Tables: sources,
 * source_campaigns, source_wallets, source_ledger_entries, pings.
 *
 * Lead sources (suppliers) of an agency: the source itself, the campaigns it
 * may post into with the payout rule of each, and its leads with their
 * outcomes. Every read takes the agency id (or the source's own id, for a
 * source key), so another tenant's source or lead is simply not found.
 */
import { randomUUID } from 'node:crypto';

import { and, desc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';

import { type AuditChanges, createdFields } from '../domain/audit';
import { payoutFor, sourceOutcome, sourcePayoutKey, sourceReversalKey } from '../domain/payout';
import { changesOf } from '../domain/self-service';
import type {
  LeadStatus,
  PayoutRule,
  PingDecision,
  PingRejection,
  SourceLedgerKind,
  SourceOutcome,
  SourceStatus,
} from '../domain/types';
import { type AuditBy, recordChange } from './audit';
import type { Db, DbOrTx } from './connection';
import { createApiKey } from './keys';
import { newestFirst, olderThan, type Page, type PageArgs, sortKeyAt, toPage } from './pages';
import { type DateRange, inRange } from './reports';
import {
  campaigns,
  leads,
  type PingFields,
  pings,
  sourceCampaigns,
  sourceLedgerEntries,
  sources,
  sourceWallets,
} from './schema';

export type SourceRow = typeof sources.$inferSelect;

export type SourceCampaignRow = typeof sourceCampaigns.$inferSelect;

export type SourceWithBalance = SourceRow & { balance: number };

export async function createSource(
  db: DbOrTx,
  agencyId: string,
  input: { name: string; status?: SourceStatus },
): Promise<SourceRow> {
  const [row] = await db
    .insert(sources)
    .values({ agencyId, name: input.name, status: input.status ?? 'active' })
    .returning();
  await createSourceWallet(db, row!.id, agencyId);
  return row!;
}

/** A source, its payout wallet and its first API key (answered in clear, once), in one transaction. */
export async function createSourceWithKey(
  db: Db,
  agencyId: string,
  input: { name: string; status?: SourceStatus },
  by: AuditBy,
): Promise<{ source: SourceRow; key: { key: string; id: string; prefix: string } }> {
  return db.transaction(async (tx) => {
    const source = await createSource(tx, agencyId, input);
    const key = await createApiKey(tx, { kind: 'source', agencyId, sourceId: source.id });
    await recordChange(tx, {
      agencyId,
      by,
      objectType: 'source',
      objectId: source.id,
      action: 'created',
      changes: createdFields({ name: source.name, status: source.status }),
      note: `first API key ${key.prefix}… issued`,
    });
    return { source, key };
  });
}

export async function getSource(
  db: DbOrTx,
  agencyId: string,
  sourceId: string,
): Promise<SourceWithBalance | undefined> {
  const [row] = await db
    .select({ source: sources, balance: sourceWallets.balance })
    .from(sources)
    .leftJoin(sourceWallets, eq(sourceWallets.sourceId, sources.id))
    .where(and(eq(sources.id, sourceId), eq(sources.agencyId, agencyId)));
  return row ? { ...row.source, balance: row.balance ?? 0 } : undefined;
}

export async function listSources(db: DbOrTx, agencyId: string, page: PageArgs): Promise<Page<SourceWithBalance>> {
  const rows = await db
    .select({ source: sources, balance: sourceWallets.balance, sortAt: sortKeyAt(sources.createdAt) })
    .from(sources)
    .leftJoin(sourceWallets, eq(sourceWallets.sourceId, sources.id))
    .where(and(eq(sources.agencyId, agencyId), olderThan(sources.createdAt, sources.id, page.after)))
    .orderBy(desc(sources.createdAt), desc(sources.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.source.id,
    (r) => ({ ...r.source, balance: r.balance ?? 0 }),
  );
}

async function updateSource(
  db: DbOrTx,
  agencyId: string,
  sourceId: string,
  patch: { name?: string; status?: SourceStatus },
): Promise<SourceRow | undefined> {
  const [row] = await db
    .update(sources)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(sources.id, sourceId), eq(sources.agencyId, agencyId)))
    .returning();
  return row;
}

/** Renames, pauses or resumes a source and records what changed in the audit log, in one transaction. */
export async function changeSource(
  db: Db,
  agencyId: string,
  sourceId: string,
  patch: { name?: string; status?: SourceStatus },
  by: AuditBy,
): Promise<SourceRow | undefined> {
  return db.transaction(async (tx) => {
    const [before] = await tx
      .select()
      .from(sources)
      .where(and(eq(sources.id, sourceId), eq(sources.agencyId, agencyId)))
      .for('update');
    if (!before) return undefined;
    const row = await updateSource(tx, agencyId, sourceId, patch);
    await recordChange(tx, {
      agencyId,
      by,
      objectType: 'source',
      objectId: sourceId,
      action: 'updated',
      changes: changesOf(before, { name: patch.name, status: patch.status }),
    });
    return row;
  });
}

/**
 * A source's rule for a campaign set (with `payout`) or only allowed/disallowed (without), with the change in the
 * audit log, in one transaction; undefined when only `allowed` was given and there is no rule yet.
 */
export async function changeSourceCampaign(
  db: Db,
  input: { agencyId: string; sourceId: string; campaignId: string; allowed: boolean; payout?: PayoutRule },
  by: AuditBy,
): Promise<SourceCampaignRow | undefined> {
  return db.transaction(async (tx) => {
    const [before] = await tx
      .select()
      .from(sourceCampaigns)
      .where(and(eq(sourceCampaigns.sourceId, input.sourceId), eq(sourceCampaigns.campaignId, input.campaignId)))
      .for('update');
    const { payout, ...target } = input;
    const row = payout
      ? await setSourceCampaign(tx, { ...target, payout })
      : await setSourceCampaignAllowed(tx, target);
    if (!row) return undefined;
    const view = (r: SourceCampaignRow | undefined) =>
      r ? { allowed: r.allowed, payout: ruleOf(r) } : { allowed: null, payout: null };
    await recordChange(tx, {
      agencyId: input.agencyId,
      by,
      objectType: 'source',
      objectId: input.sourceId,
      action: 'updated',
      changes: Object.fromEntries(
        Object.entries(changesOf(view(before), view(row))).map(([k, v]) => [`campaigns.${input.campaignId}.${k}`, v]),
      ) as AuditChanges,
    });
    return row;
  });
}

export const ruleOf = (r: SourceCampaignRow): PayoutRule =>
  r.payoutKind === 'fixed'
    ? { kind: 'fixed', amount: r.payoutAmount ?? 0 }
    : { kind: 'share', shareBps: r.payoutShareBps ?? 0 };

/** Allows (or disallows) a campaign for a source and sets its payout rule: one row per source and campaign. */
export async function setSourceCampaign(
  db: DbOrTx,
  input: { agencyId: string; sourceId: string; campaignId: string; allowed: boolean; payout: PayoutRule },
): Promise<SourceCampaignRow> {
  const values = {
    allowed: input.allowed,
    payoutKind: input.payout.kind,
    payoutAmount: input.payout.kind === 'fixed' ? (input.payout.amount ?? 0) : null,
    payoutShareBps: input.payout.kind === 'share' ? (input.payout.shareBps ?? 0) : null,
  };
  const [row] = await db
    .insert(sourceCampaigns)
    .values({ sourceId: input.sourceId, campaignId: input.campaignId, agencyId: input.agencyId, ...values })
    .onConflictDoUpdate({
      target: [sourceCampaigns.sourceId, sourceCampaigns.campaignId],
      set: { ...values, updatedAt: new Date() },
    })
    .returning();
  return row!;
}

/** Allows or disallows a campaign for a source, keeping its payout rule; undefined when the source has no rule for it. */
async function setSourceCampaignAllowed(
  db: DbOrTx,
  input: { agencyId: string; sourceId: string; campaignId: string; allowed: boolean },
): Promise<SourceCampaignRow | undefined> {
  const [row] = await db
    .update(sourceCampaigns)
    .set({ allowed: input.allowed, updatedAt: new Date() })
    .where(
      and(
        eq(sourceCampaigns.sourceId, input.sourceId),
        eq(sourceCampaigns.campaignId, input.campaignId),
        eq(sourceCampaigns.agencyId, input.agencyId),
      ),
    )
    .returning();
  return row;
}

/** Every campaign rule of a source, with the campaign's name and status. */
export async function sourceCampaignRules(db: DbOrTx, sourceId: string) {
  return db
    .select({
      rule: sourceCampaigns,
      campaignName: campaigns.name,
      campaignStatus: campaigns.status,
      serviceLine: campaigns.serviceLine,
      mode: campaigns.mode,
    })
    .from(sourceCampaigns)
    .innerJoin(campaigns, eq(campaigns.id, sourceCampaigns.campaignId))
    .where(eq(sourceCampaigns.sourceId, sourceId))
    .orderBy(campaigns.name);
}

/**
 * Whether a source of the agency may post into a campaign, in one query: its
 * status, and its rule for the campaign when the campaign is allowed to it
 * (null otherwise). Undefined: no such source in the agency.
 */
export async function postingAccess(
  db: DbOrTx,
  agencyId: string,
  sourceId: string,
  campaignId: string,
): Promise<{ status: SourceStatus; rule: SourceCampaignRow | null } | undefined> {
  const [row] = await db
    .select({ status: sources.status, rule: sourceCampaigns })
    .from(sources)
    .leftJoin(
      sourceCampaigns,
      and(
        eq(sourceCampaigns.sourceId, sources.id),
        eq(sourceCampaigns.campaignId, campaignId),
        eq(sourceCampaigns.allowed, true),
      ),
    )
    .where(and(eq(sources.id, sourceId), eq(sources.agencyId, agencyId)));
  return row;
}

export interface SourceLead {
  id: string;
  campaignId: string;
  subId: string | null;
  clickId: string | null;
  status: LeadStatus;
  outcome: SourceOutcome;
  /** Net payout of the lead: its payouts less their reversals. */
  payout: number;
  createdAt: Date;
}

/** A source's own leads with their outcomes and payouts, newest first (keyset pages). */
export async function listSourceLeads(
  db: DbOrTx,
  sourceId: string,
  page: PageArgs,
  range: DateRange | null = null,
): Promise<Page<SourceLead>> {
  const rows = await db
    .select({
      id: leads.id,
      campaignId: leads.campaignId,
      subId: leads.subId,
      clickId: leads.clickId,
      status: leads.status,
      createdAt: leads.createdAt,
      sortAt: sortKeyAt(leads.createdAt),
      activeSales: sql<number>`(SELECT count(*) FROM assignments a WHERE a.lead_id = "leads"."id" AND a.status = 'active')::int`,
      returnedSales: sql<number>`(SELECT count(*) FROM assignments a WHERE a.lead_id = "leads"."id" AND a.status = 'refunded')::int`,
      payout: sql<number>`(SELECT coalesce(sum(e.amount), 0) FROM source_ledger_entries e WHERE e.lead_id = "leads"."id")::int`,
    })
    .from(leads)
    .where(
      and(
        eq(leads.sourceId, sourceId),
        range ? inRange(leads.createdAt, range) : undefined,
        olderThan(leads.createdAt, leads.id, page.after),
      ),
    )
    .orderBy(desc(leads.createdAt), desc(leads.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.id,
    (r) => ({
      id: r.id,
      campaignId: r.campaignId,
      subId: r.subId,
      clickId: r.clickId,
      status: r.status,
      outcome: sourceOutcome({
        status: r.status,
        activeSales: Number(r.activeSales),
        returnedSales: Number(r.returnedSales),
      }),
      payout: Number(r.payout),
      createdAt: r.createdAt,
    }),
  );
}

// ─── source ledger ──────────────────────────────────────────────────────────

/**
 * The source ledger: what the agency owes each lead source. The same shape and
 * guarantees as the buyers' ledger (db/ledger.ts, migrations 0001 and 0006):
 * integer amounts, a unique idempotency key, the balance moved by a trigger in
 * the same statement, append-only. A payout is written inside the sale's own
 * transaction (`recordSourcePayout`, called by `sellWithin`), so there is no
 * sold lead without its payout and no payout without a sale; an approved
 * return reverses it exactly once (`reverseSourcePayout`, called by
 * `resolveDispute`), and the database refuses a reversal that is not exactly
 * its payout. A settlement (the agency paid the source) or an adjustment (a
 * correction) is written by `recordSourceSettlement`, which decides under the
 * wallet's row lock whether the balance can bear it.
 */

export type SourceLedgerEntry = typeof sourceLedgerEntries.$inferSelect;

interface SourceEntryInput {
  sourceId: string;
  agencyId: string;
  kind: SourceLedgerKind;
  amount: number;
  idempotencyKey: string;
  leadId?: string | null;
  assignmentId?: string | null;
  reference?: string | null;
}

/** Posts one entry at most once per idempotency key (a repeat returns the first, `created: false`). */
async function postSourceEntry(
  db: DbOrTx,
  input: SourceEntryInput,
): Promise<{ entry: SourceLedgerEntry; created: boolean }> {
  const inserted = await db
    .insert(sourceLedgerEntries)
    .values({
      sourceId: input.sourceId,
      agencyId: input.agencyId,
      kind: input.kind,
      amount: input.amount,
      idempotencyKey: input.idempotencyKey,
      leadId: input.leadId ?? null,
      assignmentId: input.assignmentId ?? null,
      reference: input.reference ?? null,
    })
    .onConflictDoNothing({ target: sourceLedgerEntries.idempotencyKey })
    .returning();
  if (inserted[0]) return { entry: inserted[0], created: true };
  const [existing] = await db
    .select()
    .from(sourceLedgerEntries)
    .where(eq(sourceLedgerEntries.idempotencyKey, input.idempotencyKey));
  if (!existing) throw new Error(`source ledger entry ${input.idempotencyKey} vanished`);
  return { entry: existing, created: false };
}

async function createSourceWallet(db: DbOrTx, sourceId: string, agencyId: string): Promise<void> {
  await db.insert(sourceWallets).values({ sourceId, agencyId }).onConflictDoNothing();
}

export async function sourceBalance(db: DbOrTx, sourceId: string): Promise<number> {
  const [row] = await db
    .select({ balance: sourceWallets.balance })
    .from(sourceWallets)
    .where(eq(sourceWallets.sourceId, sourceId));
  return row?.balance ?? 0;
}

/**
 * The payout of a sale, inside the sale's transaction, right after its
 * assignment: nothing for a lead the agency entered itself; for a source's
 * lead, the rule of the campaign the source posted it into, applied to the
 * sale price. Idempotent per assignment.
 */
export async function recordSourcePayout(
  tx: DbOrTx,
  sale: { leadId: string; assignmentId: string; agencyId: string; price: number },
): Promise<SourceLedgerEntry | null> {
  const [row] = await tx
    .select({ sourceId: leads.sourceId, rule: sourceCampaigns })
    .from(leads)
    .leftJoin(
      sourceCampaigns,
      and(eq(sourceCampaigns.sourceId, leads.sourceId), eq(sourceCampaigns.campaignId, leads.campaignId)),
    )
    .where(eq(leads.id, sale.leadId));
  if (!row?.sourceId) return null;
  // A source posts only into campaigns with a rule; should the rule be gone, the payout is 0, still recorded.
  let amount = row.rule
    ? payoutFor(
        {
          kind: row.rule.payoutKind,
          amount: row.rule.payoutAmount ?? undefined,
          shareBps: row.rule.payoutShareBps ?? undefined,
        },
        sale.price,
      )
    : 0;
  // A fixed amount is per lead: a second sale of a shared lead pays nothing more while the first payout stands.
  if (row.rule?.payoutKind === 'fixed' && amount > 0) {
    const [standing] = await tx
      .select({ net: sql<number>`coalesce(sum(${sourceLedgerEntries.amount}), 0)::int` })
      .from(sourceLedgerEntries)
      .where(
        and(eq(sourceLedgerEntries.leadId, sale.leadId), inArray(sourceLedgerEntries.kind, ['payout', 'reversal'])),
      );
    if ((standing?.net ?? 0) > 0) amount = 0;
  }
  const { entry } = await postSourceEntry(tx, {
    sourceId: row.sourceId,
    agencyId: sale.agencyId,
    kind: 'payout',
    amount,
    idempotencyKey: sourcePayoutKey(sale.assignmentId),
    leadId: sale.leadId,
    assignmentId: sale.assignmentId,
  });
  return entry;
}

/** Reverses the payout of a returned sale, once; nothing when the sale had no payout. */
export async function reverseSourcePayout(
  tx: DbOrTx,
  assignmentId: string,
  reference: string,
): Promise<SourceLedgerEntry | null> {
  const [payout] = await tx
    .select()
    .from(sourceLedgerEntries)
    .where(and(eq(sourceLedgerEntries.assignmentId, assignmentId), eq(sourceLedgerEntries.kind, 'payout')));
  if (!payout) return null;
  const { entry } = await postSourceEntry(tx, {
    sourceId: payout.sourceId,
    agencyId: payout.agencyId,
    kind: 'reversal',
    amount: -payout.amount,
    idempotencyKey: sourceReversalKey(assignmentId),
    leadId: payout.leadId,
    assignmentId,
    reference,
  });
  return entry;
}

export interface SettlementInput {
  sourceId: string;
  agencyId: string;
  kind: Extract<SourceLedgerKind, 'settlement' | 'adjustment'>;
  /** The entry's signed amount: a settlement is negative, an adjustment either way (never 0). */
  amount: number;
  reference: string;
  idempotencyKey: string;
}

export type SettlementResult =
  | { refused: false; entry: SourceLedgerEntry; created: boolean }
  /** The entry would take the balance below zero: the agency would have paid more than it owes. */
  | { refused: true; balance: number };

/**
 * Records that the agency paid a source (or corrects its balance), at most
 * once per idempotency key. The wallet row is locked first, so concurrent
 * settlements of one source are decided one after the other on the balance
 * the previous one left: together they can never pay more than is owed. The
 * key is looked up under that lock, so a retry of a settlement that already
 * committed answers its entry even though the balance has since dropped.
 * An entry that raises the balance (a positive adjustment) is never refused.
 */
export async function recordSourceSettlement(db: Db, input: SettlementInput): Promise<SettlementResult> {
  return db.transaction(async (tx) => {
    const [wallet] = await tx
      .select({ balance: sourceWallets.balance })
      .from(sourceWallets)
      .where(eq(sourceWallets.sourceId, input.sourceId))
      .for('update');
    if (!wallet) throw new Error(`no wallet for source ${input.sourceId}`);
    const [existing] = await tx
      .select()
      .from(sourceLedgerEntries)
      .where(eq(sourceLedgerEntries.idempotencyKey, input.idempotencyKey));
    if (existing) return { refused: false, entry: existing, created: false };
    if (input.amount < 0 && wallet.balance + input.amount < 0) return { refused: true, balance: wallet.balance };
    const { entry, created } = await postSourceEntry(tx, input);
    return { refused: false, entry, created };
  });
}

export async function listSourceLedger(db: DbOrTx, sourceId: string, page: PageArgs): Promise<Page<SourceLedgerEntry>> {
  return newestFirst(db, sourceLedgerEntries, and(eq(sourceLedgerEntries.sourceId, sourceId)), page);
}

// ─── pings ──────────────────────────────────────────────────────────────────

/**
 * Pings: a source asks "would you take this lead, and what would you pay?"
 * before it sends the person's identity. Each ping is recorded with its
 * decision (for the source report's count and accept rate) and may be posted
 * once, before it expires. Claiming a ping for its post is one conditional
 * UPDATE, so two posts of the same ping cannot both pass.
 */

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

/** Frees a claimed ping whose lead was not stored (paused campaign, consent, duplicate): it may be posted again. */
export async function releasePing(db: DbOrTx, pingId: string): Promise<void> {
  await db.update(pings).set({ postedAt: null, leadId: null }).where(eq(pings.id, pingId));
}

/** Whether the database's clock has passed the ping's expiry (the same clock claimPing uses). */
export async function pingExpired(db: DbOrTx, pingId: string): Promise<boolean> {
  const [row] = await db
    .select({ expired: sql<boolean>`${pings.expiresAt} <= now()` })
    .from(pings)
    .where(eq(pings.id, pingId));
  return Boolean(row?.expired);
}
