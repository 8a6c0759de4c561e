/**
 * Lead sources (suppliers) of an agency: the source itself, the campaigns it
 * may post into with the payout rule of each, and its leads with their
 * outcomes. Every read takes the agency id (or the source's own id, for a
 * source key), so another tenant's source or lead is simply not found.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { sourceOutcome } from '../domain/payout';
import type { LeadStatus, PayoutRule, SourceOutcome, SourceStatus } from '../domain/types';
import type { DbOrTx } from './connection';
import { olderThan, sortKeyAt, toPage, type Page, type PageArgs } from './pages';
import { campaigns, leads, sourceCampaigns, sources, sourceWallets } from './schema';
import { inRange, type DateRange } from './reports';
import { createSourceWallet } from './source-ledger';

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

export async function updateSource(
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
