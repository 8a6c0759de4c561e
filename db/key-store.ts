/**
 * The key store's data side (the crypto is lib/key-store.ts): the list of
 * every sealed secret in the database, the start check, the rotation job and
 * the keyed HMACs' root key.
 *
 * Table: key_store_roots (the HMAC root, sealed like any secret).
 *
 * A module that stores a secret seals it with `keyStore().seal(purpose,
 * plaintext, rowId)` in its own writes and adds one entry to SEALED_SECRETS:
 * how to list the master key ids its rows name, rewrap a batch to the current
 * key and seal a batch left in clear. The start check and the rotation job then
 * cover it.
 */
import crypto from 'node:crypto';

import { eq, ne, sql } from 'drizzle-orm';

import { hmacKeyWithRoot, hmacWithRoot, KeyStore, keyStore, KeyStoreError } from '../lib/key-store';
import { rewrapWebhookSecrets, sealPlaintextWebhookSecrets, webhookSecretKeyIds } from './buyers';
import type { DbOrTx } from './connection';
import { consentCredentialKeyIds, rewrapConsentCredentials } from './consent';
import { endpointSecretKeyIds, rewrapEndpointSecrets } from './endpoints';
import { rewrapStripeSecrets, stripeSecretKeyIds } from './payments';
import { keyStoreRoots } from './schema';
import { rewrapScrubSecrets, scrubSecretKeyIds } from './scrubs';
import { rewrapSsoSecrets, ssoSecretKeyIds } from './sso';
import { rewrapTotpSeeds, totpSeedKeyIds } from './two-factor';

/** One kind of sealed secret in the database (a column or a pair of columns of one aggregate). */
interface SealedSecrets {
  name: string;
  /** The master key ids its sealed values name. */
  keyIds(db: DbOrTx): Promise<string[]>;
  /** Moves up to `limit` rows not under the current master key to it; answers how many. */
  rewrap(db: DbOrTx, limit: number): Promise<number>;
  /** Seals up to `limit` rows still in clear (a migration's leftovers); answers how many. */
  sealPlaintext(db: DbOrTx, limit: number): Promise<number>;
}

const HMAC_ROOT = 'hmac';
const ROOT_PURPOSE = 'key_store.root';

const keyStoreRootsSecrets: SealedSecrets = {
  name: 'key_store_roots',
  async keyIds(db) {
    const rows = await db
      .selectDistinct({ keyId: sql<string>`split_part(${keyStoreRoots.sealed}, '.', 2)` })
      .from(keyStoreRoots);
    return rows.map((r) => r.keyId);
  },
  async rewrap(db, limit) {
    const store = keyStore();
    const rows = await db
      .select()
      .from(keyStoreRoots)
      .where(ne(sql`split_part(${keyStoreRoots.sealed}, '.', 2)`, store.currentKeyId))
      .limit(limit);
    let done = 0;
    for (const r of rows) {
      const moved = await db
        .update(keyStoreRoots)
        .set({ sealed: store.rewrap(r.sealed) })
        .where(sql`${keyStoreRoots.name} = ${r.name} AND ${keyStoreRoots.sealed} = ${r.sealed}`)
        .returning({ name: keyStoreRoots.name });
      done += moved.length;
    }
    return done;
  },
  sealPlaintext: async () => 0, // created sealed
};

/** Every sealed secret in the database. A new one is one more entry here. */
const SEALED_SECRETS: SealedSecrets[] = [
  {
    name: 'buyers.webhook_secret',
    keyIds: webhookSecretKeyIds,
    rewrap: rewrapWebhookSecrets,
    sealPlaintext: sealPlaintextWebhookSecrets,
  },
  {
    name: 'agency_sso.client_secret',
    keyIds: ssoSecretKeyIds,
    rewrap: rewrapSsoSecrets,
    sealPlaintext: async () => 0, // created sealed
  },
  {
    name: 'users.totp_seed_sealed',
    keyIds: totpSeedKeyIds,
    rewrap: rewrapTotpSeeds,
    // sealed from the start: never stored in clear
    sealPlaintext: () => Promise.resolve(0),
  },
  {
    name: 'agency_payment_settings.stripe_secrets',
    keyIds: stripeSecretKeyIds,
    rewrap: rewrapStripeSecrets,
    sealPlaintext: async () => 0, // created sealed
  },
  {
    name: 'buyer_endpoints.secret_sealed',
    keyIds: endpointSecretKeyIds,
    rewrap: rewrapEndpointSecrets,
    sealPlaintext: async () => 0, // created sealed
  },
  {
    name: 'consent_provider_credentials.credential_sealed',
    keyIds: consentCredentialKeyIds,
    rewrap: rewrapConsentCredentials,
    sealPlaintext: async () => 0, // created sealed
  },
  {
    name: 'scrub_settings.secret_sealed',
    keyIds: scrubSecretKeyIds,
    rewrap: rewrapScrubSecrets,
    sealPlaintext: async () => 0, // created sealed
  },
  keyStoreRootsSecrets,
];

