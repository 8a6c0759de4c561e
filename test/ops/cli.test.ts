/**
 * Every command a person drives has `--help` and strict flags (lib/cli.ts): the usage on stdout and exit
 * 0 for `--help`; an unknown flag or a bad value named on stderr with the usage, and exit 2 – before the
 * tool touches a database, Temporal or a process.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { cli } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '../..');

const TOOLS: { script: string; usage: string; bad: string[]; says: string }[] = [
  {
    script: 'ops/audit.ts',
    usage: 'npm run audit',
    bad: ['--min-age-seconds', 'soon'],
    says: '--min-age-seconds: expected a number ≥ 0, got "soon"',
  },
  {
    script: 'ops/reconcile.ts',
    usage: 'npm run reconcile',
    bad: ['--hours', '0'],
    says: '--hours: expected a number of hours > 0, got "0"',
  },
  { script: 'ops/replay.ts', usage: 'npm run replay', bad: [], says: 'say what to replay' },
  {
    script: 'ops/soak.ts',
    usage: 'npm run soak',
    bad: ['--minutes', '0'],
    says: '--minutes: expected a positive number, got "0"',
  },
  {
    script: 'bench/run.ts',
    usage: 'npm run bench',
    bad: ['--only', 'warp_speed'],
    says: 'unknown scenario warp_speed',
  },
  {
    script: 'ops/nemesis.ts',
    usage: 'npm run nemesis',
    bad: ['--duration', 'forever'],
    says: '--duration: "forever" is not a duration',
  },
  { script: 'bin/migrate.ts', usage: 'npm run migrate', bad: ['now'], says: "Unexpected argument 'now'" },
  {
    script: 'bin/config.ts',
    usage: 'npm run config',
    bad: ['--readme=yes'],
    says: "Option '--readme' does not take an argument",
  },
];

test.each(TOOLS)('$usage -- --help prints its usage and exits 0', async ({ script, usage }) => {
  const { code, stdout } = await cli(script, ['--help']);
  expect(code).toBe(0);
  expect(stdout).toMatch(new RegExp(`^Usage: ${usage}\\b`));
  expect(stdout).toMatch(/--help\s+this text|Usage:/);
});

test.each(TOOLS)(
  '$usage refuses an unknown flag and a bad value with the reason and exit 2',
  async ({ script, bad, says }) => {
    const unknown = await cli(script, ['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
    expect(unknown.stderr).toContain('Usage:');
    const wrong = await cli(script, bad);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(says);
  },
);

/** `npx leadwire …`: package.json's bin, run as npx runs it. */
function leadwire(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return new Promise((resolve) =>
    execFile(
      path.join(ROOT, 'node_modules/.bin/node'),
      [path.join(ROOT, pkg.bin.leadwire!), ...args],
      { cwd: ROOT },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test('npx leadwire lists every command, and each is one of the tools above or a process', async () => {
  const { code, stdout } = await leadwire(['--help']);
  expect(code).toBe(0);
  const listed = [...stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
  expect(listed).toEqual([
    'start',
    'api',
    'worker',
    'migrate',
    'config',
    'audit',
    'reconcile',
    'replay',
    'keys',
    'soak',
    'nemesis',
    'bench',
  ]);
  const unknown = await leadwire(['teleport']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain("Unknown command 'teleport'");
});

test('npx leadwire <command> runs the command with its flags and exit code', async () => {
  const help = await leadwire(['audit', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Usage: npm run audit\b/);
  const bad = await leadwire(['keys', 'shred']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('say generate or rotate');
  const key = await leadwire(['keys', 'generate', 'k2']);
  expect(key.code).toBe(0);
  expect(key.stdout.trim()).toMatch(/^k2:[A-Za-z0-9+/]{43}=$/);
});
