/**
 * The benchmark harness at its CI size (`npm run bench:ci`), so it cannot rot:
 * every scenario runs against its own real stack and reports its figures.
 * Nothing here asserts a wall-clock bound: performance is measured by
 * `npm run bench` and recorded in bench/RESULTS.md, never asserted in tests.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

test('npm run bench:ci runs all thirteen scenarios, checks one winner per claim round and one post per ping-tree lead, and records a row per scenario', async () => {
  const results = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lw-bench-smoke-')), 'RESULTS.md');
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'npm',
      ['run', 'bench:ci', '--', '--results', results],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LOG_LEVEL: 'warn' } },
      (err, out, errOut) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: out, stderr: errOut }),
    );
  });
  expect({ code, stderr: code ? stderr.slice(-4000) : '' }).toEqual({ code: 0, stderr: '' });

  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map(
      (l) =>
        JSON.parse(l) as {
          scenario: string;
          persistence: string;
          machine: string;
          commit: string;
          figures: Record<string, unknown>;
        },
    );
  expect(lines.map((l) => l.scenario)).toEqual([
    'claim_storm',
    'floor',
    'storm_many',
    'feed_latency',
    'throughput',
    'engine_floor',
    'scale',
    'supply',
    'feed_flood',
    'ping_tree',
    'intake_checks',
    'suppression_csv',
    'ping_suppression',
  ]);
  for (const l of lines) {
    expect(l.persistence).toMatch(/SQLite/);
    expect(l.machine).toMatch(/cores/);
  }
  const [storm, floor, many, feed, throughput, engineFloor, scale, supply, flood, tree, intake, csv, pingLists] =
    lines.map(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (l) => l.figures as Record<string, any>,
    );
  expect(storm!.bySize[0]).toMatchObject({ exactlyOneWinnerEveryRound: true, winner: { n: 2 } });
  expect(floor!.bySize[0]).toMatchObject({
    exactlyOneWinnerEveryRound: true,
    ratioToSale: { p50: expect.any(Number), p99: expect.any(Number) },
  });
  expect(feed!.bySize[0]).toMatchObject({ clients: 5, missed: 0, intakeToOpened: { n: 10 } });
  expect(throughput!.steps[0]).toMatchObject({ offeredRate: 2, intakeErrors: 0 });
  expect(throughput!.steps[0].completed).toBe(throughput!.steps[0].accepted);
  expect(scale!).toMatchObject({ offers: 20, intakeErrors: 0, claimWhileOpen: { exactlyOneWinnerEveryRound: true } });
  expect(scale!.expiry.lag.n).toBe(20);
  // 3 buyers × 2 offers at once: every claim answered, one winner per offer (by answers and by assignments).
  expect(many!).toMatchObject({
    claimsPerRound: 6,
    exactlyOneWinnerPerOffer: true,
    offersWithoutOneAssignment: 0,
    all: { n: 6 },
  });
  // The floor workflow ran at 2/s; its step completed every workflow it started, in one local activity, and the
  // ratio to throughput's sustained rate (same run) is reported.
  expect(engineFloor!.steps[0]).toMatchObject({
    offeredRate: 2,
    startErrors: 0,
    lastWorkflow: { status: 'COMPLETED' },
  });
  expect(engineFloor!.steps[0].completed).toBe(engineFloor!.steps[0].started);
  expect(engineFloor!.leadwireSustainedRate).toBe(
    throughput!.steps[0].saturated ? null : throughput!.steps[0].achievedRate,
  );
  expect(supply!).toMatchObject({ concurrency: 50, reportLeads: 2000, pings: { n: 100 }, bareSql: { n: 100 } });
  expect(Object.keys(supply!.reportMedianMs)).toEqual(['day', 'campaign', 'source', 'buyer']);
  // Wallet reads idle and during the flood; the flooding sockets were closed by the gateway's frame limit (4429),
  // and the key's attempts after that refused during its cooldown (upgrade 429): nothing else.
  expect(flood!).toMatchObject({ reads: 20, idle: { n: 20 }, flooded: { n: 20 }, p99Ratio: expect.any(Number) });
  expect(flood!.closes['4429']).toBeGreaterThanOrEqual(1);
  expect(Object.keys(flood!.closes).filter((how) => how !== '4429' && how !== 'upgrade 429')).toEqual([]);
  // CPU ms per sold lead by process beside the floor's per workflow, in one table (#26 item 5).
  expect(Object.keys(throughput!.steps[0].cpuMsPerLead)).toEqual(
    expect.arrayContaining(['api', 'worker', 'temporal', 'postgres_all', 'loadgen']),
  );
  expect(engineFloor!.cpuTable.rows.map((r: { process: string }) => r.process)).toEqual([
    'API',
    'worker',
    'Temporal',
    'Postgres',
    'load generator',
    'total',
  ]);
  expect(engineFloor!.cpuTable.rows[1].perSoldLead).toBe(throughput!.steps[0].cpuMsPerLead.worker);
  // The ping tree (#22): 10 endpoint buyers in 3 tiers; every lead of the fixed-rate step posted once, to the
  // winner's server, and sold; its pings counted per tier, the overhead measured for each, CPU by process.
  expect(tree!).toMatchObject({
    endpoints: 10,
    everyLeadPostedOnce: true,
    everyPostedLeadSold: true,
    fixed: { offeredRate: 2, intakeErrors: 0, postedTwice: 0 },
  });
  expect(tree!.fixed.posted).toBe(tree!.fixed.accepted);
  expect(tree!.fixed.soldInDb).toBe(tree!.fixed.posted);
  expect(tree!.fixed.overhead.n).toBe(tree!.fixed.posted);
  // The worker's call log and the servers' own notes agree: every ping sent was logged, one post per lead.
  const logged = (calls: Record<string, number> = {}) => Object.values(calls).reduce((a, b) => a + b, 0);
  expect(logged(tree!.fixed.callLog.ping)).toBe(tree!.fixed.pingsNoted);
  expect(tree!.fixed.callLog.post).toEqual({ accepted: tree!.fixed.posted });
  expect(Object.keys(tree!.fixed.cpuMsPerLead)).toEqual(expect.arrayContaining(['endpoints', 'worker', 'api']));
  // Intake with the lists empty and full (#23): every lead timed and its checks recorded.
  expect(intake!).toMatchObject({
    leads: 10,
    listsEmpty: { intake202: { n: 10 } },
    listsFull: { intake202: { n: 10 } },
  });
  expect(Object.keys(intake!.listsFull.checks.byCheck).sort()).toEqual(['email', 'email_mx', 'phone', 'suppression']);
  // The CSV import: every line listed, in both formats.
  expect(csv!).toMatchObject({ lines: 5000, csv: { added: 5000, rejected: 0 }, dnc: { added: 5000, rejected: 0 } });
  // Pings carrying phone and email, before and after the lists hold the hashes; each timed phase follows a warm-up (not
  // counted) of as many rounds, whose latency is reported apart.
  expect(pingLists!).toMatchObject({
    hashes: 20_000,
    warmupPings: 100,
    before: { pings: { n: 100 }, warmup: { n: 100 } },
    after: { pings: { n: 100 }, warmup: { n: 100 } },
  });

  // One row in the runs table and one in each scenario's table.
  const recorded = fs.readFileSync(results, 'utf8');
  expect(recorded.match(/^\| \d{4}-\d\d-\d\dT[^|]+\| [0-9a-f]{7}/gm)).toHaveLength(14);
  for (const key of [
    'runs',
    'claim_storm',
    'floor',
    'storm_many',
    'feed_latency',
    'throughput',
    'engine_floor',
    'scale',
    'supply',
    'feed_flood',
    'ping_tree',
    'intake_checks',
    'suppression_csv',
    'ping_suppression',
  ])
    expect(recorded).toContain(`<!-- rows:${key} -->`);
}, 900_000);
