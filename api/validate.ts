/**
 * Parses request parts with their zod schemas; a failure is a 400
 * `validation_failed` naming every failing field (unknown fields included).
 */
import type { z } from 'zod';

import { type FieldError, Problem } from './problem';

type Where = NonNullable<FieldError['in']>;

/** At most this many field errors are returned: a 1 MiB array of bad items does not need a 1 MiB answer. */
const MAX_ERRORS = 20;

const pathOf = (segments: readonly PropertyKey[]) => segments.map(String).join('.');

export function fieldErrors(issues: readonly z.core.$ZodIssue[], where: Where): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ in: where, path: pathOf([...issue.path, key]), message: 'unknown field' });
    } else if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
      out.push({ in: where, path: pathOf(issue.path), message: `required (${issue.expected})` });
    } else if (issue.code === 'invalid_union' && issue.errors.some((branch) => branch.some((i) => i.path.length > 0))) {
      // Every branch failed: report the branch that got deepest into the value (the most specific complaint).
      const deepest = issue.errors.flat().sort((a, b) => b.path.length - a.path.length)[0]!;
      out.push(...fieldErrors([{ ...deepest, path: [...issue.path, ...deepest.path] } as z.core.$ZodIssue], where));
    } else {
      out.push({ in: where, path: pathOf(issue.path), message: issue.message });
    }
    if (out.length >= MAX_ERRORS) break;
  }
  return out.slice(0, MAX_ERRORS);
}

export function describeErrors(errors: FieldError[]): string {
  const first = errors[0];
  if (!first) return 'The request is not valid.';
  const name = first.path || first.in || 'body';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return `${name}: ${first.message}${more}`;
}

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Stop looking after this many nodes: the body limit bounds the work anyway. */
const MAX_NODES = 200_000;

/**
 * The path of the first own key named `__proto__`, `constructor` or
 * `prototype` anywhere in a parsed JSON value, or null. Iterative, so a deeply
 * nested body cannot overflow the stack. Such keys are refused outright:
 * copying them into a plain object would change its prototype, and zod would
 * silently drop them from records.
 */
function reservedKeyPath(value: unknown): string | null {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  for (let seen = 0; stack.length && seen < MAX_NODES; seen++) {
    const { v, path } = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    for (const key of Object.keys(v)) {
      const p = path ? `${path}.${key}` : key;
      if (RESERVED_KEYS.has(key)) return p;
      stack.push({ v: (v as Record<string, unknown>)[key], path: p });
    }
  }
  return null;
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, where: Where): z.output<S> {
  const reserved = where === 'body' ? reservedKeyPath(input) : null;
  if (reserved) throw invalidField(reserved, 'is a reserved name', where);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error.issues, where);
  throw new Problem(400, 'validation_failed', describeErrors(errors), { errors });
}

/** A problem for one field that the schema cannot judge alone (e.g. an unknown service line). */
export function invalidField(path: string, message: string, where: Where = 'body'): Problem {
  const errors = [{ in: where, path, message }];
  return new Problem(400, 'validation_failed', describeErrors(errors), { errors });
}
