/**
 * The curl examples of README.md and docs/, read from the files themselves so
 * a test sends exactly the body the docs show: the `-d` argument of the one
 * command that contains `match` (continuation lines joined), with its shell
 * quoting undone and `$VARS` replaced.
 */
import fs from 'node:fs';
import path from 'node:path';

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
