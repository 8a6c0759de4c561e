/** Applies the SQL migrations and exits (the one-shot `migrate` service of docker-compose). */
import { loadConfig, openDatabaseFor } from './runtime';

openDatabaseFor(loadConfig())
  .then(async (database) => {
    console.log(`migrations applied (${database.driver})`);
    await database.close();
  })
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
