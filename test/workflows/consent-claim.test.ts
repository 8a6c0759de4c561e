/**
 * Consent certificates claimed at the sale (#23 item 4), on the real dev
 * server and the real Postgres, against local TrustedForm and Jornaya servers
 * speaking their documented shapes: the claim after the sale commits (its
 * answer stored with the sale and in the buyer's webhook), a refusal under
 * each of the campaign's rules (flag; an automatic return with exactly one
 * refund), a provider that never answers, and exactly one claim per sale
 * under the activity's retries.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Client, Connection } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';

import { consentActivities } from '../../activities/consent';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import { saveProviderAccount } from '../../db/consent';
import { createInProcessBus } from '../../db/offer-bus';
import { leadTimeline } from '../../db/offers';
import { assignments, consentClaims, disputes, leads, ledgerEntries } from '../../db/schema';
import type { ConsentCertificateRule, ConsentProvider } from '../../domain/types';
import {
  leadIdToken,
  type LocalProvider,
  startJornaya,
  startTrustedForm,
  trustedFormCertificate,
} from '../helpers/consent-providers';
import { openTestPostgres } from '../helpers/db';
import { recordHistory } from '../helpers/histories';
import { balanceOf, claim, useClaimsDb, waitForOffer } from '../helpers/lifecycle';
import { type RunningWorker, startLead, startWorker, testClient } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

const DELIVERY = {
  allowlist: '127.0.0.1',
  timeoutMs: 500,
  retry: { initialIntervalMs: 50, backoffCoefficient: 2, maximumIntervalMs: 200, maximumAttempts: 4 },
};

let database: Database;
let worker: RunningWorker;
let client: Client;
let connection: Connection;
let trustedForm: LocalProvider;
let jornaya: LocalProvider;
let hooks: { url: string; bodies: Record<string, unknown>[]; close(): Promise<void> };

beforeAll(async () => {
  trustedForm = await startTrustedForm('tf-api-key');
  jornaya = await startJornaya('JORNAYA-ACCOUNT');
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hooks = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/leads`,
    bodies,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  database = await openTestPostgres();
  useClaimsDb(database.db);
  worker = await startWorker({ db: database.db, bus: createInProcessBus(), delivery: DELIVERY });
  ({ client, connection } = await testClient());
});

afterAll(async () => {
  useClaimsDb(null);
  await worker?.stop();
  await connection?.close();
  await database?.close();
  await trustedForm?.close();
  await jornaya?.close();
  await hooks?.close();
});

/** A lead with a certificate in a campaign with the rule, sold to the one buyer (webhook on); the workflow finished. */
async function sellWithCertificate(rule: ConsentCertificateRule, certificate: string, record?: string) {
  const db = database.db;
  const agency = await makeAgency(db);
  const provider: Record<ConsentProvider, LocalProvider> = { trustedform: trustedForm, jornaya };
  await saveProviderAccount(db, {
    agencyId: agency.id,
    provider: rule.provider,
    baseUrl: provider[rule.provider].url,
    credential: rule.provider === 'trustedform' ? 'tf-api-key' : 'JORNAYA-ACCOUNT',
    by: SYSTEM,
  });
  const buyer = await makeBuyer(db, agency.id, { credits: 100, delivery: { webhookUrl: hooks.url } });
  const campaign = await makeCampaign(db, agency.id, {
    claimWindowSeconds: 30,
    price: { base: 10 },
    consentCertificate: rule,
  });
  const lead = await makeLead(db, agency.id, campaign.id);
  const consent = {
    text: 'I agree to be called',
    timestamp: new Date().toISOString(),
    ip: '203.0.113.9',
    userAgent: 'Mozilla/5.0',
    certificateUrl: certificate,
  };
  await db.update(leads).set({ consent }).where(eq(leads.id, lead.id));
  await startLead(client, worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  const won = await claim(client, offer, buyer.id);
  if (won.result !== 'won') throw new Error(`expected a win, got ${JSON.stringify(won)}`);
  await client.workflow.getHandle(offer.workflowId).result();
  if (record) await recordHistory(client, offer.workflowId, record);
  const [stored] = await db.select().from(consentClaims).where(eq(consentClaims.assignmentId, won.assignmentId));
  const events = await leadTimeline(db, lead.id);
  const webhook = hooks.bodies.find((b) => b.assignmentId === won.assignmentId);
  return { agency, buyer, lead, offer, assignmentId: won.assignmentId, stored, events, webhook };
}

const requestsFor = (p: LocalProvider, id: string) => p.requests.filter((r) => r.path.includes(id));

test('TrustedForm: the certificate is claimed after the sale; the answer is stored with it and sent in the webhook', async () => {
  const cert = trustedFormCertificate();
  const certId = cert.split('/').at(-1)!;
  const sale = await sellWithCertificate(
    { provider: 'trustedform', maxAgeSeconds: 3600, onClaimFailure: 'flag' },
    cert,
    'ping-post-consent-claim',
  );
  // The documented request: POST /<cert id>, Basic API:<key>, api-version 4.0, retain with our reference, match_lead.
  const [req] = requestsFor(trustedForm, certId);
  expect(requestsFor(trustedForm, certId)).toHaveLength(1);
  expect(req).toMatchObject({ method: 'POST', path: `/${certId}` });
  expect(req!.headers.authorization).toBe(`Basic ${Buffer.from('API:tf-api-key').toString('base64')}`);
  expect(req!.headers['api-version']).toBe('4.0');
  expect(JSON.parse(req!.body)).toEqual({
    retain: { reference: sale.assignmentId, vendor: 'leadwire' },
    match_lead: { email: sale.lead.fields.email, phone: expect.any(String) },
  });
  expect(trustedForm.granted.get(certId)).toBe(1);

  expect(sale.stored).toMatchObject({ status: 'claimed', provider: 'trustedform', attempts: 1, flagged: false });
  expect(sale.stored!.answer).toMatchObject({ outcome: 'success', cert_id: certId });
  expect(sale.events.filter((e) => e.type === 'consent_claimed')).toHaveLength(1);
  expect(sale.events.find((e) => e.type === 'consent_claimed')!.data).toMatchObject({
    assignmentId: sale.assignmentId,
    provider: 'trustedform',
  });
  // The buyer's webhook carries the claim's answer.
  expect(sale.webhook?.consentClaim).toMatchObject({
    provider: 'trustedform',
    status: 'claimed',
    flagged: false,
    answer: { outcome: 'success' },
  });
  expect(await balanceOf(database.db, sale.buyer.id)).toBe(90);
});

test('Jornaya: the LeadiD token is authenticated through the account code', async () => {
  const token = leadIdToken();
  const sale = await sellWithCertificate({ provider: 'jornaya', maxAgeSeconds: 3600, onClaimFailure: 'flag' }, token);
  const reqs = requestsFor(jornaya, token);
  expect(reqs).toHaveLength(1);
  expect(reqs[0]!.method).toBe('GET');
  expect(reqs[0]!.path).toBe(`/Authenticate?lac=JORNAYA-ACCOUNT&id=${token}`);
  expect(sale.stored).toMatchObject({ status: 'claimed', provider: 'jornaya' });
  expect(sale.stored!.answer).toEqual({ authenticate: { authentic: 1, token } });
  expect(sale.webhook?.consentClaim).toMatchObject({ status: 'claimed', answer: { authenticate: { authentic: 1 } } });
});

test('a refused claim under `flag`: the sale stands, flagged, and the buyer is told in the webhook', async () => {
  const cert = trustedFormCertificate();
  const certId = cert.split('/').at(-1)!;
  trustedForm.script.push('refuse');
  const sale = await sellWithCertificate(
    { provider: 'trustedform', maxAgeSeconds: 3600, onClaimFailure: 'flag' },
    cert,
  );
  expect(requestsFor(trustedForm, certId)).toHaveLength(1); // a refusal is not retried
  expect(sale.stored).toMatchObject({ status: 'failed', flagged: true, attempts: 1 });
  expect(sale.stored!.error).toMatch(/TrustedForm outcome: failure/);
  const failed = sale.events.filter((e) => e.type === 'consent_claim_failed');
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({ reason: 'consent_claim_failed', data: { rule: 'flag' } });
  expect(sale.webhook?.consentClaim).toMatchObject({ status: 'failed', flagged: true });
  const [a] = await database.db.select().from(assignments).where(eq(assignments.id, sale.assignmentId));
  expect(a!.status).toBe('active');
  expect(await balanceOf(database.db, sale.buyer.id)).toBe(90);
});

test('a refused claim under `return`: an automatic return refunds the sale exactly once, and nothing is delivered', async () => {
  const cert = trustedFormCertificate();
  trustedForm.script.push(403);
  const sale = await sellWithCertificate(
    { provider: 'trustedform', maxAgeSeconds: 3600, onClaimFailure: 'return' },
    cert,
  );
  const db = database.db;
  expect(sale.stored).toMatchObject({ status: 'failed', flagged: false });
  const returned = await db.select().from(disputes).where(eq(disputes.assignmentId, sale.assignmentId));
  expect(returned).toHaveLength(1);
  expect(returned[0]).toMatchObject({ status: 'approved', reasonCode: 'consent_claim_failed' });
  const refunds = () =>
    db
      .select()
      .from(ledgerEntries)
      .where(and(eq(ledgerEntries.buyerId, sale.buyer.id), eq(ledgerEntries.kind, 'refund')));
  expect(await refunds()).toHaveLength(1);
  expect((await refunds())[0]!.amount).toBe(10);
  expect(await balanceOf(db, sale.buyer.id)).toBe(100);
  const [a] = await db.select().from(assignments).where(eq(assignments.id, sale.assignmentId));
  expect(a!.status).toBe('refunded');
  expect(sale.webhook).toBeUndefined(); // a returned sale goes to no channel
  expect(sale.events.filter((e) => e.type === 'refunded')).toHaveLength(1);

  // Settling again (a retried local activity) refunds nothing more.
  const activities = consentActivities({ db, bus: createInProcessBus(), delivery: DELIVERY });
  await activities.settleConsentClaim({ assignmentId: sale.assignmentId, error: 'again' });
  expect(await refunds()).toHaveLength(1);
  expect(await balanceOf(db, sale.buyer.id)).toBe(100);
  expect(await db.select().from(disputes).where(eq(disputes.assignmentId, sale.assignmentId))).toHaveLength(1);
});

test('a provider that never answers: every attempt times out, then the rule (flag) applies', async () => {
  const cert = trustedFormCertificate();
  const certId = cert.split('/').at(-1)!;
  trustedForm.script.push('hang', 'hang', 'hang', 'hang');
  const sale = await sellWithCertificate(
    { provider: 'trustedform', maxAgeSeconds: 3600, onClaimFailure: 'flag' },
    cert,
  );
  expect(requestsFor(trustedForm, certId)).toHaveLength(DELIVERY.retry.maximumAttempts);
  expect(sale.stored).toMatchObject({ status: 'failed', flagged: true, attempts: DELIVERY.retry.maximumAttempts });
  expect(sale.stored!.error).toMatch(/no answer within 500 ms/);
  expect(sale.webhook?.consentClaim).toMatchObject({ status: 'failed', flagged: true });
});

test('exactly one claim per sale under retries: failed attempts retry, and an attempt after the answer asks nobody', async () => {
  const cert = trustedFormCertificate();
  const certId = cert.split('/').at(-1)!;
  trustedForm.script.push(503, 'hang');
  const sale = await sellWithCertificate(
    { provider: 'trustedform', maxAgeSeconds: 3600, onClaimFailure: 'flag' },
    cert,
  );
  expect(requestsFor(trustedForm, certId)).toHaveLength(3);
  expect(trustedForm.granted.get(certId)).toBe(1);
  expect(sale.stored).toMatchObject({ status: 'claimed', attempts: 3 });
  expect(sale.events.filter((e) => e.type === 'consent_claimed')).toHaveLength(1);

  // The activity run again for the same sale (a retry after its answer was recorded): the stored answer, no request.
  const activities = consentActivities({ db: database.db, bus: createInProcessBus(), delivery: DELIVERY });
  const again = await activities.claimConsentCertificate({ assignmentId: sale.assignmentId });
  expect(again).toMatchObject({ status: 'claimed', provider: 'trustedform' });
  await Promise.all([1, 2, 3].map(() => activities.claimConsentCertificate({ assignmentId: sale.assignmentId })));
  expect(requestsFor(trustedForm, certId)).toHaveLength(3);
  expect(trustedForm.granted.get(certId)).toBe(1);
  const [row] = await database.db.select().from(consentClaims).where(eq(consentClaims.assignmentId, sale.assignmentId));
  expect(row!.attempts).toBe(3);
});
