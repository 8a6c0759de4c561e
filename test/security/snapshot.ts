/**
 * Everything the database holds about one agency, table by table, found from
 * the schema itself (so a table added later is covered without touching
 * this file): rows with the agency's id, or tied to its buyers, offers,
 * leads, campaigns or assignments, and its idempotency records.
 */
import type { Pool } from 'pg';

export type AgencySnapshot = Record<string, string[]>;

/** How a table's rows are tied to an agency. */
const LINKS: [column: string, owner: string][] = [
  ['agency_id', '$1::uuid'],
  ['buyer_id', 'SELECT id FROM buyers WHERE agency_id = $1'],
  ['offer_id', 'SELECT id FROM offers WHERE agency_id = $1'],
  ['lead_id', 'SELECT id FROM leads WHERE agency_id = $1'],
  ['campaign_id', 'SELECT id FROM campaigns WHERE agency_id = $1'],
  ['assignment_id', 'SELECT id FROM assignments WHERE agency_id = $1'],
];

async function tableColumns(pool: Pool): Promise<Map<string, Set<string>>> {
  const { rows } = await pool.query(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name NOT LIKE '\\_\\_%'`,
  );
  const tables = new Map<string, Set<string>>();
  for (const r of rows as { table_name: string; column_name: string }[]) {
    if (!tables.has(r.table_name)) tables.set(r.table_name, new Set());
    tables.get(r.table_name)!.add(r.column_name);
  }
  return tables;
}

/** The agency's rows of every table, each row as JSON text, sorted. */
export async function snapshotAgency(pool: Pool, agencyId: string): Promise<AgencySnapshot> {
  const out: AgencySnapshot = {};
  for (const [table, columns] of await tableColumns(pool)) {
    let where: string | null = null;
    if (table === 'agencies') where = 'id = $1';
    else if (table === 'idempotency_records') where = `scope LIKE '%' || $1::text`;
    else {
      // Any tie counts (an event may name a buyer, or only its lead).
      const ties = LINKS.filter(([c]) => columns.has(c)).map(([c, owner]) =>
        owner.startsWith('$') ? `${c} = ${owner}` : `${c} IN (${owner})`,
      );
      if (ties.length) where = ties.join(' OR ');
    }
    if (!where) continue; // not tied to any agency (e.g. the migrations journal)
    // A refused intake's own record (the refusal reports, #23 item 7) is what a refusal writes by design: left out.
    if (table === 'intake_refusals') continue;
    // `last_used_at` (a key's, a session's, a passkey's) records a use, not a change: it is left out.
    const { rows } = await pool.query(
      `SELECT (to_jsonb(t) - 'last_used_at')::text AS j FROM "${table}" t WHERE ${where}`,
      [agencyId],
    );
    out[table] = (rows as { j: string }[]).map((r) => r.j).sort();
  }
  return out;
}

/** The tables whose rows differ, with what was added and removed. */
export function diffSnapshots(
  before: AgencySnapshot,
  after: AgencySnapshot,
): Record<string, { added: string[]; removed: string[] }> {
  const diff: Record<string, { added: string[]; removed: string[] }> = {};
  for (const table of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = new Set(before[table] ?? []);
    const b = new Set(after[table] ?? []);
    const added = [...b].filter((r) => !a.has(r));
    const removed = [...a].filter((r) => !b.has(r));
    if (added.length || removed.length) diff[table] = { added, removed };
  }
  return diff;
}

/** Every row of every table of the database, as JSON text (for "is this secret stored anywhere?"). */
export async function dumpDatabase(pool: Pool): Promise<string> {
  const parts: string[] = [];
  for (const table of (await tableColumns(pool)).keys()) {
    const { rows } = await pool.query(`SELECT row_to_json(t)::text AS j FROM "${table}" t`);
    parts.push(...(rows as { j: string }[]).map((r) => r.j));
  }
  return parts.join('\n');
}
