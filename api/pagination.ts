/**
 * `?limit=` and the opaque `cursor`: base64url of the last row's sort key
 * (its timestamp to the microsecond, and its id). Lists answer `nextCursor`
 * (null on the last page).
 */
import type { Page, PageArgs, SortKey } from '../db/pages';
import { invalidField } from './validate';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const AT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

/**
 * A timestamp the database can take: the pattern, and a real calendar instant
 * (no February 30th, no hour 24, no year 0000; JavaScript's Date.parse rolls
 * those over instead of refusing them).
 */
function isRealInstant(at: string): boolean {
  const m = AT.exec(at);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (y < 1 || h > 23 || mi > 59 || s > 59) return false;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  date.setUTCFullYear(y); // Date.UTC maps years 0-99 to 1900-1999
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

function encodeCursor(key: SortKey | null): string | null {
  return key ? Buffer.from(JSON.stringify([key.at, key.id]), 'utf8').toString('base64url') : null;
}

function decodeCursor(cursor: string): SortKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2)
    throw invalidField('cursor', 'not a cursor this API gave out', 'query');
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || !isRealInstant(at) || typeof id !== 'string' || !UUID.test(id)) {
    throw invalidField('cursor', 'not a cursor this API gave out', 'query');
  }
  return { at, id };
}

export function pageArgs(query: { limit: number; cursor?: string }): PageArgs {
  return { limit: query.limit, after: query.cursor ? decodeCursor(query.cursor) : null };
}

/** `{ [key]: items, nextCursor }`. */
export function listBody<T, V>(key: string, page: Page<T>, view: (item: T) => V): Record<string, unknown> {
  return { [key]: page.items.map(view), nextCursor: encodeCursor(page.next) };
}
