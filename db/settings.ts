/**
 * Per-agency settings (a JSON column): read with their defaults applied, and
 * patched field by field.
 */
import { eq } from 'drizzle-orm';
import { DEFAULT_AUTO_PAUSE_AFTER_FAILURES, DEFAULT_DUPLICATE_WINDOW_DAYS, type AgencySettings } from '../domain/types';
import type { DbOrTx } from './connection';
import { agencies } from './schema';

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

/** Merges the patch into the settings: a top-level key set to null goes back to its default. */
export async function updateAgencySettings(
  db: DbOrTx,
  agencyId: string,
  patch: { [K in keyof AgencySettings]?: AgencySettings[K] | null },
): Promise<AgencySettings> {
  const current = await agencySettings(db, agencyId);
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete next[k];
    else next[k] = v;
  }
  const [row] = await db
    .update(agencies)
    .set({ settings: next as AgencySettings })
    .where(eq(agencies.id, agencyId))
    .returning({ settings: agencies.settings });
  return row?.settings ?? {};
}
