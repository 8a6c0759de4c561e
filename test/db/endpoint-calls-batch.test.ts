/**
 * The endpoint log's batched recording (#22, the ping tree's speed lever; db/endpoints.ts `recordEndpointCall`):
 * the calls recorded in one turn of the event loop go to Postgres as ONE statement, each still recorded (its own
 * row in the log, in the order it came, and its fact kept for good); the log is trimmed back to its 100 calls once
 * it holds more than its slack, so it never holds more; and the health rules hold across a batch exactly as if each
 * call had been recorded alone – proven against recording the same calls one at a time, on both drivers.
 */
import type { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import type { Pool } from 'pg';

import { updateAgencySettings } from '../../db/agencies';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import {
  ENDPOINT_LOG_SLACK,
  endpointOfBuyer,
  listEndpointCalls,
  recordEndpointCall,
  saveEndpoint,
} from '../../db/endpoints';
import { ENDPOINT_CALL_OUTCOMES, ENDPOINT_LOG_SIZE, type EndpointCall, FAILING_OUTCOMES } from '../../domain/endpoints';
import { DRIVERS, openTestPostgres } from '../helpers/db';
import { fleetEndpointSettings } from '../helpers/endpoint-fleet';
import { makeAgency, makeBuyer } from '../helpers/world';

jest.setTimeout(120_000);

const URLS = { pingUrl: 'http://127.0.0.1:1/ping', postUrl: 'http://127.0.0.1:1/post' };

async function endpointOf(database: Database, agencyId: string) {
  const buyer = await makeBuyer(database.db, agencyId);
  const settings = fleetEndpointSettings(URLS);
  const endpoint = await saveEndpoint(database.db, { agencyId, buyerId: buyer.id, settings, by: SYSTEM });
  if (endpoint === 'missing_secret') throw new Error('no secret is needed');
  return { buyer, endpoint };
}

const aCall = (endpointId: string, over: Partial<EndpointCall> = {}): EndpointCall => ({
  endpointId,
  leadId: null,
  kind: 'ping',
  step: 'ping',
  request: { method: 'POST', url: URLS.pingUrl, headers: {}, body: '{}' },
  response: { status: 200, body: '{"bid":1}' },
  latencyMs: 7,
  outcome: 'accepted',
  ...over,
});

async function count(database: Database, query: string, values: unknown[]): Promise<number> {
  const { rows } =
    database.driver === 'postgres'
      ? await (database.raw as Pool).query<{ n: number }>(query, values)
      : await (database.raw as PGlite).query<{ n: number }>(query, values);
  return rows[0]!.n;
}

const logged = (database: Database, endpointId: string) =>
  count(database, 'SELECT count(*)::int AS n FROM endpoint_calls WHERE endpoint_id = $1', [endpointId]);
const facts = (database: Database, buyerId: string) =>
  count(database, 'SELECT count(*)::int AS n FROM endpoint_call_facts WHERE buyer_id = $1', [buyerId]);

describe('on Postgres: one statement per turn', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestPostgres();
  });
  afterAll(() => database.close());

  test('twelve calls of three endpoints landing in one turn are one statement, each recorded in its order', async () => {
    const agency = await makeAgency(database.db);
    const eps = [
      await endpointOf(database, agency.id),
      await endpointOf(database, agency.id),
      await endpointOf(database, agency.id),
    ];
    const calls = Array.from({ length: 12 }, (_, i) =>
      aCall(eps[i % 3]!.endpoint.id, {
        pingId: `p-${i}`,
        bid: i + 1,
        outcome: i % 4 === 3 ? 'rejected' : 'accepted',
        reason: i % 4 === 3 ? 'no roofs' : null,
      }),
    );
    const pool = database.raw as Pool;
    const spy = jest.spyOn(pool, 'query');
    let answers: Array<{ paused: boolean }>;
    try {
      answers = await Promise.all(calls.map((c) => recordEndpointCall(database.db, c)));
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    expect(answers).toEqual(calls.map(() => ({ paused: false })));
    for (const [k, { buyer, endpoint }] of eps.entries()) {
      const mine = calls.filter((_, i) => i % 3 === k);
      const log = await listEndpointCalls(database.db, endpoint.id);
      // Newest first: the order they were handed in, reversed.
      expect(log.map((r) => [r.pingId, r.bid, r.outcome, r.reason])).toEqual(
        mine.map((c) => [c.pingId, c.bid, c.outcome, c.reason]).reverse(),
      );
      expect(await facts(database, buyer.id)).toBe(mine.length);
    }
  });

  test('inside a transaction a call is not batched: it is recorded on the connection of its transaction, seen only there until commit', async () => {
    const agency = await makeAgency(database.db);
    const { endpoint } = await endpointOf(database, agency.id);
    await database.db.transaction(async (tx) => {
      await recordEndpointCall(tx, aCall(endpoint.id, { pingId: 'in-tx' }));
      // Not yet committed: only this transaction sees it.
      expect((await listEndpointCalls(tx, endpoint.id)).map((r) => r.pingId)).toEqual(['in-tx']);
      expect(await listEndpointCalls(database.db, endpoint.id)).toEqual([]);
    });
    expect((await listEndpointCalls(database.db, endpoint.id)).map((r) => r.pingId)).toEqual(['in-tx']);
  });
});

