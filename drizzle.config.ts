import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes plain SQL migrations into db/migrations; the app
// applies them at start with drizzle-orm's migrator on Postgres and PGlite alike.
// `npm run studio` (scripts/studio.ts) sets DATABASE_URL: Postgres, or the PGlite
// that a running `npm start` serves over the wire protocol.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
  ...(process.env.DATABASE_URL ? { dbCredentials: { url: process.env.DATABASE_URL } } : {}),
});
