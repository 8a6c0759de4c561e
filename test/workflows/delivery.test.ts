/**
 * Delivery channels after a win, on the real dev server, real Postgres, a
 * real HTTP receiver and a real SMTP server started here: the signed webhook
 * with the buyer's field mapping, retries after 500s, the final failure and
 * the auto-pause; email; SMS through a webhook provider; the SSRF guard at
 * delivery time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';

import { updateAgencySettings } from '../../db/agencies';
import { openWebhookSecrets } from '../../db/buyers';
import type { Database } from '../../db/connection';
import { createInProcessBus } from '../../db/offer-bus';
import { leadTimeline } from '../../db/offers';
import { auditLog, buyers, deliveries, leads } from '../../db/schema';
import { openTestPostgres } from '../helpers/db';
import { claim, useClaimsDb, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { eventually, type RunningWorker, startLead, startWorker, testClient } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  path: string;
}

/** A receiver answering the scripted statuses in turn (then the last one), recording every request. */
async function receiver(statuses: number[]) {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body, path: req.url ?? '' });
      res.statusCode = statuses[Math.min(requests.length - 1, statuses.length - 1)];
      res.end(res.statusCode < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    requests,
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const mails: { to: string; raw: string }[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, session, callback) {
    let raw = '';
    stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    stream.on('end', () => {
      mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), raw });
      callback();
    });
  },
});

let database: Database;
let worker: RunningWorker;
let client: Client;
let connection: Connection;
let sms: Awaited<ReturnType<typeof receiver>>;

beforeAll(async () => {
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  sms = await receiver([202]);
  database = await openTestPostgres();
  useClaimsDb(database.db);
  worker = await startWorker({
    db: database.db,
    bus: createInProcessBus(),
    delivery: {
      allowlist: '127.0.0.1',
      smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
      smsProviderUrl: `${sms.url}/sms`,
      providerToken: 'provider-token',
      timeoutMs: 2_000,
      retry: { initialIntervalMs: 50, backoffCoefficient: 2, maximumIntervalMs: 200, maximumAttempts: 4 },
    },
  });
  ({ client, connection } = await testClient());
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await database?.close();
  await sms?.close();
  await new Promise<void>((r) => smtp.close(() => r()));
});

