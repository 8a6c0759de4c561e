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
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { EndpointSettings } from '../../domain/endpoints';

/** How one step (ping or post) answers. */
type StepScript =
  | { answer: 'bid'; bid: number; delayMs?: number }
  | { answer: 'accept'; delayMs?: number }
  | { answer: 'reject'; reason: string }
  | { answer: 'slow'; delayMs: number; bid?: number }
  | { answer: 'status'; status: number }
  | { answer: 'malformed' };

export interface Script {
  ping: StepScript;
  post: StepScript;
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
};

interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FleetServer {
  pingUrl: string;
  postUrl: string;
  received: Received[];
  /** Change the behaviour (e.g. a post that answered slowly now answers at once). */
  script: Script;
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

async function answer(step: StepScript, res: http.ServerResponse, n: number): Promise<void> {
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  switch (step.answer) {
    case 'bid':
      await sleep(step.delayMs ?? 0);
      return json(200, { status: 'accepted', bid: step.bid, ping_id: `p-${n}` });
    case 'accept':
      await sleep(step.delayMs ?? 0);
      return json(200, { status: 'accepted' });
    case 'reject':
      return json(200, { status: 'rejected', reason: step.reason });
    case 'slow':
      await sleep(step.delayMs);
      return json(200, { status: 'accepted', bid: step.bid ?? 1, ping_id: `p-${n}` });
    case 'status':
      return json(step.status, { error: 'internal error' });
    case 'malformed':
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status": "accepted", "bid": ');
  }
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
      const me: FleetServer = { pingUrl: '', postUrl: '', received, script };
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({
            method: req.method ?? '',
            path: req.url ?? '',
            headers: req.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
          const step = req.url === '/ping' ? me.script.ping : me.script.post;
          answer(step, res, ++n).catch(() => res.destroy());
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      servers.push(server);
      const { port } = server.address() as AddressInfo;
      me.pingUrl = `http://127.0.0.1:${port}/ping`;
      me.postUrl = `http://127.0.0.1:${port}/post`;
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
    status: 'active',
    pauseReason: null,
    ...over,
  } as EndpointSettings;
}
