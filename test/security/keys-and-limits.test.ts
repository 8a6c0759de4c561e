/**
 * Keys and the doors they open: keys are stored hashed (no plaintext key
 * anywhere in the database), compared in constant time, failed
 * authentications and claim floods are rate-limited with Retry-After (on
 * REST and on the feed, and a forged X-Forwarded-For does not reset the
 * limit), and webhook URLs that reach private addresses in any spelling are
 * refused unless allow-listed.
 */
import crypto from 'node:crypto';

import { drizzle } from 'drizzle-orm/node-postgres';
import type { Pool } from 'pg';
import WebSocket from 'ws';

import { Authenticator, KEY_CACHE_MS } from '../../api/auth';
import { TokenBuckets } from '../../api/rate-limit';
import type { Db } from '../../db/connection';
import * as schema from '../../db/schema';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  type Harness,
  ROOT_TOKEN,
  startHarness,
} from '../api/harness';
import { offerOfLead } from '../api/world';
import { dumpDatabase } from './snapshot';

jest.setTimeout(120_000);

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

describe('keys', () => {
  test('no plaintext key is stored anywhere in the database: each key is kept as its SHA-256', async () => {
    const { agency, adminKey } = await apiAgency(h);
    const one = await apiBuyer(h, adminKey, { credits: 10 });
    const two = await apiBuyer(h, adminKey);
    const rotated = await h.http
      .post(`/v1/buyers/${two.buyer.id}/keys`)
      .set(bearer(adminKey))
      .send({ revokeExisting: true });
    expect(rotated.status).toBe(201);
    const extra = await h.http.post(`/v1/buyers/${one.buyer.id}/keys`).set(bearer(adminKey)).send({});
    const secrets = [adminKey, one.apiKey, two.apiKey, rotated.body.apiKey as string, extra.body.apiKey as string];
    // Use them all once, so any place that might record a key on use has had its chance.
    for (const k of secrets.slice(0, 1)) expect((await h.http.get('/v1/me').set(bearer(k))).status).toBe(200);
    for (const k of secrets.slice(2, 3)) expect((await h.http.get('/v1/me').set(bearer(k))).status).toBe(401); // revoked
    for (const k of [secrets[1]!, ...secrets.slice(3)])
      expect((await h.http.get('/v1/me/wallet').set(bearer(k))).status).toBe(200);

    const pool = h.database.raw as Pool;
    const { rows } = await pool.query('SELECT kind, key_hash, prefix, revoked_at FROM api_keys WHERE agency_id = $1', [
      agency.id,
    ]);
    expect(rows).toHaveLength(5);
    expect(rows.map((r) => r.key_hash).sort()).toEqual(secrets.map(sha256).sort());
    for (const r of rows) expect(r.prefix.length).toBeLessThanOrEqual(13); // a few characters to tell keys apart, no more

    const dump = await dumpDatabase(pool);
    expect(dump.length).toBeGreaterThan(1000);
    for (const secret of [...secrets, ROOT_TOKEN]) {
      expect(dump.includes(secret)).toBe(false);
      expect(dump.includes(secret.slice(9))).toBe(false); // nor the random part alone
    }
  });

  test('a verified key is remembered for one second: a key revoked in another process stops working within it, in this one at once', async () => {
    const { adminKey } = await apiAgency(h);
    const { buyer, apiKey } = await apiBuyer(h, adminKey);
    let clock = 1_000_000;
    // Another API process, with its own memory of verified keys (and a clock the test moves).
    const other = new Authenticator(
      h.database.db,
      ROOT_TOKEN,
      new TokenBuckets({ capacity: 100, refillPerSecond: 100 }),
      () => clock,
    );
    expect(await other.verify(apiKey)).toMatchObject({ kind: 'buyer', buyerId: buyer.id });
    const rotated = await h.http
      .post(`/v1/buyers/${buyer.id}/keys`)
      .set(bearer(adminKey))
      .send({ revokeExisting: true });
    expect(rotated.status).toBe(201);
    // The process that revoked it refuses it at once.
    expect((await h.http.get('/v1/me').set(bearer(apiKey))).status).toBe(401);
    // The other process still trusts it inside the second it remembers it, and not a moment after.
    clock += KEY_CACHE_MS - 1;
    expect(await other.verify(apiKey)).toMatchObject({ kind: 'buyer' });
    clock += 2;
    expect(await other.verify(apiKey)).toBeNull();
    expect(await other.verify(rotated.body.apiKey)).toMatchObject({ kind: 'buyer', buyerId: buyer.id });
  });

  test('the key check compares digests with crypto.timingSafeEqual and looks keys up by their hash, never by the secret', async () => {
    const { adminKey } = await apiAgency(h);
    const safeEqual = jest.spyOn(crypto, 'timingSafeEqual');
    // Every statement the check sends, with its parameters.
    const sent: unknown[] = [];
    const db = drizzle(h.database.raw as Pool, {
      schema,
      logger: { logQuery: (query, params) => sent.push(query, ...params) },
    }) as unknown as Db;
    try {
      const auth = new Authenticator(db, ROOT_TOKEN, new TokenBuckets({ capacity: 100, refillPerSecond: 100 }));
      expect(await auth.verify(ROOT_TOKEN)).toMatchObject({ kind: 'root', role: 'operator', keyId: null });
      expect(safeEqual).toHaveBeenCalledWith(
        Buffer.from(sha256(ROOT_TOKEN), 'hex'),
        Buffer.from(sha256(ROOT_TOKEN), 'hex'),
      );

      safeEqual.mockClear();
      expect(await auth.verify(adminKey)).toMatchObject({ kind: 'admin' });
      // The root comparison and the stored hash's comparison, both on 32-byte digests.
      expect(safeEqual).toHaveBeenCalledTimes(2);
      for (const [a, b] of safeEqual.mock.calls) expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
      expect(sent).toContain(sha256(adminKey));

      safeEqual.mockClear();
      const wrong = adminKey.slice(0, -1) + (adminKey.endsWith('A') ? 'B' : 'A');
      expect(await auth.verify(wrong)).toBeNull();
      expect(safeEqual).toHaveBeenCalledTimes(1); // against the root digest; the lookup by hash found nothing
      expect(sent).toContain(sha256(wrong));
      // The secret itself never reaches the database, not even inside a statement.
      for (const secret of [adminKey, wrong, ROOT_TOKEN])
        expect(sent.some((x) => String(x).includes(secret))).toBe(false);
    } finally {
      safeEqual.mockRestore();
    }
  });
});

