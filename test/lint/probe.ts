/**
 * Lint probes: a rule of eslint.config.mjs is proven by a file that breaks it. `lintProbe` writes the
 * probe at a path inside the tree (so the config's `files` globs and the TypeScript project apply
 * exactly as they do to `npm run lint`), lints it with the project's own configuration, and removes it.
 * The linting runs in one child process per test file (test/lint/probe-server.ts), ended after the file.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

interface ProbeMessage {
  ruleId: string | null;
  message: string;
}

type Answer = { id: number; messages?: ProbeMessage[]; error?: string };

let server: ChildProcess | undefined;
let nextId = 0;
const waiting = new Map<number, (answer: Answer) => void>();

function linter(): ChildProcess {
  if (server) return server;
  server = fork(path.join(__dirname, 'probe-server.ts'), [ROOT], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  server.on('message', (answer: Answer) => {
    waiting.get(answer.id)?.(answer);
    waiting.delete(answer.id);
  });
  server.on('exit', (code) => {
    for (const done of waiting.values()) done({ id: -1, error: `the probe linter exited (${code})` });
    waiting.clear();
    server = undefined;
  });
  return server;
}

afterAll(() => {
  server?.kill();
});

/** Lints `source` as the file at `relPath` (relative to the repository root); the file must not exist yet. */
async function lintProbe(relPath: string, source: string): Promise<ProbeMessage[]> {
  const file = path.join(ROOT, relPath);
  if (fs.existsSync(file)) throw new Error(`lintProbe: ${relPath} exists; a probe never overwrites a real file`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, source);
  try {
    const id = nextId++;
    const answer = await new Promise<Answer>((resolve) => {
      waiting.set(id, resolve);
      linter().send({ id, file });
    });
    if (answer.error) throw new Error(`lintProbe ${relPath}: ${answer.error}`);
    return answer.messages ?? [];
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The rule ids a probe broke, for `expect(...).toContain(...)`. */
export async function brokenRules(relPath: string, source: string): Promise<(string | null)[]> {
  return (await lintProbe(relPath, source)).map((m) => m.ruleId);
}
