/**
 * The key store (#27 item 4): one mechanism for every secret at rest, attacked the way a thief with a database dump
 * would. Real AES-256-GCM under real master keys, on real Postgres and on PGlite: a dump alone reveals no secret and
 * signs nothing; a ciphertext moved to another buyer, tampered with, or under a wrong or missing master key fails
 * loudly; rotation re-encrypts everything in bounded passes, after which the old key can go; migration 0008's
 * plaintext is sealed at start and none is left.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { eq, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';

import { createAgency } from '../../db/agencies';
import { SYSTEM } from '../../db/audit';
import {
  buyerById,
  createBuyerWithKey,
  ensureWebhookSecret,
  openWebhookSecrets,
  rotateWebhookSecret,
} from '../../db/buyers';
import { type Database, type DbOrTx, MIGRATIONS_DIR, openDatabase } from '../../db/connection';
import { hmac, prepareKeyStore, rotateSecrets } from '../../db/key-store';
import { buyers } from '../../db/schema';
import {
  generateMasterKey,
  hmacWithRoot,
  installKeyStore,
  KeyStore,
  keyStore,
  KeyStoreError,
  type MasterKey,
  masterKeysFromEnv,
  parseMasterKeys,
} from '../../lib/key-store';
import { DRIVERS, openTestPglite, openTestPostgres } from '../helpers/db';

jest.setTimeout(120_000);

const key = (id: string): MasterKey => parseMasterKeys(generateMasterKey(id))[0]!;
const runStore = keyStore(); // the run's own master key (test/setup/global-setup.ts)
afterEach(() => installKeyStore(runStore));

/** Every row of a table as the database holds it (what a dump shows), as text. */
async function dump(db: DbOrTx, table: 'buyers' | 'key_store_roots'): Promise<string> {
  const res = (await db.execute(sql.raw(`SELECT row_to_json(t)::text AS j FROM ${table} t`))) as unknown as {
    rows: { j: string }[];
  };
  return res.rows.map((r) => r.j).join('\n');
}

async function newBuyer(db: Database['db'], name = 'Roofer') {
  const agency = await createAgency(db, { name: `keys-${crypto.randomUUID()}` });
  const { buyer } = await createBuyerWithKey(db, agency.id, { name, serviceLines: [] }, SYSTEM);
  return buyer;
}

