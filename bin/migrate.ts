/** Applies the SQL migrations and exits (the one-shot `migrate` service of docker-compose). */
import { commandLine } from '../lib/cli';
import { exitOnBadConfig, loadConfig, openDatabaseFor } from './runtime';

const HELP = `Usage: npm run migrate

Applies the SQL migrations (db/migrations) to DATABASE_URL, or to the embedded PGlite in
LW_DATA_DIR, and exits. Every process also applies them at start; this is the one-shot of a
deployment (docker-compose's migrate service).`;

async function main() {
  commandLine({ help: HELP, options: {} }, process.argv.slice(2), () => undefined);
  const database = await openDatabaseFor(loadConfig());
  console.log(`migrations applied (${database.driver})`);
  await database.close();
}

main().catch((err: unknown) => {
  exitOnBadConfig(err);
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
