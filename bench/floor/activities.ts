/**
 * The engine floor's one activity: the least a workflow step can do in
 * Postgres, one small transaction (a single-row insert, autocommitted) into a
 * scratch table the `engine_floor` scenario creates in the bench database.
 * The row's time marks the workflow's end (its completion follows in the same
 * workflow task), and its step number lets the scenario count each step.
 */
import type { Pool } from 'pg';

/** The scratch table (created by bench/scenarios/engine-floor.ts). */
export const FLOOR_TABLE = 'bench_engine_floor';
export const FLOOR_TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${FLOOR_TABLE} (id text PRIMARY KEY, step integer NOT NULL, done_at timestamptz NOT NULL DEFAULT clock_timestamp())`;

export function createFloorActivities(pool: Pool) {
  return {
    async floorInsert(id: string, step: number): Promise<void> {
      await pool.query(`INSERT INTO ${FLOOR_TABLE} (id, step) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [id, step]);
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
