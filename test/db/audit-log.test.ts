/**
 * The audit log (db/audit.ts, migration 0014): every audited change writes
 * exactly one entry with its actor (a person's session, a key and its maker)
 * and before → after of the changed fields, in the change's own transaction –
 * a change that fails writes none; secrets never enter an entry; the filters
 * and pages; and the migration itself, over a database with buyer change
 * history written before it (its rows move into the log, the old table goes).
 */

import { eq, sql } from 'drizzle-orm';

import { createUser } from '../../db/accounts';
import { updateAgencySettings } from '../../db/agencies';
import { type AuditBy, buyerChangeHistory, listAuditLog, recordChange } from '../../db/audit';
import { changeBuyer, createBuyerWithKey, rotateWebhookSecret } from '../../db/buyers';
import { updateCampaign } from '../../db/campaigns';
import { type Database, type Db, openDatabase } from '../../db/connection';
import { openDispute, resolveDispute } from '../../db/disputes';
import { createApiKey, issueKey } from '../../db/keys';
import { creditBuyer } from '../../db/ledger';
import { leadTimeline } from '../../db/offers';
import { sellManually } from '../../db/sales';
import { auditLog } from '../../db/schema';
import { REDACTED } from '../../domain/audit';
import { openTestPostgres } from '../helpers/db';
import { MigrationFolders } from '../helpers/migrations';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

let database: Database;
let db: Db;

beforeAll(async () => {
  database = await openTestPostgres();
  db = database.db;
});
afterAll(async () => {
  await database?.close();
});

let n = 0;
const uniqueEmail = () => `dispatcher-${Date.now().toString(36)}-${n++}@example.com`;

async function entriesOf(agencyId: string) {
  return db.select().from(auditLog).where(eq(auditLog.agencyId, agencyId));
}

/** An agency with a person signed in (a session actor) and a key that person made. */
async function makeWorld() {
  const agency = await makeAgency(db);
  const user = await createUser(db, { email: uniqueEmail(), displayName: 'Dana Dispatch' });
  const key = await createApiKey(db, {
    kind: 'admin',
    agencyId: agency.id,
    name: 'CRM sync',
    createdByUserId: user.id,
  });
  const asUser: AuditBy = {
    actor: { type: 'user', userId: user.id, sessionId: crypto.randomUUID() },
    side: 'admin',
  };
  const asKey: AuditBy = { actor: { type: 'key', keyId: key.id, userId: user.id }, side: 'admin' };
  return { agency, user, key, asUser, asKey };
}

test('each change writes exactly one entry with its actor and only the fields that changed', async () => {
  const w = await makeWorld();
  const { buyer } = await createBuyerWithKey(db, w.agency.id, { name: 'Roofer', serviceLines: [] }, w.asUser);
  let entries = await entriesOf(w.agency.id);
  expect(entries).toEqual([
    expect.objectContaining({
      actorType: 'user',
      actorUserId: w.user.id,
      actorKeyId: null,
      actorLabel: `Dana Dispatch <${w.user.email}>`,
      side: 'admin',
      objectType: 'buyer',
      objectId: buyer.id,
      buyerId: buyer.id,
      action: 'created',
      changes: expect.objectContaining({ name: { from: null, to: 'Roofer' } }),
    }),
  ]);

  expect((await buyerChangeHistory(db, w.agency.id, buyer.id, { limit: 10 })).items).toEqual([]);
  await changeBuyer(db, {
    agencyId: w.agency.id,
    buyerId: buyer.id,
    by: w.asKey,
    patch: { name: 'Roofer & Sons', caps: { daily: 5 } },
    before: { ...buyer, caps: {} } as never,
    fields: ['name', 'caps'],
  });
  entries = await entriesOf(w.agency.id);
  const update = entries.find((e) => e.action === 'updated')!;
  expect(update).toMatchObject({
    actorType: 'key',
    actorKeyId: w.key.id,
    actorUserId: w.user.id,
    objectType: 'buyer',
    changes: { name: { from: 'Roofer', to: 'Roofer & Sons' }, caps: { from: {}, to: { daily: 5 } } },
  });
  expect(update.actorLabel).toMatch(new RegExp(`^key "CRM sync" \\(lw_admin_.{4}…\\) of Dana Dispatch <`));
  expect(Object.keys(update.changes).sort()).toEqual(['caps', 'name']);

  await creditBuyer(
    db,
    { buyerId: buyer.id, agencyId: w.agency.id, amount: 500, idempotencyKey: `t-${buyer.id}` },
    w.asUser,
  );
  // The same idempotency key again credits nothing, and records nothing.
  await creditBuyer(
    db,
    { buyerId: buyer.id, agencyId: w.agency.id, amount: 500, idempotencyKey: `t-${buyer.id}` },
    w.asUser,
  );
  const campaign = await makeCampaign(db, w.agency.id);
  await updateCampaign(db, w.agency.id, campaign.id, { price: { base: 25 }, claimWindowSeconds: 2 }, w.asUser);
  await updateAgencySettings(db, w.agency.id, { duplicateWindowDays: 7 }, w.asKey);
  await updateAgencySettings(db, w.agency.id, { duplicateWindowDays: 7 }, w.asKey); // no change: no entry
  await issueKey(db, { kind: 'buyer', agencyId: w.agency.id, buyerId: buyer.id }, true, w.asUser);
  await rotateWebhookSecret(db, buyer, 0, w.asUser);

  entries = await entriesOf(w.agency.id);
  const summary = entries.map((e) => `${e.objectType} ${e.action} ${e.actorType}`).sort();
  expect(summary).toEqual(
    [
      'buyer created user',
      'buyer updated key',
      'wallet credited user',
      'campaign created system',
      'campaign updated user',
      'agency_settings updated key',
      'api_key key_issued user',
      'buyer webhook_secret_rotated user',
    ].sort(),
  );
  expect(entries.find((e) => e.objectType === 'wallet')).toMatchObject({
    buyerId: buyer.id,
    changes: { balance: { from: 0, to: 500 } },
  });
  // Only the price changed (the window was already 2 seconds).
  expect(entries.find((e) => e.objectType === 'campaign' && e.action === 'updated')!.changes).toEqual({
    price: { from: { base: 10 }, to: { base: 25 } },
  });
  expect(entries.find((e) => e.objectType === 'agency_settings')!.changes).toEqual({
    duplicateWindowDays: { from: null, to: 7 },
  });
});

