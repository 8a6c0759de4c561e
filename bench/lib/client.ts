/**
 * The load generator's side of the API: JSON calls with timing, a world built
 * through the API (agency, buyers with credits, campaigns), lead intake with
 * unique people (no dedupe hit), and WebSocket feed clients that timestamp
 * every message on arrival.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ROOT_TOKEN } from './stack';

export interface Timed<T = Record<string, unknown>> {
  status: number;
  body: T;
  ms: number;
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async call<T = Record<string, unknown>>(method: string, path: string, key: string, body?: unknown): Promise<Timed<T>> {
    const started = performance.now();
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const ms = performance.now() - started;
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, ms };
  }

  async must<T = Record<string, unknown>>(method: string, path: string, key: string, body: unknown, status: number): Promise<T> {
    const r = await this.call<T>(method, path, key, body);
    if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
    return r.body;
  }
}

export const SERVICE_LINE = 'roofing';

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
  const res = await api.must<{ agency: { id: string }; adminKey: string }>('POST', '/v1/agencies', ROOT_TOKEN, { name }, 201);
  await api.must('POST', '/v1/service-lines', res.adminKey, { key: SERVICE_LINE, name: 'Roofing' }, 201);
  return { agencyId: res.agency.id, adminKey: res.adminKey };
}

export async function createBuyers(api: ApiClient, adminKey: string, n: number, credits = 1_000_000): Promise<Buyer[]> {
  return pool(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
    const res = await api.must<{ buyer: { id: string }; apiKey: string }>('POST', '/v1/buyers', adminKey, { name: `bench buyer ${i}`, serviceLines: [SERVICE_LINE] }, 201);
    await api.must('POST', `/v1/buyers/${res.buyer.id}/credits`, adminKey, { amount: credits }, 201);
    return { id: res.buyer.id, key: res.apiKey };
  });
}

export async function createCampaign(api: ApiClient, adminKey: string, body: Record<string, unknown>): Promise<string> {
  const res = await api.must<{ campaign: { id: string } }>(
    'POST',
    '/v1/campaigns',
    adminKey,
    { name: `bench campaign ${Date.now()}`, serviceLine: SERVICE_LINE, mode: 'ping_post', claimWindowSeconds: 60, price: { base: 1 }, ...body },
    201,
  );
  return res.campaign.id;
}

let person = 0;
/** A lead of a person nobody has bought yet. */
export function leadBody(campaignId: string) {
  const n = person++;
  const tag = `${process.pid}${Date.now().toString(36)}${n}`;
  return {
    campaignId,
    fields: { firstName: `Bench${n}`, lastName: 'Lead', phone: `5${String(100000000 + n)}`, email: `b${tag}@bench.example`, state: 'TX', zip: '78701', city: 'Austin' },
  };
}

export async function postLead(api: ApiClient, adminKey: string, campaignId: string): Promise<{ leadId: string; sentAt: number; ms: number }> {
  const sentAt = performance.timeOrigin + performance.now();
  const r = await api.call<{ lead: { id: string } }>('POST', '/v1/leads', adminKey, leadBody(campaignId));
  if (r.status !== 202) throw new Error(`intake: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return { leadId: r.body.lead.id, sentAt, ms: r.ms };
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
export async function until<T>(check: () => Promise<T | undefined | false | null>, timeoutMs: number, what: string, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
