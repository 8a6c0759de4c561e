/**
 * `npm test`: the whole suite split into Jest processes that share nothing, or with `LW_TEST_SPLIT=0` in one Jest
 * process (`--runInBand`). The split is the default since a clean-clone CI run of the whole suite on a quiet machine
 * (#25 item 10): its first phase took 25 minutes where the same files take about 40 one after the other. Each
 * process runs its own globalSetup (test/setup/global-setup.ts): its own fresh Postgres database and its own
 * Temporal dev server, so no process sees another's rows, NOTIFY channels, workflows or task queues; ports are
 * ephemeral.
 *
 *   phase 1, two processes at once:  GROUPS 'pages' and 'rest' (most of the suite waits on I/O: Temporal,
 *                                    Postgres, Chromium, timers, so two cores serve both)
 *   phase 2, alone on the machine:   GROUP 'alone' (fault and cluster tests: timing-sensitive, and heavy)
 *
 * Each process writes Jest's JSON; the runner merges them into one (`--json --outputFile=<file>`, as one Jest
 * run would write it), prints one summary over every test, and exits non-zero when any process failed.
 * Lines are prefixed with their process's group.
 *
 *   npm test                                      everything, split as above (CI: .ci/run)
 *   npm test -- --json --outputFile=<file>        the same, with the merged JSON result
 *   LW_TEST_SPLIT=0 npm test                      everything in one Jest process, --runInBand
 *   LW_TEST_GROUPS=rest,pages npm test            only these groups, split as above
 *   npm test -- <file or pattern> [jest options]  one Jest process, --runInBand, with exactly those arguments
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const ROOT = path.resolve(__dirname, '../..');
const JEST = path.join(ROOT, 'node_modules/jest/bin/jest.js');

interface Group {
  name: string;
  phase: 1 | 2;
  /** Paths (relative to the repository root; a folder ends in '/') of the files this group runs; null: every file no other group takes. */
  paths: string[] | null;
  /**
   * Run the files one at a time in a Jest worker that is replaced once its memory passes this (Jest's
   * `workerIdleMemoryLimit`), instead of in band: a process that runs a hundred files one after another keeps a
   * little of each (module registries, compiled schemas), and near its heap limit it spends its time collecting –
   * a clean-clone CI run saw harness starts in the last files of 'rest' pass 300 s.
   */
  recycleAbove?: string;
}

/**
 * Which file runs where. A file belongs to the first group whose paths match it; 'rest' takes every file no
 * other group takes, so a new test file always runs somewhere.
 * - 'alone': the fault campaigns and the cluster tests kill and pause processes on a schedule and measure
 *   recovery, and the tests that start whole stacks or compile the tree are heavy enough to starve the other
 *   groups; they keep the machine to themselves (phase 2).
 * - 'pages': Chromium and the real stack, plus the tests that write into the tree or read it whole (lint probes
 *   write files into the source folders; `npm run build` compiles them; the web build reads them): one process,
 *   so no other test ever sees a probe file.
 * - 'rest': API, workflows, database, security, unit: one process beside 'pages'.
 */
export const GROUPS: Group[] = [
  {
    name: 'alone',
    phase: 2,
    paths: [
      'test/faults/',
      'test/ops/cluster.test.ts',
      'test/ops/bench-smoke.test.ts',
      'test/ops/temporal-tls.test.ts',
      // They start whole stacks of processes or compile the tree (`npm run build`): beside the other groups they
      // starved their workers until offers opened late (a clean-clone CI saw leads wait over 20 s for their offer).
      'test/ops/running-stack.test.ts',
      'test/ops/cli.test.ts',
      'test/ops/instrumentation.test.ts',
    ],
  },
  {
    name: 'pages',
    phase: 1,
    paths: [
      'test/browser/',
      'test/lint/',
      'test/ops/',
      // Two of the slowest files of 'rest', to even out phase 1 (a clean-clone CI ran 'rest' 1,342 s beside 980 s).
      'test/api/exports.test.ts',
      'test/db/key-store.test.ts',
    ],
  },
  { name: 'rest', phase: 1, paths: null, recycleAbove: '1500MB' },
];

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A path of GROUPS as Jest's test path pattern (a regular expression matched against absolute paths). */
const pattern = (p: string) => `^${escapeRegExp(path.join(ROOT, p))}${p.endsWith('/') ? '' : '$'}`;

