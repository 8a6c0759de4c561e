/** Reads and actions the lifecycle tests share: wait for an offer, claim it, read the ledger and timeline. */
import crypto from 'node:crypto';

import type { Client } from '@temporalio/client';
import { and, asc, eq } from 'drizzle-orm';

import { claimThroughWorkflow } from '../../claims/relay';
import type { Db } from '../../db/connection';
import { offerTimeline } from '../../db/offers';
import { assignments, leads, ledgerEntries, offers, offerTargets, wallets } from '../../db/schema';
import type { LeadStatus } from '../../domain/types';
import type { ClaimResult } from '../../workflows/messages';
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
): Promise<ClaimResult> {
  if (!claimsDb) throw new Error('claim() needs useClaimsDb(db) first (lifecycleSuite does it)');
  return claimThroughWorkflow({ db: claimsDb, temporal: client, timeoutMs: 30_000 }, offer, buyerId, requestId, 'api');
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
