/**
 * Faults on the production topology: the Temporal cluster on Postgres (frontend, history, matching and
 * worker as separate processes, scripts/temporal-cluster.ts), two Leadwire workers and two APIs behind the
 * round-robin proxy, steady lead traffic and claims from bot buyers. Each case injects one fault
 * mid-stream and then checks what faults.test.ts checks (every lead final, exactly one winner, no lead
 * lost or charged twice, the client's view matches the ledger, ops/audit.ts passes) and prints the
 * recovery times (first lead accepted / offer opened / sale after the repair).
 *
 * Worker and API kills run in CI; the history restart and the Postgres cut too (about a minute each).
 */
import { sleep, waitFor } from './harness';
import type { FaultContext } from './scenario';
import { databaseCut, faultSuite } from './suite';

jest.setTimeout(15 * 60_000);

const suite = faultSuite({ topology: 'cluster' });

async function run(opts: Parameters<typeof suite.run>[0]) {
  const report = await suite.run(opts);
  // Nothing besides the faulted process died.
  const { workers, apis, cluster } = suite.stack;
  expect([...workers, ...apis, ...Object.values(cluster!.services)].map((p) => p.unexpectedExits)).toEqual([
    0, 0, 0, 0, 0, 0, 0, 0,
  ]);
  return report;
}

test('cluster: kill -9 of one of two workers while claims are charged; the other carries on, nothing lost or charged twice', async () => {
  const report = await run({
    name: 'cluster: worker-1 kill -9 while claims are being charged',
    async fault({ stack, traffic }: FaultContext) {
      await waitFor(() => traffic.claimsInFlight() > 0, 30_000);
      const inFlight = traffic.claimsInFlight();
      const t = Date.now();
      await stack.workers[0].kill9();
      await sleep(5_000); // the other worker alone; the killed one's activities time out and are retried
      await stack.workers[0].start();
      const restoredAt = Date.now();
      return {
        faults: 1,
        description: 'kill -9 of worker-1 of 2, restarted after 5 s',
        outageMs: restoredAt - t,
        restoredAt,
        notes: { claimsInFlightAtKill: inFlight },
      };
    },
  });
  expect(report.fault.faults).toBe(1);
});

test('cluster: kill -9 of one of two APIs mid-claim; the proxy sends the retries to the other, same requestId, one charge', async () => {
  const report = await run({
    name: 'cluster: api-1 kill -9 mid-claim',
    async fault({ stack, traffic }: FaultContext) {
      await waitFor(() => traffic.claimsInFlight() > 0 && traffic.leadsInFlight() === 0, 30_000);
      const inFlight = traffic.claimsInFlight();
      const t = Date.now();
      await stack.apis[0].kill9();
      await sleep(5_000); // served by api-2 alone meanwhile
      await stack.apis[0].start();
      const restoredAt = Date.now();
      return {
        faults: 1,
        description: 'kill -9 of api-1 of 2, restarted after 5 s',
        outageMs: restoredAt - t,
        restoredAt,
        notes: { claimsInFlightAtKill: inFlight },
      };
    },
  });
  expect(report.fault.faults).toBe(1);
});

test('cluster: kill -9 of the Temporal history process, restarted after 2 s: its shards come back, nothing lost', async () => {
  const history = suite.stack.cluster!.services.history;
  const report = await run({
    name: 'cluster: Temporal history kill -9 and restart',
    async fault({ traffic }: FaultContext) {
      await waitFor(() => traffic.claimsInFlight() > 0, 30_000);
      const t = Date.now();
      await history.kill9();
      await sleep(2_000);
      await history.start();
      const restoredAt = Date.now();
      return {
        faults: 1,
        description: 'kill -9 of the Temporal history service (all 4 shards), restarted after 2 s',
        outageMs: restoredAt - t,
        restoredAt,
      };
    },
    settleTimeoutMs: 180_000,
  });
  expect(report.recovery.firstSaleMs).not.toBeNull();
});

test('cluster: Postgres cut for 5 s for everyone (Temporal and Leadwire): nothing lost, nothing charged twice', async () => {
  const report = await run({
    name: 'cluster: Postgres cut for 5 s (Temporal and Leadwire)',
    fault: databaseCut(
      5_000,
      'every Postgres connection of Temporal, the workers and the APIs dropped, new ones refused for 5 s',
    ),
    settleTimeoutMs: 180_000,
  });
  expect(report.recovery.firstSaleMs).not.toBeNull();
});
