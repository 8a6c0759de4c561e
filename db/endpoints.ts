/**
 * Buyer endpoints (#22): every read and write of `buyer_endpoints` and its log
 * `endpoint_calls`.
 *
 * The endpoint's secret (a header token, a basic password or a Standard
 * Webhooks key) is sealed by the key store (purpose `buyer_endpoint.secret`,
 * context the row's id) and opened only to make a call (`openedForCalls`);
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
import { PgTransaction } from 'drizzle-orm/pg-core';

import { ENDPOINT_LOG_SIZE, type EndpointCall, type EndpointSettings, FAILING_OUTCOMES } from '../domain/endpoints';
import { turnBatcher } from '../lib/burst';
import { keyStore } from '../lib/key-store';
import { agencySettings, autoPauseAfterFailures } from './agencies';
import { type AuditBy, recordChange, SYSTEM } from './audit';
import type { DbOrTx } from './connection';
import { buyerEndpoints, endpointCallFacts, endpointCalls } from './schema';

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
const summary = (s: Pick<EndpointRow, 'pingUrl' | 'postUrl' | 'statusUrl' | 'authKind' | 'status' | 'timeoutMs'>) => ({
  pingUrl: s.pingUrl,
  postUrl: s.postUrl,
  statusUrl: s.statusUrl,
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

/** The row with its secret opened by the key store: only for an endpoint about to be called. */
export function openedForCalls(row: EndpointRow): EndpointForCalls {
  return { ...row, secret: row.secretSealed ? keyStore().open(row.secretSealed, SECRET_PURPOSE, row.id) : null };
}

/** The endpoint of a buyer, secret opened, or null. */
export async function endpointForCalls(db: DbOrTx, buyerId: string): Promise<EndpointForCalls | null> {
  const row = await endpointOfBuyer(db, buyerId);
  return row ? openedForCalls(row) : null;
}

/**
 * The endpoints of these buyers (those that have one), secrets still sealed: the caller opens (`openedForCalls`)
 * only those it calls – a tier's pings open the secrets of the eligible, pingable ones, not of every endpoint listed.
 */
export async function endpointsOfBuyers(db: DbOrTx, buyerIds: string[]): Promise<EndpointRow[]> {
  if (buyerIds.length === 0) return [];
  return db.select().from(buyerEndpoints).where(inArray(buyerEndpoints.buyerId, buyerIds));
}

// ─── the log ─────────────────────────────────────────────────────────────────

/**
 * The log holds at most this many calls of an endpoint before it is trimmed back to ENDPOINT_LOG_SIZE: trimmed
 * once every twenty calls or so (one DELETE of twenty rows) rather than a row at every call. The log page reads the
 * last ENDPOINT_LOG_SIZE (`listEndpointCalls`), so the slack is never shown.
 */
export const ENDPOINT_LOG_SLACK = 120;

/** One call to record, as `recordEndpointCall` is handed it. */
interface CallToRecord {
  call: EndpointCall;
  pauseNow?: string;
}

/** How one endpoint's health moves through the calls of one batch, in their order (see `healthOf`). */
interface HealthMove {
  endpoint_id: string;
  /** Whether an answer the rules read (accepted, rejected) resets the run of failures in the batch. */
  reset: boolean;
  /** Failing calls before the batch's first reset (all of them without one): they lengthen the stored run. */
  fails_first: number;
  /** Failing calls after the batch's last reset: the run the endpoint is left with when there is one. */
  fails_last: number;
  fails: number;
}

/**
 * The statement that records a batch of calls (one turn's, `recordEndpointCall`): the calls inserted in their order
 * (each its own clock_timestamp(), pushed on by its place in the batch in microseconds and past its endpoint's last
 * call, so the log's order is the order they came even where the clock ticks in milliseconds, as PGlite's does; the
 * facts trigger writes each one's fact row), the log of each endpoint in the
 * batch trimmed back to ENDPOINT_LOG_SIZE once it holds more than ENDPOINT_LOG_SLACK (its DELETE sees the log as
 * it was before the batch: the batch's own n rows are newer, so ENDPOINT_LOG_SIZE − n of the old ones stay), and
 * the health: each endpoint's run of failures moved as the calls, one after the other, would move it – under the
 * row's lock, so concurrent batches add up. Answers the moved endpoints with their run before the batch (for the
 * auto-pause, `recordCalls`). $1: the calls (JSON, with `ord`); $2: the health moves (JSON).
 */
