/**
 * Every command a person drives has `--help` and strict flags (lib/cli.ts): the usage on stdout and exit
 * 0 for `--help`; an unknown flag or a bad value named on stderr with the usage, and exit 2 – before the
 * tool touches a database, Temporal or a process.
 */
import { cli } from '../helpers/cli';

const TOOLS: { script: string; usage: string; bad: string[]; says: string }[] = [
  {
    script: 'ops/audit.ts',
    usage: 'npm run audit',
    bad: ['--min-age-seconds', 'soon'],
    says: '--min-age-seconds: expected a number ≥ 0, got "soon"',
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