/** Sells one lead to the buyer (the only eligible one) and waits for the lead to be sold. */
async function sellTo(
  agencyId: string,
  buyerId: string,
  fields = {},
  columns: Partial<typeof leads.$inferInsert> = {},
) {
  const db = database.db;
  const campaign = await makeCampaign(db, agencyId, { claimWindowSeconds: 30, price: { base: 10 } });
  const lead = await makeLead(db, agencyId, campaign.id, fields);
  await db
    .update(leads)
    .set({
      consent: {
        text: 'I agree to be called',
        timestamp: '2026-01-02T03:04:05Z',
        ip: '203.0.113.9',
        userAgent: 'Mozilla/5.0',
        certificateUrl: 'https://cert.example/abc',
      },
      ...columns,
    })
    .where(eq(leads.id, lead.id));
  await startLead(client, worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  const won = await claim(client, offer, buyerId);
  if (won.result !== 'won') throw new Error(`expected a win, got ${JSON.stringify(won)}`);
  await client.workflow.getHandle(offer.workflowId).result();
  return { lead, offer, assignmentId: won.assignmentId };
}

const eventsOf = async (leadId: string, type: string) =>
  (await leadTimeline(database.db, leadId)).filter((e) => e.type === type);

test('the webhook is a signed JSON POST of the full lead with consent, shaped by the field mapping, retried after 500s', async () => {
  const db = database.db;
  const hook = await receiver([500, 500, 200]);
  try {
    const agency = await makeAgency(db);
    const buyer = await makeBuyer(db, agency.id, {
      credits: 100,
      delivery: {
        webhookUrl: `${hook.url}/leads`,
        fieldMapping: {
          rename: { 'lead.phone': 'phone_number', 'lead.firstName': 'first_name' },
          static: { source: 'leadwire', vendor_id: 42 },
          omit: ['lead.answers'],
        },
      },
    });
    const { lead, assignmentId } = await sellTo(agency.id, buyer.id);

    expect(hook.requests).toHaveLength(3);
    const last = hook.requests[2];
    const body = JSON.parse(last.body);
    expect(body).toMatchObject({
      event: 'lead.delivered',
      assignmentId,
      leadId: lead.id,
      phone_number: lead.fields.phone,
      first_name: lead.fields.firstName,
      source: 'leadwire',
      vendor_id: 42,
    });
    expect(body.lead.phone).toBeUndefined();
    expect(body.lead.answers).toBeUndefined();
    expect(body.lead.email).toBe(lead.fields.email);
    expect(body.consent).toMatchObject({
      text: 'I agree to be called',
      ip: '203.0.113.9',
      certificateUrl: 'https://cert.example/abc',
    });
    // Every attempt carries the same idempotency key and message id, and a Standard Webhooks signature over the exact body.
    const [row] = await db.select().from(buyers).where(eq(buyers.id, buyer.id));
    const stock = new Webhook(openWebhookSecrets(row!).current!); // sealed in the row, opened by the key store
    const headers = (r: Received) =>
      Object.fromEntries(
        ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((k) => [k, String(r.headers[k])]),
      );
    for (const r of hook.requests) {
      expect(r.headers['idempotency-key']).toBe(assignmentId);
      expect(r.headers['webhook-id']).toBe(`msg_${assignmentId}`);
      expect(r.headers['x-leadwire-signature']).toBeUndefined(); // a buyer created after Standard Webhooks gets none
      expect(stock.verify(r.body, headers(r))).toMatchObject({ assignmentId });
      expect(() =>
        new Webhook(`whsec_${Buffer.from('wrong').toString('base64')}`).verify(r.body, headers(r)),
      ).toThrow();
    }
    // A stale timestamp (outside the library's 5-minute tolerance) is refused by the receiver's check.
    const stale = { ...headers(last), 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 301) };
    expect(() => stock.verify(last.body, stale)).toThrow();

    const delivered = await eventsOf(lead.id, 'delivered');
    expect(delivered.map((e) => e.data?.channel).sort()).toEqual(['dashboard', 'webhook']);
    expect(delivered.find((e) => e.data?.channel === 'webhook')?.data).toMatchObject({
      attempts: 3,
      detail: 'HTTP 200',
    });
    const [d] = await db
      .select()
      .from(deliveries)
      .where(eq(deliveries.assignmentId, assignmentId))
      .then((rows) => rows.filter((x) => x.channel === 'webhook'));
    expect(d).toMatchObject({ status: 'delivered', attempts: 3 });
  } finally {
    await hook.close();
  }
});

test('the webhook carries the phone number as the source sent it, or in E.164 when the buyer chose it (#23)', async () => {
  const db = database.db;
  const hook = await receiver([200]);
  try {
    const sent = { phone: '(512) 555-0123' };
    const normalised = { phoneE164: '+15125550123', phoneType: 'fixed_line_or_mobile' as const };
    for (const [path, phoneFormat, expected] of [
      ['/as-sent', undefined, '(512) 555-0123'],
      ['/chosen-as-sent', 'as_sent', '(512) 555-0123'],
      ['/e164', 'e164', '+15125550123'],
    ] as const) {
      const agency = await makeAgency(db);
      const buyer = await makeBuyer(db, agency.id, {
        credits: 100,
        delivery: { webhookUrl: `${hook.url}${path}`, ...(phoneFormat ? { phoneFormat } : {}) },
      });
      const { lead } = await sellTo(agency.id, buyer.id, sent, normalised);
      const got = await eventually(async () => hook.requests.find((r) => r.path === path));
      expect(JSON.parse(got.body).lead).toMatchObject({ id: lead.id, phone: expected });
    }
  } finally {
    await hook.close();
  }
});

