/**
 * The benchmark harness (bench/README.md):
 *
 *   npm run bench                       all thirteen scenarios at full size, rows appended to bench/RESULTS.md
 *   npm run bench:ci                    all thirteen, tiny (CI: the harness cannot rot), nothing recorded
 *   npm run bench -- --only claim_storm,floor
 *   npm run bench -- --scale-offers 5000 --rates 10,20,40 --results /tmp/r.md --no-record
 *   npm run bench -- --temporal-dir /dev/shm    the dev server's SQLite on tmpfs (to see what the disk costs)
 *   npm run bench -- --topology cluster         against the Temporal cluster on Postgres (scripts/temporal-cluster.ts)
 *   npm run bench -- --only supply --report-leads 1000000   ping latency and report timings (#13)
 *   npm run bench -- --only feed_flood   other clients' wallet p99 while one socket floods the feed (#27)
 *   npm run bench -- --only ping_tree    outbound ping tree over 50 endpoint buyers (#22)
 *   npm run bench -- --only intake_checks,suppression_csv,ping_suppression   the compliance gate's costs (#23)
 *
 * Each scenario prints one JSON line on stdout; progress goes to stderr. Scenarios run in the order of
 * ALL whatever the order of --only, so those that report a ratio (floor, engine_floor) follow the ones
 * they compare (claim_storm, throughput).
 * Exit 1 when a scenario failed or a correctness check (one winner per round, one post per ping-tree lead) did not hold.
 */
import path from 'node:path';

import { openDatabase } from '../db/connection';
import { commandLine, numberFlag, UsageError } from '../lib/cli';
import { ApiClient } from './lib/client';
import { recordRun } from './lib/results';
import { commit, loadAverage, machine, startStack } from './lib/stack';
import { claimStorm, floor, type StormFigures, stormOverSale } from './scenarios/claims';
import { intakeChecks, pingSuppression, suppressionCsv } from './scenarios/compliance';
import { type BenchContext, CI, FULL, type ScenarioResult, type Sizes } from './scenarios/context';
import { engineFloor } from './scenarios/engine-floor';
import { feedLatency } from './scenarios/feed';
import { feedFlood } from './scenarios/feed-flood';
import { pingTree } from './scenarios/ping-tree';
import { scale } from './scenarios/scale';
import { stormMany } from './scenarios/storm-many';
import { supply } from './scenarios/supply';
import { throughput, type ThroughputResult } from './scenarios/throughput';

const ALL = [
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
] as const;
type Name = (typeof ALL)[number];

interface Args {
  ci: boolean;
  only: Name[];
  results: string;
  record: boolean;
  sizes: Sizes;
  temporalDir?: string;
  topology: 'dev' | 'cluster';
}

const HELP = `Usage: npm run bench -- [--only a,b] [--ci] [--topology dev|cluster] [size flags] [--no-record]

Runs the benchmark scenarios on a fresh stack and appends their rows to bench/RESULTS.md (with the
machine, its load and the commit). Run it alone: \`flock /tmp/leadwire-heavy.lock npm run bench\`.

Options:
  --only a,b           these scenarios only: ${ALL.join(', ')}
  --ci                 small sizes (npm run bench:ci); records only with --results
  --topology T         dev (one dev server; default) or cluster (npm run cluster's topology)
  --results PATH       where to record (default bench/RESULTS.md)
  --no-record          print only
  --temporal-dir DIR   the dev server's data directory
  --scale-offers N, --rates a,b, --floor-rates a,b, --claimers a,b, --feed-clients a,b, --rounds N,
  --step-seconds N, --report-leads N, --ping-rounds N, --ping-tree-endpoints N, --ping-tree-rate N,
  --ping-tree-seconds N, --ping-tree-rates a,b, --intake-leads N, --list-entries N, --suppression-hashes N,
  --csv-lines N
                       the scenarios' sizes
  --help               this text`;