test('a change that fails writes no entry (the entry is in the change transaction)', async () => {
  const w = await makeWorld();
  const campaign = await makeCampaign(db, w.agency.id);
  const count = async () => (await entriesOf(w.agency.id)).length;
  const before = await count();
  // A pool naming a buyer that does not exist: the rename is undone with the pool, and nothing is recorded.
  await expect(
    updateCampaign(
      db,
      w.agency.id,
      campaign.id,
      { name: 'renamed', pool: [{ buyerId: crypto.randomUUID() }] },
      w.asUser,
    ),
  ).rejects.toThrow();
  expect(await count()).toBe(before);
  expect((await listAuditLog(db, { agencyId: w.agency.id, objectId: campaign.id }, { limit: 10 })).items).toEqual([
    expect.objectContaining({ action: 'created' }),
  ]);
  // A recorded entry inside a transaction that rolls back is gone with it.
  await expect(
    db.transaction(async (tx) => {
      await recordChange(tx, {
        agencyId: w.agency.id,
        by: w.asUser,
        objectType: 'campaign',
        objectId: campaign.id,
        action: 'updated',
        changes: { name: { from: 'a', to: 'b' } },
      });
      throw new Error('the change failed');
    }),
  ).rejects.toThrow('the change failed');
  expect(await count()).toBe(before);
});