/** The master key ids the database's sealed secrets name, with where. */
async function keyIdsInUse(db: DbOrTx): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  for (const s of SEALED_SECRETS) for (const id of await s.keyIds(db)) used.set(id, [...(used.get(id) ?? []), s.name]);
  return used;
}

/**
 * What every process does at start, after the migrations (bin/runtime.ts `openDatabaseFor`):
 * 1. checks that every master key id a stored secret names is configured – else throws a KeyStoreError naming the
 *    ids and where they are used (never a silent fallback);
 * 2. seals every secret still in clear (migration 0008's leftovers), so none is left after it;
 * 3. creates the HMAC root if the database has none.
 */
export async function prepareKeyStore(db: DbOrTx): Promise<{ sealed: number }> {
  const store = keyStore();
  const missing = [...(await keyIdsInUse(db))].filter(([id]) => !store.keyIds.includes(id));
  if (missing.length > 0)
    throw new KeyStoreError(
      `the database holds secrets sealed with master key(s) that are not configured: ` +
        missing.map(([id, where]) => `"${id}" (${where.join(', ')})`).join('; ') +
        `. LEADWIRE_MASTER_KEYS has ${store.keyIds.map((k) => `"${k}"`).join(', ')}; add the missing key(s) back ` +
        `(docs/security.md). Refusing to start.`,
    );
  let sealed = 0;
  for (const s of SEALED_SECRETS)
    for (let n = await s.sealPlaintext(db, 500); n > 0; n = await s.sealPlaintext(db, 500)) sealed += n;
  await hmacRoot(db);
  return { sealed };
}

/**
 * One bounded pass of the rotation job: rewraps up to `limit` rows of each sealed secret that are not under the
 * current master key (and seals any left in clear). Idempotent and resumable: each pass picks up what is left, and
 * rows changed meanwhile are left to the next. `staleKeyIds` empty means every stored secret is under the current
 * key, so older keys can be removed from LEADWIRE_MASTER_KEYS.
 */
export async function rotateSecrets(db: DbOrTx, limit = 100): Promise<{ moved: number; staleKeyIds: string[] }> {
  let moved = 0;
  for (const s of SEALED_SECRETS) moved += (await s.sealPlaintext(db, limit)) + (await s.rewrap(db, limit));
  const current = keyStore().currentKeyId;
  return { moved, staleKeyIds: [...(await keyIdsInUse(db)).keys()].filter((id) => id !== current) };
}

const roots = new WeakMap<object, { store: KeyStore; root: Promise<Buffer> }>();

/** The database's HMAC root key as stored, opened; null when none was made yet. */
async function storedRoot(db: DbOrTx, store: KeyStore): Promise<Buffer | null> {
  const [row] = await db.select().from(keyStoreRoots).where(eq(keyStoreRoots.name, HMAC_ROOT));
  return row ? Buffer.from(store.open(row.sealed, ROOT_PURPOSE, HMAC_ROOT), 'base64') : null;
}

/** The HMAC root key of this database: created (sealed) on first use, then opened once per process and store. */
async function hmacRoot(db: DbOrTx): Promise<Buffer> {
  const store = keyStore();
  const cached = roots.get(db);
  if (cached && cached.store === store) return cached.root;
  const root = (async () => {
    const fresh = store.seal(ROOT_PURPOSE, crypto.randomBytes(32).toString('base64'), HMAC_ROOT);
    await db.insert(keyStoreRoots).values({ name: HMAC_ROOT, sealed: fresh }).onConflictDoNothing();
    return (await storedRoot(db, store))!;
  })();
  roots.set(db, { store, root });
  root.catch(() => roots.delete(db));
  return root;
}

/**
 * A keyed HMAC-SHA256 of `value` for `purpose` (base64url): equal values give equal hashes, and without the master
 * key neither the value nor a hash of a guessed value can be had from a dump. Each purpose has its own key, derived
 * from the database's HMAC root; the root is sealed, so a master key rotation does not change any hash.
 */
export async function hmac(db: DbOrTx, purpose: string, value: string): Promise<string> {
  return hmacWithRoot(await hmacRoot(db), purpose, value);
}

/**
 * `hmacKey` from what is committed, read through `tx`, creating nothing: null when the database has no HMAC root
 * yet (so nothing was ever hashed with it). For a caller inside a transaction, where a read through the database
 * would wait for the transaction to end on PGlite's single connection.
 */
export async function committedHmacKey(tx: DbOrTx, purpose: string, salt: Buffer): Promise<Buffer | null> {
  const root = await storedRoot(tx, keyStore());
  return root && hmacKeyWithRoot(root, purpose, salt);
}

/**
 * The key of `purpose` and `salt` (db/suppression.ts: one agency's salt), for callers that hash many values
 * (a CSV upload's million lines) with one key: derived once, never stored.
 */
export async function hmacKey(db: DbOrTx, purpose: string, salt: Buffer): Promise<Buffer> {
  return hmacKeyWithRoot(await hmacRoot(db), purpose, salt);
}