function parseBenchArgs(argv: string[]): Args {
  const flags = [
    'only',
    'topology',
    'results',
    'temporal-dir',
    'scale-offers',
    'rates',
    'floor-rates',
    'claimers',
    'feed-clients',
    'rounds',
    'step-seconds',
    'report-leads',
    'ping-rounds',
    'ping-tree-endpoints',
    'ping-tree-rate',
    'ping-tree-seconds',
    'ping-tree-rates',
    'intake-leads',
    'list-entries',
    'suppression-hashes',
    'csv-lines',
  ] as const;
  return commandLine(
    {
      help: HELP,
      options: {
        ...Object.fromEntries(flags.map((f) => [f, { type: 'string' as const }])),
        ci: { type: 'boolean' },
        'no-record': { type: 'boolean' },
      },
    },
    argv,
    ({ values }) => benchArgs(values),
  );
}

function benchArgs(values: Record<string, unknown>): Args {
  const value = (flag: string) => values[flag.replace(/^--/, '')] as string | undefined;
  const numbers = (flag: string) =>
    value(flag)!
      .split(',')
      .map((x) => numberFlag(x, flag, 0, (n) => n > 0, 'positive numbers, comma-separated'));
  const argvHas = (flag: string) => values[flag.replace(/^--/, '')] === true;
  const ci = argvHas('--ci');
  const sizes: Sizes = { ...(ci ? CI : FULL) };
  const one = (flag: string) => numberFlag(value(flag), flag, 0, (n) => n > 0, 'a positive number');
  if (value('--scale-offers')) sizes.scaleOffers = one('--scale-offers');
  if (value('--rates')) sizes.rates = numbers('--rates');
  if (value('--floor-rates')) sizes.floorRates = numbers('--floor-rates');
  if (value('--claimers')) sizes.claimers = numbers('--claimers');
  if (value('--feed-clients')) sizes.feedClients = numbers('--feed-clients');
  if (value('--rounds')) sizes.claimRounds = sizes.feedRounds = one('--rounds');
  if (value('--step-seconds')) sizes.stepSeconds = one('--step-seconds');
  if (value('--report-leads')) sizes.reportLeads = one('--report-leads');
  if (value('--ping-rounds')) sizes.pingRounds = one('--ping-rounds');
  if (value('--ping-tree-endpoints')) sizes.pingTreeEndpoints = one('--ping-tree-endpoints');
  if (value('--ping-tree-rate')) sizes.pingTreeRate = one('--ping-tree-rate');
  if (value('--ping-tree-seconds')) sizes.pingTreeSeconds = one('--ping-tree-seconds');
  if (value('--ping-tree-rates')) sizes.pingTreeRates = numbers('--ping-tree-rates');
  if (value('--intake-leads')) sizes.intakeCheckLeads = one('--intake-leads');
  if (value('--list-entries')) sizes.intakeListEntries = one('--list-entries');
  if (value('--suppression-hashes')) sizes.suppressionHashes = one('--suppression-hashes');
  if (value('--csv-lines')) sizes.csvLines = one('--csv-lines');
  const only = (value('--only')?.split(',') ?? [...ALL]) as Name[];
  for (const o of only) if (!ALL.includes(o)) throw new UsageError(`unknown scenario ${o}; one of ${ALL.join(', ')}`);
  const topology = value('--topology') ?? 'dev';
  if (topology !== 'dev' && topology !== 'cluster')
    throw new UsageError(`unknown topology ${topology}; dev or cluster`);
  return {
    ci,
    only: ALL.filter((n) => only.includes(n)),
    results: path.resolve(value('--results') ?? path.join(__dirname, 'RESULTS.md')),
    record: !argvHas('--no-record') && (!ci || value('--results') !== undefined),
    sizes,
    temporalDir: value('--temporal-dir'),
    topology,
  };
}

