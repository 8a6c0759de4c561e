/**
 * Third-party scrubs (#23 item 5), the data side. Tables: scrub_settings (an
 * agency's providers, their sealed credentials and their circuit's state),
 * scrub_usage (calls per UTC month, the budget), scrub_cache (one answer per
 * number and UTC day, by keyed HMAC).
 *
 * Everything an agency's processes must agree on is here, in the database:
 * - the **cache**: a number is looked up at most once per scrub and UTC day,
 *   whichever process sees it. The first process claims the day's row (an
 *   insert that only one wins) and calls; another that meets the claim waits
 *   for its verdict, briefly. A failed call drops its claim, so the next lead
 *   tries again. The number is only ever the agency's keyed HMAC
 *   (db/suppression.ts's hasher).
 * - the **budget**: a call is made only after `calls + 1 <= budget` was
 *   reserved by one conditional UPDATE, so N processes never overspend it.
 * - the **circuit breaker**, shared per agency and scrub (not per process):
 *   with several API processes, per-process circuits would each spend the
 *   failure threshold on a provider that is down, each probe it and each
 *   alert; the shared row opens once, alerts once, lets exactly one probe
 *   through when the cool-down ends (a conditional UPDATE claims it), and
 *   closes for every process on the probe's success. It costs nothing extra:
 *   the row is read anyway for the settings.
 *
 * The credentials are sealed by the key store (purpose `scrub.secret`,
 * context `<agency id>:<scrub>`) and are in its rotation (db/key-store.ts).
 */
import { and, eq, sql } from 'drizzle-orm';

import { type ScrubCredentials, utcDay, utcMonth } from '../domain/scrubs';
import type { LitigatorRule, Scrub } from '../domain/types';
import { keyStore } from '../lib/key-store';
import { type AuditBy, recordChange, SYSTEM } from './audit';
import type { DbOrTx } from './connection';
import { scrubCache, scrubSettings, scrubUsage } from './schema';

export type ScrubSettingsRow = typeof scrubSettings.$inferSelect;

const SECRET_PURPOSE = 'scrub.secret';
const context = (agencyId: string, scrub: Scrub) => `${agencyId}:${scrub}`;

/** The agency's scrub providers (at most one row per scrub). */
export async function scrubSettingsOf(db: DbOrTx, agencyId: string): Promise<ScrubSettingsRow[]> {
  return db.select().from(scrubSettings).where(eq(scrubSettings.agencyId, agencyId)).orderBy(scrubSettings.scrub);
}

/** The provider's credentials, opened from the key store (only to make a call). */
export function scrubCredentials(row: ScrubSettingsRow): ScrubCredentials {
  return {
    username: row.username,
    secret: keyStore().open(row.secretSealed, SECRET_PURPOSE, context(row.agencyId, row.scrub)),
  };
}

export interface ScrubSettingsInput {
  enabled: boolean;
  baseUrl: string;
  username?: string | null;
  /** Undefined keeps the stored secret. */
  secret?: string;
  monthlyBudget: number | null;
  timeoutMs: number;
  failureThreshold: number;
  cooldownMs: number;
  litigatorRule: LitigatorRule;
}

/** What the audit log says of a provider's settings (never its secret). */
const summary = (r: Omit<ScrubSettingsInput, 'secret'>) => ({
  enabled: r.enabled,
  baseUrl: r.baseUrl,
  username: r.username ?? null,
  monthlyBudget: r.monthlyBudget,
  timeoutMs: r.timeoutMs,
  failureThreshold: r.failureThreshold,
  cooldownMs: r.cooldownMs,
  litigatorRule: r.litigatorRule,
});

/**
 * Creates or replaces one scrub's settings. A first save needs the secret (`missing_secret` otherwise). A change of
 * base URL or credentials closes the circuit: the failures were the old provider's.
 */
export async function saveScrubSettings(
  db: DbOrTx,
  input: { agencyId: string; scrub: Scrub; settings: ScrubSettingsInput; by: AuditBy },
): Promise<ScrubSettingsRow | 'missing_secret'> {
  const { agencyId, scrub, settings: s } = input;
  const [before] = await db
    .select()
    .from(scrubSettings)
    .where(and(eq(scrubSettings.agencyId, agencyId), eq(scrubSettings.scrub, scrub)));
  let secretSealed = before?.secretSealed;
  if (s.secret !== undefined) secretSealed = keyStore().seal(SECRET_PURPOSE, s.secret, context(agencyId, scrub));
  if (!secretSealed) return 'missing_secret';
  const provider = s.secret !== undefined || s.baseUrl !== before?.baseUrl || (s.username ?? null) !== before?.username;
  const values = {
    ...summary(s),
    secretSealed,
    updatedAt: new Date(),
    ...(provider ? { consecutiveFailures: 0, circuitOpenedAt: null, probeUntil: null } : {}),
  };
  const [row] = await db
    .insert(scrubSettings)
    .values({ agencyId, scrub, ...values })
    .onConflictDoUpdate({ target: [scrubSettings.agencyId, scrubSettings.scrub], set: values })
    .returning();
  const changes: Record<string, { from: unknown; to: unknown }> = {
    [`scrub.${scrub}`]: { from: before ? summary(before) : null, to: summary(row!) },
  };
  if (s.secret !== undefined) changes[`scrub.${scrub}.secret`] = { from: 'set', to: 'set' };
  await recordChange(db, {
    agencyId,
    by: input.by,
    objectType: 'agency_settings',
    objectId: agencyId,
    action: 'updated',
    changes,
  });
  return row!;
}

