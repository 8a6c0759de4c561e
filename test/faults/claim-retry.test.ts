/**
 * A client that retries a claim with the same requestId gets the claim's
 * real outcome, even when the retry comes after the offer's window: a sale
 * decided inside the window may still be committing (a slow or stalled
 * database, a worker restarted mid-sale). Answering `offer_closed` to that
 * retry tells the buyer it lost a lead it is then charged for.
 *
 * The worker reaches Postgres through a proxy that the test stalls; the API
 * reads the database directly.
 */
import crypto from 'node:crypto';
import http from 'node:http';

import type { Client, Connection } from '@temporalio/client';
import request from 'supertest';

import { createApi } from '../../api/app';
import type { FeedHandle } from '../../api/feed';
import { type Database, openDatabase } from '../../db/connection';
import { createApiKey } from '../../db/keys';
import { createInProcessBus } from '../../db/offer-bus';
import { openTestPostgres } from '../helpers/db';
import { assignmentsFor, chargesFor, waitForLeadStatus, waitForOffer, waitForOfferWindow } from '../helpers/lifecycle';
import { type RunningWorker, startLead, startWorker, testClient } from '../helpers/temporal';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';
import { type PgProxy, startPgProxy } from './pg-proxy';

jest.setTimeout(120_000);

let direct: Database;
let viaProxy: Database;
let proxy: PgProxy;
let worker: RunningWorker;
let client: Client;
let connection: Connection;
let server: http.Server;
let feed: FeedHandle;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  direct = await openTestPostgres();
  const url = new URL(process.env.TEST_DATABASE_URL!);
  proxy = await startPgProxy({ host: url.hostname, port: Number(url.port || 5432) });
  viaProxy = await openDatabase({ url: proxy.urlFor(url.toString()), poolSize: 4 });
  const bus = createInProcessBus();
  worker = await startWorker({ db: viaProxy.db, bus });
  ({ client, connection } = await testClient());
  const api = createApi({
    db: direct.db,
    bus,
    temporal: client,
    taskQueue: worker.taskQueue,
    rootToken: 'unused-root-token',
    claimTimeoutMs: 1_500,
    logger: { error: () => undefined, warn: () => undefined },
  });
  server = http.createServer(api.app);
  feed = api.attachFeed(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  proxy?.resume();
  await feed?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await worker?.stop();
  await connection?.close();
  await viaProxy?.close();
  await proxy?.close();
  await direct?.close();
});

test('a claim retried after the window, while its sale is still being charged, answers the sale (never offer_closed for a charged lead)', async () => {
  const db = direct.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 100 });
  const { key } = await createApiKey(db, { kind: 'buyer', agencyId: agency.id, buyerId: buyer.id });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 3, price: { base: 25 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(client, worker.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id);
  // The offer is open in its workflow (its opening's paperwork is written; test/workflows/claim-during-opening.test.ts
  // is the claim that arrives before that).
  await waitForOfferWindow(client, offer.workflowId);

  // The worker's database hangs: the claim is accepted in the window, its charge cannot commit yet.
  proxy.stall();
  const requestId = crypto.randomUUID();
  const claim = () =>
    request(server).post(`/v1/offers/${offer.id}/claim`).set('Authorization', `Bearer ${key}`).send({ requestId });
  const first = await claim();
  expect(first.status).toBe(503);
  expect(first.body.code).toBe('claim_pending');

  // The window passes; the client retries with the same requestId, as told.
  await sleep(Math.max(0, offer.closesAt.getTime() - Date.now()) + 500);
  let retry = await claim();
  const answers = [retry.status];
  setTimeout(() => proxy.resume(), 2_000);
  for (let i = 0; retry.status === 503 && i < 60; i++) {
    await sleep(500);
    retry = await claim();
    answers.push(retry.status);
  }
  proxy.resume();

  // Whatever the client was finally told must be what happened to its money.
  await waitForLeadStatus(db, lead.id, 'sold', 60_000).catch(() => undefined);
  const charged = (await chargesFor(db, offer.id)).filter((c) => c.buyerId === buyer.id);
  const assigned = (await assignmentsFor(db, lead.id)).filter((a) => a.buyerId === buyer.id);
  expect({ answer: retry.body.result, charges: charged.length }).toEqual(
    assigned.length ? { answer: 'won', charges: 1 } : { answer: 'lost', charges: 0 },
  );
  // The sale was decided inside the window, so it stands: the buyer won and was charged once.
  expect(retry.status).toBe(200);
  expect(retry.body).toMatchObject({ result: 'won', charged: 25, balance: 75 });
  expect(answers.slice(0, -1).every((s) => s === 503)).toBe(true);
});
