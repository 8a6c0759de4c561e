/**
 * The walls between the layers that eslint.config.mjs holds, each proven by a probe that breaks it
 * (and, beside it, a probe that keeps it, so a rule that refuses everything would fail too).
 */
import { brokenRules } from './probe';

const RESTRICTED = '@typescript-eslint/no-restricted-imports';

describe('lint rules hold the layers', () => {
  test('domain/ imports no Node built-in', async () => {
    expect(
      await brokenRules('domain/__probe_builtin.ts', "import * as fs from 'node:fs';\nexport const x = fs;\n"),
    ).toContain(RESTRICTED);
  });

  test('workflows/ import no value from activities/', async () => {
    const source = "import { createActivities } from '../activities';\nexport const x = createActivities;\n";
    expect(await brokenRules('workflows/__probe_activities.ts', source)).toContain(RESTRICTED);
  });

  test('a probe that keeps the rules passes them', async () => {
    const source = "import { leadWorkflowId } from './ids';\nexport const x = leadWorkflowId;\n";
    expect(await brokenRules('domain/__probe_clean.ts', source)).not.toContain(RESTRICTED);
  });
});
