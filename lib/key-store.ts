/**
 * The key store: the one mechanism every secret at rest goes through (webhook
 * signing secrets now; payment keys, TOTP seeds, OIDC client secrets and
 * provider credentials later). See docs/security.md.
 *
 * Envelope encryption with Node's crypto, AES-256-GCM throughout:
 * - master keys (key-encryption keys) come from `LEADWIRE_MASTER_KEYS`
 *   (`id:base64,id:base64,…`, 32 bytes each; the first is current). Outside
 *   production, unset means a dev key generated into `$LW_DATA_DIR/master-keys`;
 *   in production (NODE_ENV=production) unset is an error.
 * - every `seal` draws a fresh 32-byte data key, encrypts the plaintext with it
 *   (associated data: the purpose and the caller's context, e.g. the row id,
 *   so a ciphertext moved to another row or column does not open), and wraps
 *   the data key with the current master key (associated data: the format and
 *   the master key's id).
 * - the sealed text names its master key: `lwk1.<key id>.<wrapped key>.<data>`
 *   (base64url parts). `rewrap` moves a sealed value to the current master key
 *   without touching its data part; that is how rotation re-encrypts.
 *
 * Keyed HMACs (values matched without being readable) use a root key that is
 * itself sealed in the database (db/key-store.ts), so they survive a master
 * key rotation; each purpose gets its own key derived from it with HKDF.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { setting } from './config';

/** The prefix of every sealed value (and of the database's CHECK on sealed columns). */
const SEALED_PREFIX = 'lwk1.';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const PURPOSE = /^[a-z0-9_.:-]{1,64}$/;
const IV = 12;
const TAG = 16;

/** A master key: its id (stored beside every secret it seals) and its 32 bytes. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

/** A sealed value cannot be opened, or the key store is misconfigured. Never carries a secret. */
export class KeyStoreError extends Error {
  override name = 'KeyStoreError';
}

/** `id:base64,id:base64,…` → master keys, the current one first. Throws on anything malformed. */
export function parseMasterKeys(text: string): MasterKey[] {
  const keys = text
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      const id = at > 0 ? entry.slice(0, at) : '';
      if (!KEY_ID.test(id))
        throw new KeyStoreError(
          `LEADWIRE_MASTER_KEYS: each entry is <id>:<base64 of 32 bytes>, the id 1–32 of A-Z a-z 0-9 _ -`,
        );
      const key = Buffer.from(entry.slice(at + 1), 'base64');
      if (key.length !== 32) throw new KeyStoreError(`LEADWIRE_MASTER_KEYS: key "${id}" is not 32 bytes of base64`);
      return { id, key };
    });
  if (keys.length === 0) throw new KeyStoreError('LEADWIRE_MASTER_KEYS holds no key');
  if (new Set(keys.map((k) => k.id)).size !== keys.length)
    throw new KeyStoreError('LEADWIRE_MASTER_KEYS names one key id twice');
  return keys;
}

/** A new master key entry, `<id>:<base64 of 32 random bytes>` (the id defaults to `k` + the UTC date and time). */
export function generateMasterKey(id = `k${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`): string {
  if (!KEY_ID.test(id)) throw new KeyStoreError(`a key id is 1–32 of A-Z a-z 0-9 _ -, not "${id}"`);
  return `${id}:${crypto.randomBytes(32).toString('base64')}`;
}

/** Where the master keys came from: the environment, or the dev key file (and whether it was just generated). */
export type MasterKeySource = { from: 'env' } | { from: 'file'; file: string; generated: boolean };

/**
 * The one reader of the key store's configuration:
 * - `LEADWIRE_MASTER_KEYS` (string, default unset): `id:base64[,id:base64…]`, the first current;
 * - unset with `NODE_ENV=production`: refuses (a KeyStoreError saying what to set);
 * - unset otherwise: `$LW_DATA_DIR/master-keys` (LW_DATA_DIR default `.data`), generated on first use.
 */
export function masterKeysFromEnv(env: NodeJS.ProcessEnv = process.env): {
  keys: MasterKey[];
  source: MasterKeySource;
} {
  const text = setting('LEADWIRE_MASTER_KEYS', env);
  if (text) return { keys: parseMasterKeys(text), source: { from: 'env' } };
  if (setting('NODE_ENV', env) === 'production')
    throw new KeyStoreError(
      'LEADWIRE_MASTER_KEYS is not set: in production the master key must come from the environment ' +
        '(generate one with `npm run keys:generate`; docs/security.md). Refusing to start.',
    );
  const file = path.join(path.resolve(setting('LW_DATA_DIR', env)), 'master-keys');
  if (fs.existsSync(file))
    return { keys: parseMasterKeys(fs.readFileSync(file, 'utf8')), source: { from: 'file', file, generated: false } };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const entry = generateMasterKey('dev');
  // Written whole, then linked into place: a process of the same stack starting at once reads either no file or all of it.
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, `${entry}\n`, { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process generated it first: use theirs.
    return { keys: parseMasterKeys(fs.readFileSync(file, 'utf8')), source: { from: 'file', file, generated: false } };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return { keys: parseMasterKeys(entry), source: { from: 'file', file, generated: true } };
}

const b64 = (b: Buffer) => b.toString('base64url');

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = crypto.randomBytes(IV);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function gcmOpen(key: Buffer, sealed: Buffer, aad: Buffer, what: string): Buffer {
  if (sealed.length < IV + TAG) throw new KeyStoreError(`${what}: too short`);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV, sealed.length - TAG)), decipher.final()]);
  } catch {
    throw new KeyStoreError(`${what}: does not authenticate (tampered, moved, or another key)`);
  }
}

