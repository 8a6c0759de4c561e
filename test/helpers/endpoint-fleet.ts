/**
 * A fleet of buyer endpoint servers on 127.0.0.1 with scripted behaviours
 * (#22): bid N, reject, slow past the timeout, 500, malformed JSON, accept
 * the ping but reject the post, accept the post. Each server records every
 * request it received (method, path, headers, body), so tests can check what
 * Leadwire sent: no hidden field in a ping, the same Idempotency-Key on a
 * resend, a valid signature.
 *
 * Every server speaks the same small protocol, the one FLEET_SETTINGS reads:
 *   ping answer  {"status":"accepted","bid":N,"ping_id":"…"} | {"status":"rejected","reason":"…"}
 *   post answer  {"status":"accepted"} | {"status":"rejected","reason":"…"}
 *
 * A post is idempotent as a real buyer's is (docs/buyer-endpoints.md): the first answer a post's
 * `Idempotency-Key` got (any but a 5xx) is the answer to every resend of it, whatever the script says
 * by then; a resend while the first is still held waits for the same answer. Two behaviours exist for
 * the fault tests: `hold` (the buyer takes the lead and answers only when the test calls `release()`)
 * and `reset` (the buyer takes the lead, then the connection drops before any answer).
 *
 * A server also answers a status query (#22 item 4) at `/status` (GET or POST) as its script's `status`
 * says, in the post's protocol (`{"status":"accepted"}` | `{"status":"rejected","reason":"…"}`);
 * without one, a 404. FLEET_STATUS_QUERY is the settings' part that asks it.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { offerActivities } from '../../activities/offers';
import { SYSTEM } from '../../db/audit';
import type { Db } from '../../db/connection';
import { recordEndpointCall, saveEndpoint } from '../../db/endpoints';
import { createInProcessBus } from '../../db/offer-bus';
import type { EndpointSettings } from '../../domain/endpoints';
import { endpointPostKey } from '../../domain/ids';
import { makeBuyer, makeCampaign, makeLead } from './world';

/** How one step (ping or post) answers. */
type StepScript =
  | { answer: 'bid'; bid: number; delayMs?: number }
  | { answer: 'accept'; delayMs?: number }
  | { answer: 'reject'; reason: string }
  | { answer: 'slow'; delayMs: number; bid?: number }
  | { answer: 'status'; status: number }
  | { answer: 'malformed' }
  /** Takes the lead (accepted) and answers only once the server's `release()` is called. */
  | { answer: 'hold' }
  /** Takes the lead (accepted), then destroys the connection without answering. */
  | { answer: 'reset' };

export interface Script {
  ping: StepScript;
  post: StepScript;
  /** How the status query (`/status`) answers; absent: 404. */
  status?: StepScript;
}

/** The behaviours the issue names, ready to use. */
export const BEHAVIOURS = {
  bid: (bid: number, delayMs = 0): Script => ({ ping: { answer: 'bid', bid, delayMs }, post: { answer: 'accept' } }),
  reject: (reason = 'not in our area'): Script => ({
    ping: { answer: 'reject', reason },
    post: { answer: 'reject', reason },
  }),
  slow: (delayMs: number, bid = 99): Script => ({
    ping: { answer: 'slow', delayMs, bid },
    post: { answer: 'slow', delayMs },
  }),
  error500: (): Script => ({ ping: { answer: 'status', status: 500 }, post: { answer: 'status', status: 500 } }),
  malformed: (): Script => ({ ping: { answer: 'malformed' }, post: { answer: 'malformed' } }),
  acceptPingRejectPost: (bid: number, reason = 'duplicate lead'): Script => ({
    ping: { answer: 'bid', bid },
    post: { answer: 'reject', reason },
  }),
  acceptPost: (): Script => ({ ping: { answer: 'bid', bid: 1 }, post: { answer: 'accept' } }),
  /** Bids, then its post goes unanswered past any timeout; its status query answers as `status` says (#22 item 4). */
  postTimesOut: (status: StepScript, bid = 40): Script => ({
    ping: { answer: 'bid', bid },
    post: { answer: 'slow', delayMs: 4000 },
    status,
  }),
};

/** The status query's part of the endpoint settings (#22 item 4) for a fleet server: GET, the post's rules. */
export const fleetStatusQuery = (server: { statusUrl: string }) => ({
  statusUrl: server.statusUrl,
  statusMethod: 'GET' as const,
  statusTemplate: null,
  statusRules: { accepted: { path: 'status', equals: 'accepted' }, reason: { path: 'reason' } },
});

interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** A post whose Idempotency-Key had been seen: answered with the key's first answer, nothing bought again. */
  replayed: boolean;
}

export interface FleetServer {
  pingUrl: string;
  postUrl: string;
  statusUrl: string;
  received: Received[];
  /** Change the behaviour (e.g. a post that answered slowly now answers at once). */
  script: Script;
  /** Answers the posts held by a `hold` script (and any later one at once). */
  release(): void;
  /** The posts this buyer took (accepted), one per Idempotency-Key: what it would pay for. */
  taken(): string[];
}

