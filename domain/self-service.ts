/**
 * What a buyer may change about itself (PATCH /v1/me), within the limits its
 * agency sets. Pure: takes the request and the limits, answers the problems
 * as field errors (empty = allowed).
 */
import { normalizeZip } from './eligibility';
import { CAP_PERIODS, type Caps, type SelfServiceLimits } from './types';

export interface SelfServicePatch {
  caps?: Caps;
  zipCodes?: string[];
  states?: string[];
  status?: 'active' | 'paused';
  /** Lead filters: only when the agency allows it (`selfService.allowFilters`). */
  filters?: unknown;
}

export interface SelfServiceProblem {
  path: string;
  message: string;
}

export function selfServiceProblems(limits: SelfServiceLimits, patch: SelfServicePatch): SelfServiceProblem[] {
  const problems: SelfServiceProblem[] = [];
  if (limits.enabled === false)
    return [{ path: '', message: 'your agency does not allow buyers to change their settings' }];
  if (patch.caps) {
    for (const period of CAP_PERIODS) {
      const max = limits.maxCaps?.[period];
      if (max === undefined || max === null) continue;
      const cap = patch.caps[period];
      if (cap === undefined)
        problems.push({ path: `caps.${period}`, message: `your agency requires a ${period} cap of at most ${max}` });
      else if (cap > max) problems.push({ path: `caps.${period}`, message: `at most ${max} (the agency's limit)` });
    }
  }
  if (patch.states && limits.allowedStates?.length) {
    const allowed = new Set(limits.allowedStates.map((s) => s.toUpperCase()));
    patch.states.forEach((s, i) => {
      if (!allowed.has(s.toUpperCase()))
        problems.push({ path: `states.${i}`, message: `not a state your agency allows (${[...allowed].join(', ')})` });
    });
  }
  if (patch.zipCodes && limits.allowedZipPrefixes?.length) {
    patch.zipCodes.forEach((z, i) => {
      if (!limits.allowedZipPrefixes!.some((p) => normalizeZip(z).startsWith(p)))
        problems.push({ path: `zipCodes.${i}`, message: 'outside the ZIP areas your agency allows' });
    });
  }
  if (patch.filters !== undefined && !limits.allowFilters)
    problems.push({ path: 'filters', message: 'your agency sets your lead filters; ask it' });
  // A buyer serving everywhere (no ZIPs, no states) escapes an area limit: refuse it when the agency limits the area.
  const clearsArea =
    (patch.zipCodes !== undefined && patch.zipCodes.length === 0) ||
    (patch.states !== undefined && patch.states.length === 0);
  if (
    clearsArea &&
    (limits.allowedStates?.length || limits.allowedZipPrefixes?.length) &&
    !(patch.zipCodes?.length || patch.states?.length)
  ) {
    problems.push({
      path: patch.states !== undefined ? 'states' : 'zipCodes',
      message: 'your agency limits the service area: list at least one state or ZIP',
    });
  }
  return problems;
}

/** The fields that differ, as {field: {from, to}} (the audit record). */
export function changesOf(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const k of Object.keys(after)) {
    if (after[k] === undefined) continue;
    if (JSON.stringify(before[k] ?? null) !== JSON.stringify(after[k] ?? null))
      out[k] = { from: before[k] ?? null, to: after[k] ?? null };
  }
  return out;
}
