/** Applies the SQL migrations and exits (the one-shot `migrate` service of docker-compose). */
import { exitOnBadConfig, loadConfig, openDatabaseFor } from './runtime';

async function main() {
  const database = await openDatabaseFor(loadConfig());
  console.log(`migrations applied (${database.driver})`);
  await database.close();
}

main().catch((err: unknown) => {
  exitOnBadConfig(err);
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