test('a manual assignment and a dispute opened and approved are recorded with their actors; the timeline names them', async () => {
  const w = await makeWorld();
  const campaign = await makeCampaign(db, w.agency.id, { price: { base: 20 } });
  const buyer = await makeBuyer(db, w.agency.id, { credits: 100 });
  const buyerKey = await createApiKey(db, { kind: 'buyer', agencyId: w.agency.id, buyerId: buyer.id });
  const lead = await makeLead(db, w.agency.id, campaign.id);
  const sale = await sellManually(db, {
    offerId: crypto.randomUUID(),
    leadId: lead.id,
    buyerId: buyer.id,
    workflowId: lead.workflowId,
    at: new Date().toISOString(),
    by: w.asUser,
  });
  if (sale.result !== 'won') throw new Error(`the assignment should sell: ${JSON.stringify(sale)}`);
  const opened = await openDispute(db, {
    assignmentId: sale.assignmentId,
    buyerId: buyer.id,
    reason: 'wrong number',
    by: { actor: { type: 'key', keyId: buyerKey.id, userId: null }, side: 'buyer' },
  });
  if (!opened.ok) throw new Error(`dispute refused: ${opened.error}`);
  const resolved = await resolveDispute(db, {
    agencyId: w.agency.id,
    disputeId: opened.dispute.id,
    approve: true,
    note: 'confirmed',
    by: w.asKey,
  });
  expect(resolved.ok).toBe(true);

  const entries = (await listAuditLog(db, { agencyId: w.agency.id, buyerId: buyer.id }, { limit: 10 })).items;
  expect(entries.map((e) => [e.objectType, e.action, e.actorType, e.side])).toEqual([
    ['dispute', 'resolved', 'key', 'admin'],
    ['dispute', 'opened', 'key', 'buyer'],
    ['lead', 'assigned', 'user', 'admin'],
  ]);
  expect(entries[0]!.changes).toMatchObject({
    status: { from: 'open', to: 'approved' },
    refund: { from: null, to: 20 },
  });
  expect(entries[0]!.note).toBe('confirmed');
  expect(entries[1]!.actorKeyId).toBe(buyerKey.id);
  expect(entries[2]!.changes).toMatchObject({
    status: { from: 'manual_review', to: 'sold' },
    charged: { from: null, to: 20 },
  });

  const timeline = await leadTimeline(db, lead.id);
  expect(timeline.find((e) => e.type === 'assigned')!.data).toMatchObject({
    actor: { type: 'user', userId: w.user.id, label: `Dana Dispatch <${w.user.email}>` },
  });
  expect(timeline.find((e) => e.type === 'refunded')!.data).toMatchObject({
    actor: { type: 'key', keyId: w.key.id, userId: w.user.id },
  });
});

test('secrets never enter an entry: a field named like a secret is redacted at any depth', async () => {
  const w = await makeWorld();
  await recordChange(db, {
    agencyId: w.agency.id,
    by: w.asUser,
    objectType: 'agency_settings',
    objectId: w.agency.id,
    action: 'updated',
    changes: {
      sso: {
        from: null,
        to: { issuer: 'https://id.example.com', clientId: 'leadwire', clientSecret: 'hunter2-oidc-secret' },
      },
      password: { from: 'old-password-123', to: 'correct horse battery staple' },
      totpSeed: { from: null, to: 'JBSWY3DPEHPK3PXP' },
    },
  });
  const [entry] = await entriesOf(w.agency.id);
  const text = JSON.stringify(entry);
  for (const secret of ['hunter2-oidc-secret', 'old-password-123', 'correct horse', 'JBSWY3DPEHPK3PXP'])
    expect(text).not.toContain(secret);
  expect(entry!.changes).toEqual({
    sso: { from: null, to: { issuer: 'https://id.example.com', clientId: 'leadwire', clientSecret: REDACTED } },
    password: { from: REDACTED, to: REDACTED },
    totpSeed: { from: null, to: REDACTED },
  });
  // A rotated webhook secret is recorded as rotated, never by value.
  const { buyer, key } = await createBuyerWithKey(db, w.agency.id, { name: 'B', serviceLines: [] }, w.asUser);
  const { webhookSecret } = await rotateWebhookSecret(db, buyer, 0, w.asUser);
  const all = JSON.stringify(await entriesOf(w.agency.id));
  expect(all).not.toContain(webhookSecret);
  expect(all).not.toContain(buyer.webhookSecret!);
  expect(all).not.toContain(key.key);
});

test('filters by actor, object and time, a page at a time', async () => {
  const w = await makeWorld();
  const other = await makeWorld(); // another agency's entries never show
  const c1 = await makeCampaign(db, w.agency.id);
  const c2 = await makeCampaign(db, w.agency.id);
  await makeCampaign(db, other.agency.id);
  for (let i = 0; i < 3; i++) {
    await updateCampaign(db, w.agency.id, c1.id, { claimWindowSeconds: 10 + i }, w.asUser);
    await updateCampaign(db, w.agency.id, c2.id, { claimWindowSeconds: 10 + i }, w.asKey);
  }
  const list = (f: Partial<Parameters<typeof listAuditLog>[1]>, limit = 50) =>
    listAuditLog(db, { agencyId: w.agency.id, ...f }, { limit });

  expect((await list({})).items).toHaveLength(8);
  expect((await list({ actorKeyId: w.key.id })).items.map((e) => e.objectId)).toEqual([c2.id, c2.id, c2.id]);
  // A person's filter finds what they did signed in and through their key.
  expect((await list({ actorUserId: w.user.id })).items).toHaveLength(6);
  expect((await list({ objectType: 'campaign', objectId: c1.id })).items).toHaveLength(4);
  expect((await list({ objectType: 'buyer' })).items).toHaveLength(0);

  const all = (await list({})).items; // newest first
  const middle = all[3]!.createdAt;
  const newer = (await list({ from: middle })).items;
  const older = (await list({ to: middle })).items;
  expect(newer.length + older.length).toBe(8);
  expect(newer.every((e) => e.createdAt >= middle)).toBe(true);
  expect(older.every((e) => e.createdAt < middle)).toBe(true);

  const seen: string[] = [];
  let after = null;
  do {
    const page: Awaited<ReturnType<typeof listAuditLog>> = await listAuditLog(
      db,
      { agencyId: w.agency.id },
      { limit: 3, after },
    );
    seen.push(...page.items.map((e) => e.id));
    after = page.next;
  } while (after);
  expect(seen).toEqual(all.map((e) => e.id));
});