async function main(argv: string[]): Promise<number> {
  const args = parseBenchArgs(argv);
  const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  const m = machine();
  const extra = argv.filter((a) => a !== '--ci'); // bench:ci adds --ci itself
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: commit(),
    command: process.env.npm_lifecycle_event
      ? `npm run ${process.env.npm_lifecycle_event}${extra.length ? ` -- ${extra.join(' ')}` : ''}`
      : `tsx bench/run.ts ${argv.join(' ')}`.trim(),
    machine: `${m.cores} cores (${m.cpu}), ${m.memoryGb} GB`,
    persistence: '',
    loadStart: loadAverage(),
  };
  log(`${meta.command} on ${meta.machine}; load ${meta.loadStart.join(' ')}; commit ${meta.commit}`);
  const stack = await startStack({ temporalDir: args.temporalDir, topology: args.topology });
  // Ctrl-C or a kill: still stop the processes and drop the database.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void stack.close().finally(() => process.exit(130));
    });
  }
  meta.persistence = stack.persistence;
  log(
    `stack: Temporal ${stack.temporal.address} (${stack.persistence}); database ${stack.dbName}; API ${stack.baseUrl} (pid ${stack.api.pid}), worker pid ${stack.worker.pid}`,
  );
  const database = await openDatabase({ url: stack.databaseUrl, poolSize: 20, migrate: false });
  const ctx: BenchContext = { stack, api: new ApiClient(stack.baseUrl), database, sizes: args.sizes, log };
  const results: ScenarioResult[] = [];
  let failures = 0;
  let storm: StormFigures[] | null = null;
  let leadsPerSecond: number | null = null;
  let leadCpu: ThroughputResult['cpuMsPerLead'] = null;
  try {
    for (const name of args.only) {
      const started = Date.now();
      try {
        let r: ScenarioResult;
        if (name === 'claim_storm') {
          const s = await claimStorm(ctx);
          storm = s.bySize;
          r = { scenario: s.scenario, figures: s.figures, headline: s.headline };
        } else if (name === 'floor') {
          const f = await floor(ctx, storm);
          r = { scenario: f.scenario, figures: f.figures, headline: f.headline };
          const stormRow = results.find((x) => x.scenario === 'claim_storm');
          if (stormRow && stormOverSale(f.bySize)) stormRow.headline += `<br>${stormOverSale(f.bySize)}`;
        } else if (name === 'feed_latency') r = await feedLatency(ctx);
        else if (name === 'throughput') {
          const t = await throughput(ctx);
          leadsPerSecond = t.sustainedRate;
          leadCpu = t.cpuMsPerLead;
          r = { scenario: t.scenario, figures: t.figures, headline: t.headline };
        } else if (name === 'engine_floor') r = await engineFloor(ctx, leadsPerSecond, leadCpu);
        else if (name === 'storm_many') r = await stormMany(ctx);
        else if (name === 'feed_flood') r = await feedFlood(ctx);
        else if (name === 'ping_tree') r = await pingTree(ctx);
        else if (name === 'intake_checks') r = await intakeChecks(ctx);
        else if (name === 'suppression_csv') r = await suppressionCsv(ctx);
        else if (name === 'ping_suppression') r = await pingSuppression(ctx);
        else if (name === 'supply')
          r = await supply(ctx, { pingRounds: args.sizes.pingRounds, reportLeads: args.sizes.reportLeads });
        else r = await scale(ctx);
        const json = JSON.stringify(r.figures);
        if (/"exactlyOneWinner(EveryRound|PerOffer)":false/.test(json)) {
          failures++;
          log(`${name}: a round or an offer did not have exactly one winner`);
        }
        if (/"(everyLeadPostedOnce|everyPostedLeadSold)":false/.test(json)) {
          failures++;
          log(`${name}: a lead was not posted exactly once, or a posted lead was not sold`);
        }
        results.push(r);
        console.log(
          JSON.stringify({
            scenario: r.scenario,
            seconds: Math.round((Date.now() - started) / 1000),
            ...meta,
            loadNow: loadAverage(),
            figures: r.figures,
          }),
        );
      } catch (err) {
        failures++;
        log(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
  } finally {
    await database.close();
    await stack.close();
  }
  if (args.record && results.length) {
    recordRun(args.results, { ...meta, loadEnd: loadAverage() }, results);
    log(`recorded in ${args.results}`);
  }
  log(`done: ${results.length} scenario(s), ${failures} failure(s)`);
  return failures ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
