/**
 * Buyer endpoints (#22): every read and write of `buyer_endpoints` and its log
 * `endpoint_calls`.
 *
 * The endpoint's secret (a header token, a basic password or a Standard
 * Webhooks key) is sealed by the key store (purpose `buyer_endpoint.secret`,
 * context the row's id) and opened only to make a call (`endpointForCalls`);
 * no read for the API carries it. It is in SEALED_SECRETS (db/key-store.ts)
 * through `endpointSecretKeyIds` and `rewrapEndpointSecrets`.
 *
 * A recorded call also keeps the endpoint's health: a run of failing calls
 * (domain/endpoints.ts FAILING_OUTCOMES) as long as the agency's
 * `autoPauseAfterFailures` pauses it, as failed deliveries pause a buyer; a
 * refused address or a 410 pauses it at once, as a 410 pauses a webhook.
 * Test calls are logged but never counted.
 */
import crypto from 'node:crypto';

import { and, desc, eq, inArray, sql } from 'drizzle-orm';

import { ENDPOINT_LOG_SIZE, type EndpointCall, type EndpointSettings, FAILING_OUTCOMES } from '../domain/endpoints';
import { keyStore } from '../lib/key-store';
import { agencySettings, autoPauseAfterFailures } from './agencies';
import { type AuditBy, recordChange, SYSTEM } from './audit';
import type { DbOrTx } from './connection';
import { buyerEndpoints, endpointCalls } from './schema';

export type { EndpointSettings } from '../domain/endpoints';
export type EndpointRow = typeof buyerEndpoints.$inferSelect;
export type EndpointCallRow = typeof endpointCalls.$inferSelect;

const SECRET_PURPOSE = 'buyer_endpoint.secret';

/** The buyer's endpoint, or null. */
export async function endpointOfBuyer(db: DbOrTx, buyerId: string): Promise<EndpointRow | null> {
  const [row] = await db.select().from(buyerEndpoints).where(eq(buyerEndpoints.buyerId, buyerId));
  return row ?? null;
}

/** What the audit log says of an endpoint (never its secret). */
const summary = (s: Pick<EndpointRow, 'pingUrl' | 'postUrl' | 'authKind' | 'status' | 'timeoutMs'>) => ({
  pingUrl: s.pingUrl,
  postUrl: s.postUrl,
  authKind: s.authKind,
  status: s.status,
  timeoutMs: s.timeoutMs,
});

/** A change of the endpoint, in its buyer's audit trail. */
function recordEndpointChange(
  db: DbOrTx,
  who: { agencyId: string; buyerId: string; by: AuditBy },
  changes: Record<string, { from: unknown; to: unknown }>,
): Promise<boolean> {
  const { agencyId, buyerId, by } = who;
  return recordChange(db, {
    agencyId,
    buyerId,
    by,
    objectType: 'buyer',
    objectId: buyerId,
    action: 'updated',
    changes,
  });
}

/**
 * Creates or replaces the buyer's endpoint. `secret` undefined keeps the
 * stored one (answers `missing_secret` when the authentication needs one and
 * none is stored); with `authKind: 'none'` any stored secret is dropped. A
 * change of status to active clears the pause and the run of failures.
 */
export async function saveEndpoint(
  db: DbOrTx,
  input: { agencyId: string; buyerId: string; settings: EndpointSettings; secret?: string; by: AuditBy },
): Promise<EndpointRow | 'missing_secret'> {
  const { settings: s } = input;
  const before = await endpointOfBuyer(db, input.buyerId);
  const id = before?.id ?? crypto.randomUUID();
  let secretSealed: string | null = null;
  if (s.authKind !== 'none') {
    if (input.secret !== undefined) secretSealed = keyStore().seal(SECRET_PURPOSE, input.secret, id);
    else if (before?.secretSealed) secretSealed = before.secretSealed;
    else return 'missing_secret';
  }
  const paused = s.status === 'paused';
  const wasPaused = before?.status === 'paused';
  // Still paused without a new reason: the pause stays whose and when it was (the system's, say).
  const keep = paused && wasPaused && s.pauseReason === null;
  const values = {
    ...s,
    secretSealed,
    pauseReason: !paused ? null : keep ? before.pauseReason : s.pauseReason,
    pausedBy: !paused ? null : keep ? before.pausedBy : ('agency' as const),
    pausedAt: !paused ? null : wasPaused ? before.pausedAt : new Date(),
    // Resumed: the run of failures starts again.
    consecutiveFailures: wasPaused && !paused ? 0 : (before?.consecutiveFailures ?? 0),
    updatedAt: new Date(),
  };
  const [row] = await db
    .insert(buyerEndpoints)
    .values({ id, agencyId: input.agencyId, buyerId: input.buyerId, ...values })
    .onConflictDoUpdate({ target: buyerEndpoints.buyerId, set: values })
    .returning();
  const changes: Record<string, { from: unknown; to: unknown }> = {
    endpoint: { from: before ? summary(before) : null, to: summary(row!) },
  };
  if (input.secret !== undefined) changes.endpointSecret = { from: 'set', to: 'set' }; // redacted by the audit log
  await recordEndpointChange(db, input, changes);
  return row!;
}