/** The endpoint settings (PUT /v1/buyers/:id/endpoint without the URLs) that speak the fleet's protocol. */
export const FLEET_SETTINGS = {
  method: 'POST',
  format: 'json',
  pingTemplate: { zip_code: '{{zip}}', state: '{{state}}', roof_age: '{{answers.roof_age|number}}' },
  postTemplate: {
    ping_id: '{{pingId}}',
    lead_id: '{{leadId}}',
    first_name: '{{firstName}}',
    last_name: '{{lastName}}',
    phone: '{{phone|digits}}',
    email: '{{email}}',
    zip_code: '{{zip}}',
  },
  pingRules: {
    accepted: { path: 'status', equals: 'accepted' },
    bid: { path: 'bid' },
    pingId: { path: 'ping_id' },
    reason: { path: 'reason' },
  },
  postRules: { accepted: { path: 'status', equals: 'accepted' }, reason: { path: 'reason' } },
} as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a server answers: a status and body, or a dropped connection (`reset`). */
type Reply = { status: number; body: string } | { reset: true; then: { status: number; body: string } };

const reply = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
const ACCEPTED = reply(200, { status: 'accepted' });

async function answer(step: StepScript, n: number, held: Promise<void>): Promise<Reply> {
  switch (step.answer) {
    case 'bid':
      await sleep(step.delayMs ?? 0);
      return reply(200, { status: 'accepted', bid: step.bid, ping_id: `p-${n}` });
    case 'accept':
      await sleep(step.delayMs ?? 0);
      return ACCEPTED;
    case 'reject':
      return reply(200, { status: 'rejected', reason: step.reason });
    case 'slow':
      await sleep(step.delayMs);
      return reply(200, { status: 'accepted', bid: step.bid ?? 1, ping_id: `p-${n}` });
    case 'status':
      return reply(step.status, { error: 'internal error' });
    case 'malformed':
      return { status: 200, body: '{"status": "accepted", "bid": ' };
    case 'hold':
      await held;
      return ACCEPTED;
    case 'reset':
      return { reset: true, then: ACCEPTED };
  }
}

/** Whether a post's answer says the buyer took the lead. */
function tookLead(body: string): boolean {
  try {
    return (JSON.parse(body) as { status?: unknown }).status === 'accepted';
  } catch {
    return false;
  }
}

function write(res: http.ServerResponse, r: Reply): void {
  if ('reset' in r) {
    res.destroy();
    return;
  }
  res.writeHead(r.status, { 'Content-Type': 'application/json' });
  res.end(r.body);
}

export interface Fleet {
  add(script: Script): Promise<FleetServer>;
  close(): Promise<void>;
}

