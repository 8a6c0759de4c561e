/**
 * The typed client (packages/client) is generated from the documents the API
 * serves (OpenAPI for REST, AsyncAPI for the feed's messages): regenerating it
 * must give the committed files byte for byte, so a contract change without
 * `npm run client:generate` (a stale client) fails CI.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { GENERATED } from '../../packages/client/generate';

const ROOT = path.resolve(__dirname, '../..');
const CLIENT = path.join(ROOT, 'packages/client');

test('the committed client is what the served document generates (run `npm run client:generate` after a contract change)', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-client-'));
  try {
    await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(CLIENT, 'generate.ts'), '--out', out],
      { cwd: ROOT },
    );
    for (const file of GENERATED) {
      const fresh = fs.readFileSync(path.join(out, file), 'utf8');
      const committed = fs.readFileSync(path.join(CLIENT, file), 'utf8');
      // toBe would print two 300 kB strings: name the file and the first line that differs instead.
      const freshLines = fresh.split('\n');
      const committedLines = committed.split('\n');
      const firstDiff = freshLines.findIndex((line, i) => line !== committedLines[i]);
      const where =
        firstDiff < 0 && freshLines.length === committedLines.length
          ? null
          : `${file}:${(firstDiff < 0 ? freshLines.length : firstDiff) + 1}`;
      expect({
        stale: where,
        generated: where ? freshLines[firstDiff] : undefined,
        committed: where ? committedLines[firstDiff] : undefined,
      }).toEqual({
        stale: null,
        generated: undefined,
        committed: undefined,
      });
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