describe('the key store (lib/key-store.ts)', () => {
  const store = new KeyStore([key('k1')]);

  test('seals with a fresh data key each time, names its master key, and opens only for the same purpose and context', () => {
    const a = store.seal('buyer.webhook_secret', 'whsec_top-secret', 'row-1');
    const b = store.seal('buyer.webhook_secret', 'whsec_top-secret', 'row-1');
    expect(a).toMatch(/^lwk1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b); // fresh data key and nonce
    expect(a).not.toContain('top-secret');
    expect(store.open(a, 'buyer.webhook_secret', 'row-1')).toBe('whsec_top-secret');
    expect(() => store.open(a, 'buyer.webhook_secret', 'row-2')).toThrow(KeyStoreError); // moved to another row
    expect(() => store.open(a, 'totp.seed', 'row-1')).toThrow(KeyStoreError); // read as another purpose
  });

  test('any change to a sealed value fails to open: data, wrapped key, key id label, truncation', () => {
    const sealed = store.seal('p', 'secret', 'c');
    const [prefix, id, wrapped, data] = sealed.split('.');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const bad of [
      [prefix, id, wrapped, flip(data!, 20)],
      [prefix, id, flip(wrapped!, 20), data],
      [prefix, id, wrapped, data!.slice(0, -4)],
      [prefix, id, wrapped, data!.slice(0, 10)],
    ])
      expect(() => store.open(bad.join('.'), 'p', 'c')).toThrow(KeyStoreError);
    const relabelled = new KeyStore([key('k2'), key('k1')]);
    expect(() => relabelled.open([prefix, 'k2', wrapped, data].join('.'), 'p', 'c')).toThrow(KeyStoreError);
  });

  test('a wrong master key fails loudly, a missing one names the key id; neither answers anything', () => {
    const sealed = store.seal('p', 'secret', 'c');
    const wrong = new KeyStore([{ id: 'k1', key: crypto.randomBytes(32) }]);
    expect(() => wrong.open(sealed, 'p', 'c')).toThrow(/does not authenticate/);
    const other = new KeyStore([key('k9')]);
    expect(() => other.open(sealed, 'p', 'c')).toThrow(/sealed with master key "k1", which is not configured/);
  });

  test('rewrap moves a secret to the current master key, after which the old key is not needed', () => {
    const [k1, k2] = [key('k1'), key('k2')];
    const sealed = new KeyStore([k1]).seal('p', 'secret', 'c');
    const both = new KeyStore([k2, k1]);
    const moved = both.rewrap(sealed);
    expect(KeyStore.keyIdOf(moved)).toBe('k2');
    expect(moved.split('.')[3]).toBe(sealed.split('.')[3]); // the data part is untouched
    expect(both.isCurrent(moved)).toBe(true);
    expect(both.rewrap(moved)).toBe(moved); // idempotent
    const onlyNew = new KeyStore([k2]);
    expect(onlyNew.open(moved, 'p', 'c')).toBe('secret');
    expect(() => onlyNew.open(sealed, 'p', 'c')).toThrow(KeyStoreError);
  });

  test('LEADWIRE_MASTER_KEYS: id:base64 entries, the first current; malformed input is refused', () => {
    const [a, b] = [generateMasterKey('new'), generateMasterKey('old')];
    expect(parseMasterKeys(`${a},${b}`).map((k) => k.id)).toEqual(['new', 'old']);
    expect(new KeyStore(parseMasterKeys(`${a},${b}`)).currentKeyId).toBe('new');
    expect(() => parseMasterKeys('')).toThrow(/no key/);
    expect(() => parseMasterKeys('k1:c2hvcnQ=')).toThrow(/not 32 bytes/);
    expect(() => parseMasterKeys(crypto.randomBytes(32).toString('base64'))).toThrow(/<id>:<base64/);
    expect(() => parseMasterKeys(`${a},${a}`)).toThrow(/twice/);
  });

  test('unset: production refuses; elsewhere a dev key is generated once into the data dir (0600) and reused', () => {
    expect(() => masterKeysFromEnv({ NODE_ENV: 'production' })).toThrow(
      /LEADWIRE_MASTER_KEYS is not set: in production .*Refusing to start/,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-keys-'));
    try {
      const first = masterKeysFromEnv({ LW_DATA_DIR: dir });
      expect(first.source).toEqual({ from: 'file', file: path.join(dir, 'master-keys'), generated: true });
      expect(fs.statSync(path.join(dir, 'master-keys')).mode & 0o777).toBe(0o600);
      const again = masterKeysFromEnv({ LW_DATA_DIR: dir });
      expect(again.source).toMatchObject({ generated: false });
      expect(again.keys[0]!.key.equals(first.keys[0]!.key)).toBe(true);
      const fromEnv = masterKeysFromEnv({ LW_DATA_DIR: dir, LEADWIRE_MASTER_KEYS: generateMasterKey('prod') });
      expect(fromEnv).toMatchObject({ source: { from: 'env' }, keys: [{ id: 'prod' }] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('keyed HMACs: deterministic, one derived key per purpose, nothing without the root', () => {
    const root = crypto.randomBytes(32);
    expect(hmacWithRoot(root, 'suppression.email', 'ada@example.com')).toBe(
      hmacWithRoot(root, 'suppression.email', 'ada@example.com'),
    );
    expect(hmacWithRoot(root, 'suppression.email', 'ada@example.com')).not.toBe(
      hmacWithRoot(root, 'suppression.phone', 'ada@example.com'),
    );
    expect(hmacWithRoot(crypto.randomBytes(32), 'suppression.email', 'ada@example.com')).not.toBe(
      hmacWithRoot(root, 'suppression.email', 'ada@example.com'),
    );
  });
});

describe.each(DRIVERS)('webhook secrets at rest (%s)', (_name, open) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
    await prepareKeyStore(database.db);
  });
  afterAll(async () => {
    await database?.close();
  });

  test('a database dump alone reveals no secret and cannot sign as Leadwire', async () => {
    const db = database.db;
    const buyer = await newBuyer(db);
    const { webhookSecret: previous } = buyer;
    const { webhookSecret } = await rotateWebhookSecret(db, (await buyerById(db, buyer.id))!, 3600, SYSTEM);
    const rows = `${await dump(db, 'buyers')}\n${await dump(db, 'key_store_roots')}`;
    for (const secret of [webhookSecret, previous]) {
      expect(rows).not.toContain(secret);
      expect(rows).not.toContain(secret.slice('whsec_'.length)); // nor its key bytes, base64
      expect(rows).not.toContain(Buffer.from(secret.slice(6), 'base64').toString('hex'));
    }
    // Everything a dump holds, tried as a signing key: none makes the signature the buyer's receiver checks.
    const body = JSON.stringify({ event: 'lead.delivered', forged: true });
    const at = new Date();
    const genuine = new Webhook(webhookSecret).sign('msg_forged', at, body);
    const values = [...rows.matchAll(/"([^"]{16,})"/g)].map((m) => m[1]!);
    const candidates = values.flatMap((v) => [
      v,
      ...v
        .split('.')
        .filter((p) => p.length >= 16)
        .map((p) => Buffer.from(p, 'base64url').toString('base64')),
    ]);
    expect(candidates.length).toBeGreaterThan(4);
    for (const c of candidates) {
      let forged: string | null = null;
      try {
        forged = new Webhook(c.startsWith('whsec_') ? c : `whsec_${Buffer.from(c).toString('base64')}`).sign(
          'msg_forged',
          at,
          body,
        );
      } catch {
        forged = null;
      }
      expect(forged).not.toBe(genuine);
    }
    // The key store opens both, on this row.
    const row = (await buyerById(db, buyer.id))!;
    expect(openWebhookSecrets(row)).toEqual({ current: webhookSecret, previous });
  });

  test("a sealed secret moved to another buyer's row does not open there", async () => {
    const db = database.db;
    const [a, b] = [await newBuyer(db, 'A'), await newBuyer(db, 'B')];
    await db
      .update(buyers)
      .set({ webhookSecretSealed: sql`(SELECT webhook_secret_sealed FROM buyers WHERE id = ${a.id})` })
      .where(eq(buyers.id, b.id));
    const moved = (await buyerById(db, b.id))!;
    expect(moved.webhookSecretSealed).toBe((await buyerById(db, a.id))!.webhookSecretSealed);
    expect(() => openWebhookSecrets(moved)).toThrow(KeyStoreError);
    expect(openWebhookSecrets((await buyerById(db, a.id))!).current).toBe(a.webhookSecret);
  });

  test('a tampered sealed secret fails to open', async () => {
    const db = database.db;
    const buyer = await newBuyer(db);
    await db
      .update(buyers)
      .set({
        webhookSecretSealed: sql`overlay(webhook_secret_sealed placing 'AAAA' from length(webhook_secret_sealed) - 8)`,
      })
      .where(eq(buyers.id, buyer.id));
    const tampered = (await buyerById(db, buyer.id))!;
    expect(() => openWebhookSecrets(tampered)).toThrow(/does not authenticate/);
  });

  test('the database refuses plaintext in a sealed column', async () => {
    const buyer = await newBuyer(database.db);
    await expect(
      database.db.update(buyers).set({ webhookSecretSealed: 'whsec_plain' }).where(eq(buyers.id, buyer.id)),
    ).rejects.toThrow();
  });
});

describe('rotation and missing keys (a private PGlite database)', () => {
  let database: Database;
  beforeEach(async () => {
    database = await openTestPglite();
  });
  afterEach(async () => {
    await database?.close();
  });

  test('rotation re-encrypts every secret in bounded, resumable passes; then the old key can be removed', async () => {
    const db = database.db;
    const [k1, k2] = [key('k1'), key('k2')];
    installKeyStore(new KeyStore([k1]));
    await prepareKeyStore(db);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await newBuyer(db, `B${i}`));
    const { webhookSecret: rotated } = await rotateWebhookSecret(db, (await buyerById(db, made[0]!.id))!, 3600, SYSTEM);
    const hashBefore = await hmac(db, 'suppression.email', 'ada@example.com');

    installKeyStore(new KeyStore([k2, k1])); // k2 becomes current; k1 still configured
    let passes = 0;
    let pass;
    do {
      pass = await rotateSecrets(db, 2); // at most 2 rows of each kind per pass
      passes++;
    } while (pass.moved > 0);
    expect(passes).toBe(4); // 5 buyers by twos (3 passes), then one that finds nothing
    expect(pass.staleKeyIds).toEqual([]);
    const rows = await dump(db, 'buyers');
    expect(rows).not.toContain('lwk1.k1.');
    expect((rows.match(/lwk1\.k2\./g) ?? []).length).toBe(6); // 5 current secrets and B0's previous one
    expect(await dump(db, 'key_store_roots')).toMatch(/lwk1\.k2\./);
    expect(await rotateSecrets(db, 2)).toEqual({ moved: 0, staleKeyIds: [] }); // idempotent

    installKeyStore(new KeyStore([k2])); // the old key removed
    await prepareKeyStore(db); // starts
    const b0 = openWebhookSecrets((await buyerById(db, made[0]!.id))!);
    expect(b0).toEqual({ current: rotated, previous: made[0]!.webhookSecret });
    for (const b of made.slice(1))
      expect(openWebhookSecrets((await buyerById(db, b.id))!).current).toBe(b.webhookSecret);
    expect(await hmac(db, 'suppression.email', 'ada@example.com')).toBe(hashBefore); // hashes survive rotation
  });

  test('a stored secret whose master key is not configured stops the start with a clear error', async () => {
    const db = database.db;
    installKeyStore(new KeyStore([key('old')]));
    await prepareKeyStore(db);
    await newBuyer(db);
    installKeyStore(new KeyStore([key('new')]));
    await expect(prepareKeyStore(db)).rejects.toThrow(
      /secrets sealed with master key\(s\) that are not configured: "old" \(buyers\.webhook_secret, key_store_roots\)\. LEADWIRE_MASTER_KEYS has "new"/,
    );
    await expect(rotateSecrets(db)).rejects.toThrow(KeyStoreError); // the job fails loudly too
  });

  test("a delivery's first touch seals that buyer's leftover plaintext secret, and only that buyer's", async () => {
    const db = database.db;
    await prepareKeyStore(db);
    const [a, b] = [await newBuyer(db, 'A'), await newBuyer(db, 'B')];
    for (const x of [a, b])
      await db
        .update(buyers)
        .set({ webhookSecretPlaintext: x.webhookSecret, webhookSecretSealed: null })
        .where(eq(buyers.id, x.id));
    const sealed = await ensureWebhookSecret(db, (await buyerById(db, b.id))!);
    expect(sealed.webhookSecretPlaintext).toBeNull();
    expect(openWebhookSecrets(sealed).current).toBe(b.webhookSecret);
    expect((await buyerById(db, a.id))!).toMatchObject({
      webhookSecretPlaintext: a.webhookSecret,
      webhookSecretSealed: null,
    });
  });

  test('migration 0008: plaintext secrets from before it are sealed at start, and none is left', async () => {
    // A database as 0007 left it, with a buyer whose secret is in clear.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-0007-'));
    try {
      fs.mkdirSync(path.join(dir, 'meta'));
      const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as {
        entries: { idx: number; tag: string }[];
      };
      journal.entries = journal.entries.filter((e) => e.idx <= 7);
      fs.writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify(journal));
      for (const e of journal.entries)
        fs.copyFileSync(path.join(MIGRATIONS_DIR, `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
      const raw = await openDatabase({ dataDir: 'memory://', migrate: false });
      try {
        const { migrate } = await import('drizzle-orm/pglite/migrator');
        await migrate(raw.db as never, { migrationsFolder: dir });
        // Written in SQL of that time: today's code would name columns later migrations add.
        const agency = (
          (await raw.db.execute(sql`INSERT INTO agencies (name) VALUES ('before 0008') RETURNING id`)) as unknown as {
            rows: { id: string }[];
          }
        ).rows[0]!;
        const secret = `whsec_${crypto.randomBytes(32).toString('base64')}`;
        const old = `whsec_${crypto.randomBytes(32).toString('hex')}`;
        const res = (await raw.db.execute(sql`
          INSERT INTO buyers (agency_id, name, webhook_secret, webhook_secret_previous, webhook_secret_previous_until)
          VALUES (${agency.id}, 'Old roofer', ${secret}, ${old}, now() + interval '1 day') RETURNING id`)) as unknown as {
          rows: { id: string }[];
        };
        const id = res.rows[0]!.id;
        const noSecret = (await raw.db.execute(sql`
          INSERT INTO buyers (agency_id, name) VALUES (${agency.id}, 'Never signed') RETURNING id`)) as unknown as {
          rows: { id: string }[];
        };

        await migrate(raw.db as never, { migrationsFolder: MIGRATIONS_DIR }); // 0008
        expect(await dump(raw.db, 'buyers')).toContain(secret); // SQL cannot encrypt: still in clear, renamed
        expect(await prepareKeyStore(raw.db)).toEqual({ sealed: 1 }); // what every process does at start
        const rows = await dump(raw.db, 'buyers');
        expect(rows).not.toContain(secret);
        expect(rows).not.toContain(old);
        const [count] = (
          (await raw.db.execute(sql`SELECT count(*)::int AS n FROM buyers
            WHERE webhook_secret_plaintext IS NOT NULL OR webhook_secret_previous_plaintext IS NOT NULL`)) as unknown as {
            rows: { n: number }[];
          }
        ).rows;
        expect(count!.n).toBe(0);
        expect(openWebhookSecrets((await buyerById(raw.db, id))!)).toEqual({ current: secret, previous: old });
        expect(await prepareKeyStore(raw.db)).toEqual({ sealed: 0 }); // idempotent
        // A buyer that never had a secret gets a new one, sealed, on its first delivery (as before).
        const fresh = await ensureWebhookSecret(raw.db, (await buyerById(raw.db, noSecret.rows[0]!.id))!);
        expect(openWebhookSecrets(fresh).current).toMatch(/^whsec_/);
      } finally {
        await raw.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('the run uses real encryption under its own master key (test/setup)', async () => {
  expect(process.env.LEADWIRE_MASTER_KEYS).toMatch(/^test:/);
  const database = await openTestPostgres();
  try {
    const buyer = await newBuyer(database.db);
    const row = (await buyerById(database.db, buyer.id))!;
    expect(row.webhookSecretSealed).toMatch(/^lwk1\.test\./);
    expect(openWebhookSecrets(row).current).toBe(buyer.webhookSecret);
  } finally {
    await database.close();
  }
});
