/** Reads and actions the lifecycle tests share: wait for an offer, claim it, read the ledger and timeline. */
import crypto from 'node:crypto';

import type { Client } from '@temporalio/client';
import { and, asc, eq } from 'drizzle-orm';

import { claimThroughWorkflow, type RelayedClaim } from '../../claims/relay';
import type { Db } from '../../db/connection';
import { offerTimeline } from '../../db/offers';
import { assignments, leads, ledgerEntries, offers, offerTargets, wallets } from '../../db/schema';
import type { LeadStatus } from '../../domain/types';
import { type BidResult, bidUpdate } from '../../workflows/messages';
import { eventually } from './temporal';

export async function waitForOffer(db: Db, leadId: string, nth = 0, timeoutMs = 20_000) {
  return eventually(
    async () => {
      const rows = await db.select().from(offers).where(eq(offers.leadId, leadId)).orderBy(asc(offers.openedAt));
      return rows[nth];
    },
    timeoutMs,
    `offer #${nth} of lead ${leadId}`,
  );
}

/**
 * Waits until the offer's workflow has finished opening it and waits for claims (its window's timer is started): the
 * open, a local activity, is over, so nothing of it is left for a stalled database to hold.
 */
export async function waitForOfferWindow(client: Client, workflowId: string, timeoutMs = 20_000): Promise<void> {
  await eventually(
    async () => {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      return (history.events ?? []).some((e) => e.timerStartedEventAttributes) || undefined;
    },
    timeoutMs,
    `the window timer of ${workflowId}`,
  );
}

export async function waitForLeadStatus(db: Db, leadId: string, status: LeadStatus, timeoutMs = 30_000) {
  return eventually(
    async () => {
      const [row] = await db.select().from(leads).where(eq(leads.id, leadId));
      return row?.status === status ? row : undefined;
    },
    timeoutMs,
    `lead ${leadId} to be ${status}`,
  );
}

let claimsDb: Db | null = null;
/** The database `claim` records refusals in (lifecycleSuite sets it). */
export function useClaimsDb(db: Db | null): void {
  claimsDb = db;
}

/** Claims as the API does after its own checks: the workflow's Update, refusals written to the timeline. */
export async function claim(
  client: Client,
  offer: { id: string; leadId: string; workflowId: string },
  buyerId: string,
  requestId: string = crypto.randomUUID(),
): Promise<RelayedClaim> {
  if (!claimsDb) throw new Error('claim() needs useClaimsDb(db) first (lifecycleSuite does it)');
  return claimThroughWorkflow({ db: claimsDb, temporal: client, timeoutMs: 30_000 }, offer, buyerId, requestId, 'api');
}

/** A sealed bid on a highest-bid offer, as the API places it: the workflow's bid Update. */
export async function placeBid(
  client: Client,
  offer: { id: string; workflowId: string },
  buyerId: string,
  amount: number,
  requestId: string = crypto.randomUUID(),
): Promise<BidResult> {
  return client.workflow
    .getHandle(offer.workflowId)
    .executeUpdate(bidUpdate, { args: [{ offerId: offer.id, buyerId, amount, requestId }] });
}

/** Every ledger entry of a lead, as [buyer, kind, amount], in the order their transactions began. */
export async function ledgerOf(db: Db, leadId: string) {
  const rows = await db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.leadId, leadId))
    .orderBy(asc(ledgerEntries.createdAt));
  return rows.map((e) => [e.buyerId, e.kind, e.amount] as const);
}

export async function balanceOf(db: Db, buyerId: string): Promise<number> {
  const [w] = await db.select().from(wallets).where(eq(wallets.buyerId, buyerId));
  return w?.balance ?? 0;
}

export async function chargesFor(db: Db, offerId: string) {
  return db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.offerId, offerId), eq(ledgerEntries.kind, 'charge')));
}

export async function assignmentsFor(db: Db, leadId: string) {
  return db.select().from(assignments).where(eq(assignments.leadId, leadId));
}

export async function targetsOf(db: Db, offerId: string) {
  return db.select().from(offerTargets).where(eq(offerTargets.offerId, offerId));
}

export async function timelineCounts(db: Db, offerId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of await offerTimeline(db, offerId)) counts[e.type] = (counts[e.type] ?? 0) + 1;
  return counts;
}
