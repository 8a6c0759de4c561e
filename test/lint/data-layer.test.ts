/**
 * The data layer's walls (eslint.config.mjs), each proven by a probe that breaks it and one that keeps it:
 * no production code outside db/ imports drizzle-orm or the schema (types included; tests and the benchmark
 * build fixtures), and db/ imports nothing from the layers that call it.
 */
import { brokenRules } from './probe';

const RESTRICTED = '@typescript-eslint/no-restricted-imports';

describe('only the data layer builds queries', () => {
  test.each([
    ['api/__probe_drizzle.ts', "import { eq } from 'drizzle-orm';\nexport const x = eq;\n"],
    ['activities/__probe_schema.ts', "import { leads } from '../db/schema';\nexport const x = leads;\n"],
    [
      'worker/__probe_schema_type.ts',
      "import type { DeliverySettings } from '../db/schema';\nexport type X = DeliverySettings;\n",
    ],
    ['ops/__probe_drizzle_sub.ts', "import { pgTable } from 'drizzle-orm/pg-core';\nexport const x = pgTable;\n"],
    ['workflows/__probe_drizzle_type.ts', "import type { SQL } from 'drizzle-orm';\nexport type X = SQL;\n"],
  ])('%s is refused', async (file, source) => {
    expect(await brokenRules(file, source)).toContain(RESTRICTED);
  });

  test('production code that calls an aggregate module passes', async () => {
    const source = "import { getOffer } from '../db/offers';\nexport const x = getOffer;\n";
    expect(await brokenRules('api/__probe_data_clean.ts', source)).not.toContain(RESTRICTED);
  });

  test('tests and the benchmark may build fixtures with drizzle-orm and the schema', async () => {
    const source =
      "import { eq } from 'drizzle-orm';\nimport { leads } from '../db/schema';\nexport const x = [eq, leads];\n";
    expect(await brokenRules('test/__probe_fixture.ts', source)).not.toContain(RESTRICTED);
    expect(await brokenRules('bench/__probe_fixture.ts', source)).not.toContain(RESTRICTED);
  });
});

describe('db/ imports nothing from the layers above it', () => {
  test.each([
    ['db/__probe_temporal.ts', "import { LEAD_WORKFLOW } from '../temporal/calls';\nexport const x = LEAD_WORKFLOW;\n"],
    ['db/__probe_ops_type.ts', "import type { AuditReport } from '../ops/audit';\nexport type X = AuditReport;\n"],
    ['db/__probe_api.ts', "import { Problem } from '../api/problem';\nexport const x = Problem;\n"],
    [
      'db/__probe_workflows.ts',
      "import type { ClaimRequest } from '../workflows/messages';\nexport type X = ClaimRequest;\n",
    ],
    ['db/__probe_claims.ts', "import * as relay from '../claims/relay';\nexport const x = relay;\n"],
  ])('%s is refused', async (file, source) => {
    expect(await brokenRules(file, source)).toContain(RESTRICTED);
  });

  test('db/ may import drizzle-orm, the schema, domain/, lib/ and the pure claim vocabulary', async () => {
    const source =
      "import { eq } from 'drizzle-orm';\nimport { attemptEvents } from '../claims/vocabulary';\nimport { priceLead } from '../domain/pricing';\nimport { turnBatcher } from '../lib/burst';\nimport { offers } from './schema';\nexport const x = [eq, attemptEvents, priceLead, turnBatcher, offers];\n";
    expect(await brokenRules('db/__probe_clean.ts', source)).not.toContain(RESTRICTED);
  });
});
