/**
 * Consent-provider credentials (#23 item 4) are key-store secrets like buyer
 * endpoint secrets: sealed on write (never in clear in the table), named by
 * the start check, and moved to the current master key by the rotation job.
 */
import crypto from 'node:crypto';

import { createAgency } from '../../db/agencies';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import { providerAccounts, saveProviderAccount } from '../../db/consent';
import { prepareKeyStore, rotateSecrets } from '../../db/key-store';
import { consentProviderCredentials } from '../../db/schema';
import {
  generateMasterKey,
  installKeyStore,
  KeyStore,
  keyStore,
  KeyStoreError,
  type MasterKey,
  parseMasterKeys,
} from '../../lib/key-store';
import { openTestPglite } from '../helpers/db';

jest.setTimeout(120_000);

const key = (id: string): MasterKey => parseMasterKeys(generateMasterKey(id))[0]!;
const runStore = keyStore();
let database: Database;
beforeEach(async () => {
  database = await openTestPglite();
});
afterEach(async () => {
  installKeyStore(runStore);
  await database?.close();
});

async function account(credential: string) {
  const agency = await createAgency(database.db, { name: `consent-${crypto.randomUUID()}` });
  await saveProviderAccount(database.db, {
    agencyId: agency.id,
    provider: 'trustedform',
    baseUrl: 'https://cert.trustedform.com',
    credential,
    by: SYSTEM,
  });
  return agency;
}

test('sealed at rest, rotated to the current key in bounded passes, and opened there after the old key is gone', async () => {
  const db = database.db;
  const [k1, k2] = [key('k1'), key('k2')];
  installKeyStore(new KeyStore([k1]));
  await prepareKeyStore(db);
  const agencies = [await account('tf-key-one'), await account('tf-key-two'), await account('tf-key-three')];
  const rows = () => db.select().from(consentProviderCredentials);
  for (const r of await rows()) {
    expect(r.credentialSealed).toMatch(/^lwk1\.k1\./);
    expect(r.credentialSealed).not.toContain('tf-key');
  }
  expect((await providerAccounts(db, agencies[0]!.id))[0]).not.toHaveProperty('credentialSealed');

  installKeyStore(new KeyStore([k2, k1]));
  let pass;
  do pass = await rotateSecrets(db, 2);
  while (pass.moved > 0);
  expect(pass.staleKeyIds).toEqual([]);
  installKeyStore(new KeyStore([k2]));
  await prepareKeyStore(db);
  const opened = (await rows()).map((r) => keyStore().open(r.credentialSealed, 'consent_provider.credential', r.id));
  expect(opened.sort()).toEqual(['tf-key-one', 'tf-key-three', 'tf-key-two']);
});

test('a credential under a master key that is not configured stops the start, naming the column', async () => {
  installKeyStore(new KeyStore([key('old')]));
  await prepareKeyStore(database.db);
  await account('tf-key');
  installKeyStore(new KeyStore([key('new')]));
  await expect(prepareKeyStore(database.db)).rejects.toThrow(KeyStoreError);
  await expect(prepareKeyStore(database.db)).rejects.toThrow(/consent_provider_credentials\.credential_sealed/);
});
