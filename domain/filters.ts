/**
 * Lead filters: a buyer's rules on any lead field or qualification answer
 * (`answers.<question>`), combined with all (every rule must pass) or any (one
 * suffices). Operators: equals, in, not_in, range (number, min and/or max,
 * inclusive), present, absent. Pure: the verdict names the failing rule(s) in
 * the buyer's own terms, never the lead's value (a filter may be on a field
 * the buyer cannot see before it buys).
 *
 * Comparison: strings trimmed and case-insensitive, numbers by value (a
 * numeric string equals its number), booleans as "true"/"false". A field the
 * lead does not have fails equals, in and range, and passes not_in and absent.
 */
import { isPreviewableField } from './preview';
import type { LeadFields, PhoneType } from './types';

/**
 * The lead as filters judge it: its fields as sent, and what intake derived from them –
 * `phoneType`, the number's type from libphonenumber's metadata (#23).
 */
export type FilterableLead = Partial<LeadFields> & { phoneType?: PhoneType | null };

/** Fields intake derives (not sent by the source) that filters may use. */
const DERIVED_FIELDS = new Set(['phoneType']);

/** A field a rule may name: a lead field, a derived one (`phoneType`), or `answers.<question>`. */
export function isFilterField(f: string): boolean {
  return DERIVED_FIELDS.has(f) || (f !== 'answers' && isPreviewableField(f));
}

/** The lead's fields with the derived ones beside them (a lead row, or a ping's fields: no phone type). */
export function filterableLead<F extends Partial<LeadFields>>(
  fields: F,
  phoneType: PhoneType | null | undefined,
): F & { phoneType?: PhoneType } {
  return phoneType ? { ...fields, phoneType } : fields;
}

/** @public The vocabulary as a list (its type is what the code uses). */
export const FILTER_OPS = ['equals', 'in', 'not_in', 'range', 'present', 'absent'] as const;
type FilterOp = (typeof FILTER_OPS)[number];

export const FILTER_MATCHES = ['all', 'any'] as const;
type FilterMatch = (typeof FILTER_MATCHES)[number];

type FilterValue = string | number | boolean;

export interface FilterRule {
  /** A lead field ("zip", "city"…) or a qualification answer ("answers.roofType"). */
  field: string;
  op: FilterOp;
  /** equals */
  value?: FilterValue;
  /** in, not_in */
  values?: FilterValue[];
  /** range: at least min and/or at most max */
  min?: number;
  max?: number;
}

export interface LeadFilters {
  match: FilterMatch;
  rules: FilterRule[];
}

/** A refusal names every failing rule (`failed`), in the order of the rules. */
export type FilterVerdict = { pass: true } | { pass: false; failed: { index: number; rule: string }[]; detail: string };

/** The value of a field of the lead: a top-level field, or `answers.<question>`. */
function fieldValue(lead: object, field: string): unknown {
  if (field.startsWith('answers.')) {
    const answers = (lead as { answers?: unknown }).answers as Record<string, unknown> | undefined;
    const q = field.slice('answers.'.length);
    return answers && Object.prototype.hasOwnProperty.call(answers, q) ? answers[q] : undefined;
  }
  return Object.prototype.hasOwnProperty.call(lead, field) ? (lead as Record<string, unknown>)[field] : undefined;
}

const isPresent = (v: unknown) => v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');

function norm(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    const t = v.trim();
    return t !== '' && Number.isFinite(Number(t)) ? String(Number(t)) : t.toLowerCase();
  }
  return String(v).toLowerCase();
}

function asNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function rulePasses(rule: FilterRule, lead: object): boolean {
  const v = fieldValue(lead, rule.field);
  switch (rule.op) {
    case 'present':
      return isPresent(v);
    case 'absent':
      return !isPresent(v);
    case 'equals':
      return isPresent(v) && norm(v) === norm(rule.value);
    case 'in':
      return isPresent(v) && (rule.values ?? []).some((x) => norm(x) === norm(v));
    case 'not_in':
      return !isPresent(v) || !(rule.values ?? []).some((x) => norm(x) === norm(v));
    case 'range': {
      const n = asNumber(v);
      if (n === null) return false;
      return (rule.min === undefined || n >= rule.min) && (rule.max === undefined || n <= rule.max);
    }
    default:
      return false;
  }
}

/** The rule in words, e.g. `answers.roofType in [repair, replace]` (the rule's own values, not the lead's). */
function describeRule(rule: FilterRule): string {
  switch (rule.op) {
    case 'equals':
      return `${rule.field} equals ${String(rule.value)}`;
    case 'in':
      return `${rule.field} in [${(rule.values ?? []).join(', ')}]`;
    case 'not_in':
      return `${rule.field} not in [${(rule.values ?? []).join(', ')}]`;
    case 'range':
      return `${rule.field} in range ${rule.min ?? '−∞'}..${rule.max ?? '∞'}`;
    default:
      return `${rule.field} ${rule.op}`;
  }
}

/** No filters (null, or no rules) take every lead. */
export function evaluateFilters(filters: LeadFilters | null | undefined, lead: object): FilterVerdict {
  if (!filters || filters.rules.length === 0) return { pass: true };
  const results = filters.rules.map((r) => rulePasses(r, lead));
  const pass = filters.match === 'any' ? results.some(Boolean) : results.every(Boolean);
  if (pass) return { pass: true };
  const failed = filters.rules
    .map((r, index) => ({ index, rule: describeRule(r), ok: results[index] }))
    .filter((f) => !f.ok)
    .map(({ index, rule }) => ({ index, rule }));
  // Every failing rule, in the order of the buyer's rules: for `all` the first one is the one that decided, and
  // the rest are what the buyer would still have to change for such a lead.
  const detail =
    filters.match === 'any'
      ? `no filter rule matched (any of: ${failed.map((f) => f.rule).join('; ')})`
      : failed.length === 1
        ? `filter rule ${failed[0]!.index + 1} failed: ${failed[0]!.rule}`
        : `filter rules ${failed.map((f) => f.index + 1).join(', ')} failed: ${failed.map((f) => f.rule).join('; ')}`;
  return { pass: false, failed, detail };
}
