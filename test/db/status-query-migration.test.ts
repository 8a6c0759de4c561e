/**
 * Migration 0035 (#22 item 4, a buyer endpoint's status query) over a database of just before it: an existing
 * endpoint keeps working with no status query (GET by default, no URL, no template, no rules); a status URL without
 * its rules is refused by the database; the endpoint log takes a `status` call under a post's key, and the facts
 * trigger keeps it as the sale's proof reads it.
 */

import { sql } from 'drizzle-orm';

import { openDatabase } from '../../db/connection';
import { pgErrorOf } from '../../db/ledger';
import { MigrationFolders } from '../helpers/migrations';

/** The constraint that refused the write, or 'accepted'. */
const refusedBy = (write: Promise<unknown>) =>
  write.then(
    () => 'accepted',
    (err: unknown) => pgErrorOf(err).constraint,
  );

test('migration 0035 adds the status query to existing endpoints (none), both parts or neither, and a status step', async () => {
  const folders = new MigrationFolders();
  const { before, only: after, when } = folders.around('0035_endpoint_status_query');
  expect(when).toBeGreaterThanOrEqual(1799300000000);
  const raw = await openDatabase({ dataDir: 'memory://', migrate: false });
  try {
    const db = raw.db;
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(db as never, { migrationsFolder: before });
    const rows = <T>(r: unknown) => (r as { rows: T[] }).rows;
    const [agency] = rows<{ id: string }>(
      await db.execute(sql`INSERT INTO agencies (name) VALUES ('before 0035') RETURNING id`),
    );
    const [buyer] = rows<{ id: string }>(
      await db.execute(sql`INSERT INTO buyers (agency_id, name) VALUES (${agency!.id}, 'b') RETURNING id`),
    );
    const [endpoint] = rows<{ id: string }>(
      await db.execute(sql`INSERT INTO buyer_endpoints (agency_id, buyer_id, post_url, post_template, post_rules)
        VALUES (${agency!.id}, ${buyer!.id}, 'https://buyer.example/post', '{}', '{}') RETURNING id`),
    );
    // Before 0035 the log has no status step.
    const logCall = (step: string) =>
      db.execute(sql`INSERT INTO endpoint_calls (endpoint_id, kind, step, request, latency_ms, outcome, idempotency_key)
        VALUES (${endpoint!.id}, 'post', ${step}, '{}', 5, 'accepted', 'sale:o:b')`);
    expect(await refusedBy(logCall('status'))).toBe('endpoint_calls_step');

    await migrate(db as never, { migrationsFolder: after });

    const [row] = rows<Record<string, unknown>>(
      await db.execute(sql`SELECT status_url, status_method, status_template, status_rules FROM buyer_endpoints
        WHERE id = ${endpoint!.id}`),
    );
    expect(row).toEqual({ status_url: null, status_method: 'GET', status_template: null, status_rules: null });
    const set = (values: ReturnType<typeof sql>) =>
      db.execute(sql`UPDATE buyer_endpoints SET ${values} WHERE id = ${endpoint!.id}`);
    expect(await refusedBy(set(sql`status_url = 'https://buyer.example/status'`))).toBe('buyer_endpoints_status_parts');
    expect(await refusedBy(set(sql`status_rules = '{}'`))).toBe('buyer_endpoints_status_parts');
    expect(await refusedBy(set(sql`status_template = '{}'`))).toBe('buyer_endpoints_status_parts');
    expect(await refusedBy(set(sql`status_method = 'PUT'`))).toBe('buyer_endpoints_status_method');
    await set(sql`status_url = 'https://buyer.example/status', status_rules = '{}', status_method = 'POST'`);

    await logCall('status');
    const facts = rows<{ step: string; outcome: string; idempotency_key: string }>(
      await db.execute(
        sql`SELECT step, outcome, idempotency_key FROM endpoint_call_facts WHERE buyer_id = ${buyer!.id}`,
      ),
    );
    expect(facts).toEqual([{ step: 'status', outcome: 'accepted', idempotency_key: 'sale:o:b' }]);
    expect(await refusedBy(logCall('other'))).toBe('endpoint_calls_step');
  } finally {
    await raw.close();
    folders.remove();
  }
});
