/**
 * docs/accounts.md "Roles" is the authorization table (api/authorization.ts)
 * written out: regenerate it with `npx tsx scripts/roles-table.ts` after changing the table.
 */
import fs from 'node:fs';

import { DOC, withRolesTable } from '../../scripts/roles-table';

test('the roles table of docs/accounts.md is the authorization table', () => {
  const doc = fs.readFileSync(DOC, 'utf8');
  expect(doc).toBe(withRolesTable(doc));
});