/** The Jest arguments that select exactly this group's files. */
export function selection(group: Group): string[] {
  const before = GROUPS.slice(0, GROUPS.indexOf(group)).flatMap((g) => g.paths ?? []);
  return [
    ...(group.paths ?? []).map(pattern),
    ...before.map((p) => `--testPathIgnorePatterns=${pattern(p)}`),
    // A group may be empty in a partial checkout; an empty group is not a failure.
    '--passWithNoTests',
  ];
}

/** Only these arguments keep the split (CI's); anything else selects tests, so one Jest process runs them. */
function splitOptions(args: string[]): { outputFile: string | null } | null {
  let json = false;
  let outputFile: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') json = true;
    else if (a.startsWith('--outputFile=')) outputFile = a.slice('--outputFile='.length);
    else if (a === '--outputFile' && i + 1 < args.length) outputFile = args[++i];
    else if (a !== '--ci') return null;
  }
  if (json !== (outputFile !== null)) return null; // JSON on stdout, or a file without --json: Jest's own way
  return { outputFile };
}

function jestArgs(extra: string[], recycleAbove?: string): string[] {
  const mode = recycleAbove ? ['--maxWorkers=1', `--workerIdleMemoryLimit=${recycleAbove}`] : ['--runInBand'];
  return ['--experimental-vm-modules', JEST, ...mode, ...extra];
}

/** The children still running, to pass a Ctrl-C or SIGTERM on to (main() installs the handlers). */
const running = new Set<ChildProcess>();
/** Set by a Ctrl-C or SIGTERM: no further phase starts. */
let interrupted = false;

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? (signal ? 1 : 0);
}

async function runSerial(args: string[]): Promise<number> {
  const child = spawn(process.execPath, jestArgs(args), { cwd: ROOT, stdio: 'inherit' });
  running.add(child);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(exitCode(code, signal))));
}

interface GroupRun {
  group: Group;
  code: number;
  seconds: number;
  result: JestResult | null;
}

async function runGroup(group: Group, dir: string, colors: boolean): Promise<GroupRun> {
  const outputFile = path.join(dir, `${group.name}.json`);
  const started = Date.now();
  const child = spawn(
    process.execPath,
    jestArgs(
      ['--json', `--outputFile=${outputFile}`, ...(colors ? ['--colors'] : []), ...selection(group)],
      group.recycleAbove,
    ),
    { cwd: ROOT, env: { ...process.env, LW_TEST_GROUP: group.name }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  const prefix = `[${group.name}] `;
  readline.createInterface({ input: child.stdout! }).on('line', (l) => process.stdout.write(`${prefix}${l}\n`));
  readline.createInterface({ input: child.stderr! }).on('line', (l) => process.stderr.write(`${prefix}${l}\n`));
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(exitCode(c, signal))));
  running.delete(child);
  let result: JestResult | null = null;
  try {
    result = JSON.parse(fs.readFileSync(outputFile, 'utf8')) as JestResult;
  } catch {
    /* the process died before writing it: counted as a failure below */
  }
  return { group, code, seconds: (Date.now() - started) / 1000, result };
}

/** The fields of Jest's --json result this runner reads and merges (it keeps every other field of each suite). */
interface JestResult {
  numFailedTestSuites: number;
  numFailedTests: number;
  numPassedTestSuites: number;
  numPassedTests: number;
  numPendingTestSuites: number;
  numPendingTests: number;
  numRuntimeErrorTestSuites: number;
  numTodoTests: number;
  numTotalTestSuites: number;
  numTotalTests: number;
  startTime: number;
  success: boolean;
  wasInterrupted: boolean;
  openHandles: unknown[];
  snapshot: Record<string, unknown>;
  testResults: SuiteResult[];
}

/** The fields of one file's result in Jest's --json output that the failure digest reads. */
interface SuiteResult {
  name: string;
  status?: string;
  message?: string;
  assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[];
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * The failures, file by file, each test's name and the first lines of its message: printed last, so the end of a
 * CI log (often all of it a reader is shown) names what failed, not only how many.
 */
export function failureDigest(merged: Pick<JestResult, 'testResults'>, linesPerFailure = 12): string[] {
  const out: string[] = [];
  const head = (text: string) =>
    text
      .replace(ANSI, '')
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() !== '')
      .slice(0, linesPerFailure)
      .map((l) => `      ${l}`);
  for (const suite of merged.testResults) {
    const file = path.relative(ROOT, suite.name);
    const failed = (suite.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failed) out.push(`  FAIL ${file} › ${a.fullName}`, ...head(a.failureMessages?.join('\n') ?? ''));
    if (failed.length === 0 && suite.status === 'failed')
      out.push(`  FAIL ${file} (the file failed)`, ...head(suite.message ?? ''));
  }
  return out;
}