describe.each(DRIVERS)('on %s', (_name, open) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
  });
  afterAll(() => database.close());

  test(`the log never holds more than ${ENDPOINT_LOG_SLACK} calls, shows the newest ${ENDPOINT_LOG_SIZE}, and every call keeps its fact`, async () => {
    const agency = await makeAgency(database.db);
    const { buyer, endpoint } = await endpointOf(database, agency.id);
    let n = 0;
    // Bursts of uneven sizes (one of them past the whole log), so the trim meets every remainder.
    for (const size of [7, 1, 13, 40, 3, 9, 150, 2, 11, 30, 30, 30, 1]) {
      await Promise.all(
        Array.from({ length: size }, () => recordEndpointCall(database.db, aCall(endpoint.id, { pingId: `p-${++n}` }))),
      );
      expect(await logged(database, endpoint.id)).toBeLessThanOrEqual(Math.max(ENDPOINT_LOG_SLACK, size));
      const log = await listEndpointCalls(database.db, endpoint.id);
      const newest = Array.from({ length: Math.min(n, ENDPOINT_LOG_SIZE) }, (_, i) => `p-${n - i}`);
      expect(log.map((r) => r.pingId)).toEqual(newest);
    }
    expect(await logged(database, endpoint.id)).toBeLessThanOrEqual(ENDPOINT_LOG_SLACK);
    expect(await facts(database, buyer.id)).toBe(n);
  });

  test('within one batch, the run of failures pauses at the call that reaches the limit, a reset clears it, test calls never count', async () => {
    const agency = await makeAgency(database.db);
    await updateAgencySettings(database.db, agency.id, { autoPauseAfterFailures: 3 });
    const [a, b, c, d] = [
      await endpointOf(database, agency.id),
      await endpointOf(database, agency.id),
      await endpointOf(database, agency.id),
      await endpointOf(database, agency.id),
    ];
    const fail = (id: string, reason = 'HTTP 500') => aCall(id, { outcome: 'error', reason, response: null });
    // b starts the batch two failures down.
    await Promise.all([
      recordEndpointCall(database.db, fail(b!.endpoint.id)),
      recordEndpointCall(database.db, fail(b!.endpoint.id)),
    ]);
    expect(await endpointOfBuyer(database.db, b!.buyer.id)).toMatchObject({ status: 'active', consecutiveFailures: 2 });

    const batch: Array<[EndpointCall, { pauseNow?: string }]> = [
      // a: two failures, a reset, one failure: left active with a run of one.
      [fail(a!.endpoint.id), {}],
      [fail(a!.endpoint.id), {}],
      [aCall(a!.endpoint.id), {}],
      [fail(a!.endpoint.id), {}],
      // b: its third failure in a row pauses it (this call answers paused); the accepted answer after it resets the run.
      [fail(b!.endpoint.id, 'third'), {}],
      [aCall(b!.endpoint.id), {}],
      // c: a refused address pauses it at once; the failure after it finds it paused.
      [
        aCall(c!.endpoint.id, { outcome: 'refused', reason: 'private range' }),
        { pauseNow: 'the address guard refused it' },
      ],
      [fail(c!.endpoint.id), {}],
      // d: five failing test calls never count.
      ...Array.from({ length: 5 }, (): [EndpointCall, { pauseNow?: string }] => [
        aCall(d!.endpoint.id, { kind: 'test', outcome: 'error', response: null }),
        {},
      ]),
    ];
    const answers = await Promise.all(batch.map(([call, opts]) => recordEndpointCall(database.db, call, opts)));
    expect(answers.map((x) => x.paused)).toEqual(batch.map((_, i) => i === 4 || i === 6));

    expect(await endpointOfBuyer(database.db, a!.buyer.id)).toMatchObject({ status: 'active', consecutiveFailures: 1 });
    const pausedB = await endpointOfBuyer(database.db, b!.buyer.id);
    expect(pausedB).toMatchObject({ status: 'paused', pausedBy: 'system', consecutiveFailures: 0 });
    expect(pausedB!.pauseReason).toBe('auto-paused: 3 consecutive failed calls (last: ping error: third)');
    const pausedC = await endpointOfBuyer(database.db, c!.buyer.id);
    expect(pausedC).toMatchObject({
      status: 'paused',
      pauseReason: 'the address guard refused it',
      consecutiveFailures: 1,
    });
    expect(await endpointOfBuyer(database.db, d!.buyer.id)).toMatchObject({ status: 'active', consecutiveFailures: 0 });
    expect(await facts(database, d!.buyer.id)).toBe(0);
    expect(await logged(database, d!.endpoint.id)).toBe(5);
  });

  test('a call that cannot be recorded (its endpoint gone) fails alone; the others of its turn are recorded', async () => {
    const agency = await makeAgency(database.db);
    const { endpoint } = await endpointOf(database, agency.id);
    const gone = '00000000-0000-4000-8000-000000000000';
    const [first, bad, last] = await Promise.allSettled([
      recordEndpointCall(database.db, aCall(endpoint.id, { pingId: 'first' })),
      recordEndpointCall(database.db, aCall(gone, { pingId: 'bad' })),
      recordEndpointCall(database.db, aCall(endpoint.id, { pingId: 'last' })),
    ]);
    expect([first.status, bad.status, last.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await listEndpointCalls(database.db, endpoint.id)).map((r) => r.pingId)).toEqual(['last', 'first']);
  });

  /** The health rules restated, one call after the other: what each call pauses, and where the endpoint ends. */
  function ruled(calls: Array<[EndpointCall, { pauseNow?: string }]>, before: number, limit: number) {
    let run = before;
    let status = 'active';
    const paused = calls.map(([call, opts]) => {
      if (call.kind === 'test') return false;
      if (opts.pauseNow) return status === 'active' && !!(status = 'paused');
      if (call.outcome === 'accepted' || call.outcome === 'rejected') run = 0;
      else if (FAILING_OUTCOMES.has(call.outcome)) {
        run += 1;
        if (status === 'active' && run >= limit) return !!(status = 'paused');
      }
      return false;
    });
    return { paused, status, run };
  }

  const step = fc.record({
    outcome: fc.constantFrom(...ENDPOINT_CALL_OUTCOMES),
    kind: fc.constantFrom('ping' as const, 'ping' as const, 'post' as const, 'test' as const),
    pauseNow: fc.boolean().map((b) => (b ? 'gone' : undefined)),
  });

  test('property: a burst of calls leaves an endpoint as the same calls recorded one at a time would', async () => {
    const agency = await makeAgency(database.db);
    await updateAgencySettings(database.db, agency.id, { autoPauseAfterFailures: 3 });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 12 }), fc.integer({ min: 0, max: 2 }), async (plan, before) => {
        const one = await endpointOf(database, agency.id);
        const burst = await endpointOf(database, agency.id);
        const make = (id: string) =>
          plan.map((p, i): [EndpointCall, { pauseNow?: string }] => [
            aCall(id, {
              kind: p.kind,
              step: p.kind === 'post' ? 'post' : 'ping',
              outcome: p.outcome,
              reason: `r${i}`,
              pingId: `p-${i}`,
            }),
            p.pauseNow && p.outcome !== 'accepted' ? { pauseNow: p.pauseNow } : {},
          ]);
        // Both start the same run of failures down.
        for (const ep of [one, burst])
          for (let i = 0; i < before; i++)
            await recordEndpointCall(database.db, aCall(ep.endpoint.id, { outcome: 'timeout', pingId: `pre-${i}` }));
        const alone: boolean[] = [];
        for (const [call, opts] of make(one.endpoint.id))
          alone.push((await recordEndpointCall(database.db, call, opts)).paused);
        const together = await Promise.all(
          make(burst.endpoint.id).map(([call, opts]) => recordEndpointCall(database.db, call, opts)),
        );
        // One at a time is the rules as written (the model); the burst is the same.
        const model = ruled(make(one.endpoint.id), before, 3);
        expect(alone).toEqual(model.paused);
        expect(together.map((x) => x.paused)).toEqual(alone);
        const [x, y] = [
          await endpointOfBuyer(database.db, one.buyer.id),
          await endpointOfBuyer(database.db, burst.buyer.id),
        ];
        const health = (e: typeof x) => [e!.status, e!.consecutiveFailures, e!.pausedBy, e!.pauseReason];
        expect(health(x).slice(0, 2)).toEqual([model.status, model.run]);
        expect(health(y)).toEqual(health(x));
        const log = async (id: string) =>
          (await listEndpointCalls(database.db, id)).map((r) => [r.pingId, r.kind, r.outcome, r.reason]);
        expect(await log(burst.endpoint.id)).toEqual(await log(one.endpoint.id));
        expect(await facts(database, burst.buyer.id)).toBe(await facts(database, one.buyer.id));
      }),
      { numRuns: 12 },
    );
  });
});
