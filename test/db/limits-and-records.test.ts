/**
 * Limits and records that scale out (issue 16, item 3), on the real Postgres
 * and API: two API processes share one rate limit (Postgres-backed buckets,
 * leased in batches so the claim path stays local); idempotency records past
 * their TTL are purged by the expiry job's round, after which the same key is a
 * new request; a crashed request's reservation lapses within its short lease,
 * while a live one keeps renewing its own.
 */
import crypto from 'node:crypto';

import { and, eq, sql } from 'drizzle-orm';

import { DEFAULT_CLAIMS } from '../../api/app';
import { withIdempotency } from '../../api/idempotency';
import { IDEMPOTENCY_LEASE_MS, reserveIdempotencyKey } from '../../db/idempotency';
import { apiKeys, idempotencyRecords, rateLimitBuckets } from '../../db/schema';
import { expireRecords } from '../../worker/lead-starter';
import { apiAgency, apiBuyer, type ApiInstance, bearer, type Harness, startHarness } from '../api/harness';

jest.setTimeout(120_000);

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

describe('rate limits shared across API processes', () => {
  const LIMIT = {
    claims: { capacity: 10, refillPerSecond: 0.001 },
    authFailures: { capacity: 1000, refillPerSecond: 100 },
  };

  let lastLeft: number[] = [];
  /**
   * 40 claims on unknown offers, alternating between the instances; how many got past the limit (404 rather than
   * 429), and what each answer's RateLimit field said was left.
   */
  async function flood(instances: ApiInstance[], key: string): Promise<number> {
    let allowed = 0;
    const left: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await instances[i % instances.length]!.http.post(`/v1/offers/${crypto.randomUUID()}/claim`)
        .set(bearer(key))
        .send({});
      expect([404, 429]).toContain(res.status);
      if (res.status === 404) allowed++;
      left.push(Number(/^"claims";r=(\d+);t=\d+$/.exec(res.headers.ratelimit ?? '')?.[1]));
    }
    lastLeft = left;
    return allowed;
  }

  test('two processes with shared limits allow the documented burst once, not twice; per-process limits would allow it per process', async () => {
    const { adminKey } = await apiAgency(h);
    const shared = [
      await h.startInstance({ rateLimits: LIMIT, sharedRateLimits: true }),
      await h.startInstance({ rateLimits: LIMIT, sharedRateLimits: true }),
    ];
    const separate = [await h.startInstance({ rateLimits: LIMIT }), await h.startInstance({ rateLimits: LIMIT })];
    try {
      const one = await apiBuyer(h, adminKey);
      const sharedAllowed = await flood(shared, one.apiKey);
      // Exactly the bucket: every admitted claim is a token of the shared bucket (nothing lent, nothing leased ahead).
      expect(sharedAllowed).toBe(LIMIT.claims.capacity);
      // Each answer, from either process, told what the one shared bucket had left: 9, 8, … 0, then 0.
      expect(lastLeft).toEqual([...Array.from({ length: 10 }, (_, i) => 9 - i), ...Array<number>(30).fill(0)]);
      // One shared bucket (this key's claims), drawn down to empty by both processes.
      // (Other test files share this database: only this key's rows count.)
      const [key] = await h.database.db
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(eq(apiKeys.buyerId, one.buyer.id));
      const buckets = await h.database.db
        .select()
        .from(rateLimitBuckets)
        .where(and(eq(rateLimitBuckets.scope, 'claims'), eq(rateLimitBuckets.key, `key:${key!.id}`)));
      expect(buckets).toHaveLength(1);
      expect(buckets[0]!.tokens).toBeLessThan(1);

      const two = await apiBuyer(h, adminKey);
      const separateAllowed = await flood(separate, two.apiKey);
      expect(separateAllowed).toBe(2 * LIMIT.claims.capacity); // the problem the shared limit solves
      expect(sharedAllowed).toBeLessThan(separateAllowed);
    } finally {
      for (const i of [...shared, ...separate]) await i.close();
    }
  });

  /**
   * `n` claims on unknown offers sent at once, alternating between the instances: the answers' statuses
   * (404: the claim got past the limit; 429: refused by it).
   */
  async function burst(instances: ApiInstance[], key: string, n: number): Promise<number[]> {
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        instances[i % instances.length]!.http.post(`/v1/offers/${crypto.randomUUID()}/claim`).set(bearer(key)).send({}),
      ),
    );
    return answers.map((res) => res.status);
  }

  const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

  test("a key's first burst of exactly the default capacity, at once across two processes, is admitted whole (issue 27, item 8)", async () => {
    const { adminKey } = await apiAgency(h);
    // The default claim limit (DEFAULT_CLAIMS: 30 a burst, 10/s), shared; failed authentications stay relaxed.
    const defaults = { rateLimits: { authFailures: LIMIT.authFailures }, sharedRateLimits: true };
    const shared = [await h.startInstance(defaults), await h.startInstance(defaults)];
    try {
      for (let round = 0; round < 3; round++) {
        // Three fresh keys, three bursts: not one lucky interleaving.
        const buyer = await apiBuyer(h, adminKey);
        const statuses = await burst(shared, buyer.apiKey, DEFAULT_CLAIMS.capacity);
        expect({ round, admitted: count(statuses, 404), refused: count(statuses, 429) }).toEqual({
          round,
          admitted: DEFAULT_CLAIMS.capacity,
          refused: 0,
        });
      }
    } finally {
      for (const i of shared) await i.close();
    }
  });

  test('a burst of the capacity plus 12 at once across two processes: exactly the capacity passes, the 12 are refused with Retry-After', async () => {
    const { adminKey } = await apiAgency(h);
    // No refill to speak of (one token in 1,000 s): what passes is the bucket and nothing else.
    const limits = { claims: { capacity: 30, refillPerSecond: 0.001 }, authFailures: LIMIT.authFailures };
    const shared = [
      await h.startInstance({ rateLimits: limits, sharedRateLimits: true }),
      await h.startInstance({ rateLimits: limits, sharedRateLimits: true }),
    ];
    try {
      const buyer = await apiBuyer(h, adminKey);
      const statuses = await burst(shared, buyer.apiKey, limits.claims.capacity + 12);
      expect({ admitted: count(statuses, 404), refused: count(statuses, 429) }).toEqual({
        admitted: limits.claims.capacity,
        refused: 12,
      });
      // Refused at once from then on, by either process, with the time to the next token.
      const again = await shared[1]!.http
        .post(`/v1/offers/${crypto.randomUUID()}/claim`)
        .set(bearer(buyer.apiKey))
        .send({});
      expect(again.status).toBe(429);
      expect(Number(again.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      for (const i of shared) await i.close();
    }
  });
});