test('a webhook failing every attempt is delivery_failed; the Nth consecutive failure pauses the buyer, visible and audited', async () => {
  const db = database.db;
  const hook = await receiver([500]);
  try {
    const agency = await makeAgency(db);
    await updateAgencySettings(db, agency.id, { autoPauseAfterFailures: 2 });
    const buyer = await makeBuyer(db, agency.id, { credits: 100, delivery: { webhookUrl: hook.url } });

    const first = await sellTo(agency.id, buyer.id);
    const [failed] = await eventsOf(first.lead.id, 'delivery_failed');
    expect(failed).toMatchObject({ buyerId: buyer.id, data: { channel: 'webhook', attempts: 4 } });
    expect(String(failed.data?.error)).toContain('HTTP 500');
    expect(hook.requests).toHaveLength(4);
    let [row] = await db.select().from(buyers).where(eq(buyers.id, buyer.id));
    expect(row).toMatchObject({ status: 'active', consecutiveDeliveryFailures: 1 });

    const second = await sellTo(agency.id, buyer.id);
    [row] = await db.select().from(buyers).where(eq(buyers.id, buyer.id));
    expect(row).toMatchObject({ status: 'paused', pausedBy: 'system', consecutiveDeliveryFailures: 2 });
    expect(row!.pauseReason).toMatch(/auto-paused: 2 consecutive failed deliveries/);
    expect(await eventsOf(second.lead.id, 'buyer_paused')).toEqual([
      expect.objectContaining({ buyerId: buyer.id, reason: 'delivery_failures' }),
    ]);
    const audit = await db.select().from(auditLog).where(eq(auditLog.buyerId, buyer.id));
    expect(audit).toEqual([
      expect.objectContaining({
        actorType: 'system',
        side: 'system',
        objectType: 'buyer',
        action: 'updated',
        changes: expect.objectContaining({ status: { from: 'active', to: 'paused' } }),
      }),
    ]);
  } finally {
    await hook.close();
  }
});

test('email goes over SMTP to the buyer, with the lead and its consent; SMS goes to the provider webhook', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, {
    credits: 100,
    delivery: { email: 'ops@buyer.example', smsTo: '+15125550100' },
  });
  const before = sms.requests.length;
  const { lead, assignmentId } = await sellTo(agency.id, buyer.id);

  const mail = await eventually(async () => mails.find((m) => m.raw.includes(assignmentId)), 10_000, 'the email');
  expect(mail.to).toBe('ops@buyer.example');
  expect(mail.raw).toContain(lead.fields.phone);
  expect(mail.raw).toContain('I agree to be called');
  const text = sms.requests.slice(before).find((r) => r.body.includes(assignmentId))!;
  expect(text.path).toBe('/sms');
  expect(text.headers.authorization).toBe('Bearer provider-token');
  expect(JSON.parse(text.body)).toMatchObject({ channel: 'sms', to: '+15125550100', reference: assignmentId });
  expect(JSON.parse(text.body).message).toContain(lead.fields.phone);
  const delivered = await eventsOf(lead.id, 'delivered');
  expect(delivered.map((e) => e.data?.channel).sort()).toEqual(['dashboard', 'email', 'sms']);
});

test('at delivery time a webhook resolving to a private address is refused without retrying, even if it was accepted before', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  // Stored directly, as if DNS changed after the API checked it: 127.0.0.2 is loopback and not allow-listed.
  const buyer = await makeBuyer(db, agency.id, { credits: 100, delivery: { webhookUrl: 'http://127.0.0.2:9/hook' } });
  const { lead } = await sellTo(agency.id, buyer.id);
  const [failed] = await eventsOf(lead.id, 'delivery_failed');
  expect(failed.data).toMatchObject({ channel: 'webhook', attempts: 1 });
  expect(String(failed.data?.error)).toMatch(/private, loopback or link-local/);
  await waitForLeadStatus(db, lead.id, 'sold');
});