// ─── the cache: at most one call per number, scrub and UTC day ───────────────

export type CachedVerdict = { verdict: 'hit' | 'clean' | 'unknown'; status: string };

/** Today's answer for the number, or `claimed` when this process may call, or `in_flight` (another process is). */
export async function claimScrub(
  db: DbOrTx,
  key: { agencyId: string; scrub: Scrub; hmac: string },
  now: Date,
): Promise<CachedVerdict | 'claimed' | 'in_flight'> {
  const day = utcDay(now);
  const claimed = await db
    .insert(scrubCache)
    .values({ ...key, day })
    .onConflictDoNothing()
    .returning({ day: scrubCache.day });
  if (claimed.length) return 'claimed';
  const [row] = await db
    .select({ verdict: scrubCache.verdict, status: scrubCache.status })
    .from(scrubCache)
    .where(cacheKey(key, day));
  if (row?.verdict) return { verdict: row.verdict, status: row.status ?? '' };
  return 'in_flight';
}

const cacheKey = (key: { agencyId: string; scrub: Scrub; hmac: string }, day: string) =>
  and(
    eq(scrubCache.agencyId, key.agencyId),
    eq(scrubCache.scrub, key.scrub),
    eq(scrubCache.hmac, key.hmac),
    eq(scrubCache.day, day),
  );

/** Stores the claimed call's answer for the rest of the day. */
export async function storeScrubAnswer(
  db: DbOrTx,
  key: { agencyId: string; scrub: Scrub; hmac: string },
  now: Date,
  answer: CachedVerdict,
): Promise<void> {
  await db
    .update(scrubCache)
    .set({ verdict: answer.verdict, status: answer.status.slice(0, 100) })
    .where(cacheKey(key, utcDay(now)));
}

/** Drops a claim whose call did not answer (or never went): the next lead with the number calls again. */
export async function dropScrubClaim(
  db: DbOrTx,
  key: { agencyId: string; scrub: Scrub; hmac: string },
  now: Date,
): Promise<void> {
  await db.delete(scrubCache).where(and(cacheKey(key, utcDay(now)), sql`${scrubCache.verdict} IS NULL`));
}

/** Removes answers of days before `day` (the cache is only ever read for today). Answers how many. */
export async function purgeScrubCache(db: DbOrTx, before: Date): Promise<number> {
  const gone = await db
    .delete(scrubCache)
    .where(sql`${scrubCache.day} < ${utcDay(before)}::date`)
    .returning({ day: scrubCache.day });
  return gone.length;
}

// ─── the budget: calls per UTC month ─────────────────────────────────────────

/**
 * Reserves one call of the month (true), or answers false when the budget is spent. One conditional statement, so
 * processes racing for the last call never both get it. A null budget is no limit (the call is still counted).
 */
export async function reserveScrubCall(
  db: DbOrTx,
  key: { agencyId: string; scrub: Scrub },
  budget: number | null,
  now: Date,
): Promise<boolean> {
  const month = utcMonth(now);
  const rows = (await db.execute(sql`
    INSERT INTO scrub_usage (agency_id, scrub, month, calls)
    SELECT ${key.agencyId}::uuid, ${key.scrub}, ${month}, 1 WHERE ${budget}::int IS NULL OR ${budget}::int >= 1
    ON CONFLICT (agency_id, scrub, month) DO UPDATE SET calls = scrub_usage.calls + 1
      WHERE ${budget}::int IS NULL OR scrub_usage.calls < ${budget}::int
    RETURNING calls`)) as unknown as { rows: unknown[] };
  return rows.rows.length > 0;
}

/** Calls made this UTC month, per scrub. */
export async function scrubCallsThisMonth(db: DbOrTx, agencyId: string, now: Date): Promise<Map<Scrub, number>> {
  const rows = await db
    .select({ scrub: scrubUsage.scrub, calls: scrubUsage.calls })
    .from(scrubUsage)
    .where(and(eq(scrubUsage.agencyId, agencyId), eq(scrubUsage.month, utcMonth(now))));
  return new Map(rows.map((r) => [r.scrub, r.calls]));
}

// ─── the circuit breaker, shared by the agency's processes ──────────────────

const settingsKey = (key: { agencyId: string; scrub: Scrub }) =>
  and(eq(scrubSettings.agencyId, key.agencyId), eq(scrubSettings.scrub, key.scrub));

/**
 * Half-open: claims the one probe call (true) until `until`; false when another process holds it. A probe that never
 * reports (its process died) frees the circuit for the next probe when `until` passes.
 */