/** Which of these buyers have an endpoint in this agency (a ping tree's tiers may list only them). */
export async function buyersWithEndpoint(db: DbOrTx, agencyId: string, buyerIds: string[]): Promise<Set<string>> {
  if (buyerIds.length === 0) return new Set();
  const rows = await db
    .select({ buyerId: buyerEndpoints.buyerId })
    .from(buyerEndpoints)
    .where(and(eq(buyerEndpoints.agencyId, agencyId), inArray(buyerEndpoints.buyerId, buyerIds)));
  return new Set(rows.map((r) => r.buyerId));
}

/** Removes the buyer's endpoint and its log; answers whether there was one. */
export async function deleteEndpoint(
  db: DbOrTx,
  input: { agencyId: string; buyerId: string; by: AuditBy },
): Promise<boolean> {
  const gone = await db.delete(buyerEndpoints).where(eq(buyerEndpoints.buyerId, input.buyerId)).returning();
  if (gone.length === 0) return false;
  await recordEndpointChange(db, input, { endpoint: { from: summary(gone[0]!), to: null } });
  return true;
}

/** An endpoint with its secret opened: for the call library only, never for an answer or a log. */
export interface EndpointForCalls extends EndpointRow {
  secret: string | null;
}

function opened(row: EndpointRow): EndpointForCalls {
  return { ...row, secret: row.secretSealed ? keyStore().open(row.secretSealed, SECRET_PURPOSE, row.id) : null };
}

/** The endpoint of a buyer, secret opened, or null. */
export async function endpointForCalls(db: DbOrTx, buyerId: string): Promise<EndpointForCalls | null> {
  const row = await endpointOfBuyer(db, buyerId);
  return row ? opened(row) : null;
}

/** The endpoints of these buyers (those that have one), secrets opened. */
export async function endpointsForCalls(db: DbOrTx, buyerIds: string[]): Promise<EndpointForCalls[]> {
  if (buyerIds.length === 0) return [];
  const rows = await db.select().from(buyerEndpoints).where(inArray(buyerEndpoints.buyerId, buyerIds));
  return rows.map(opened);
}

// ─── the log ─────────────────────────────────────────────────────────────────

/**
 * Records one call (keeping the last ENDPOINT_LOG_SIZE of its endpoint) and,
 * for a ping or a post, the endpoint's health: an answer the rules read
 * resets the run of failures, a failing outcome lengthens it and pauses the
 * endpoint at the agency's limit; `pauseNow` (a refused address, a 410)
 * pauses it at once. Answers whether this call paused it.
 */
export async function recordEndpointCall(
  db: DbOrTx,
  call: EndpointCall,
  opts: { pauseNow?: string } = {},
): Promise<{ paused: boolean }> {
  await db.insert(endpointCalls).values({
    ...call,
    latencyMs: Math.max(0, Math.round(call.latencyMs)),
    reason: call.reason?.slice(0, 500) ?? null,
    pingId: call.pingId?.slice(0, 200) ?? null,
  });
  await db.execute(sql`
    DELETE FROM ${endpointCalls} WHERE ${endpointCalls.id} IN (
      SELECT ${endpointCalls.id} FROM ${endpointCalls} WHERE ${endpointCalls.endpointId} = ${call.endpointId}
      ORDER BY ${endpointCalls.createdAt} DESC OFFSET ${ENDPOINT_LOG_SIZE})`);
  if (call.kind === 'test') return { paused: false };
  if (opts.pauseNow) return { paused: await pauseEndpoint(db, call.endpointId, opts.pauseNow) };
  if (call.outcome === 'accepted' || call.outcome === 'rejected') {
    await db
      .update(buyerEndpoints)
      .set({ consecutiveFailures: 0 })
      .where(and(eq(buyerEndpoints.id, call.endpointId), sql`${buyerEndpoints.consecutiveFailures} > 0`));
    return { paused: false };
  }
  if (!FAILING_OUTCOMES.has(call.outcome)) return { paused: false };
  const [row] = await db
    .update(buyerEndpoints)
    .set({ consecutiveFailures: sql`${buyerEndpoints.consecutiveFailures} + 1` })
    .where(eq(buyerEndpoints.id, call.endpointId))
    .returning();
  if (!row || row.status !== 'active') return { paused: false };
  const limit = autoPauseAfterFailures(await agencySettings(db, row.agencyId));
  if (limit <= 0 || row.consecutiveFailures < limit) return { paused: false };
  const why = `auto-paused: ${row.consecutiveFailures} consecutive failed calls (last: ${call.step} ${call.outcome}${call.reason ? `: ${call.reason.slice(0, 200)}` : ''})`;
  return { paused: await pauseEndpoint(db, call.endpointId, why) };
}

