/**
 * The console's consent-certificate pages (#23 items 4 and 8) in real headless
 * Chromium against the real stack: the Consent providers page connects a
 * TrustedForm account (the credential never comes back to the page or the API)
 * and removes a Jornaya one; the campaign editor sets and clears the
 * campaign's certificate rule.
 */
import { consentProviderCredentials } from '../../db/schema';
import { apiAgency, apiCampaign, bearer, type Harness } from '../api/harness';
import { eventually } from '../helpers/temporal';
import { adminPage, browserSuite } from './harness';

jest.setTimeout(180_000);

const suite = browserSuite();
let h: Harness;
let browser: import('playwright-core').Browser;
beforeAll(() => ({ h, browser } = suite));

test('provider credentials are set and removed on their page; the campaign editor sets and clears the certificate rule', async () => {
  const { adminKey } = await apiAgency(h);
  const campaign = await apiCampaign(h, adminKey, { name: 'Roofing – certified' });
  await h.http
    .put('/v1/consent-providers/jornaya')
    .set(bearer(adminKey))
    .send({ credential: 'JORNAYA-CODE', baseUrl: 'https://8.8.8.8' })
    .expect(200);

  const w = suite.track(await adminPage(browser, h, adminKey, '/admin/consent-providers'));
  const tf = w.page.locator('[data-testid=provider-trustedform]');
  await tf.waitFor({ timeout: 20_000 });
  expect(await tf.locator('[data-testid=provider-state]').innerText()).toBe('Not connected');
  expect(await w.page.locator('[data-testid=provider-jornaya] [data-testid=provider-state]').innerText()).toMatch(
    /Credential set/,
  );
  expect(await w.page.content()).not.toContain('JORNAYA-CODE');

  await tf.locator('[data-testid=provider-base-url]').fill('https://8.8.4.4');
  await tf.locator('[data-testid=provider-credential]').fill('tf-secret-api-key');
  await tf.locator('button:has-text("Save")').click();
  await eventually(
    async () =>
      (await tf.locator('[data-testid=provider-state]').innerText()).includes('Credential set') ? true : undefined,
    20_000,
    'the account saved',
  );
  expect(await tf.locator('[data-testid=provider-credential]').inputValue()).toBe('');
  const listed = await h.http.get('/v1/consent-providers').set(bearer(adminKey));
  expect(listed.body.providers).toEqual([
    expect.objectContaining({ provider: 'jornaya' }),
    expect.objectContaining({ provider: 'trustedform', baseUrl: 'https://8.8.4.4', credential: 'set' }),
  ]);
  for (const r of await h.database.db.select().from(consentProviderCredentials))
    expect(r.credentialSealed).not.toContain('tf-secret');

  await w.page.locator('[data-testid=provider-jornaya] button:has-text("Remove")').click();
  await eventually(
    async () =>
      (await h.http.get('/v1/consent-providers').set(bearer(adminKey))).body.providers.length === 1 || undefined,
    20_000,
    'jornaya removed',
  );

  // The campaign's rule, set in the editor, then cleared.
  await w.page.goto(`${h.main.baseUrl}/admin/campaigns/${campaign.id}`);
  await w.page.locator('[data-testid=certificate-provider]').waitFor({ timeout: 20_000 });
  await w.page.selectOption('[data-testid=certificate-provider]', 'trustedform');
  await w.page.fill('[data-testid=certificate-max-age]', '48');
  await w.page.selectOption('[data-testid=certificate-on-failure]', 'return');
  await w.page.click('button:has-text("Save campaign")');
  const rule = async () =>
    (await h.http.get(`/v1/campaigns/${campaign.id}`).set(bearer(adminKey))).body.campaign.consentCertificate;
  await eventually(async () => ((await rule())?.provider === 'trustedform' ? true : undefined), 20_000, 'the rule');
  expect(await rule()).toEqual({ provider: 'trustedform', maxAgeSeconds: 172_800, onClaimFailure: 'return' });

  await w.page.goto(`${h.main.baseUrl}/admin/campaigns/${campaign.id}`);
  await w.page.locator('[data-testid=certificate-max-age]').waitFor({ timeout: 20_000 });
  expect(await w.page.locator('[data-testid=certificate-max-age]').inputValue()).toBe('48');
  await w.page.selectOption('[data-testid=certificate-provider]', '');
  await w.page.click('button:has-text("Save campaign")');
  await eventually(async () => ((await rule()) === null ? true : undefined), 20_000, 'the rule cleared');
  expect(w.errors).toEqual([]);
});
