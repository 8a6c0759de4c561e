/**
 * The world most lifecycle tests need: the run's Postgres database, a worker
 * on its own task queue, a Temporal client and an in-process feed bus, set up
 * before the file's tests and torn down after them.
 */
import type { Client, Connection } from '@temporalio/client';

import type { Database, Db } from '../../db/connection';
import { createInProcessBus, type OfferBus } from '../../db/offer-bus';
import { openTestPostgres } from './db';
import { useClaimsDb } from './lifecycle';
import { type RunningWorker, startWorker, testClient } from './temporal';

type WorkerOptions = Parameters<typeof startWorker>[0];

export interface LifecycleSuite {
  database: Database;
  db: Db;
  bus: OfferBus;
  worker: RunningWorker;
  client: Client;
}

/** `delivery`: the worker's delivery overrides (e.g. the address guard's allowlist for local endpoint servers). */
export function lifecycleSuite(opts: { delivery?: WorkerOptions['delivery'] } = {}): LifecycleSuite {
  const suite = { bus: createInProcessBus() } as LifecycleSuite;
  let connection: Connection | undefined;
  beforeAll(async () => {
    suite.database = await openTestPostgres();
    suite.db = suite.database.db;
    useClaimsDb(suite.db);
    suite.worker = await startWorker({ db: suite.db, bus: suite.bus, delivery: opts.delivery });
    ({ client: suite.client, connection } = await testClient());
  });
  afterAll(async () => {
    useClaimsDb(null);
    await suite.worker?.stop();
    await connection?.close();
    await suite.database?.close();
  });
  return suite;
}
