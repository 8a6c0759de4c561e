/**
 * Keyset pagination: lists are ordered newest first by (timestamp, id) and a
 * page continues strictly after the last row's key. The timestamp travels as
 * text with microseconds, so no row is skipped or repeated across pages even
 * when several share a millisecond.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';

export interface SortKey {
  /** ISO-8601 UTC with microseconds. */
  at: string;
  id: string;
}

export interface PageArgs {
  limit: number;
  after?: SortKey | null;
}

export interface Page<T> {
  items: T[];
  next: SortKey | null;
}

/** The row's sort key, exact to the microsecond. */
export const sortKeyAt = (col: PgColumn) =>
  sql<string>`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Rows strictly older than the cursor, in (at desc, id desc) order. */
export function olderThan(atCol: PgColumn, idCol: PgColumn, after: SortKey | null | undefined): SQL | undefined {
  return after ? sql`(${atCol}, ${idCol}) < (${after.at}::timestamptz, ${after.id}::uuid)` : undefined;
}

/** Callers fetch limit + 1 rows: the extra one only tells that there is a next page. */
export function toPage<R extends { sortAt: string }, T>(
  rows: R[],
  limit: number,
  idOf: (r: R) => string,
  map: (r: R) => T,
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { items: kept.map(map), next: more && last ? { at: last.sortAt, id: idOf(last) } : null };
}