const COUNTS = [
  'numFailedTestSuites',
  'numFailedTests',
  'numPassedTestSuites',
  'numPassedTests',
  'numPendingTestSuites',
  'numPendingTests',
  'numRuntimeErrorTestSuites',
  'numTodoTests',
  'numTotalTestSuites',
  'numTotalTests',
] as const;

/** One result over every group, as one Jest run would report it; a group without a result counts as a suite that crashed. */
export function mergeResults(runs: { name: string; code: number; result: JestResult | null }[]): JestResult {
  const merged: JestResult = {
    ...(Object.fromEntries(COUNTS.map((k) => [k, 0])) as Record<(typeof COUNTS)[number], number>),
    startTime: Math.min(...runs.map((r) => r.result?.startTime ?? Date.now())),
    success: true,
    wasInterrupted: false,
    openHandles: [],
    snapshot: {},
    testResults: [],
  };
  for (const { code, result } of runs) {
    if (!result) {
      merged.numRuntimeErrorTestSuites += 1;
      merged.numFailedTestSuites += 1;
      merged.numTotalTestSuites += 1;
      merged.success = false;
      continue;
    }
    for (const k of COUNTS) merged[k] += result[k];
    merged.success &&= result.success && code === 0;
    merged.wasInterrupted ||= result.wasInterrupted;
    merged.openHandles.push(...result.openHandles);
    merged.testResults.push(...result.testResults);
    for (const [k, v] of Object.entries(result.snapshot)) {
      const prev = merged.snapshot[k];
      merged.snapshot[k] = typeof v === 'number' && typeof prev === 'number' ? prev + v : (prev ?? v);
    }
  }
  return merged;
}

async function runSplit(outputFile: string | null): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-test-groups-'));
  const colors = process.stdout.isTTY === true;
  const started = Date.now();
  const runs: GroupRun[] = [];
  const only = process.env.LW_TEST_GROUPS?.split(',').map((g) => g.trim());
  try {
    for (const phase of [1, 2] as const) {
      if (interrupted) break;
      const groups = GROUPS.filter((g) => g.phase === phase && (!only || only.includes(g.name)));
      if (groups.length === 0) continue;
      console.log(`\n[npm test] phase ${phase}: ${groups.map((g) => g.name).join(' + ')} (test/setup/run-tests.ts)`);
      runs.push(...(await Promise.all(groups.map((g) => runGroup(g, dir, colors)))));
    }
  } finally {
    const merged = mergeResults(runs.map((r) => ({ name: r.group.name, code: r.code, result: r.result })));
    if (outputFile) {
      fs.mkdirSync(path.dirname(path.resolve(outputFile)), { recursive: true });
      fs.writeFileSync(outputFile, JSON.stringify(merged));
    }
    fs.rmSync(dir, { recursive: true, force: true });
    console.log('\n[npm test] every group:');
    for (const r of runs) {
      const t = r.result;
      const what = t
        ? `${t.numPassedTests} passed, ${t.numFailedTests} failed, ${t.numTotalTestSuites} files`
        : 'no result (the Jest process died)';
      console.log(`  ${r.group.name.padEnd(6)} ${what}, exit code ${r.code}, ${Math.round(r.seconds)} s`);
    }
    const failed = merged.numFailedTests + merged.numRuntimeErrorTestSuites;
    console.log(
      `  total  ${merged.numPassedTests} passed, ${failed} failed, ${merged.numTotalTestSuites} files, ` +
        `${Math.round((Date.now() - started) / 1000)} s`,
    );
    const digest = failureDigest(merged);
    if (digest.length > 0) console.log(['\n[npm test] what failed:', ...digest].join('\n'));
  }
  return runs.every((r) => r.code === 0 && r.result) ? 0 : 1;
}

async function main(args: string[]): Promise<number> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      interrupted = true;
      for (const child of running) child.kill(signal);
    });
  }
  const split = process.env.LW_TEST_SPLIT === '0' ? null : splitOptions(args);
  return split ? runSplit(split.outputFile) : runSerial(args);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
