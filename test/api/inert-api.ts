/**
 * The app with inert dependencies (no database, no Temporal): enough to serve
 * the documents generated from the routes and schemas (OpenAPI, AsyncAPI).
 */
import type { Client } from '@temporalio/client';
import { createApi } from '../../api/app';
import type { Db } from '../../db/connection';
import { createInProcessBus } from '../../db/offer-bus';

export function inertApi() {
  return createApi({
    db: {} as Db,
    bus: createInProcessBus(),
    temporal: {} as Client,
    taskQueue: 'unused',
    rootToken: 'unused',
    logger: { error: () => undefined, warn: () => undefined },
  });
}