const RECORD_CALLS = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    ord int, endpoint_id uuid, lead_id uuid, kind text, step text, request jsonb, response jsonb, latency_ms int,
    outcome text, bid int, ping_id text, reason text, idempotency_key text)
),
counts AS (
  SELECT endpoint_id, count(*)::int AS n,
    (SELECT max(c.created_at) FROM endpoint_calls c WHERE c.endpoint_id = input.endpoint_id) AS last_at
  FROM input GROUP BY endpoint_id
),
inserted AS (
  INSERT INTO endpoint_calls (endpoint_id, lead_id, kind, step, request, response, latency_ms, outcome, bid,
    ping_id, reason, idempotency_key, created_at)
  SELECT i.endpoint_id, i.lead_id, i.kind, i.step, i.request, i.response, i.latency_ms, i.outcome, i.bid, i.ping_id,
    i.reason, i.idempotency_key,
    GREATEST(clock_timestamp(), t.last_at + interval '1 microsecond') + i.ord * interval '1 microsecond'
  FROM input i JOIN counts t ON t.endpoint_id = i.endpoint_id ORDER BY i.ord
  RETURNING 1
),
trimmed AS (
  DELETE FROM endpoint_calls d WHERE d.id IN (
    SELECT old.id FROM counts t
    CROSS JOIN LATERAL (
      SELECT c.id FROM endpoint_calls c WHERE c.endpoint_id = t.endpoint_id
      ORDER BY c.created_at DESC OFFSET GREATEST(0, ${ENDPOINT_LOG_SIZE} - t.n)) old
    WHERE EXISTS (
      SELECT 1 FROM endpoint_calls c WHERE c.endpoint_id = t.endpoint_id OFFSET GREATEST(0, ${ENDPOINT_LOG_SLACK} - t.n)))
  RETURNING 1
),
health AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS h(endpoint_id uuid, reset boolean, fails_first int, fails_last int, fails int)
),
locked AS (
  SELECT e.id, e.consecutive_failures AS before FROM buyer_endpoints e JOIN health h ON h.endpoint_id = e.id
  WHERE h.fails > 0 OR (h.reset AND e.consecutive_failures > 0)
  FOR UPDATE OF e
),
moved AS (
  UPDATE buyer_endpoints e
  SET consecutive_failures = CASE WHEN h.reset THEN h.fails_last ELSE l.before + h.fails_first END
  FROM locked l JOIN health h ON h.endpoint_id = l.id
  WHERE e.id = l.id
  RETURNING e.id, e.agency_id, e.status, l.before
)
SELECT id, agency_id, status, before FROM moved`;

/** The calls of a batch that move their endpoint's health: not test calls, not those that pause it at once. */
const counted = (c: CallToRecord) => c.call.kind !== 'test' && !c.pauseNow;
const resets = (c: CallToRecord) => c.call.outcome === 'accepted' || c.call.outcome === 'rejected';
/** A status query left unanswered does not lengthen the run: its post's own unanswered send already did. */
const fails = (c: CallToRecord) => c.call.step !== 'status' && FAILING_OUTCOMES.has(c.call.outcome);

/** Each endpoint's health move over a batch's calls (those that move none are left out). */
function healthOf(items: CallToRecord[]): HealthMove[] {
  const moves = new Map<string, HealthMove>();
  for (const item of items.filter(counted)) {
    if (!resets(item) && !fails(item)) continue;
    const id = item.call.endpointId;
    let m = moves.get(id);
    if (!m) moves.set(id, (m = { endpoint_id: id, reset: false, fails_first: 0, fails_last: 0, fails: 0 }));
    if (resets(item)) {
      m.reset = true;
      m.fails_last = 0;
    } else {
      m.fails += 1;
      m.fails_last += 1;
      if (!m.reset) m.fails_first += 1;
    }
  }
  return [...moves.values()];
}

/** A statement run as a named prepared statement on a node-postgres pool (parsed and planned once per connection). */
interface PgPool {
  totalCount: number;
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

function pgPoolOf(db: DbOrTx): PgPool | null {
  if (db instanceof PgTransaction) return null;
  const client = (db as { $client?: unknown }).$client;
  return typeof client === 'object' && client !== null && 'totalCount' in client && 'query' in client
    ? (client as PgPool)
    : null;
}

/** Runs `text` (parameters $1…$n) on `db`: prepared on a node-postgres pool, else through drizzle (a transaction, PGlite). */
async function runPrepared<T>(db: DbOrTx, name: string, text: string, values: unknown[]): Promise<T[]> {
  const pool = pgPoolOf(db);
  if (pool) return (await pool.query({ name, text, values })).rows as T[];
  const parts = text.split(/\$(\d+)/);
  const chunks = parts.map((part, i) => (i % 2 === 0 ? sql.raw(part) : sql.param(values[Number(part) - 1])));
  return ((await db.execute(sql.join(chunks))) as unknown as { rows: T[] }).rows;
}

/**
 * Records the calls of one batch with ONE statement (`RECORD_CALLS`), then pauses what they pause, in the calls'
 * order: `pauseNow` at once, or a run of failures reaching the agency's limit at the call that reaches it (read
 * only when a run grew on an active endpoint). Answers, per call, whether it paused its endpoint.
 */
async function recordCalls(
  db: DbOrTx,
  items: CallToRecord[],
): Promise<Array<{ paused: boolean } | Promise<{ paused: boolean }>>> {
  const calls = items.map(({ call }, ord) => ({
    ord,
    endpoint_id: call.endpointId,
    lead_id: call.leadId,
    kind: call.kind,
    step: call.step,
    request: call.request,
    response: call.response,
    latency_ms: Math.max(0, Math.round(call.latencyMs)),
    outcome: call.outcome,
    bid: call.bid ?? null,
    ping_id: call.pingId?.slice(0, 200) ?? null,
    reason: call.reason?.slice(0, 500) ?? null,
    idempotency_key: call.idempotencyKey ?? null,
  }));
  let moved: Array<{ id: string; agency_id: string; status: string; before: number }>;
  try {
    moved = await runPrepared(db, 'lw_record_endpoint_calls', RECORD_CALLS, [
      JSON.stringify(calls),
      JSON.stringify(healthOf(items)),
    ]);
  } catch (err) {
    // The statement wrote nothing. One call it could not record (its endpoint deleted meanwhile, say) must not
    // fail the other calls of its turn: each is recorded alone, one after the other (in their order), and fails alone.
    if (items.length === 1 || db instanceof PgTransaction) throw err;
    let previous: Promise<unknown> = Promise.resolve();
    return items.map((item) => {
      const alone = previous.then(() => recordCalls(db, [item])).then((r) => r[0]!);
      previous = alone.catch(() => undefined);
      return alone;
    });
  }
  // What to pause, by the index of the call that pauses it.
  const pauses: Array<{ at: number; endpointId: string; reason: string }> = [];
  items.forEach((item, at) => {
    if (item.call.kind !== 'test' && item.pauseNow)
      pauses.push({ at, endpointId: item.call.endpointId, reason: item.pauseNow });
  });
  const limits = new Map<string, number>();
  for (const row of moved) {
    if (row.status !== 'active') continue;
    // The run of failures as each of the batch's calls moved it, from the run the row held before them.
    let run = row.before;
    for (const [at, item] of items.entries()) {
      if (item.call.endpointId !== row.id || !counted(item)) continue;
      if (resets(item)) run = 0;
      else if (fails(item)) {
        run += 1;
        if (!limits.has(row.agency_id))
          limits.set(row.agency_id, autoPauseAfterFailures(await agencySettings(db, row.agency_id)));
        const limit = limits.get(row.agency_id)!;
        if (limit <= 0 || run < limit) continue;
        const { step, outcome, reason } = item.call;
        const why = `auto-paused: ${run} consecutive failed calls (last: ${step} ${outcome}${reason ? `: ${reason.slice(0, 200)}` : ''})`;
        pauses.push({ at, endpointId: row.id, reason: why });
        break;
      }
    }
  }
  const paused = items.map(() => ({ paused: false }));
  for (const p of pauses.sort((a, b) => a.at - b.at))
    if (await pauseEndpoint(db, p.endpointId, p.reason)) paused[p.at] = { paused: true };
  return paused;
}

/** One batcher per database handle: the calls recorded in one turn of the event loop go in one statement. */
const callRecorders = new WeakMap<object, (item: CallToRecord) => Promise<{ paused: boolean }>>();

/**
 * Records one call (the log keeps the last ENDPOINT_LOG_SIZE of its endpoint: trimmed past ENDPOINT_LOG_SLACK)
 * and, for a ping or a post, the endpoint's health: an answer the rules read resets the run of failures, a failing
 * outcome lengthens it and pauses the endpoint at the agency's limit; `pauseNow` (a refused address, a 410) pauses
 * it at once. Answers whether this call paused it, once it is recorded.
 *
 * Outside a transaction, the calls of one event-loop turn (a tier's pings landing together, several leads' tiers
 * at once) are recorded together by ONE statement (`recordCalls`), each as if recorded alone, in the order they
 * came; inside one, the call alone on its connection.
 */
export async function recordEndpointCall(
  db: DbOrTx,
  call: EndpointCall,
  opts: { pauseNow?: string } = {},
): Promise<{ paused: boolean }> {
  const item: CallToRecord = { call, pauseNow: opts.pauseNow };
  if (db instanceof PgTransaction) return (await recordCalls(db, [item]))[0]!;
  let record = callRecorders.get(db);
  if (!record) callRecorders.set(db, (record = turnBatcher((items: CallToRecord[]) => recordCalls(db, items))));
  return record(item);
}

/**
 * When the buyer's endpoint accepted the post sent with this idempotency key (the sale's proof, #22), or null when
 * it never did: the post's own accepted answer, or the endpoint's status query answering accepted for that key (a
 * post sent but unanswered, #22 item 4) – both recorded calls under the sale's key, whichever came first. Read from endpoint_call_facts, which are kept for good: the log itself keeps only each endpoint's
 * last ENDPOINT_LOG_SIZE calls, and a busy endpoint's pings may trim an accepted post from it before its sale
 * commits (after a worker's restart, say).
 */
export async function acceptedPostAt(db: DbOrTx, buyerId: string, idempotencyKey: string): Promise<Date | null> {
  const [row] = await db
    .select({ at: endpointCallFacts.createdAt })
    .from(endpointCallFacts)
    .where(
      and(
        eq(endpointCallFacts.buyerId, buyerId),
        eq(endpointCallFacts.idempotencyKey, idempotencyKey),
        inArray(endpointCallFacts.step, ['post', 'status']),
        eq(endpointCallFacts.outcome, 'accepted'),
      ),
    )
    .orderBy(endpointCallFacts.createdAt)
    .limit(1);
  return row?.at ?? null;
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