/** Whether the buyer's endpoint accepted the post sent with this idempotency key (the sale's proof, #22). */
export async function postWasAccepted(db: DbOrTx, buyerId: string, idempotencyKey: string): Promise<boolean> {
  const [row] = await db
    .select({ id: endpointCalls.id })
    .from(endpointCalls)
    .innerJoin(buyerEndpoints, eq(buyerEndpoints.id, endpointCalls.endpointId))
    .where(
      and(
        eq(buyerEndpoints.buyerId, buyerId),
        eq(endpointCalls.idempotencyKey, idempotencyKey),
        eq(endpointCalls.kind, 'post'),
        eq(endpointCalls.outcome, 'accepted'),
      ),
    )
    .limit(1);
  return row !== undefined;
}

/** Pauses an active endpoint for the system, with the change in the buyer's log; answers whether it was active. */
async function pauseEndpoint(db: DbOrTx, endpointId: string, reason: string): Promise<boolean> {
  const [row] = await db
    .update(buyerEndpoints)
    .set({ status: 'paused', pauseReason: reason.slice(0, 500), pausedBy: 'system', pausedAt: new Date() })
    .where(and(eq(buyerEndpoints.id, endpointId), eq(buyerEndpoints.status, 'active')))
    .returning();
  if (!row) return false;
  await recordChange(db, {
    agencyId: row.agencyId,
    buyerId: row.buyerId,
    by: SYSTEM,
    objectType: 'buyer',
    objectId: row.buyerId,
    action: 'updated',
    changes: { endpointStatus: { from: 'active', to: 'paused' } },
    note: row.pauseReason,
  });
  return true;
}

/** The endpoint's log, newest first (at most ENDPOINT_LOG_SIZE). */
export async function listEndpointCalls(db: DbOrTx, endpointId: string): Promise<EndpointCallRow[]> {
  return db
    .select()
    .from(endpointCalls)
    .where(eq(endpointCalls.endpointId, endpointId))
    .orderBy(desc(endpointCalls.createdAt))
    .limit(ENDPOINT_LOG_SIZE);
}

// ─── the key store's rotation (db/key-store.ts SEALED_SECRETS) ───────────────

export async function endpointSecretKeyIds(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .selectDistinct({ keyId: sql<string>`split_part(${buyerEndpoints.secretSealed}, '.', 2)` })
    .from(buyerEndpoints)
    .where(sql`${buyerEndpoints.secretSealed} IS NOT NULL`);
  return rows.map((r) => r.keyId);
}

/** Moves up to `limit` endpoint secrets to the current master key, each conditional on the value read. */
export async function rewrapEndpointSecrets(db: DbOrTx, limit: number): Promise<number> {
  const store = keyStore();
  const rows = await db
    .select({ id: buyerEndpoints.id, sealed: buyerEndpoints.secretSealed })
    .from(buyerEndpoints)
    .where(sql`split_part(${buyerEndpoints.secretSealed}, '.', 2) <> ${store.currentKeyId}`)
    .limit(limit);
  let moved = 0;
  for (const r of rows) {
    const done = await db
      .update(buyerEndpoints)
      .set({ secretSealed: store.rewrap(r.sealed!) })
      .where(and(eq(buyerEndpoints.id, r.id), eq(buyerEndpoints.secretSealed, r.sealed!)))
      .returning({ id: buyerEndpoints.id });
    moved += done.length;
  }
  return moved;
}
