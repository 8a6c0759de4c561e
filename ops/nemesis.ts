/**
 * `npm run nemesis`: a randomized fault campaign on the cluster topology (ops/nemesis/campaign.ts).
 *
 *   npm run nemesis -- [--duration 60s|10m] [--seed N] [--buyers 8]
 *
 * Prints the seed and the fault schedule it gives first (the same seed replays the same schedule and
 * the same choices of each load loop), then progress, then the report: faults injected and survived by
 * kind, operations attempted / acknowledged, and every violation with the history that led to it.
 * Exit code 1 on any violation, a fault that could not be healed or a process that crashed while up;
 * 2 on a usage error.
 */
import { commandLine, UsageError } from '../lib/cli';
import { runCampaign } from './nemesis/campaign';
import { newSeed } from './nemesis/rng';

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min)?$/.exec(s.trim());
  if (!m) throw new Error(`--duration: "${s}" is not a duration (60s, 10m, 90)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' || m[2] === 'min' ? n * 60_000 : n * 1000);
}

export function parseArgs(argv: string[]): { durationMs: number; seed: number; buyers: number } {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const seed = value('--seed');
  const buyers = Number(value('--buyers') ?? 8);
  if (seed !== undefined && !/^\d+$/.test(seed)) throw new Error('--seed needs a non-negative integer');
  if (!Number.isInteger(buyers) || buyers < 3) throw new Error('--buyers needs an integer ≥ 3');
  return {
    durationMs: parseDuration(value('--duration') ?? '60s'),
    seed: seed !== undefined ? Number(seed) : newSeed(),
    buyers,
  };
}

const HELP = `Usage: npm run nemesis -- [--duration 60s|10m] [--seed N] [--buyers N]

The randomized fault campaign (docs/guarantees.md): the cluster topology on its own Postgres under a
steady mixed load while a random fault is injected and healed every few seconds; at the end a
checker judges every invariant from the data. The seed (printed) replays the schedule. Exit 0: no
violation; 1: a violation, an unhealed fault or a crash; 2: bad arguments.

Options:
  --duration D   how long the load runs: 90 (seconds), 60s, 10m (default 60s)
  --seed N       the schedule's seed (default: a new one, printed)
  --buyers N     claiming buyers, at least 3 (default 8)
  --help         this text`;

async function main(): Promise<void> {
  const opts = commandLine(
    { help: HELP, options: { duration: { type: 'string' }, seed: { type: 'string' }, buyers: { type: 'string' } } },
    process.argv.slice(2),
    () => {
      try {
        return parseArgs(process.argv.slice(2));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    },
  );
  const report = await runCampaign(opts);
  process.exit(report.findings.length || report.faultErrors.length || report.crashes.length ? 1 : 0);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
