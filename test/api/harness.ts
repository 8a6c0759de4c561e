/**
 * The API on the real dev server and the real Postgres: a worker on its own
 * task queue, the app on an ephemeral port (so supertest and real WebSocket
 * clients both reach it), and helpers that build a world through the API.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import request from 'supertest';
import WebSocket from 'ws';

import type { DeliveryOverrides } from '../../activities/channels/config';
import { type Api, type ApiDeps, createApi } from '../../api/app';
import type { FeedHandle } from '../../api/feed';
import { FeedServerMessage } from '../../api/feed-messages';
import type { Database } from '../../db/connection';
import { createInProcessBus, createPostgresBus, type OfferBus } from '../../db/offer-bus';
import { parseCsv } from '../../domain/csv';
import { bearer, createLeadwireClient, expectStatus, type LeadwireClient, type Schemas } from '../../packages/client';
import { openTestPostgres } from '../helpers/db';
import { type RunningWorker, startWorker, testClient } from '../helpers/temporal';
import { leadFields, SERVICE_LINE } from '../helpers/world';
import { ContractGuard, guardResponses, type Violation } from './contract';

export const ROOT_TOKEN = 'test-root-token-0123456789';

/** Rate limits high enough that tests never hit them unless they mean to. */
export const RELAXED_LIMITS: ApiDeps['rateLimits'] = {
  authFailures: { capacity: 100_000, refillPerSecond: 1000 },
  claims: { capacity: 100_000, refillPerSecond: 1000 },
  feedFrames: { burst: 100_000, perSecond: 1000, closeAfter: 100_000, cooldownSeconds: 0 },
  signInFailures: { capacity: 100_000, refillPerSecond: 1000 },
};

const quietLogger = { error: () => undefined, warn: () => undefined };

