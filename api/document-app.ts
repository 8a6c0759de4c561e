/**
 * The API app with inert dependencies (no database, no Temporal): enough to
 * serve the documents generated from the routes and schemas (OpenAPI,
 * AsyncAPI). The typed client's generator and the document tests use it.
 */
import type { Client } from '@temporalio/client';

import type { Db } from '../db/connection';
import { createInProcessBus } from '../db/offer-bus';
import { createApi } from './app';

export function documentApi() {
  return createApi({
    db: {} as Db,
    bus: createInProcessBus(),
    temporal: {} as Client,
    taskQueue: 'unused',
    rootToken: 'unused',
    logger: { error: () => undefined, warn: () => undefined },
  });
}