export function startEndpointFleet(): Fleet {
  const servers: http.Server[] = [];
  return {
    async add(script) {
      const received: Received[] = [];
      let n = 0;
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      /** Each post's first answer by Idempotency-Key (a 5xx is not kept: the buyer took nothing). */
      const byKey = new Map<string, Promise<Reply>>();
      const tookKeys = new Set<string>();
      const me: FleetServer = {
        pingUrl: '',
        postUrl: '',
        statusUrl: '',
        received,
        script,
        release,
        taken: () => [...tookKeys],
      };
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (req.url?.startsWith('/status')) {
            received.push({
              method: req.method ?? '',
              path: req.url,
              headers: req.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              replayed: false,
            });
            const step = me.script.status ?? { answer: 'status', status: 404 };
            answer(step, ++n, held)
              .then((r) => write(res, r))
              .catch(() => res.destroy());
            return;
          }
          const isPing = req.url === '/ping';
          const header = req.headers['idempotency-key'];
          const key = !isPing && typeof header === 'string' ? header : null;
          const first = key ? byKey.get(key) : undefined;
          received.push({
            method: req.method ?? '',
            path: req.url ?? '',
            headers: req.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            replayed: first !== undefined,
          });
          if (first) {
            // A resend: the first answer again (a dropped first answer is now given).
            first.then((r) => write(res, 'reset' in r ? r.then : r)).catch(() => res.destroy());
            return;
          }
          const step = isPing ? me.script.ping : me.script.post;
          const answered = answer(step, ++n, held);
          if (key) {
            byKey.set(key, answered);
            answered
              .then((r) => {
                const final = 'reset' in r ? r.then : r;
                if (final.status >= 500) byKey.delete(key);
                else if (tookLead(final.body)) tookKeys.add(key);
              })
              .catch(() => byKey.delete(key));
          }
          answered.then((r) => write(res, r)).catch(() => res.destroy());
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      servers.push(server);
      const { port } = server.address() as AddressInfo;
      me.pingUrl = `http://127.0.0.1:${port}/ping`;
      me.postUrl = `http://127.0.0.1:${port}/post`;
      me.statusUrl = `http://127.0.0.1:${port}/status`;
      return me;
    },
    async close() {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

/** Whole endpoint settings (as saveEndpoint takes them) for a fleet server: active, no authentication, 1.5 s. */
export function fleetEndpointSettings(
  server: { pingUrl: string; postUrl: string },
  over: Record<string, unknown> = {},
): EndpointSettings {
  return {
    ...(FLEET_SETTINGS as unknown as EndpointSettings),
    pingUrl: server.pingUrl,
    postUrl: server.postUrl,
    authKind: 'none',
    authHeader: null,
    authUsername: null,
    timeoutMs: 1500,
    maxConcurrentPings: 10,
    statusUrl: null,
    statusMethod: 'GET',
    statusTemplate: null,
    statusRules: null,
    status: 'active',
    pauseReason: null,
    ...over,
  } as EndpointSettings;
}

/**
 * A buyer of the agency with `credits` (default 100) whose endpoint is a new fleet server answering `script` (with
 * its status query when `statusQuery`).
 */
export async function makeEndpointBuyer(
  db: Db,
  fleet: Fleet,
  agencyId: string,
  script: Script,
  opts: { credits?: number; timeoutMs?: number; statusQuery?: boolean } = {},
): Promise<{ id: string; server: FleetServer }> {
  const server = await fleet.add(script);
  const buyer = await makeBuyer(db, agencyId, { credits: opts.credits ?? 100 });
  const settings = fleetEndpointSettings(server, {
    timeoutMs: opts.timeoutMs ?? 1500,
    ...(opts.statusQuery ? fleetStatusQuery(server) : {}),
  });
  const saved = await saveEndpoint(db, { agencyId, buyerId: buyer.id, settings, by: SYSTEM });
  if (saved === 'missing_secret') throw new Error('missing secret');
  return { id: buyer.id, server };
}

/** The pings and the posts a fleet server received. */
export const pingsTo = (s: FleetServer) => s.received.filter((r) => r.path === '/ping');
export const postsTo = (s: FleetServer) => s.received.filter((r) => r.path === '/post');
/** The status queries a fleet server received. */
export const statusQueriesTo = (s: FleetServer) => s.received.filter((r) => r.path.startsWith('/status'));

/** A fleet for one test file: its servers start as the tests add them and close after the file's tests. */
export function endpointFleetForFile(): Fleet {
  const fleet = startEndpointFleet();
  afterAll(() => fleet.close());
  return fleet;
}

/**
 * For the money and audit tests that write the endpoint's log themselves (no workflow, no server): each buyer gets an
 * endpoint at a dead address, a lead goes into a one-tier ping tree of them (floor 10), and routing opens its offer.
 * `logPost` records a post of the offer by one of the buyers, with this outcome, under the sale's key (or `key`).
 */
export async function endpointOffer(db: Db, agencyId: string, buyerIds: string[]) {
  const settings = fleetEndpointSettings({ pingUrl: 'http://127.0.0.1:9/ping', postUrl: 'http://127.0.0.1:9/post' });
  const endpoints = new Map<string, string>();
  for (const buyerId of buyerIds) {
    const endpoint = await saveEndpoint(db, { agencyId, buyerId, settings, by: SYSTEM });
    if (endpoint === 'missing_secret') throw new Error('missing secret');
    endpoints.set(buyerId, endpoint.id);
  }
  const campaign = await makeCampaign(db, agencyId, {
    auction: 'ping_tree',
    pingTree: { tiers: [{ buyerIds, floor: 10 }] },
  });
  const lead = await makeLead(db, agencyId, campaign.id);
  const offerId = crypto.randomUUID();
  const routed = await offerActivities({ db, bus: createInProcessBus() }).routeAndOpen({
    offerId,
    leadId: lead.id,
    campaignId: campaign.id,
    workflowId: `lead-${lead.id}`,
    depth: 0,
    openedAt: new Date().toISOString(),
  });
  const logPost = (
    buyerId: string,
    outcome: 'accepted' | 'rejected' | 'unknown',
    key = endpointPostKey(offerId, buyerId),
  ) =>
    recordEndpointCall(db, {
      endpointId: endpoints.get(buyerId)!,
      leadId: lead.id,
      kind: 'post',
      step: 'post',
      request: { method: 'POST', url: settings.postUrl, headers: {}, body: '{}' },
      response: outcome === 'unknown' ? null : { status: 200, body: '{}' },
      latencyMs: 12,
      outcome,
      reason: null,
      idempotencyKey: key,
    });
  /** The endpoint's log gets an accepted ping (a busy endpoint's traffic). */
  const logPing = (buyerId: string) =>
    recordEndpointCall(db, {
      endpointId: endpoints.get(buyerId)!,
      leadId: lead.id,
      kind: 'ping',
      step: 'ping',
      request: { method: 'POST', url: settings.pingUrl ?? settings.postUrl, headers: {}, body: '{}' },
      response: { status: 200, body: '{}' },
      latencyMs: 12,
      outcome: 'accepted',
      reason: null,
      idempotencyKey: null,
    });
  return { lead, offerId, routed, logPost, logPing };
}
