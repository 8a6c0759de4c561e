/**
 * The lint probes' linter, in a process of its own (test/lint/probe.ts forks it once per test file): the typed
 * linter holds a TypeScript program of the whole project, about 600 MB, which a Jest run in one process would
 * otherwise keep for every test file that lints.
 */
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.argv[2] });

process.on('message', (request: { id: number; file: string }) => {
  eslint.lintFiles([request.file]).then(
    ([result]) =>
      process.send!({
        id: request.id,
        messages: (result?.messages ?? []).map((m) => ({ ruleId: m.ruleId, message: m.message })),
      }),
    (err: unknown) => process.send!({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