describe('on pglite', () => {
  test('migration 0014 moves the buyer change history into the log and drops the old table', async () => {
    // The world just before 0014 (drizzle applies only migrations newer than the last one applied).
    const folders = new MigrationFolders();
    const { before, only: audit } = folders.around('0014_audit_log');
    const raw = await openDatabase({ dataDir: 'memory://', migrate: false });
    try {
      const old = raw.db;
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      await migrate(old as never, { migrationsFolder: before });
      const rows = <T>(r: unknown) => (r as { rows: T[] }).rows;
      const [agency] = rows<{ id: string }>(
        await old.execute(sql`INSERT INTO agencies (name) VALUES ('before 0014') RETURNING id`),
      );
      const [buyer] = rows<{ id: string }>(
        await old.execute(sql`INSERT INTO buyers (agency_id, name) VALUES (${agency!.id}, 'Old roofer') RETURNING id`),
      );
      const history = rows<{ id: string }>(
        await old.execute(sql`
          INSERT INTO buyer_changes (agency_id, buyer_id, actor, changes, note, created_at) VALUES
            (${agency!.id}, ${buyer!.id}, 'admin', '{"name":{"from":"Roofer","to":"Old roofer"}}', NULL, '2026-01-02T03:04:05.123456Z'),
            (${agency!.id}, ${buyer!.id}, 'buyer', '{"caps":{"from":{},"to":{"daily":3}}}', NULL, '2026-01-03T00:00:00Z'),
            (${agency!.id}, ${buyer!.id}, 'system', '{"status":{"from":"active","to":"paused"}}', 'consecutive delivery failures', '2026-01-04T00:00:00Z'),
            (${agency!.id}, ${buyer!.id}, 'admin', '{"webhookSecret":{"from":"rotated","to":"rotated"}}', 'previous secret stopped at once', '2026-01-05T00:00:00Z')
          RETURNING id`),
      );

      await migrate(old as never, { migrationsFolder: audit });
      const gone = rows<{ there: boolean }>(
        await old.execute(sql`SELECT to_regclass('buyer_changes') IS NOT NULL AS there`),
      );
      expect(gone[0]!.there).toBe(false);

      const page = await buyerChangeHistory(old, agency!.id, buyer!.id, { limit: 10 });
      expect(page.items.map((e) => e.id)).toEqual(history.map((h) => h.id).reverse());
      expect(
        page.items.map((e) => ({
          at: e.createdAt.toISOString(),
          side: e.side,
          type: e.actorType,
          action: e.action,
          changes: e.changes,
          note: e.note,
        })),
      ).toEqual([
        {
          at: '2026-01-05T00:00:00.000Z',
          side: 'admin',
          type: 'unrecorded',
          action: 'webhook_secret_rotated',
          changes: { webhookSecret: { from: 'rotated', to: 'rotated' } },
          note: 'previous secret stopped at once',
        },
        {
          at: '2026-01-04T00:00:00.000Z',
          side: 'system',
          type: 'system',
          action: 'updated',
          changes: { status: { from: 'active', to: 'paused' } },
          note: 'consecutive delivery failures',
        },
        {
          at: '2026-01-03T00:00:00.000Z',
          side: 'buyer',
          type: 'unrecorded',
          action: 'updated',
          changes: { caps: { from: {}, to: { daily: 3 } } },
          note: null,
        },
        {
          at: '2026-01-02T03:04:05.123Z',
          side: 'admin',
          type: 'unrecorded',
          action: 'updated',
          changes: { name: { from: 'Roofer', to: 'Old roofer' } },
          note: null,
        },
      ]);
      expect(page.items.every((e) => e.objectType === 'buyer' && e.buyerId === buyer!.id)).toBe(true);
      expect(page.items[3]!.actorLabel).toBe('an agency admin (before people were recorded)');
    } finally {
      await raw.close();
      folders.remove();
    }
  }, 120_000);
});
