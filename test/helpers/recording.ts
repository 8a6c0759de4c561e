/**
 * What a path asked of the database and of Temporal, for tests that assert a
 * path's cost structurally (which statements, which calls – never how long):
 * a second handle on the test database whose every statement is recorded, and
 * a Temporal client whose every workflow call is recorded. Give them to an
 * API instance (`startInstance({ db, temporal })`) and read what it did.
 */
import { Client, type Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import type { Pool, PoolClient } from 'pg';

import { type Database, openDatabase } from '../../db/connection';

/** The SQL text of every statement sent through this handle's pool, in order (transactions' statements included). */
export async function recordingDatabase(url: string): Promise<{ database: Database; statements: string[] }> {
  const database = await openDatabase({ url, poolSize: 4, migrate: false });
  const statements: string[] = [];
  // Every statement – the pool's own query() and a transaction's – goes through a client's query().
  (database.raw as Pool).on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const q = args[0];
      statements.push(typeof q === 'string' ? q : ((q as { text?: string })?.text ?? String(q)));
      return query(...args);
    };
  });
  return { database, statements };
}

/** The workflow calls a client can make (its interceptor's methods): starts, Updates, signals, queries, … */
const WORKFLOW_CALLS = [
  'start',
  'startWithDetails',
  'startUpdate',
  'startUpdateWithStart',
  'signal',
  'signalWithStart',
  'query',
  'terminate',
  'cancel',
  'describe',
] as const;

/** A client on `connection` that records the name of every workflow call it makes (`startUpdate`: a claim's Update). */
export function recordingTemporalClient(connection: Connection): { client: Client; calls: string[] } {
  const calls: string[] = [];
  const interceptor: WorkflowClientInterceptor = {};
  for (const name of WORKFLOW_CALLS) {
    (interceptor as Record<string, unknown>)[name] = (input: unknown, next: (input: unknown) => unknown) => {
      calls.push(name);
      return next(input);
    };
  }
  return { client: new Client({ connection, interceptors: { workflow: [interceptor] } }), calls };
}