export interface ApiInstance {
  api: Api;
  server: http.Server;
  feed: FeedHandle;
  bus: OfferBus;
  baseUrl: string;
  wsUrl: string;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

export interface Harness {
  database: Database;
  worker: RunningWorker;
  client: Client;
  connection: Connection;
  /** The first API instance. */
  main: ApiInstance;
  http: ReturnType<typeof request>;
  /** Another API instance on the same database and task queue. */
  startInstance(overrides?: Partial<ApiDeps>): Promise<ApiInstance>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** 'postgres': the worker and every API instance use LISTEN/NOTIFY, as in a multi-process deployment. */
  bus?: 'in-process' | 'postgres';
  api?: Partial<ApiDeps>;
  /** The worker's delivery settings over the environment's. */
  delivery?: DeliveryOverrides;
}

// ─── every answer against the document ───────────────────────────────────────

const violations: Violation[] = [];

/** The answers received since the last call that the OpenAPI document does not admit (test/api/contract.ts), and forgets them. */
function takeContractViolations(): Violation[] {
  return violations.splice(0);
}

/** One guard per document (the instances of a file serve the same one): its schemas are compiled once, up front. */
const guards = new Map<string, ContractGuard>();
function guardFor(doc: Record<string, unknown>): ContractGuard {
  const key = JSON.stringify(doc);
  let guard = guards.get(key);
  if (!guard) guards.set(key, (guard = new ContractGuard(doc)));
  return guard;
}

function failOnViolations() {
  const found = takeContractViolations();
  if (found.length)
    throw new Error(
      `${found.length} answer(s) do not match the OpenAPI document:\n` +
        found.map((v) => `${v.request} → ${v.status}: ${v.problems.join('; ')}\n  body: ${v.body}`).join('\n'),
    );
}
// Every test file that starts a harness imports this module at its top: its answers are judged after each test.
// (Outside Jest – a script that builds a world – there is no test to fail.)
if (typeof afterEach === 'function') {
  afterEach(failOnViolations);
  afterAll(failOnViolations);
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const database = await openTestPostgres();
  const pool = database.raw as Pool;
  const sharedBus = opts.bus === 'postgres' ? null : createInProcessBus();
  const newBus = (): OfferBus => sharedBus ?? createPostgresBus(database.url!, pool);
  const workerBus = newBus();
  const worker = await startWorker({ db: database.db, bus: workerBus, delivery: opts.delivery });
  const { client, connection } = await testClient();
  const instances: ApiInstance[] = [];

  const startInstance = async (overrides: Partial<ApiDeps> = {}): Promise<ApiInstance> => {
    const bus = newBus();
    const api = createApi({
      db: database.db,
      bus,
      temporal: client,
      taskQueue: worker.taskQueue,
      rootToken: ROOT_TOKEN,
      rateLimits: RELAXED_LIMITS,
      logger: quietLogger,
      // The Do-Not-Call filter as the API processes run it (it hears changes on a Postgres bus; off on the in-process one).
      dncFilter: { driver: 'postgres' },
      ...opts.api,
      ...overrides,
    });
    const guard = guardFor(api.document());
    const server = http.createServer(guardResponses(api.app, guard, (v) => violations.push(v)));
    const feed = api.attachFeed(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await bus.ready();
    const { port } = server.address() as AddressInfo;
    const instance: ApiInstance = {
      api,
      server,
      feed,
      bus,
      baseUrl: `http://127.0.0.1:${port}`,
      wsUrl: `ws://127.0.0.1:${port}/v1/feed`,
      http: request(server),
      async close() {
        await feed.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (bus !== sharedBus) await bus.close();
      },
    };
    instances.push(instance);
    return instance;
  };

  await workerBus.ready();
  const main = await startInstance();
  return {
    database,
    worker,
    client,
    connection,
    main,
    http: main.http,
    startInstance,
    async close() {
      for (const i of instances) await i.close().catch(() => undefined);
      await worker.stop();
      await workerBus.close();
      await connection.close();
      await database.close();
    },
  };
}

// ─── a world built through the API ───────────────────────────────────────────

let seq = 0;
export const unique = (p: string) => `${p}-${Date.now().toString(36)}-${(seq++).toString(36)}`;

/** The API instance to call: a harness (its first instance) or one instance. */
export type On = Pick<Harness, 'main'> | Pick<ApiInstance, 'baseUrl'>;

/** The typed client of the API (packages/client) on an instance, with a key: the contract exercised by its own client. */
export function apiClient(on: On, key?: string): LeadwireClient {
  return createLeadwireClient({ baseUrl: 'baseUrl' in on ? on.baseUrl : on.main.baseUrl, apiKey: key });
}

export async function apiAgency(on: On) {
  const { agency, adminKey } = await expectStatus(
    'agency',
    201,
    apiClient(on, ROOT_TOKEN).POST('/v1/agencies', { body: { name: unique('agency') } }),
  );
  await expectStatus(
    'service line',
    201,
    apiClient(on, adminKey).POST('/v1/service-lines', { body: { key: SERVICE_LINE, name: 'Roofing' } }),
  );
  return { agency, adminKey };
}

export async function apiBuyer(on: On, adminKey: string, opts: { credits?: number; zipCodes?: string[] } = {}) {
  const admin = apiClient(on, adminKey);
  const { buyer, apiKey } = await expectStatus(
    'buyer',
    201,
    admin.POST('/v1/buyers', {
      body: {
        name: unique('buyer'),
        serviceLines: [SERVICE_LINE],
        ...(opts.zipCodes ? { zipCodes: opts.zipCodes } : {}),
      },
    }),
  );
  if (opts.credits) {
    await expectStatus(
      'credits',
      201,
      admin.POST('/v1/buyers/{id}/credits', { params: { path: { id: buyer.id } }, body: { amount: opts.credits } }),
    );
  }
  return { buyer, apiKey };
}

export async function apiCampaign(on: On, adminKey: string, body: Partial<Schemas['CampaignCreate']> = {}) {
  const { campaign } = await expectStatus(
    'campaign',
    201,
    apiClient(on, adminKey).POST('/v1/campaigns', {
      body: {
        name: unique('campaign'),
        serviceLine: SERVICE_LINE,
        mode: 'ping_post',
        claimWindowSeconds: 30,
        price: { base: 10 },
        ...body,
      },
    }),
  );
  return campaign;
}

/** GET a CSV export through supertest and parse it (RFC 4180). */
export async function getCsv(h: Pick<Harness, 'http'>, path: string, key: string): Promise<string[][]> {
  const res = await h.http
    .get(path)
    .set(bearer(key))
    .buffer(true)
    .parse((r, cb) => {
      let t = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (t += c));
      r.on('end', () => cb(null, t));
    });
  return parseCsv(res.body as string);
}

export async function apiLead(on: On, adminKey: string, campaignId: string, fields = leadFields()) {
  const res = await expectStatus(
    'lead',
    202,
    apiClient(on, adminKey).POST('/v1/leads', { body: { campaignId, fields } }),
  );
  return { id: res.lead.id, workflowId: res.workflowId, fields };
}

// ─── WebSocket client ────────────────────────────────────────────────────────

const offSchema: { message: unknown; issues: string[] }[] = [];
/** Every message a feed client of this test file received that its schema (api/feed-messages.ts) does not admit. */
export const feedMessagesOffSchema = (): readonly { message: unknown; issues: string[] }[] => offSchema;

export interface FeedClient {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  /** Resolves with the first message (already received or future) matching `pred`. */
  next(pred: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(message: unknown): void;
  close(): Promise<void>;
}

export async function connectFeed(wsUrl: string, key: string, via: 'header' | 'query' = 'header'): Promise<FeedClient> {
  const url = via === 'query' ? `${wsUrl}?token=${encodeURIComponent(key)}` : wsUrl;
  const ws = new WebSocket(url, via === 'header' ? { headers: bearer(key) } : {});
  const messages: Record<string, unknown>[] = [];
  const waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] =
    [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as Record<string, unknown>;
    const checked = FeedServerMessage.safeParse(m);
    if (!checked.success)
      offSchema.push({ message: m, issues: checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return {
    ws,
    messages,
    next(pred, timeoutMs = 20_000) {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching feed message; got ${JSON.stringify(messages).slice(0, 2000)}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    send(message) {
      ws.send(typeof message === 'string' ? message : JSON.stringify(message));
    },
    close() {
      return new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      });
    },
  };
}

export { bearer, expectStatus, leadFields };