export async function claimScrubProbe(
  db: DbOrTx,
  key: { agencyId: string; scrub: Scrub },
  until: Date,
): Promise<boolean> {
  const rows = await db
    .update(scrubSettings)
    .set({ probeUntil: until })
    .where(
      and(
        settingsKey(key),
        sql`${scrubSettings.circuitOpenedAt} IS NOT NULL`,
        sql`(${scrubSettings.probeUntil} IS NULL OR ${scrubSettings.probeUntil} < now())`,
      ),
    )
    .returning({ scrub: scrubSettings.scrub });
  return rows.length > 0;
}

/** A call answered: the run of failures ends; an open circuit closes (answers true when this closed it). */
export async function scrubCallSucceeded(db: DbOrTx, key: { agencyId: string; scrub: Scrub }): Promise<boolean> {
  const rows = (await db.execute(sql`
    UPDATE scrub_settings s SET consecutive_failures = 0, circuit_opened_at = NULL, probe_until = NULL
    FROM (SELECT circuit_opened_at AS was FROM scrub_settings WHERE agency_id = ${key.agencyId}::uuid AND scrub = ${key.scrub} FOR UPDATE) old
    WHERE s.agency_id = ${key.agencyId}::uuid AND s.scrub = ${key.scrub}
      AND (s.consecutive_failures > 0 OR s.circuit_opened_at IS NOT NULL)
    RETURNING old.was`)) as unknown as { rows: { was: unknown }[] };
  const closed = rows.rows.some((r) => r.was !== null);
  if (closed) await circuitChanged(db, key, 'open', 'closed', 'a call answered: the provider is back');
  return closed;
}

/**
 * A call failed (timeout, network, 5xx, an answer not in the documented shape): one more in the run; at the
 * threshold the circuit opens, and a failed probe opens it again for another cool-down. Answers true when this
 * failure opened a closed circuit (the alert went out).
 */
export async function scrubCallFailed(
  db: DbOrTx,
  key: { agencyId: string; scrub: Scrub },
  why: string,
): Promise<boolean> {
  const rows = (await db.execute(sql`
    UPDATE scrub_settings s SET
      consecutive_failures = s.consecutive_failures + 1,
      circuit_opened_at = CASE
        WHEN s.circuit_opened_at IS NOT NULL THEN now()
        WHEN s.consecutive_failures + 1 >= s.failure_threshold THEN now()
        ELSE NULL END,
      probe_until = NULL
    FROM (SELECT circuit_opened_at AS was FROM scrub_settings WHERE agency_id = ${key.agencyId}::uuid AND scrub = ${key.scrub} FOR UPDATE) old
    WHERE s.agency_id = ${key.agencyId}::uuid AND s.scrub = ${key.scrub}
    RETURNING old.was, s.circuit_opened_at AS now_open, s.consecutive_failures AS failures`)) as unknown as {
    rows: { was: unknown; now_open: unknown; failures: number }[];
  };
  const r = rows.rows[0];
  const opened = !!r && r.was === null && r.now_open !== null;
  if (opened)
    await circuitChanged(
      db,
      key,
      'closed',
      'open',
      `${r.failures} consecutive failed calls (last: ${why.slice(0, 200)})`,
    );
  return opened;
}

/** The alert of a circuit's change, in the agency's audit log (by the system). */
async function circuitChanged(
  db: DbOrTx,
  key: { agencyId: string; scrub: Scrub },
  from: 'open' | 'closed',
  to: 'open' | 'closed',
  note: string,
): Promise<void> {
  await recordChange(db, {
    agencyId: key.agencyId,
    by: SYSTEM,
    objectType: 'agency_settings',
    objectId: key.agencyId,
    action: 'updated',
    changes: { [`scrub.${key.scrub}.circuit`]: { from, to } },
    note: `scrub circuit ${to === 'open' ? 'opened' : 'closed'}: ${note}`,
  });
}

// ─── the key store's rotation (db/key-store.ts SEALED_SECRETS) ───────────────

export async function scrubSecretKeyIds(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .selectDistinct({ keyId: sql<string>`split_part(${scrubSettings.secretSealed}, '.', 2)` })
    .from(scrubSettings);
  return rows.map((r) => r.keyId);
}

/** Moves up to `limit` scrub credentials to the current master key, each conditional on the value read. */
export async function rewrapScrubSecrets(db: DbOrTx, limit: number): Promise<number> {
  const store = keyStore();
  const rows = await db
    .select({ agencyId: scrubSettings.agencyId, scrub: scrubSettings.scrub, sealed: scrubSettings.secretSealed })
    .from(scrubSettings)
    .where(sql`split_part(${scrubSettings.secretSealed}, '.', 2) <> ${store.currentKeyId}`)
    .limit(limit);
  let moved = 0;
  for (const r of rows) {
    const done = await db
      .update(scrubSettings)
      .set({ secretSealed: store.rewrap(r.sealed) })
      .where(and(settingsKey(r), eq(scrubSettings.secretSealed, r.sealed)))
      .returning({ scrub: scrubSettings.scrub });
    moved += done.length;
  }
  return moved;
}
