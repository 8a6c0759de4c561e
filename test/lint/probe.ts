/**
 * Lint probes: a rule of eslint.config.mjs is proven by a file that breaks it. `lintProbe` writes the
 * probe at a path inside the tree (so the config's `files` globs and the TypeScript project apply
 * exactly as they do to `npm run lint`), lints it with the project's own configuration, and removes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '../..');
let eslint: ESLint | undefined;

interface ProbeMessage {
  ruleId: string | null;
  message: string;
}

/** Lints `source` as the file at `relPath` (relative to the repository root); the file must not exist yet. */
async function lintProbe(relPath: string, source: string): Promise<ProbeMessage[]> {
  const file = path.join(ROOT, relPath);
  if (fs.existsSync(file)) throw new Error(`lintProbe: ${relPath} exists; a probe never overwrites a real file`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, source);
  try {
    eslint ??= new ESLint({ cwd: ROOT });
    const [result] = await eslint.lintFiles([file]);
    return (result?.messages ?? []).map((m) => ({ ruleId: m.ruleId, message: m.message }));
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The rule ids a probe broke, for `expect(...).toContain(...)`. */
export async function brokenRules(relPath: string, source: string): Promise<(string | null)[]> {
  return (await lintProbe(relPath, source)).map((m) => m.ruleId);
}
