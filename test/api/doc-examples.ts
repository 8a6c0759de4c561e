/**
 * The curl examples of README.md and docs/, read from the files themselves so
 * a test sends exactly the body the docs show: the `-d` argument of the one
 * command that contains `match` (continuation lines joined), with its shell
 * quoting undone and `$VARS` replaced.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export function docCurlBody(doc: string, match: string, vars: Record<string, string> = {}): object {
  const text = fs.readFileSync(path.join(__dirname, '../..', doc), 'utf8').replace(/\\\n\s*/g, '');
  const commands = text.split('\n').filter((l) => l.trimStart().startsWith('curl ') && l.includes(match));
  if (commands.length !== 1) throw new Error(`${doc}: ${commands.length} curl commands contain ${match}`);
  const arg = /-d (?:'([^']*)'|"((?:[^"\\]|\\.)*)")/.exec(commands[0]!);
  if (!arg) throw new Error(`${doc}: no -d body in ${commands[0]}`);
  const body =
    arg[1] ?? arg[2]!.replace(/\\(.)/g, '$1').replace(/\$([A-Z_]+)/g, (_, name: string) => vars[name] ?? `$${name}`);
  return JSON.parse(body) as object;
}

/**
 * Runs the shell walkthrough of a doc (the ```sh block after `<!-- walkthrough: <name> … -->`) as written, with
 * bash -euo pipefail in a fresh directory and `env` added to the environment; answers its output's lines.
 */
export async function runDocWalkthrough(doc: string, name: string, env: Record<string, string>): Promise<string[]> {
  const text = fs.readFileSync(path.join(__dirname, '../..', doc), 'utf8');
  const script = new RegExp(`<!-- walkthrough: ${name}\\b[^>]*-->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(text)?.[1];
  if (!script) throw new Error(`${doc}: no walkthrough ${name}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lw-${name}-`));
  try {
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: { ...process.env, ...env },
    });
    return stdout.trim().split('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
