/**
 * The Live Leads feed: a WebSocket gateway at /v1/feed for buyers. This file
 * wires the parts to the HTTP server; each part is its own file:
 *
 * - upgrade.ts – the upgrade: a buyer key (`Authorization: Bearer` or
 *   `?token=`) of an active buyer, else a plain HTTP refusal (401, 429 while
 *   the address is rate-limited, 403, 400 for a malformed `?since=`).
 * - connection.ts – one socket: what it was shown and has seen, and `send`,
 *   the one way a frame leaves (typed by api/feed-messages.ts).
 * - clients.ts – the connected sockets, by buyer, by offer shown, by agency.
 * - resume.ts – on connect `{type:"snapshot", offers}` with the buyer's open
 *   offers, then the closes missed since `?since=`; events that arrive
 *   meanwhile are held and sent after it, in order. The same again for every
 *   socket (`resync: true`) when the bus comes back after a cut.
 * - fan-out.ts – the gateway subscribes once to the offer bus and fans events
 *   out to the connected buyers an offer targets; `offer.closed` goes to the
 *   sockets that were shown the offer.
 * - frame-limit.ts – what one socket may send: a token bucket per socket
 *   (100 frames at once, 20 a second: FEED_FRAME_LIMIT); frames over it are
 *   dropped unhandled, and the 50th closes the socket with 4429
 *   (FEED_CLOSE_CODES in api/feed-messages.ts); the key's upgrades are then
 *   refused with 429 for 15 s.
 * - frames.ts – client messages, one handler per type: `viewed` (recorded
 *   once per buyer and offer), `claim` and `bid` (the same relay as REST).
 *   Anything malformed is answered with `{type:"error", code, message}`
 *   without a database query; nothing a client sends can throw here. A frame
 *   over 64 KiB is refused by the protocol itself: the socket closes with 1009
 *   (message too big), since nothing may be sent after that close.
 * - access.ts – the feed is for a live key of an active buyer. A claim or a
 *   bid frame is checked against the key's current state in the database
 *   (a `viewed` moves nothing and is not); a revoked key or a paused buyer (a
 *   `buyer.access` bus event from whichever API instance or worker changed
 *   it, or the heartbeat's re-check of every connected key as a backstop)
 *   closes its sockets with 4403 and sends them nothing more.
 * - Heartbeat (here): a ping every interval; a socket that missed the last
 *   pong is terminated. A socket that stops reading (huge backlog) is dropped
 *   too (connection.ts).
 */
import type http from 'node:http';

import { type WebSocket, WebSocketServer } from 'ws';

import type { BuyerPrincipal } from '../auth';
import type { ApiServices } from '../services';
import { enforceAccess } from './access';
import { FeedClients } from './clients';
import { FeedConnection } from './connection';
import { FeedFanOut } from './fan-out';
import { FloodCooldown, type FrameLimit } from './frame-limit';
import { handleFrame } from './frames';
import { resyncAll, sendSnapshot } from './resume';
import { upgradeHandler } from './upgrade';

export { FEED_ACCESS_REVOKED } from './connection';
export const FEED_MAX_PAYLOAD = 64 * 1024;

export interface FeedOptions {
  pingIntervalMs: number;
  /** What one socket may send (the documented default: FEED_FRAME_LIMIT of api/feed-messages.ts). */
  frameLimit: FrameLimit;
}

export interface FeedHandle {
  close(): Promise<void>;
  connections(): number;
  /** How often this gateway brought its clients up to date after its bus was cut. */
  resyncs(): number;
}

export function attachFeedGateway(server: http.Server, services: ApiServices, options: FeedOptions): FeedHandle {
  const wss = new WebSocketServer({ noServer: true, maxPayload: FEED_MAX_PAYLOAD });
  const clients = new FeedClients();
  const cooldown = new FloodCooldown(options.frameLimit.cooldownSeconds);
  let closed = false;

  const fanOut = new FeedFanOut(services, clients);
  const unsubscribe = services.bus.subscribe(fanOut.onBusEvent);
  const stopWallet = services.bus.onWallet?.(fanOut.onWalletChange) ?? (() => undefined);
  let resyncs = 0;
  const stopResync = services.bus.onResync(() => {
    resyncs++;
    resyncAll(services, clients);
  });

  const onConnection = (ws: WebSocket, buyer: BuyerPrincipal, since: number | null): void => {
    const client = new FeedConnection(ws, buyer, options.frameLimit);
    // A frame over maxPayload, bad UTF-8, a protocol error: ws has already started the close
    // (1009 "message too big", 1007, 1002); listening here keeps the error from crashing the process.
    ws.on('error', () => undefined);
    ws.on('pong', () => (client.alive = true));
    ws.on('close', () => clients.unregister(client));
    client.onClosing = (reason) => {
      if (reason === 'frame_rate_exceeded') cooldown.start(buyer.credentialId);
    };
    ws.on('message', (data, isBinary) => {
      handleFrame(services, client, data, isBinary).catch((err) => {
        services.logger.warn('[feed] message handling failed', err);
        client.sendError('internal_error', 'The message could not be handled.');
      });
    });
    clients.register(client);
    services.metrics.inc('leadwire_feed_connections_total');
    sendSnapshot(services, clients, client, since, false).catch((err) => {
      services.logger.warn('[feed] snapshot failed', err);
      client.sendError('internal_error', 'Could not load your offers; reconnect.');
      ws.close(1011, 'snapshot failed');
    });
  };

  const onUpgrade = upgradeHandler(services, {
    closed: () => closed,
    cooldown: (keyId) => cooldown.retryAfter(keyId),
    accept: (req, socket, head, buyer, since) =>
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, buyer, since)),
  });
  server.on('upgrade', onUpgrade);

  const heartbeat = setInterval(() => {
    // The backstop of the bus event: every connected key re-checked in one query.
    enforceAccess(services, clients.all()).catch((err) => services.logger.warn('[feed] access re-check failed', err));
    for (const client of clients.all()) {
      if (!client.alive) {
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      try {
        client.ws.ping();
      } catch {
        client.ws.terminate();
      }
    }
  }, options.pingIntervalMs);
  heartbeat.unref();

  return {
    connections: () => clients.size(),
    resyncs: () => resyncs,
    async close() {
      if (closed) return;
      closed = true;
      fanOut.stop();
      clearInterval(heartbeat);
      unsubscribe();
      stopResync();
      stopWallet();
      server.off('upgrade', onUpgrade);
      await Promise.all(
        clients.all().map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.ws.readyState === c.ws.CLOSED) return resolve();
              const timer = setTimeout(() => {
                c.ws.terminate();
                resolve();
              }, 1000);
              c.ws.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              c.ws.close(1001, 'server shutting down');
            }),
        ),
      );
      await fanOut.settled();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
