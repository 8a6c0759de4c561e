import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes plain SQL migrations into db/migrations; the app
// applies them at start with drizzle-orm's migrator on Postgres and PGlite alike.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
});
