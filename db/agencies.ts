/**
 * The agencies aggregate: the tenant (name, time zone, settings) and its
 * service lines. Settings are a JSON column, read with their defaults applied
 * and patched field by field.
 *
 * Tables: agencies, service_lines.
 */
import { and, eq, inArray } from 'drizzle-orm';

import { changesOf } from '../domain/self-service';
import { type AgencySettings, DEFAULT_AUTO_PAUSE_AFTER_FAILURES, DEFAULT_DUPLICATE_WINDOW_DAYS } from '../domain/types';
import { type AuditBy, recordChange, SYSTEM } from './audit';
import type { DbOrTx } from './connection';
import { createApiKey } from './keys';
import { newestFirst, type Page, type PageArgs } from './pages';
import { agencies, serviceLines } from './schema';

export type AgencyRow = typeof agencies.$inferSelect;

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

/** An agency with its first admin key (answered in clear, once), in one transaction (a savepoint inside another). */
export async function createAgencyWithKey(
  db: DbOrTx,
  input: { name: string; timeZone?: string },
): Promise<{ agency: AgencyRow; key: { key: string; id: string; prefix: string } }> {
  return db.transaction(async (tx) => {
    const agency = await createAgency(tx, { name: input.name, timeZone: input.timeZone });
    const key = await createApiKey(tx, { kind: 'admin', agencyId: agency.id });
    return { agency, key };
  });
}

export async function getAgency(db: DbOrTx, agencyId: string): Promise<AgencyRow | undefined> {
  const [row] = await db.select().from(agencies).where(eq(agencies.id, agencyId));
  return row;
}

export async function createServiceLine(db: DbOrTx, agencyId: string, input: { key: string; name: string }) {
  const [row] = await db.insert(serviceLines).values({ agencyId, key: input.key, name: input.name }).returning();
  return row!;
}

export type ServiceLineRow = typeof serviceLines.$inferSelect;

// ─── service lines ───────────────────────────────────────────────────────────

export async function listServiceLines(db: DbOrTx, agencyId: string, page: PageArgs): Promise<Page<ServiceLineRow>> {
  return newestFirst(db, serviceLines, eq(serviceLines.agencyId, agencyId), page);
}

/** Which of these keys the agency has defined. */
export async function knownServiceLines(db: DbOrTx, agencyId: string, keys: string[]): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const rows = await db
    .select({ key: serviceLines.key })
    .from(serviceLines)
    .where(and(eq(serviceLines.agencyId, agencyId), inArray(serviceLines.key, keys)));
  return new Set(rows.map((r) => r.key));
}

// ─── settings ───────────────────────────────────────────────────────────────

/**
 * Per-agency settings (a JSON column): read with their defaults applied, and
 * patched field by field.
 */

const DAY_MS = 86_400_000;

export async function agencySettings(db: DbOrTx, agencyId: string): Promise<AgencySettings> {
  const [row] = await db.select({ settings: agencies.settings }).from(agencies).where(eq(agencies.id, agencyId));
  return row?.settings ?? {};
}

/** The duplicate window in ms: the agency's setting, else `fallbackMs` (the process default, 30 days). */
export function duplicateWindowMs(
  settings: AgencySettings,
  fallbackMs: number = DEFAULT_DUPLICATE_WINDOW_DAYS * DAY_MS,
): number {
  return settings.duplicateWindowDays !== undefined ? settings.duplicateWindowDays * DAY_MS : fallbackMs;
}

export function autoPauseAfterFailures(settings: AgencySettings): number {
  return settings.autoPauseAfterFailures ?? DEFAULT_AUTO_PAUSE_AFTER_FAILURES;
}

/**
 * Merges the patch into the settings (a top-level key set to null goes back to its default) and records the keys that
 * changed in the audit log (`by`: the system when not given), in one transaction.
 */
export async function updateAgencySettings(
  db: DbOrTx,
  agencyId: string,
  patch: { [K in keyof AgencySettings]?: AgencySettings[K] | null },
  by: AuditBy = SYSTEM,
): Promise<AgencySettings> {
  return db.transaction(async (tx) => {
    const [locked] = await tx
      .select({ settings: agencies.settings })
      .from(agencies)
      .where(eq(agencies.id, agencyId))
      .for('update');
    const current: AgencySettings = locked?.settings ?? {};
    const next: Record<string, unknown> = { ...current };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      if (v === null) delete next[k];
      else next[k] = v;
    }
    const [row] = await tx
      .update(agencies)
      .set({ settings: next as AgencySettings })
      .where(eq(agencies.id, agencyId))
      .returning({ settings: agencies.settings });
    const touched = Object.keys(patch).filter((k) => (patch as Record<string, unknown>)[k] !== undefined);
    if (row)
      await recordChange(tx, {
        agencyId,
        by,
        objectType: 'agency_settings',
        objectId: agencyId,
        action: 'updated',
        changes: changesOf(
          current as Record<string, unknown>,
          Object.fromEntries(touched.map((k) => [k, next[k] ?? null])),
        ),
      });
    return row?.settings ?? {};
  });
}

/** Whether the agency requires a second factor of its owners and admins (#20). */
export async function requiresTwoFactor(db: DbOrTx, agencyId: string): Promise<boolean> {
  const [row] = await db
    .select({ required: agencies.requireTwoFactor })
    .from(agencies)
    .where(eq(agencies.id, agencyId));
  return row?.required ?? false;
}

export async function setRequireTwoFactor(db: DbOrTx, agencyId: string, required: boolean): Promise<void> {
  await db.update(agencies).set({ requireTwoFactor: required }).where(eq(agencies.id, agencyId));
}
