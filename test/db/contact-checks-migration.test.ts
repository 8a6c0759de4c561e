/**
 * Migration 0019 (#23 contact checks) over a database of just before it: the
 * leads gain phone_e164, phone_type and contact_checks (null for old leads),
 * and the phone dedupe keys of earlier US/Canadian leads are rewritten to
 * E.164, so the duplicate window holds across the change; other keys stay.
 */

import { sql } from 'drizzle-orm';

import { openDatabase } from '../../db/connection';
import { MigrationFolders } from '../helpers/migrations';

test('migration 0019 adds the contact columns and rewrites old ten-digit phone keys to E.164', async () => {
  const folders = new MigrationFolders();
  const { before, only: contact } = folders.around('0019_contact_checks');
  const raw = await openDatabase({ dataDir: 'memory://', migrate: false });
  try {
    const db = raw.db;
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(db as never, { migrationsFolder: before });
    const rows = <T>(r: unknown) => (r as { rows: T[] }).rows;
    const [agency] = rows<{ id: string }>(
      await db.execute(sql`INSERT INTO agencies (name) VALUES ('before 0019') RETURNING id`),
    );
    const [campaign] = rows<{ id: string }>(
      await db.execute(sql`INSERT INTO campaigns (agency_id, name, service_line, mode, preview_fields, price)
        VALUES (${agency!.id}, 'c', 'roofing', 'push', '{}', '{"base":10}') RETURNING id`),
    );
    const keys = [
      'phone:roofing:5125550100',
      'email:roofing:ada@example.com',
      'phone:roofing:442079460018',
      'phone:roofing:1555123456',
    ];
    const [lead] = rows<{ id: string }>(
      await db.execute(sql`INSERT INTO leads (agency_id, campaign_id, fields, dedupe_keys, workflow_id)
        VALUES (${agency!.id}, ${campaign!.id}, '{}', ${`{${keys.join(',')}}`}::text[], 'lead-x') RETURNING id`),
    );

    await migrate(db as never, { migrationsFolder: contact });

    const [after] = rows<{
      dedupe_keys: string[];
      phone_e164: string | null;
      phone_type: string | null;
      contact_checks: unknown;
    }>(
      await db.execute(
        sql`SELECT dedupe_keys, phone_e164, phone_type, contact_checks FROM leads WHERE id = ${lead!.id}`,
      ),
    );
    expect(after).toEqual({
      dedupe_keys: [
        'phone:roofing:+15125550100',
        'email:roofing:ada@example.com',
        // Not a ten-digit North American number: left as it was (no country to read it in).
        'phone:roofing:442079460018',
        'phone:roofing:1555123456',
      ],
      phone_e164: null,
      phone_type: null,
      contact_checks: null,
    });
    // The E.164 column takes only E.164.
    const refused = await db.execute(sql`UPDATE leads SET phone_e164 = '5125550100' WHERE id = ${lead!.id}`).then(
      () => null,
      (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
    );
    expect(refused).toMatch(/leads_phone_e164_shape/);
  } finally {
    await raw.close();
    folders.remove();
  }
});
