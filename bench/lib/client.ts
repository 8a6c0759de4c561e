/**
 * The load generator's side of the API: calls through the API's own typed
 * client (packages/client) with timing, a world built through the API
 * (agency, buyers with credits, campaigns), lead intake with unique people (no
 * dedupe hit), and WebSocket feed clients that timestamp every message on
 * arrival.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

import WebSocket from 'ws';

import { bearer, createLeadwireClient, expectStatus, type LeadwireClient, type Schemas } from '../../packages/client';
import { ROOT_TOKEN } from './stack';

export class ApiClient {
  /** One typed client for every caller: each call sends its own key (`headers: bearer(key)`). */
  readonly client: LeadwireClient;

  constructor(readonly baseUrl: string) {
    this.client = createLeadwireClient({ baseUrl });
  }

  /** A call timed from sending to its answer read, with its status. */
  async timed<R extends { response: Response }>(call: Promise<R>): Promise<R & { status: number; ms: number }> {
    const started = performance.now();
    const r = await call;
    return { ...r, status: r.response.status, ms: performance.now() - started };
  }
}

/**
 * The load generator's light HTTP path: node:http over kept-alive sockets, for a scenario whose figure is the
 * latency of a burst on this machine's two cores. fetch (undici, under the typed client) spends about 1 ms of
 * CPU a call here, as much as the API spends answering it, so a burst timed through it measures the load
 * generator; a seller's client runs on its own machine. Bodies and answers keep the API's schema types.
 */
export class LightPoster {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly url: URL;

  constructor(baseUrl: string) {
    this.url = new URL(baseUrl);
  }

  post<A>(path: string, key: string, body: unknown): Promise<{ status: number; body: A }> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          path,
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as A });
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

const SERVICE_LINE = 'roofing';

export interface Buyer {
  id: string;
  key: string;
}

/** Runs `fn` over items with at most `limit` at once. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export async function createAgency(api: ApiClient, name: string): Promise<{ agencyId: string; adminKey: string }> {
  const res = await expectStatus(
    'agency',
    201,
    api.client.POST('/v1/agencies', { headers: bearer(ROOT_TOKEN), body: { name } }),
  );
  await expectStatus(
    'service line',
    201,
    api.client.POST('/v1/service-lines', {
      headers: bearer(res.adminKey),
      body: { key: SERVICE_LINE, name: 'Roofing' },
    }),
  );
  return { agencyId: res.agency.id, adminKey: res.adminKey };
}

export async function createBuyers(api: ApiClient, adminKey: string, n: number, credits = 1_000_000): Promise<Buyer[]> {
  return pool(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) => {
      const admin = { headers: bearer(adminKey) };
      const res = await expectStatus(
        'buyer',
        201,
        api.client.POST('/v1/buyers', { ...admin, body: { name: `bench buyer ${i}`, serviceLines: [SERVICE_LINE] } }),
      );
      await expectStatus(
        'credits',
        201,
        api.client.POST('/v1/buyers/{id}/credits', {
          ...admin,
          params: { path: { id: res.buyer.id } },
          body: { amount: credits },
        }),
      );
      return { id: res.buyer.id, key: res.apiKey };
    },
  );
}

export async function createCampaign(
  api: ApiClient,
  adminKey: string,
  body: Partial<Schemas['CampaignCreate']>,
): Promise<string> {
  const res = await expectStatus(
    'campaign',
    201,
    api.client.POST('/v1/campaigns', {
      headers: bearer(adminKey),
      body: {
        name: `bench campaign ${Date.now()}`,
        serviceLine: SERVICE_LINE,
        mode: 'ping_post',
        claimWindowSeconds: 60,
        price: { base: 1 },
        ...body,
      },
    }),
  );
  return res.campaign.id;
}

let person = 0;
/** A lead of a person nobody has bought yet. */
export function leadBody(campaignId: string): Schemas['LeadCreate'] {
  const n = person++;
  const tag = `${process.pid}${Date.now().toString(36)}${n}`;
  return {
    campaignId,
    fields: {
      firstName: `Bench${n}`,
      lastName: 'Lead',
      phone: `512${2000000 + (n % 8_000_000)}`, // a valid US number: intake checks it (libphonenumber)
      email: `b${tag}@bench.example`,
      state: 'TX',
      zip: '78701',
      city: 'Austin',
    },
  };
}

export async function postLead(
  api: ApiClient,
  adminKey: string,
  campaignId: string,
): Promise<{ leadId: string; sentAt: number; ms: number }> {
  const sentAt = performance.timeOrigin + performance.now();
  const r = await api.timed(api.client.POST('/v1/leads', { headers: bearer(adminKey), body: leadBody(campaignId) }));
  if (r.status !== 202 || !r.data) throw new Error(`intake: ${r.status} ${JSON.stringify(r.error).slice(0, 300)}`);
  return { leadId: r.data.lead.id, sentAt, ms: r.ms };
}

/** Wall-clock milliseconds with sub-ms precision, comparable with Date-based times of this host. */
export const nowMs = () => performance.timeOrigin + performance.now();

export interface FeedMessage {
  at: number;
  msg: Record<string, unknown>;
}

export class FeedClient {
  private listeners = new Set<(m: FeedMessage) => void>();
  snapshot = false;

  private constructor(
    readonly ws: WebSocket,
    readonly buyer: Buyer,
  ) {
    ws.on('message', (data) => {
      const m = { at: nowMs(), msg: JSON.parse(String(data)) as Record<string, unknown> };
      if (m.msg.type === 'snapshot') this.snapshot = true;
      for (const l of this.listeners) l(m);
    });
    ws.on('error', () => undefined);
  }

  static async connect(wsUrl: string, buyer: Buyer): Promise<FeedClient> {
    const ws = new WebSocket(wsUrl, { headers: { Authorization: `Bearer ${buyer.key}` }, perMessageDeflate: false });
    const client = new FeedClient(ws, buyer);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`feed upgrade refused: ${res.statusCode}`)));
    });
    return client;
  }

  on(listener: (m: FeedMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.ws.terminate();
  }
}

export async function connectFeeds(wsUrl: string, buyers: Buyer[]): Promise<FeedClient[]> {
  const clients = await pool(buyers, 25, (b) => FeedClient.connect(wsUrl, b));
  const deadline = Date.now() + 60_000;
  while (clients.some((c) => !c.snapshot)) {
    if (Date.now() > deadline) throw new Error('feed snapshots did not arrive');
    await sleep(50);
  }
  return clients;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns something (not undefined/false/null). */
export async function until<T>(
  check: () => Promise<T | undefined | false | null>,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