interface Parts {
  keyId: string;
  wrapped: Buffer;
  data: Buffer;
}

function partsOf(sealed: string): Parts {
  const p = sealed.split('.');
  if (p.length !== 4 || `${p[0]}.` !== SEALED_PREFIX || !KEY_ID.test(p[1]!))
    throw new KeyStoreError('not a sealed value (lwk1.<key id>.<wrapped key>.<data>)');
  return { keyId: p[1]!, wrapped: Buffer.from(p[2]!, 'base64url'), data: Buffer.from(p[3]!, 'base64url') };
}

const wrapAad = (keyId: string) => Buffer.from(`${SEALED_PREFIX}${keyId}`);
const dataAad = (purpose: string, context: string) => Buffer.from(`${SEALED_PREFIX}\0${purpose}\0${context}`);

function checkPurpose(purpose: string): void {
  if (!PURPOSE.test(purpose)) throw new KeyStoreError(`a purpose is 1–64 of a-z 0-9 _ . : -, not "${purpose}"`);
}

/** Seals, opens and rewraps secrets under the configured master keys. Holds no database. */
export class KeyStore {
  private readonly byId: Map<string, Buffer>;
  /** The id of the master key new secrets are sealed with. */
  readonly currentKeyId: string;

  constructor(keys: MasterKey[]) {
    if (keys.length === 0) throw new KeyStoreError('a key store needs at least one master key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    this.currentKeyId = keys[0]!.id;
  }

  /** The configured master key ids, the current one first. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  private master(keyId: string): Buffer {
    const key = this.byId.get(keyId);
    if (!key)
      throw new KeyStoreError(
        `a secret is sealed with master key "${keyId}", which is not configured ` +
          `(LEADWIRE_MASTER_KEYS has ${this.keyIds.map((k) => `"${k}"`).join(', ')}); add it back, see docs/security.md`,
      );
    return key;
  }

  /**
   * Seals `plaintext` for `purpose` (e.g. `buyer.webhook_secret`) and `context`
   * (what it belongs to, e.g. the row's id): only `open` with the same two
   * gives it back.
   */
  seal(purpose: string, plaintext: string, context: string): string {
    checkPurpose(purpose);
    const dek = crypto.randomBytes(32);
    const data = gcmSeal(dek, Buffer.from(plaintext, 'utf8'), dataAad(purpose, context));
    const wrapped = gcmSeal(this.master(this.currentKeyId), dek, wrapAad(this.currentKeyId));
    return `${SEALED_PREFIX}${this.currentKeyId}.${b64(wrapped)}.${b64(data)}`;
  }

  /** The plaintext of a sealed value; throws a KeyStoreError if its key is missing or it does not authenticate. */
  open(sealed: string, purpose: string, context: string): string {
    checkPurpose(purpose);
    const { keyId, wrapped, data } = partsOf(sealed);
    const dek = gcmOpen(this.master(keyId), wrapped, wrapAad(keyId), `data key under master key "${keyId}"`);
    return gcmOpen(dek, data, dataAad(purpose, context), `sealed ${purpose}`).toString('utf8');
  }

  /** The master key id a sealed value names. */
  static keyIdOf(sealed: string): string {
    return partsOf(sealed).keyId;
  }

  /** Whether a sealed value is under the current master key (nothing to rotate). */
  isCurrent(sealed: string): boolean {
    return KeyStore.keyIdOf(sealed) === this.currentKeyId;
  }

  /** The same secret with its data key wrapped by the current master key (the data part is unchanged). */
  rewrap(sealed: string): string {
    const { keyId, wrapped, data } = partsOf(sealed);
    if (keyId === this.currentKeyId) return sealed;
    const dek = gcmOpen(this.master(keyId), wrapped, wrapAad(keyId), `data key under master key "${keyId}"`);
    const rewrapped = gcmSeal(this.master(this.currentKeyId), dek, wrapAad(this.currentKeyId));
    return `${SEALED_PREFIX}${this.currentKeyId}.${b64(rewrapped)}.${b64(data)}`;
  }
}

/**
 * `purpose`'s own HMAC key, derived from `root` with HKDF; a `salt` (e.g. one agency's, stored beside its
 * rows) gives every holder of it a key of its own, so one tenant's HMACs say nothing about another's.
 */
export function hmacKeyWithRoot(root: Buffer, purpose: string, salt: Buffer = Buffer.alloc(0)): Buffer {
  checkPurpose(purpose);
  return Buffer.from(crypto.hkdfSync('sha256', root, salt, `leadwire hmac ${purpose}`, 32));
}

/** HMAC-SHA256 of `value` under `purpose`'s own key, derived from `root` with HKDF (base64url). */
export function hmacWithRoot(root: Buffer, purpose: string, value: string): string {
  return crypto.createHmac('sha256', hmacKeyWithRoot(root, purpose)).update(value, 'utf8').digest('base64url');
}

let processStore: KeyStore | null = null;

/** This process's key store, from `masterKeysFromEnv` on first use. */
export function keyStore(): KeyStore {
  processStore ??= new KeyStore(masterKeysFromEnv().keys);
  return processStore;
}

/** Installs this process's key store (entry points at start; tests that swap master keys). */
export function installKeyStore(store: KeyStore): KeyStore {
  processStore = store;
  return store;
}
