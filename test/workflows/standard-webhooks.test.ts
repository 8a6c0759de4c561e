/**
 * Standard Webhooks 1.0 end to end (issue 16, item 1): a receiver verifying
 * with the stock `standardwebhooks` library accepts every delivery – a new
 * buyer's, a migrated buyer's (old hex secret, plus the deprecated header),
 * and during a rotation's overlap with either secret; a 429 with
 * `Retry-After: 5` is retried no sooner than 5 s later; a 410 pauses the
 * endpoint; every attempt is logged with its status, latency and answer; and
 * redeliver sends the same webhook id again. Real dev server, Postgres, API
 * and HTTP receiver.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';

import { verifyLegacySignature } from '../../activities/channels/signing';
import { LeadDeliveredV2 } from '../../api/routes/webhook-events.schemas';
import { rotateSecrets } from '../../db/key-store';
import { buyers } from '../../db/schema';
import { generateMasterKey, installKeyStore, KeyStore, keyStore, parseMasterKeys } from '../../lib/key-store';
import { apiAgency, apiBuyer, apiCampaign, apiLead, bearer, type Harness, startHarness } from '../api/harness';
import { offerOfLead, winOffer } from '../api/world';
import { eventually } from '../helpers/temporal';

jest.setTimeout(120_000);

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A receiver answering scripted responses in turn (then the last one), recording every request with its arrival time. */
async function receiver(script: { status: number; headers?: Record<string, string> }[]) {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body, at: Date.now() });
      const step = script[Math.min(requests.length - 1, script.length - 1)]!;
      res.writeHead(step.status, step.headers ?? {});
      res.end(step.status < 300 ? 'thanks' : `status ${step.status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    requests,
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const signed = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    api: { webhookAllowlist: '127.0.0.1' },
    delivery: {
      allowlist: '127.0.0.1',
      timeoutMs: 2_000,
      retry: { initialIntervalMs: 100, backoffCoefficient: 2, maximumIntervalMs: 500, maximumAttempts: 3 },
    },
  });
});

afterAll(async () => {
  await h?.close();
});

/** An agency, a buyer with credits and this webhook URL, a campaign; `sell()` sells it one lead and answers the assignment id. */
async function world(webhookUrl: string) {
  const { adminKey } = await apiAgency(h);
  const created = await h.http
    .post('/v1/buyers')
    .set(bearer(adminKey))
    .send({ name: `hooked-${crypto.randomUUID().slice(0, 8)}`, serviceLines: ['roofing'], delivery: { webhookUrl } });
  expect(created.status).toBe(201);
  const buyer = created.body.buyer as { id: string };
  expect(
    (await h.http.post(`/v1/buyers/${buyer.id}/credits`).set(bearer(adminKey)).send({ amount: 1000 })).status,
  ).toBe(201);
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
  const sell = async () => {
    const lead = await apiLead(h, adminKey, campaign.id);
    const offer = await offerOfLead(h, lead.id);
    const won = await winOffer(h, created.body.apiKey as string, offer.id);
    return { assignmentId: won.assignmentId, leadId: lead.id };
  };
  return { adminKey, buyer, apiKey: created.body.apiKey as string, secret: created.body.webhookSecret as string, sell };
}

const deliveriesOf = async (adminKey: string, assignmentId: string) => {
  const res = await h.http.get(`/v1/assignments/${assignmentId}/deliveries`).set(bearer(adminKey));
  expect(res.status).toBe(200);
  return res.body as { deliveries: { channel: string; status: string }[]; attempts: Record<string, unknown>[] };
};

test('a new buyer: whsec_ base64 secret, the three headers, verified by the stock library; the deprecated header is not sent', async () => {
  const hook = await receiver([{ status: 200 }]);
  try {
    const w = await world(hook.url);
    expect(w.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const { assignmentId } = await w.sell();
    await eventually(async () => hook.requests.length === 1 || undefined, 20_000, 'the webhook');
    const r = hook.requests[0]!;
    expect(r.headers['webhook-id']).toBe(`msg_${assignmentId}`);
    expect(r.headers['x-leadwire-signature']).toBeUndefined();
    expect(new Webhook(w.secret).verify(r.body, signed(r))).toMatchObject({ event: 'lead.delivered', assignmentId });
  } finally {
    await hook.close();
  }
});

test('a migrated buyer keeps its old hex secret: the stock library verifies with it as is, and the old header is sent until its rotation', async () => {
  const hook = await receiver([{ status: 200 }]);
  try {
    const w = await world(hook.url);
    // As migrations 0004 and 0008 leave a buyer from before Standard Webhooks: its secret still in clear, not yet sealed.
    const old = `whsec_${crypto.randomBytes(32).toString('hex')}`;
    await h.database.db
      .update(buyers)
      .set({
        webhookSecretPlaintext: old,
        webhookSecretSealed: null,
        legacySignatureUntil: new Date(Date.now() + 90 * 86_400_000),
      })
      .where(eq(buyers.id, w.buyer.id));
    await w.sell();
    await eventually(async () => hook.requests.length === 1 || undefined, 20_000, 'the webhook');
    const r = hook.requests[0]!;
    expect(new Webhook(old).verify(r.body, signed(r))).toBeTruthy();
    expect(verifyLegacySignature(old, String(r.headers['x-leadwire-signature']), r.body)).toBe(true);
    // The delivery sealed it: nothing left in clear.
    const [row] = await h.database.db.select().from(buyers).where(eq(buyers.id, w.buyer.id));
    expect(row).toMatchObject({ webhookSecretPlaintext: null, webhookSecretSealed: expect.stringMatching(/^lwk1\./) });

    const rotated = await h.http.post(`/v1/buyers/${w.buyer.id}/webhook-secret`).set(bearer(w.adminKey)).send({});
    expect(rotated.status).toBe(201);
    await w.sell();
    await eventually(async () => hook.requests.length === 2 || undefined, 20_000, 'the second webhook');
    const after = hook.requests[1]!;
    expect(after.headers['x-leadwire-signature']).toBeUndefined();
    expect(new Webhook(rotated.body.webhookSecret as string).verify(after.body, signed(after))).toBeTruthy();
  } finally {
    await hook.close();
  }
});

test('after a master key rotation (the old key then removed), webhooks still verify with the secret the buyer was given', async () => {
  const hook = await receiver([{ status: 200 }]);
  const runStore = keyStore();
  const runKeys = parseMasterKeys(process.env.LEADWIRE_MASTER_KEYS!);
  const next = parseMasterKeys(generateMasterKey('next'));
  const rotateAll = async () => {
    while ((await rotateSecrets(h.database.db)).moved > 0);
  };
  try {
    const w = await world(hook.url);
    installKeyStore(new KeyStore([...next, ...runKeys])); // the new key first, the old still configured
    await rotateAll();
    installKeyStore(new KeyStore(next)); // the old key removed
    const [row] = await h.database.db.select().from(buyers).where(eq(buyers.id, w.buyer.id));
    expect(row!.webhookSecretSealed).toMatch(/^lwk1\.next\./);
    const { assignmentId } = await w.sell();
    await eventually(async () => hook.requests.length === 1 || undefined, 20_000, 'the webhook');
    const r = hook.requests[0]!;
    expect(new Webhook(w.secret).verify(r.body, signed(r))).toMatchObject({ event: 'lead.delivered', assignmentId });
  } finally {
    // The run's database goes back under the run's key (other tests' processes know only that one).
    installKeyStore(new KeyStore([...runKeys, ...next]));
    await rotateAll();
    installKeyStore(runStore);
    await hook.close();
  }
});

test('rotation with an overlap: both secrets sign (either verifies with the stock library); without one the old secret stops at once', async () => {
  const hook = await receiver([{ status: 200 }]);
  try {
    const w = await world(hook.url);
    const rotated = await h.http
      .post(`/v1/buyers/${w.buyer.id}/webhook-secret`)
      .set(bearer(w.adminKey))
      .send({ overlapSeconds: 3600 });
    expect(rotated.status).toBe(201);
    expect(Date.parse(rotated.body.previousSecretUntil as string)).toBeGreaterThan(Date.now() + 3500_000);
    await w.sell();
    await eventually(async () => hook.requests.length === 1 || undefined, 20_000, 'the webhook');
    const during = hook.requests[0]!;
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(new Webhook(w.secret).verify(during.body, signed(during))).toBeTruthy(); // a receiver not yet switched
    expect(new Webhook(rotated.body.webhookSecret as string).verify(during.body, signed(during))).toBeTruthy(); // one already switched

    const again = await h.http
      .post(`/v1/buyers/${w.buyer.id}/webhook-secret`)
      .set(bearer(w.adminKey))
      .send({ overlapSeconds: 0 });
    expect(again.body.previousSecretUntil).toBeNull();
    await w.sell();
    await eventually(async () => hook.requests.length === 2 || undefined, 20_000, 'the second webhook');
    const after = hook.requests[1]!;
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(new Webhook(again.body.webhookSecret as string).verify(after.body, signed(after))).toBeTruthy();
    expect(() => new Webhook(rotated.body.webhookSecret as string).verify(after.body, signed(after))).toThrow();
  } finally {
    await hook.close();
  }
});

test('a 429 with Retry-After: 5 is retried no sooner than 5 s later; every attempt is logged with status, latency and answer, and is on the timeline', async () => {
  const hook = await receiver([{ status: 429, headers: { 'Retry-After': '5' } }, { status: 200 }]);
  try {
    const w = await world(hook.url);
    const { assignmentId, leadId } = await w.sell();
    await eventually(async () => hook.requests.length === 2 || undefined, 30_000, 'the retried webhook');
    expect(hook.requests[1]!.at - hook.requests[0]!.at).toBeGreaterThanOrEqual(5_000);
    expect(hook.requests[1]!.headers['webhook-id']).toBe(hook.requests[0]!.headers['webhook-id']);

    const d = await eventually(
      async () => {
        const x = await deliveriesOf(w.adminKey, assignmentId);
        // The attempt is logged before the delivery's status is written (activities/delivery.ts): wait for both.
        const webhook = x.deliveries.find((c) => c.channel === 'webhook');
        return x.attempts.length === 2 && webhook && webhook.status !== 'pending' ? x : undefined;
      },
      20_000,
      'two logged attempts and the webhook delivery settled',
    );
    expect(d.attempts[0]).toMatchObject({
      channel: 'webhook',
      attempt: 1,
      outcome: 'failed',
      status: 429,
      nextRetryMs: 5000,
      response: 'status 429',
      messageId: `msg_${assignmentId}`,
    });
    expect(d.attempts[1]).toMatchObject({
      channel: 'webhook',
      attempt: 2,
      outcome: 'delivered',
      status: 200,
      response: 'thanks',
      nextRetryMs: null,
    });
    for (const a of d.attempts) expect(a.latencyMs).toEqual(expect.any(Number));
    expect(d.deliveries.find((x) => x.channel === 'webhook')?.status).toBe('delivered');

    const timeline = await h.http.get(`/v1/leads/${leadId}/timeline`).set(bearer(w.adminKey));
    const attempted = (timeline.body.events as { type: string; data: Record<string, unknown> }[]).filter(
      (e) => e.type === 'delivery_attempted',
    );
    expect(attempted.map((e) => [e.data.attempt, e.data.status, e.data.outcome])).toEqual([
      [1, 429, 'failed'],
      [2, 200, 'delivered'],
    ]);
  } finally {
    await hook.close();
  }
});

test('a 410 Gone pauses the endpoint: no retry, delivery_failed, no webhook for the next sale until delivery is changed', async () => {
  const hook = await receiver([{ status: 410 }]);
  try {
    const w = await world(hook.url);
    const { assignmentId, leadId } = await w.sell();
    await eventually(
      async () => {
        const t = await h.http.get(`/v1/leads/${leadId}/timeline`).set(bearer(w.adminKey));
        return (t.body.events as { type: string }[]).some((e) => e.type === 'delivery_failed') || undefined;
      },
      20_000,
      'delivery_failed',
    );
    expect(hook.requests).toHaveLength(1);
    const buyer = await h.http.get(`/v1/buyers/${w.buyer.id}`).set(bearer(w.adminKey));
    expect(buyer.body.buyer.webhookPausedAt).toEqual(expect.any(String));
    expect(buyer.body.buyer.webhookPauseReason).toContain('410');
    expect((await deliveriesOf(w.adminKey, assignmentId)).attempts).toEqual([
      expect.objectContaining({ outcome: 'gone', status: 410 }),
    ]);

    // The next sale: dashboard only, the paused endpoint is not called.
    const next = await w.sell();
    await eventually(
      async () => {
        const t = await h.http.get(`/v1/leads/${next.leadId}/timeline`).set(bearer(w.adminKey));
        return (
          (t.body.events as { type: string; data?: { channel?: string } }[]).some(
            (e) => e.type === 'delivered' && e.data?.channel === 'dashboard',
          ) || undefined
        );
      },
      20_000,
      'the dashboard delivery',
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(hook.requests).toHaveLength(1);

    // New delivery settings resume it.
    const patched = await h.http
      .patch(`/v1/buyers/${w.buyer.id}`)
      .set(bearer(w.adminKey))
      .send({ delivery: { webhookUrl: hook.url } });
    expect(patched.body.buyer.webhookPausedAt).toBeNull();
  } finally {
    await hook.close();
  }
});

test('redeliver sends the same webhook id again, freshly signed and verifiable; the attempt is logged as a redelivery', async () => {
  const hook = await receiver([{ status: 200 }]);
  try {
    const w = await world(hook.url);
    const { assignmentId, leadId } = await w.sell();
    await eventually(async () => hook.requests.length === 1 || undefined, 20_000, 'the webhook');
    const res = await h.http
      .post(`/v1/assignments/${assignmentId}/redeliver`)
      .set(bearer(w.adminKey))
      .send({ channel: 'webhook' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ assignmentId, channel: 'webhook', messageId: `msg_${assignmentId}` });
    await eventually(async () => hook.requests.length === 2 || undefined, 20_000, 'the redelivery');
    const [first, second] = hook.requests;
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(new Webhook(w.secret).verify(second!.body, signed(second!))).toMatchObject({ assignmentId });
    expect(await h.client.workflow.getHandle(res.body.workflowId as string).result()).toEqual({
      delivered: true,
      error: null,
    });
    const d = await deliveriesOf(w.adminKey, assignmentId);
    expect(d.attempts.map((a) => [a.redelivery, a.outcome])).toEqual([
      [false, 'delivered'],
      [true, 'delivered'],
    ]);
    const timeline = await h.http.get(`/v1/leads/${leadId}/timeline`).set(bearer(w.adminKey));
    expect((timeline.body.events as { type: string }[]).some((e) => e.type === 'redelivery_requested')).toBe(true);

    // Another agency's admin cannot see or redeliver it.
    const other = await apiAgency(h);
    expect(
      (
        await h.http
          .post(`/v1/assignments/${assignmentId}/redeliver`)
          .set(bearer(other.adminKey))
          .send({ channel: 'webhook' })
      ).status,
    ).toBe(404);
    expect((await h.http.get(`/v1/assignments/${assignmentId}/deliveries`).set(bearer(other.adminKey))).status).toBe(
      404,
    );
  } finally {
    await hook.close();
  }
});

test('bad input: a redeliver without a known channel is a 400 naming channel; a rotation overlap beyond 7 days is a 400 naming overlapSeconds', async () => {
  const { adminKey } = await apiAgency(h);
  const { buyer } = await apiBuyer(h, adminKey);
  const bad = await h.http
    .post(`/v1/assignments/${crypto.randomUUID()}/redeliver`)
    .set(bearer(adminKey))
    .send({ channel: 'dashboard' });
  expect([bad.status, bad.body.errors?.[0]?.path]).toEqual([400, 'channel']);
  const long = await h.http
    .post(`/v1/buyers/${buyer.id}/webhook-secret`)
    .set(bearer(adminKey))
    .send({ overlapSeconds: 8 * 86_400 });
  expect([long.status, long.body.errors?.[0]?.path]).toEqual([400, 'overlapSeconds']);
});

test('payload version 2: the same signed delivery as {type, timestamp, data}, the field mapping applied to data, matching the document; version 1 keeps its shape', async () => {
  const hook = await receiver([{ status: 200 }]);
  try {
    const w = await world(hook.url);
    const switched = await h.http
      .patch(`/v1/buyers/${w.buyer.id}`)
      .set(bearer(w.adminKey))
      .send({
        delivery: { webhookUrl: hook.url, payloadVersion: 2, fieldMapping: { rename: { 'lead.phone': 'phone' } } },
      });
    expect(switched.status).toBe(200);
    expect(switched.body.buyer.delivery.payloadVersion).toBe(2);
    const { assignmentId, leadId } = await w.sell();
    await eventually(async () => hook.requests.length === 1 || undefined, 20_000, 'the webhook');
    const r = hook.requests[0]!;
    const body = new Webhook(w.secret).verify(r.body, signed(r)) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['data', 'timestamp', 'type']);
    expect(body).toMatchObject({ type: 'lead.delivered', data: { assignmentId, leadId, phone: expect.any(String) } });
    expect(body.timestamp).toBe((body.data as { soldAt: string }).soldAt);
    expect((body.data as { lead: Record<string, unknown> }).lead.phone).toBeUndefined(); // renamed within data
    // Undo the buyer's rename: the rest is exactly what the document declares for version 2.
    const { phone, lead, ...data } = body.data as { phone: string; lead: object };
    const unmapped = { ...body, data: { ...data, lead: { ...lead, phone } } };
    expect(LeadDeliveredV2.strict().safeParse(unmapped).error).toBeUndefined();
    // A bad version is refused naming the field.
    const bad = await h.http
      .patch(`/v1/buyers/${w.buyer.id}`)
      .set(bearer(w.adminKey))
      .send({ delivery: { webhookUrl: hook.url, payloadVersion: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('delivery.payloadVersion');
  } finally {
    await hook.close();
  }
});
