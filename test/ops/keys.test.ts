/**
 * docs/security.md, run as written: every shell block of it, in order, against the test run's Postgres – the key
 * generation, production's refusal without a master key, and the whole rotation procedure (after which the old key is
 * not needed) – plus a missing key refusing the start.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { createAgency } from '../../db/agencies';
import { SYSTEM } from '../../db/audit';
import { buyerById, createBuyerWithKey, openWebhookSecrets } from '../../db/buyers';
import type { Database } from '../../db/connection';
import { installKeyStore, KeyStore, keyStore, parseMasterKeys } from '../../lib/key-store';
import { openTestPostgres } from '../helpers/db';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../..');
const DOC = fs.readFileSync(path.join(ROOT, 'docs/security.md'), 'utf8');
const BLOCKS = [...DOC.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
const RUN_KEYS = process.env.LEADWIRE_MASTER_KEYS!;
const RUN_ID = parseMasterKeys(RUN_KEYS)[0]!.id;

/** A shell block as a user's shell runs it, against the test run's database, the run's master key in the environment. */
function bash(
  script: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-eo', 'pipefail', '-c', script],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: process.env.TEST_DATABASE_URL!,
          LOG_LEVEL: 'warn',
          LEADWIRE_MASTER_KEYS: RUN_KEYS,
          ...env,
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let database: Database;
beforeAll(async () => {
  database = await openTestPostgres();
});
afterAll(async () => {
  installKeyStore(new KeyStore(parseMasterKeys(RUN_KEYS)));
  await database?.close();
});

test('docs/security.md has the three shell blocks this file runs', () => {
  expect(BLOCKS).toHaveLength(3);
});

test('generating a master key (block 1): one id:base64 line per command, 32 random bytes', async () => {
  const res = await bash(BLOCKS[0]!);
  expect(res).toMatchObject({ code: 0 });
  const lines = res.stdout.trim().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^k\d{14}:[A-Za-z0-9+/]{43}=$/);
  expect(lines[1]).toMatch(/^prod-1:[A-Za-z0-9+/]{43}=$/);
  for (const l of lines) expect(parseMasterKeys(l)[0]!.key).toHaveLength(32);
});

test('production without a master key refuses to start (block 2)', async () => {
  const res = await bash(BLOCKS[1]!);
  expect(res.code).not.toBe(0);
  expect(res.stderr).toContain('LEADWIRE_MASTER_KEYS is not set: in production');
  expect(res.stderr).toContain('Refusing to start.');
});

test('the rotation procedure (block 3) re-encrypts every secret; the old key is then not needed, and webhook secrets are unchanged', async () => {
  const agency = await createAgency(database.db, { name: 'rotation by the book' });
  const { buyer } = await createBuyerWithKey(database.db, agency.id, { name: 'Roofer', serviceLines: [] }, SYSTEM);
  const res = await bash(`${BLOCKS[2]!}\necho "NEW=$NEW"`);
  expect(res).toMatchObject({ code: 0 });
  const newKey = /^NEW=(.+)$/m.exec(res.stdout)![1]!;
  const [{ id: newId }] = parseMasterKeys(newKey);
  expect(res.stdout).toMatch(
    new RegExp(`re-encrypted; every stored secret is under master key "${newId}"\\. "${RUN_ID}" may now be removed`),
  );
  expect(res.stdout).toContain(`0 secret row(s) re-encrypted; every stored secret is under master key "${newId}".`);
  try {
    // Under the new key alone, the buyer's secret is the one it was given.
    installKeyStore(new KeyStore(parseMasterKeys(newKey)));
    const row = (await buyerById(database.db, buyer.id))!;
    expect(row.webhookSecretSealed).toMatch(new RegExp(`^lwk1\\.${newId}\\.`));
    expect(openWebhookSecrets(row).current).toBe(buyer.webhookSecret);
    // A process started without the key the secrets now name refuses, naming it.
    const missing = await bash('npm run keys:rotate', { LEADWIRE_MASTER_KEYS: RUN_KEYS });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`sealed with master key(s) that are not configured: "${newId}"`);
  } finally {
    // The run's database back under the run's key, for the other tests and their processes.
    const back = await bash('npm run keys:rotate', { LEADWIRE_MASTER_KEYS: `${RUN_KEYS},${newKey}` });
    expect(back).toMatchObject({ code: 0 });
    installKeyStore(new KeyStore(parseMasterKeys(RUN_KEYS)));
  }
  expect(openWebhookSecrets((await buyerById(database.db, buyer.id))!).current).toBe(buyer.webhookSecret);
  expect(keyStore().currentKeyId).toBe(RUN_ID);
});
