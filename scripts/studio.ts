/**
 * `npm run studio`: Drizzle Studio on the live data. The database is
 * DATABASE_URL, else the running `npm start` (its `.data/stack.json`: PGlite
 * served over the wire protocol), so no copy of the data is needed. Extra
 * arguments go to `drizzle-kit studio` (e.g. `-- --port 4984`).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

import { loadConfig } from '../bin/runtime';
import { withRunningStack } from '../bin/stack';

const { config, stack } = withRunningStack(loadConfig());
if (!config.databaseUrl) {
  console.error(
    'No database to open: set DATABASE_URL, or start the stack with `npm start` first (it writes LW_DATA_DIR/stack.json).',
  );
  process.exit(2);
}
if (!process.env.DATABASE_URL && stack)
  console.log(`Drizzle Studio on the running stack's database (${config.databaseUrl}).`);
const bin = path.join(__dirname, '..', 'node_modules', '.bin', 'drizzle-kit');
const child = spawn(bin, ['studio', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, DATABASE_URL: config.databaseUrl },
});
child.on('exit', (code) => process.exit(code ?? 1));
