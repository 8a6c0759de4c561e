/**
 * The nemesis supervisor's view of a process that exited on its own (ops/nemesis/faults.ts): a Temporal service
 * that exits while a Postgres fault has its database (the frontend's "GetClusterMetadata … no usable database
 * connection" in a clean-clone CI run) is the fault's effect – counted apart and restarted once the fault healed –
 * while an API or worker that exits after it was up is a crash whatever the fault, and so is a Temporal service's
 * exit with no Postgres fault about. The supervisor runs here on stand-in processes: no cluster needed.
 */
import type { Connection } from '@temporalio/client';

import {
  classifyExit,
  type NemesisContext,
  OUTAGE_GRACE_MS,
  type PostgresOutage,
  startSupervisor,
} from '../../ops/nemesis/faults';
import { History } from '../../ops/nemesis/history';
import type { OwnPostgres } from '../../ops/nemesis/postgres';
import { type ProductProcess, type Stack, waitFor } from './harness';

describe('classifyExit', () => {
  const restart: PostgresOutage = { startMs: 10_000, endMs: 12_000, temporal: true, fault: '#3 postgres-restart' };
  const apiCut: PostgresOutage = { startMs: 20_000, endMs: 22_000, temporal: false, fault: '#5 drop-connections api' };
  const open: PostgresOutage = { startMs: 30_000, endMs: null, temporal: true, fault: '#7 drop-connections all' };

  test('a Temporal service exiting during a Postgres fault that reached it, or soon after its heal: the fault’s effect', () => {
    for (const atMs of [10_000, 11_000, 12_000, 12_000 + OUTAGE_GRACE_MS])
      expect(classifyExit({ name: 'temporal-frontend', wasUp: true, atMs }, [restart])).toBe('postgres-outage');
    expect(classifyExit({ name: 'temporal-history', wasUp: false, atMs: 31_000 }, [open])).toBe('postgres-outage');
    expect(classifyExit({ name: 'temporal-matching', wasUp: true, atMs: 600_000 }, [open])).toBe('postgres-outage');
  });

  test('a Temporal service exiting with no Postgres fault about, or one that did not reach it: a crash', () => {
    expect(classifyExit({ name: 'temporal-frontend', wasUp: true, atMs: 5_000 }, [restart])).toBe('crash');
    expect(classifyExit({ name: 'temporal-frontend', wasUp: true, atMs: 12_001 + OUTAGE_GRACE_MS }, [restart])).toBe(
      'crash',
    );
    expect(classifyExit({ name: 'temporal-worker', wasUp: true, atMs: 21_000 }, [apiCut])).toBe('crash');
    expect(classifyExit({ name: 'temporal-worker', wasUp: false, atMs: 21_000 }, [apiCut])).toBe('failed-start');
  });

  test('a Leadwire process exiting after it was up is a crash, Postgres fault or not; one never up failed to start', () => {
    for (const name of ['api-1', 'api-2', 'worker-1', 'worker-2']) {
      expect(classifyExit({ name, wasUp: true, atMs: 11_000 }, [restart, open])).toBe('crash');
      expect(classifyExit({ name, wasUp: true, atMs: 31_000 }, [restart, open])).toBe('crash');
      expect(classifyExit({ name, wasUp: false, atMs: 11_000 }, [restart])).toBe('failed-start');
    }
  });
});

/** A process that exits when told to and starts when the supervisor asks; it never spawns anything. */
function standIn(
  name: string,
  pids: { next: number },
  lastLines: string[] = [],
): ProductProcess & { exit(): void; readonly starts: number } {
  let pid: number | null = pids.next++;
  let starts = 0;
  const p = {
    name,
    get pid() {
      return pid;
    },
    get running() {
      return pid !== null;
    },
    unexpectedExits: 0,
    get starts() {
      return starts;
    },
    exit() {
      pid = null;
      p.unexpectedExits++;
    },
    async start() {
      starts++;
      pid = pids.next++;
    },
    async kill9() {
      pid = null;
    },
    async stop() {
      pid = null;
    },
    tail: () => lastLines.join('\n'),
  };
  return p;
}

test('the supervisor counts a Temporal service the Postgres fault took down apart, restarts it after the heal, and still counts an API exit as a crash', async () => {
  const pids = { next: 1000 };
  const frontendLog = [
    '{"level":"info","msg":"Membership heartbeat"}',
    '{"level":"fatal","msg":"GetClusterMetadata failed","error":"no usable database connection found"}',
  ];
  const services = Object.fromEntries(
    ['frontend', 'history', 'matching', 'worker'].map((r) => [
      r,
      standIn(`temporal-${r}`, pids, r === 'frontend' ? frontendLog : []),
    ]),
  );
  const apis = [standIn('api-1', pids), standIn('api-2', pids)];
  const workers = [standIn('worker-1', pids), standIn('worker-2', pids)];
  const stack = { apis, workers, cluster: { services } } as unknown as Stack;
  const history = new History(Date.now());
  const ctx: NemesisContext = {
    stack,
    temporal: {} as Connection,
    postgres: {} as OwnPostgres,
    history,
    log: () => undefined,
    held: new Set(),
    upPids: new Set(),
    outages: [],
  };
  const supervisor = startSupervisor(ctx);
  try {
    // A Postgres restart is on: the frontend gives up on its database, and so does an API.
    const outage: PostgresOutage = {
      startMs: history.now(),
      endMs: null,
      temporal: true,
      fault: '#4 postgres-restart',
    };
    ctx.outages.push(outage);
    const frontend = services.frontend!;
    frontend.exit();
    apis[0]!.exit();
    expect(await waitFor(() => apis[0]!.running, 5_000)).toBe(true);
    // The API was restarted at once; the frontend waits while the fault lasts (started now, it would exit again).
    await new Promise((r) => setTimeout(r, 1_500));
    expect(frontend.running).toBe(false);
    expect(frontend.starts).toBe(0);
    outage.endMs = history.now();
    expect(await waitFor(() => frontend.running, 5_000)).toBe(true);
    expect(frontend.starts).toBe(1);

    // Long after the heal, a Temporal service's exit is a crash again.
    ctx.outages[0] = { ...outage, startMs: -10 * OUTAGE_GRACE_MS, endMs: -5 * OUTAGE_GRACE_MS };
    services.matching!.exit();
    expect(await waitFor(() => services.matching!.running, 5_000)).toBe(true);
  } finally {
    await supervisor.stop();
  }
  expect(supervisor.outageExits).toEqual([
    expect.objectContaining({
      name: 'temporal-frontend',
      fault: '#4 postgres-restart',
      databaseError: expect.stringContaining('no usable database connection'),
    }),
  ]);
  expect(supervisor.crashes.map((c) => c.name).sort()).toEqual(['api-1', 'temporal-matching']);
  expect(supervisor.failedStarts).toEqual([]);
  expect(supervisor.restarts).toEqual({ 'api-1': 1, 'temporal-frontend': 1, 'temporal-matching': 1 });
  expect(
    history.events
      .filter((e) => e.name === 'supervisor')
      .map((e) => e.detail)
      .sort(),
  ).toEqual([
    'api-1 exited on its own; restarting it',
    'temporal-frontend exited in a Postgres outage',
    'temporal-matching exited on its own; restarting it',
  ]);
});