describe('rate limits', () => {
  test('failed authentications: 429 with Retry-After once an address has failed too often, a forged X-Forwarded-For does not help, the feed upgrade counts too', async () => {
    const strict = await h.startInstance({ rateLimits: { authFailures: { capacity: 5, refillPerSecond: 0.01 } } });
    try {
      const { adminKey } = await apiAgency(h);
      for (let i = 0; i < 5; i++) {
        const res = await strict.http
          .get('/v1/me')
          .set(bearer(`lw_admin_guess${i}`))
          .set('X-Forwarded-For', `203.0.113.${i}`);
        expect(res.status).toBe(401);
      }
      const blocked = await strict.http
        .get('/v1/me')
        .set(bearer('lw_admin_guess-next'))
        .set('X-Forwarded-For', '198.51.100.7');
      expect(blocked.status).toBe(429);
      expect(blocked.body.code).toBe('rate_limited');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      // Failing attempts are throttled, valid ones are not (issue 16): a good key from that address still works.
      expect((await strict.http.get('/v1/me').set(bearer(adminKey))).status).toBe(200);
      // The feed's upgrade is refused the same way, with the header.
      const refused = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve) => {
        const ws = new WebSocket(strict.wsUrl, { headers: bearer('lw_buyer_guess') });
        ws.on('error', () => undefined);
        ws.once('unexpected-response', (_req, res) =>
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }),
        );
      });
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    } finally {
      await strict.close();
    }
  });

  test('claim floods: 429 with Retry-After on REST, a rate_limited error with retryAfter on the feed; other keys are unaffected; the key works again after the wait', async () => {
    const limited = await h.startInstance({ rateLimits: { claims: { capacity: 3, refillPerSecond: 1 } } });
    try {
      const { adminKey } = await apiAgency(h);
      const flooder = await apiBuyer(h, adminKey, { credits: 100 });
      const calm = await apiBuyer(h, adminKey, { credits: 100 });
      const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 60 });
      const offer = await offerOfLead(h, (await apiLead(h, adminKey, campaign.id)).id);
      const unknown = () =>
        limited.http.post(`/v1/offers/${crypto.randomUUID()}/claim`).set(bearer(flooder.apiKey)).send({});
      const answers = await Promise.all(Array.from({ length: 12 }, unknown));
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 404).length).toBeLessThanOrEqual(4);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(8);
      for (const r of answers.filter((x) => x.status === 429)) {
        expect(r.body.code).toBe('rate_limited');
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        expect(r.headers.ratelimit).toMatch(/^"claims";r=0;t=[1-3]$/);
      }
      // Every answer shows the key's quota (3 requests, refilled in 3 s: q=3, w=3), the 404s after their token too.
      for (const r of answers) {
        expect(r.headers['ratelimit-policy']).toBe('"claims";q=3;w=3');
        expect(r.headers.ratelimit).toMatch(/^"claims";r=[0-2];t=[1-3]$/);
      }
      const feed = await connectFeed(limited.wsUrl, flooder.apiKey);
      await feed.next((m) => m.type === 'snapshot');
      feed.send({ type: 'claim', offerId: offer.id, requestId: 'flood-ws' });
      const error = await feed.next((m) => m.type === 'error' && m.requestId === 'flood-ws');
      expect(error).toMatchObject({ code: 'rate_limited', retryAfter: expect.any(Number) });
      await feed.close();
      // Another buyer's key has its own budget: it wins the offer meanwhile.
      expect((await limited.http.post(`/v1/offers/${offer.id}/claim`).set(bearer(calm.apiKey)).send({})).status).toBe(
        200,
      );
      // After the wait, the flooder is heard again.
      await new Promise((r) =>
        setTimeout(r, 1_100 * Number(answers.find((x) => x.status === 429)!.headers['retry-after'])),
      );
      expect((await unknown()).status).toBe(404);
    } finally {
      await limited.close();
    }
  });
});

