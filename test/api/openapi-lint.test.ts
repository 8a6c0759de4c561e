/**
 * The two linters integrators run on a document pass with zero errors: Spectral with its `spectral:oas` ruleset
 * and Redocly with its recommended rules, both from node_modules, on the document the app serves (written to a
 * temporary file). Together they cost about 45 s of a CI run (Spectral ~30 s, Redocly ~12 s on a busy two-core
 * machine), most of it their own start-up.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { documentApi } from '../../api/document-app';

const BIN = path.join(__dirname, '../../node_modules/.bin');
let dir: string;
let file: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-openapi-'));
  file = path.join(dir, 'openapi.json');
  fs.writeFileSync(file, JSON.stringify(documentApi().document(), null, 2));
  fs.writeFileSync(path.join(dir, '.spectral.yaml'), 'extends: ["spectral:oas"]\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(BIN, cmd),
      args,
      {
        cwd: dir,
        maxBuffer: 64 * 1024 * 1024,
        // No telemetry, no update check: the linters reach nothing beyond this machine.
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }),
    );
  });
}

test('Spectral (spectral:oas) finds no error', async () => {
  const { code, out } = await run('spectral', ['lint', '-r', '.spectral.yaml', '-f', 'json', '-q', file]);
  const results = JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1) || '[]') as {
    code: string;
    severity: number;
    message: string;
    path: string[];
  }[];
  expect(results.filter((r) => r.severity === 0).map((r) => `${r.code} ${r.path.join('.')}: ${r.message}`)).toEqual([]);
  expect(code).toBe(0);
}, 180_000);

test("Redocly's recommended rules find no error", async () => {
  const { code, out } = await run('redocly', ['lint', file, '--format=json']);
  const report = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as {
    totals: { errors: number };
    problems: { ruleId: string; severity: string; message: string }[];
  };
  expect(report.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
  expect(report.totals.errors).toBe(0);
  expect(code).toBe(0);
}, 180_000);
