/**
 * The pages speak to the server only through its contract (packages/client): the rule of eslint.config.mjs
 * that keeps web/ from importing the server's folders, proven by probes that break it (a value import and a
 * type-only one) and by one that keeps it.
 */
import { brokenRules } from './probe';

const RESTRICTED = '@typescript-eslint/no-restricted-imports';

describe('web/ imports nothing from the server', () => {
  test('a page may not import api/schemas', async () => {
    const source = "import { ClaimWon } from '../../api/schemas';\nexport const x = ClaimWon;\n";
    expect(await brokenRules('web/src/__probe_server.ts', source)).toContain(RESTRICTED);
  });

  test('not even a type from domain/', async () => {
    const source = "import type { LeadStatus } from '../../../domain/types';\nexport type X = LeadStatus;\n";
    expect(await brokenRules('web/src/shared/__probe_server_type.ts', source)).toContain(RESTRICTED);
  });

  test('a page that takes its types from packages/client passes', async () => {
    const source =
      "import type { Schemas } from '../../packages/client';\nimport { ok } from './shared/api';\n" +
      "export type X = Schemas['ClaimWon'];\nexport const y = ok;\n";
    expect(await brokenRules('web/src/__probe_client.ts', source)).not.toContain(RESTRICTED);
  });
});
