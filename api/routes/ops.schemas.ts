/**
 * The zod schemas of api/routes/ops.ts, kept beside it (health and readiness).
 * Shapes several route modules share are in api/schemas.ts, the building
 * blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  Health: z.object({ status: z.string() }),
  Ready: z.object({
    status: z.enum(['ready', 'not_ready']),
    database: z.boolean(),
    temporal: z.boolean(),
    bus: z
      .boolean()
      .describe("the feed's event bus is listening (Postgres LISTEN connection up; always true in one process)"),
  }),
};
