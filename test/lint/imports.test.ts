/**
 * Import hygiene (eslint.config.mjs, knip.jsonc): sorted imports, one declaration per module, and no dead code –
 * each proven by a probe that breaks it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { brokenRules } from './probe';

const ROOT = path.resolve(__dirname, '../..');

test('imports out of order are refused (eslint --fix sorts them)', async () => {
  const source =
    "import { priceLead } from './pricing';\nimport { leadWorkflowId } from './ids';\nexport const x = [priceLead, leadWorkflowId];\n";
  expect(await brokenRules('domain/__probe_unsorted.ts', source)).toContain('simple-import-sort/imports');
});

test('two import declarations of one module are refused; a type-only one beside a value one is fine', async () => {
  const twice =
    "import { priceLead } from './pricing';\nimport { answerMatches } from './pricing';\nexport const x = [priceLead, answerMatches];\n";
  expect(await brokenRules('domain/__probe_twice.ts', twice)).toContain('no-duplicate-imports');
  const typeBeside =
    "import type { PriceRules } from './types';\nimport { DELIVERY_MODES } from './types';\nexport const x: [PriceRules | null, unknown] = [null, DELIVERY_MODES];\n";
  expect(await brokenRules('domain/__probe_type_beside.ts', typeBeside)).not.toContain('no-duplicate-imports');
});

test('knip fails on a module nothing imports, and passes on the tree as it is', async () => {
  const run = () =>
    new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(path.join(ROOT, 'node_modules/.bin/knip'), ['--reporter', 'compact'], { cwd: ROOT }, (err, stdout) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout }),
      ),
    );
  expect(await run()).toMatchObject({ code: 0 });
  const probe = path.join(ROOT, 'lib/__probe_dead.ts');
  fs.writeFileSync(probe, 'export const nobodyImportsThis = 1;\n');
  try {
    const dead = await run();
    expect(dead.code).not.toBe(0);
    expect(dead.stdout).toContain('lib/__probe_dead.ts');
  } finally {
    fs.rmSync(probe, { force: true });
  }
});
