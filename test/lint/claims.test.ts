/**
 * The walls of claims/ (eslint.config.mjs), each proven by a probe that breaks it and one that keeps it: the desks
 * are workflow code (no Node built-in, nothing from db/), the vocabulary is pure, and the rest of claims/ builds no
 * query and takes nothing from workflows/.
 */
import { brokenRules } from './probe';

const RESTRICTED = '@typescript-eslint/no-restricted-imports';

describe('lint rules hold claims/', () => {
  test('a desk imports no Node built-in', async () => {
    const source = "import * as fs from 'node:fs';\nexport const x = fs;\n";
    expect(await brokenRules('claims/__probe-desk.ts', source)).toContain(RESTRICTED);
  });

  test('a desk takes nothing from db/, not even a type', async () => {
    const source = "import type { SaleResult } from '../db/sales';\nexport type X = SaleResult;\n";
    expect(await brokenRules('claims/__probe-desk.ts', source)).toContain(RESTRICTED);
  });

  test('a desk that keeps to workflow code passes', async () => {
    const source =
      "import { defineUpdate } from '@temporalio/workflow';\nimport type { LeadActivities } from '../activities';\n" +
      "import { decided } from './vocabulary';\nexport const x = [defineUpdate, decided];\nexport type Y = LeadActivities;\n";
    expect(await brokenRules('claims/__probe-desk.ts', source)).not.toContain(RESTRICTED);
  });

  test('the vocabulary is pure: nothing from the data layer', async () => {
    const source = "import { sellOffer } from '../db/sales';\nexport const x = sellOffer;\n";
    expect(await brokenRules('claims/vocabulary__probe.ts', source)).toContain(RESTRICTED);
  });

  test('claims/ builds no query: no drizzle-orm, no db/schema', async () => {
    const drizzle = "import { eq } from 'drizzle-orm';\nexport const x = eq;\n";
    expect(await brokenRules('claims/__probe_sale.ts', drizzle)).toContain(RESTRICTED);
    const schema = "import { offers } from '../db/schema';\nexport const x = offers;\n";
    expect(await brokenRules('claims/__probe_sale.ts', schema)).toContain(RESTRICTED);
  });

  test('claims/ takes nothing from workflows/', async () => {
    const source = "import type { ManualAction } from '../workflows/messages';\nexport type X = ManualAction;\n";
    expect(await brokenRules('claims/__probe_sale.ts', source)).toContain(RESTRICTED);
  });

  test('claims/ calling the data layer, the vocabulary and temporal/ passes', async () => {
    const source =
      "import { sellOffer } from '../db/sales';\nimport { executeClaim } from '../temporal/calls';\n" +
      "import { decided } from './vocabulary';\nexport const x = [sellOffer, executeClaim, decided];\n";
    expect(await brokenRules('claims/__probe_sale.ts', source)).not.toContain(RESTRICTED);
  });
});
