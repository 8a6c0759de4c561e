/**
 * Keyset pagination: lists are ordered newest first by (timestamp, id) and a
 * page continues strictly after the last row's key. The timestamp travels as
 * text with microseconds, so no row is skipped or repeated across pages even
 * when several share a millisecond.
 */
import { and, desc, type InferSelectModel, type SQL, sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

import type { DbOrTx } from './connection';

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

/** A table listed newest first: its rows have a creation time and an id. */
type Listed = PgTable & { createdAt: PgColumn; id: PgColumn };

/**
 * One page of a table's rows that match `where`, newest first by (created_at, id): the list query every aggregate
 * with a plain list shares (the caller adds its scope and filters as `where`).
 */
export async function newestFirst<T extends Listed>(
  db: DbOrTx,
  table: T,
  where: SQL | undefined,
  page: PageArgs,
): Promise<Page<InferSelectModel<T>>> {
  const rows = (await db
    .select({ row: table as PgTable, sortAt: sortKeyAt(table.createdAt) })
    .from(table as PgTable)
    .where(and(where, olderThan(table.createdAt, table.id, page.after)))
    .orderBy(desc(table.createdAt), desc(table.id))
    .limit(page.limit + 1)) as { row: InferSelectModel<T>; sortAt: string }[];
  return toPage(
    rows,
    page.limit,
    (r) => (r.row as { id: string }).id,
    (r) => r.row,
  );
}
