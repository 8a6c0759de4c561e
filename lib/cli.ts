/**
 * The command line of every tool (`npm run audit`, `replay`, `soak`, `bench`, `nemesis`, `migrate`,
 * `config`): flags parsed strictly by `node:util` parseArgs, `--help` (or `-h`) printing the tool's usage,
 * and a bad flag or value answered with what was wrong and the usage, exit code 2 – the same for all.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** A flag or value the tool refuses (exit 2 with the message and the usage). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CommandSpec<O extends ParseArgsOptionsConfig> {
  /** The whole `--help` text: usage line, what it does, each option. */
  help: string;
  options: O;
  /** Arguments without a flag (a lead id, history files). */
  positionals?: boolean;
}

/**
 * The parsed command line, or – for `--help` – the usage on stdout and exit 0, or – for an unknown flag, a
 * missing value or what `check` refuses (throw a UsageError) – the reason and the usage on stderr and exit 2.
 */
export function commandLine<O extends ParseArgsOptionsConfig, T>(
  spec: CommandSpec<O>,
  argv: string[],
  check: (parsed: { values: Record<string, unknown>; positionals: string[] }) => T,
): T {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(spec.help);
    process.exit(0);
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: spec.options,
      allowPositionals: spec.positionals ?? false,
      strict: true,
    });
    return check({ values: values as Record<string, unknown>, positionals });
  } catch (err) {
    const known = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!known) throw err;
    console.error(`${(err as Error).message}\n\n${spec.help}`);
    process.exit(2);
  }
}

/** A flag's value as a number that `ok` accepts, else the flag's default. */
export function numberFlag(
  value: unknown,
  flag: string,
  fallback: number,
  ok: (n: number) => boolean,
  expected: string,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || !ok(n))
    throw new UsageError(`${flag}: expected ${expected}, got "${String(value)}"`);
  return n;
}

/** Runs a tool's `main` on the command line and exits with its code; an error it did not expect is printed, exit 2. */
export function runTool(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(2);
    },
  );
}