describe('idempotency records', () => {
  test('a record past its TTL is purged by the expiry job; the same key is then a new request', async () => {
    const db = h.database.db;
    const scope = `test:${crypto.randomUUID()}`;
    let runs = 0;
    const run = async () => ({ status: 201, body: { run: ++runs } });
    expect(await withIdempotency(db, scope, 'k1', 'hash-a', run)).toMatchObject({ status: 201, body: { run: 1 } });
    expect(await withIdempotency(db, scope, 'k1', 'hash-a', run)).toMatchObject({
      body: { run: 1 },
      headers: { 'Idempotent-Replayed': 'true' },
    });

    // A day and an hour later (the default TTL is 24 h).
    await db
      .update(idempotencyRecords)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(eq(idempotencyRecords.scope, scope));
    const purged = await expireRecords(db, {});
    expect(purged.idempotency).toBeGreaterThanOrEqual(1);
    expect(await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.scope, scope))).toEqual([]);
    // Even with another body: a new request, not a conflict.
    expect(await withIdempotency(db, scope, 'k1', 'hash-b', run)).toMatchObject({ status: 201, body: { run: 2 } });
  });

  test('a younger record survives the round; LW_IDEMPOTENCY_TTL_HOURS shortens the TTL', async () => {
    const db = h.database.db;
    const scope = `test:${crypto.randomUUID()}`;
    await withIdempotency(db, scope, 'k2', 'hash', async () => ({ status: 201, body: {} }));
    await db
      .update(idempotencyRecords)
      .set({ createdAt: sql`now() - interval '2 hours'` })
      .where(eq(idempotencyRecords.scope, scope));
    await expireRecords(db, {});
    expect(await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.scope, scope))).toHaveLength(1);
    await expireRecords(db, { LW_IDEMPOTENCY_TTL_HOURS: '1' });
    expect(await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.scope, scope))).toHaveLength(0);
  });

  test("a crashed request's reservation is taken over once its lease lapses; a running request keeps its own by renewing it", async () => {
    const db = h.database.db;
    const scope = `test:${crypto.randomUUID()}`;
    // A request that reserved its key and died with its process: nobody renews the lease.
    expect(await reserveIdempotencyKey(db, scope, 'crashed', 'hash')).toMatchObject({ state: 'reserved' });
    await expect(
      withIdempotency(db, scope, 'crashed', 'hash', async () => ({ status: 201, body: {} })),
    ).rejects.toMatchObject({ code: 'idempotency_in_progress' });

    // A live request running longer than one lease.
    let finish!: () => void;
    const slow = withIdempotency(
      db,
      scope,
      'live',
      'hash',
      () => new Promise((resolve) => (finish = () => resolve({ status: 201, body: { slow: true } }))),
    );

    await new Promise((r) => setTimeout(r, IDEMPOTENCY_LEASE_MS + 2_000));
    // The crashed one is taken over by the retry…
    expect(
      await withIdempotency(db, scope, 'crashed', 'hash', async () => ({ status: 201, body: { retried: true } })),
    ).toMatchObject({ status: 201, body: { retried: true } });
    // …the live one is still its own.
    await expect(
      withIdempotency(db, scope, 'live', 'hash', async () => ({ status: 201, body: {} })),
    ).rejects.toMatchObject({ code: 'idempotency_in_progress' });
    finish();
    expect(await slow).toMatchObject({ status: 201, body: { slow: true } });
    expect(await withIdempotency(db, scope, 'live', 'hash', async () => ({ status: 201, body: {} }))).toMatchObject({
      body: { slow: true },
      headers: { 'Idempotent-Replayed': 'true' },
    });
  });
});
