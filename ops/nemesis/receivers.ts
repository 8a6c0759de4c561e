/**
 * Flaky webhook receivers, one per buyer, in the campaign's process: each verifies the Standard
 * Webhooks signature, deduplicates on `webhook-id` as docs/delivery.md asks receivers to, and misbehaves
 * on purpose (from its own seeded stream): 503 with Retry-After, 500, a slow answer, or the worst case
 * for at-most-once: it stores the delivery and then drops the connection before answering, so the sender
 * must retry something the receiver already has.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Webhook } from 'standardwebhooks';

import type { History } from './history';
import type { Rng } from './rng';

interface Arrival {
  webhookId: string;
  buyerId: string;
  /** Every arrival of this webhook-id (retries and redeliveries included). */
  arrivals: number;
  /** Times the receiver stored it: 1 with deduplication, whatever the arrivals. */
  stored: number;
  /** sha256 of each distinct `data` payload it carried (one: retries resend the same sale). */
  bodies: Set<string>;
  assignmentId: string | null;
  leadId: string | null;
  firstAt: number;
}

export interface Receivers {
  url(buyerId: string): string;
  /** The buyer's signing secret (from POST /v1/buyers), to verify its deliveries. */
  setSecret(buyerId: string, secret: string): void;
  readonly byWebhookId: Map<string, Arrival>;
  /** Deliveries whose signature did not verify. */
  readonly badSignatures: { buyerId: string; webhookId: string; error: string }[];
  readonly counts: Record<'ok' | 'unavailable' | 'error' | 'slow' | 'stored_then_dropped' | 'duplicate', number>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What a receiver does with one request: [behaviour, weight]. */
const BEHAVIOURS = [
  ['ok', 60],
  ['unavailable', 15],
  ['error', 8],
  ['slow', 7],
  ['stored_then_dropped', 10],
] as const;

export async function startReceivers(rng: Rng, history: History): Promise<Receivers> {
  const secrets = new Map<string, Webhook>();
  const byWebhookId = new Map<string, Arrival>();
  const badSignatures: Receivers['badSignatures'] = [];
  const counts: Receivers['counts'] = {
    ok: 0,
    unavailable: 0,
    error: 0,
    slow: 0,
    stored_then_dropped: 0,
    duplicate: 0,
  };
  const streams = new Map<string, Rng>();
  const stream = (buyerId: string) => {
    let s = streams.get(buyerId);
    if (!s) streams.set(buyerId, (s = rng.fork(buyerId)));
    return s;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks)));
  });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) => {
    const buyerId = (req.url ?? '').split('/')[2] ?? '';
    const webhookId = String(req.headers['webhook-id'] ?? '');
    const behaviour = stream(buyerId).weighted(BEHAVIOURS);
    counts[behaviour]++;
    if (behaviour === 'unavailable') {
      res.writeHead(503, { 'Retry-After': '1' }).end('busy');
      return;
    }
    if (behaviour === 'error') {
      res.writeHead(500).end('oops');
      return;
    }
    const verifier = secrets.get(buyerId);
    let payload: Record<string, unknown> = {};
    try {
      if (!verifier) throw new Error('no secret for this buyer');
      payload = verifier.verify(raw, {
        'webhook-id': webhookId,
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      }) as Record<string, unknown>;
    } catch (err) {
      badSignatures.push({ buyerId, webhookId, error: (err as Error).message });
      res.writeHead(400).end('bad signature');
      return;
    }
    if (behaviour === 'slow') await sleep(stream(buyerId).int(500, 3_000));
    // Deduplicate on webhook-id: store the first, count the rest.
    const data = (payload.data ?? payload) as Record<string, unknown>;
    const digest = crypto.createHash('sha256').update(JSON.stringify(data)).digest('hex');
    let a = byWebhookId.get(webhookId);
    if (a) {
      a.arrivals++;
      a.bodies.add(digest);
      counts.duplicate++;
    } else {
      const assignment = (data.assignment ?? {}) as { id?: string };
      const lead = (data.lead ?? {}) as { id?: string };
      a = {
        webhookId,
        buyerId,
        arrivals: 1,
        stored: 1,
        bodies: new Set([digest]),
        assignmentId: assignment.id ?? (data.assignmentId as string | undefined) ?? null,
        leadId: lead.id ?? (data.leadId as string | undefined) ?? null,
        firstAt: history.now(),
      };
      byWebhookId.set(webhookId, a);
      history.add(
        'op',
        'webhook',
        'ok',
        {
          buyerId,
          ...(a.assignmentId ? { assignmentId: a.assignmentId } : {}),
          ...(a.leadId ? { leadId: a.leadId } : {}),
        },
        `stored ${webhookId}`,
      );
    }
    if (behaviour === 'stored_then_dropped') {
      req.socket.destroy();
      return;
    }
    res.writeHead(200).end('ok');
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (buyerId) => `http://127.0.0.1:${port}/hook/${buyerId}`,
    setSecret: (buyerId, secret) => secrets.set(buyerId, new Webhook(secret)),
    byWebhookId,
    badSignatures,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