describe('webhook URLs (SSRF)', () => {
  const PRIVATE = [
    'http://2130706433/hook', // 127.0.0.1 as one number
    'http://0x7f000001/hook',
    'http://127.1/hook',
    'http://0177.0.0.1/hook', // octal
    'http://0.0.0.0/hook',
    'http://[::]/hook',
    'http://[::ffff:7f00:1]/hook',
    'http://[::127.0.0.1]/hook',
    'http://[fd00::1]/hook',
    'http://[fe80::1]/hook',
    'http://100.64.0.1/hook', // carrier-grade NAT
    'http://192.168.0.1:8443/hook',
    'http://172.16.5.4/hook',
    'http://169.254.169.254/latest/meta-data/iam',
    'https://[64:ff9b::a9fe:a9fe]/hook', // NAT64 of the metadata address
  ];

  test('private, loopback and link-local targets are refused in every spelling, and nothing is stored', async () => {
    const { adminKey } = await apiAgency(h);
    const { buyer } = await apiBuyer(h, adminKey);
    for (const url of [...PRIVATE, 'ftp://example.com/x', 'file:///etc/passwd', 'http://user:pass@example.com/x']) {
      const res = await h.http
        .patch(`/v1/buyers/${buyer.id}`)
        .set(bearer(adminKey))
        .send({ delivery: { webhookUrl: url } });
      expect([url, res.status, res.body.errors?.[0]?.path]).toEqual([url, 400, 'delivery.webhookUrl']);
    }
    const stored = await h.http.get(`/v1/buyers/${buyer.id}`).set(bearer(adminKey));
    expect(stored.body.buyer?.delivery ?? stored.body.delivery).not.toHaveProperty('webhookUrl');
  });

  test('an allow-listed internal target is accepted; the rest of the private space stays closed', async () => {
    const internal = await h.startInstance({ webhookAllowlist: '10.20.0.0/16,hooks.internal.example' });
    try {
      const { adminKey } = await apiAgency(h);
      const { buyer } = await apiBuyer(h, adminKey);
      const ok = await internal.http
        .patch(`/v1/buyers/${buyer.id}`)
        .set(bearer(adminKey))
        .send({ delivery: { webhookUrl: 'http://10.20.3.4:8080/hook' } });
      expect(ok.status).toBe(200);
      const other = await internal.http
        .patch(`/v1/buyers/${buyer.id}`)
        .set(bearer(adminKey))
        .send({ delivery: { webhookUrl: 'http://10.21.0.1/hook' } });
      expect(other.status).toBe(400);
    } finally {
      await internal.close();
    }
  });
});
