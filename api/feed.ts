/**
 * The Live Leads feed: a WebSocket gateway at /v1/feed for buyers.
 *
 * - Upgrade: a buyer key (`Authorization: Bearer` or `?token=`), else the
 *   upgrade is refused with 401 (429 while the address is rate-limited).
 * - On connect: `{type:"snapshot", offers}` with the buyer's open offers;
 *   events that arrive meanwhile are held and sent after it, in order.
 * - The gateway subscribes once to the offer bus and fans events out to the
 *   connected buyers an offer targets. Bus events carry the buyer-facing
 *   offer and its targets (opened) or its winners (closed), so fan-out reads
 *   nothing; an event too large for NOTIFY comes as ids and is read once.
 *   `offer.closed` goes to the sockets that were shown the offer.
 * - Client messages: `viewed` (recorded once per buyer and offer) and `claim`
 *   (the same relay as the REST claim). Anything malformed is answered with
 *   `{type:"error", code, message}`; nothing a client sends can throw here.
 *   A frame over 64 KiB is refused by the protocol itself: the socket closes
 *   with 1009 (message too big), since nothing may be sent after that close.
 * - Heartbeat: a ping every interval; a socket that missed the last pong is
 *   terminated. A socket that stops reading (huge backlog) is dropped too.
 * - Access: the feed is for a live key of an active buyer. Every client frame
 *   is checked against the key's current state in the database; a revoked key
 *   or a paused buyer (a `buyer.access` bus event from whichever API instance
 *   or worker changed it, or the heartbeat's re-check of every connected key
 *   as a backstop) closes its sockets with 4403 and sends them nothing more.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { feedAccess } from '../db/keys';
import type { AccessBusEvent, BusEvent, OfferBusEvent } from '../db/offer-bus';
import { eligibleTargetPrices, getOffer, getTarget, listBuyerOffers, closedSince, recordViewed } from '../db/offers';
import { offerWinnerIds } from '../db/assignments';
import type { BuyerPrincipal } from './auth';
import { Problem, problemBody } from './problem';
import { FeedClientMessage, messageTypes, type FeedServerMessage } from './feed-messages';
import type { ApiServices } from './services';
import { describeErrors, fieldErrors, invalidField } from './validate';
import { buyerOfferView } from './views';

export const FEED_PATH = '/v1/feed';
export const FEED_MAX_PAYLOAD = 64 * 1024;
/** A client this far behind on reading is not coming back. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Close code of a socket whose key was revoked or whose buyer was paused (4000-4999: the application's). */
export const FEED_ACCESS_REVOKED = 4403;
/** The `type`s a client may send (api/feed-messages.ts). */
const CLIENT_TYPES = new Set(messageTypes(FeedClientMessage));
/** The snapshot holds at most this many offers (the newest). */
const SNAPSHOT_LIMIT = 200;
/** A resumed client also hears the closes from a little before its cursor (clocks of publishers differ; a repeat is harmless). */
const RESUME_MARGIN_MS = 5_000;

export interface FeedOptions {
  pingIntervalMs: number;
}

export interface FeedHandle {
  close(): Promise<void>;
  connections(): number;
  /** How often this gateway brought its clients up to date after its bus was cut. */
  resyncs(): number;
}

interface FeedClient {
  ws: WebSocket;
  buyer: BuyerPrincipal;
  alive: boolean;
  /** Events held until the snapshot is sent. */
  held: FeedServerMessage[] | null;
  viewed: Set<string>;
  /** Access withdrawn: nothing more is sent or handled; the socket is closing. */
  revoked: boolean;
  /** The newest `seq` sent to this socket: where a resync picks up. */
  lastSeq: number;
  /** Open offers this socket was shown (snapshot or offer.opened): it hears how they close. */
  shown: Set<string>;
  /** Closes heard while the snapshot was being read: applied to the snapshot's offers once it is sent. */
  closedMeanwhile: OfferBusEvent[];
}

export function attachFeedGateway(server: http.Server, services: ApiServices, options: FeedOptions): FeedHandle {
  const wss = new WebSocketServer({ noServer: true, maxPayload: FEED_MAX_PAYLOAD });
  const byBuyer = new Map<string, Set<FeedClient>>();
  /** Sockets whose snapshot is being read. */
  const snapshotting = new Set<FeedClient>();
  /** Sockets by the open offer they were shown. */
  const watchers = new Map<string, Set<FeedClient>>();
  const show = (client: FeedClient, offerId: string) => {
    client.shown.add(offerId);
    const set = watchers.get(offerId) ?? new Set<FeedClient>();
    set.add(client);
    watchers.set(offerId, set);
  };
  const perAgency = new Map<string, number>();
  let count = 0;
  let closed = false;

  /** Every frame the gateway sends goes through here, typed by the feed's message schemas (api/feed-messages.ts). */
  const send = (client: FeedClient, message: FeedServerMessage, hold = true): void => {
    if (hold && client.held) {
      client.held.push(message);
      return;
    }
    const { ws } = client;
    if (ws.readyState !== ws.OPEN || client.revoked) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.terminate();
      return;
    }
    if ('seq' in message && message.seq > client.lastSeq) client.lastSeq = message.seq;
    ws.send(JSON.stringify(message), (err) => {
      if (err) ws.terminate();
    });
  };
  type ErrorExtra = Omit<Extract<FeedServerMessage, { type: 'error' }>, 'type' | 'code' | 'message'>;
  const sendError = (client: FeedClient, code: string, message: string, extra: ErrorExtra = {}) =>
    send(client, { type: 'error', code, message, ...extra }, false);

  // ─── fan-out of bus events, in order (an event that must be read waits its turn) ───
  let queue: Promise<void> = Promise.resolve();
  let reading = 0;
  const onBusEvent = (event: BusEvent): void => {
    // A revocation made in another process: this one forgets the buyer's remembered keys at once too.
    if (event?.type === 'buyer.access') services.auth.forgetBuyer(event.buyerId);
    if (closed || !event || !perAgency.get(event.agencyId)) return;
    if (event.type === 'buyer.access')
      return void recheckAccess(event).catch((err) => services.logger.warn('[feed] access re-check failed', err));
    const complete = event.type === 'offer.opened' ? !!(event.offer && event.targets) : !!event.winners;
    if (complete && reading === 0) return fanOut(event); // nothing to read, nothing ahead of it: at once
    reading++;
    queue = queue
      .then(async () => fanOut(complete ? event : await readEvent(event)))
      .catch((err) => services.logger.warn(`[feed] could not fan out ${event.type} ${event.offerId}`, err))
      .finally(() => reading--);
  };

  // Feed latency: the publisher's bus timestamp to the frame handed to the socket (clocks of one host or synced hosts).
  const sentAtMs = (event: OfferBusEvent) => Date.parse(event.sentAt);
  const delivered = (event: OfferBusEvent, from: number) => {
    if (Number.isFinite(from))
      services.metrics.observe(
        'leadwire_feed_delivery_seconds',
        { type: event.type },
        Math.max(0, Date.now() - from) / 1000,
      );
  };

  /** An event that came as ids only (too large for NOTIFY, or from an older publisher): the rest from the database. */
  const readEvent = async (event: OfferBusEvent): Promise<OfferBusEvent | null> => {
    const offer = await getOffer(services.db, event.offerId);
    if (!offer || offer.kind !== 'ping_post') return null;
    if (event.type === 'offer.opened') {
      if (offer.status !== 'open') return null; // already closed: its offer.closed follows, the opening is moot
      const prices = await eligibleTargetPrices(services.db, offer.id);
      const own = [...prices].filter((e): e is [string, number] => e[1] !== null);
      return {
        ...event,
        offer: buyerOfferView(offer),
        targets: [...prices.keys()],
        ...(own.length ? { prices: Object.fromEntries(own) } : {}),
      };
    }
    return { ...event, winners: [...(await offerWinnerIds(services.db, offer.id))] };
  };

  const closeFor = (c: FeedClient, event: OfferBusEvent, winners: Set<string>) => {
    c.shown.delete(event.offerId);
    // Cancelled counts as expired: for the buyer, the offer ended without anyone taking it.
    const outcome = winners.has(c.buyer.buyerId) ? 'won_by_you' : winners.size > 0 ? 'taken' : 'expired';
    send(c, { type: 'offer.closed', offerId: event.offerId, outcome, seq: sentAtMs(event) });
    delivered(event, sentAtMs(event));
  };

  const fanOut = (event: OfferBusEvent | null): void => {
    if (!event) return;
    const from = sentAtMs(event);
    if (event.type === 'offer.opened' && event.offer && event.targets) {
      const message: FeedServerMessage = { type: 'offer.opened', offer: event.offer, seq: from };
      for (const buyerId of event.targets) {
        // A buyer with its own price (#12) sees it; everyone else shares one message.
        const own = event.prices?.[buyerId];
        const m: FeedServerMessage =
          own === undefined ? message : { type: 'offer.opened', offer: { ...event.offer, price: own }, seq: from };
        for (const c of byBuyer.get(buyerId) ?? []) {
          show(c, event.offerId);
          send(c, m);
          delivered(event, from);
        }
      }
    } else if (event.type === 'offer.closed' && event.winners) {
      const winners = new Set(event.winners);
      for (const c of watchers.get(event.offerId) ?? []) closeFor(c, event, winners);
      watchers.delete(event.offerId);
      for (const c of snapshotting) c.closedMeanwhile.push(event);
    }
  };
  const unsubscribe = services.bus.subscribe(onBusEvent);

  // ─── access: a revoked key or a paused buyer loses its sockets at once ─────
  const revoke = (client: FeedClient): void => {
    if (client.revoked) return;
    send(
      client,
      { type: 'error', code: 'access_revoked', message: 'This key was revoked or its buyer paused.' },
      false,
    );
    client.revoked = true;
    client.ws.close(FEED_ACCESS_REVOKED, 'access revoked');
    setTimeout(() => client.ws.terminate(), 1000).unref();
  };
  /** Closes every socket among `clients` whose key may no longer use the feed. */
  const enforceAccess = async (clients: FeedClient[]): Promise<void> => {
    const live = clients.filter((c) => !c.revoked);
    if (!live.length) return;
    const allowed = await feedAccess(services.db, [...new Set(live.map((c) => c.buyer.keyId))]);
    for (const c of live) if (!allowed.has(c.buyer.keyId)) revoke(c);
  };
  const recheckAccess = (event: AccessBusEvent) => enforceAccess([...(byBuyer.get(event.buyerId) ?? [])]);

  // ─── connections ──────────────────────────────────────────────────────────
  const register = (client: FeedClient) => {
    const set = byBuyer.get(client.buyer.buyerId) ?? new Set<FeedClient>();
    set.add(client);
    byBuyer.set(client.buyer.buyerId, set);
    perAgency.set(client.buyer.agencyId, (perAgency.get(client.buyer.agencyId) ?? 0) + 1);
    count++;
  };
  const unregister = (client: FeedClient) => {
    const set = byBuyer.get(client.buyer.buyerId);
    if (!set?.delete(client)) return;
    for (const offerId of client.shown) {
      const w = watchers.get(offerId);
      w?.delete(client);
      if (w && !w.size) watchers.delete(offerId);
    }
    if (!set.size) byBuyer.delete(client.buyer.buyerId);
    const n = (perAgency.get(client.buyer.agencyId) ?? 1) - 1;
    if (n > 0) perAgency.set(client.buyer.agencyId, n);
    else perAgency.delete(client.buyer.agencyId);
    count--;
  };

  const onConnection = (ws: WebSocket, buyer: BuyerPrincipal, since: number | null): void => {
    const client: FeedClient = {
      ws,
      buyer,
      alive: true,
      held: [],
      viewed: new Set(),
      shown: new Set(),
      closedMeanwhile: [],
      revoked: false,
      lastSeq: 0,
    };
    // A frame over maxPayload, bad UTF-8, a protocol error: ws has already started the close
    // (1009 "message too big", 1007, 1002); listening here keeps the error from crashing the process.
    ws.on('error', () => undefined);
    ws.on('pong', () => (client.alive = true));
    ws.on('close', () => {
      snapshotting.delete(client);
      unregister(client);
    });
    ws.on('message', (data, isBinary) => {
      handleMessage(client, data, isBinary).catch((err) => {
        services.logger.warn('[feed] message handling failed', err);
        sendError(client, 'internal_error', 'The message could not be handled.');
      });
    });
    register(client);
    services.metrics.inc('leadwire_feed_connections_total');
    sendSnapshot(client, since, false).catch((err) => {
      services.logger.warn('[feed] snapshot failed', err);
      sendError(client, 'internal_error', 'Could not load your offers; reconnect.');
      ws.close(1011, 'snapshot failed');
    });
  };

  /**
   * The buyer's open offers (`snapshot`), then – when the client resumes from
   * a cursor, or the gateway resyncs after its bus was cut – the closes since
   * then of offers it may have had on screen. Bus events heard meanwhile are
   * held and sent after it, in order. Every offer message carries `seq`.
   */
  const sendSnapshot = async (client: FeedClient, since: number | null, resync: boolean): Promise<void> => {
    snapshotting.add(client);
    client.held ??= [];
    client.closedMeanwhile = [];
    const seq = Date.now();
    try {
      const [page, missed] = await Promise.all([
        listBuyerOffers(services.db, client.buyer.buyerId, 'open', { limit: SNAPSHOT_LIMIT }),
        since !== null
          ? closedSince(services.db, client.buyer.buyerId, new Date(since - RESUME_MARGIN_MS))
          : Promise.resolve([]),
      ]);
      const closedMeanwhile = new Set(client.closedMeanwhile.map((e) => e.offerId));
      const offers = page.items.filter((o) => !closedMeanwhile.has(o.id));
      if (resync) {
        for (const offerId of client.shown) watchers.get(offerId)?.delete(client);
        client.shown.clear();
      }
      for (const offer of offers) show(client, offer.id);
      send(
        client,
        { type: 'snapshot', offers: offers.map(buyerOfferView), seq, ...(resync ? { resync: true } : {}) },
        false,
      );
      const open = new Set(offers.map((o) => o.id));
      for (const m of missed)
        if (!open.has(m.offerId))
          send(client, { type: 'offer.closed', offerId: m.offerId, outcome: m.outcome, seq }, false);
    } finally {
      snapshotting.delete(client);
      client.closedMeanwhile = [];
      const held = client.held ?? [];
      client.held = null;
      for (const m of held) send(client, m);
    }
  };

  // The bus was cut and is back: what it carried meanwhile is lost, so every client gets a fresh snapshot
  // and the closes since the last message it had.
  const resyncAll = (): void => {
    resyncs++;
    for (const set of byBuyer.values()) {
      for (const c of set) {
        if (c.revoked) continue;
        sendSnapshot(c, c.lastSeq || null, true).catch((err) => services.logger.warn('[feed] resync failed', err));
      }
    }
  };
  let resyncs = 0;
  const stopResync = services.bus.onResync(resyncAll);

  const handleMessage = async (client: FeedClient, data: RawData, isBinary: boolean): Promise<void> => {
    if (client.revoked) return;
    // Every frame answers to the key's state now, not at connect time.
    if (!(await services.auth.stillValid(client.buyer))) return revoke(client);
    if (isBinary) return sendError(client, 'unsupported_frame', 'Send JSON text frames.');
    let raw: unknown;
    try {
      raw = JSON.parse(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'),
      );
    } catch {
      return sendError(client, 'malformed_json', 'The message is not valid JSON.');
    }
    const type = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !CLIENT_TYPES.has(type)) {
      return sendError(
        client,
        'unknown_type',
        `A message's type is one of ${[...CLIENT_TYPES].join(', ')} (see /v1/asyncapi.json).`,
      );
    }
    const parsed = FeedClientMessage.safeParse(raw);
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error.issues, 'body');
      const requestId =
        typeof (raw as { requestId?: unknown }).requestId === 'string'
          ? (raw as { requestId: string }).requestId.slice(0, 128)
          : undefined;
      return sendError(client, 'validation_failed', describeErrors(errors), {
        errors,
        ...(requestId ? { requestId } : {}),
      });
    }
    const msg = parsed.data;
    if (msg.type === 'viewed') return viewed(client, msg.offerId);
    try {
      if (msg.type === 'bid') {
        const answer = await services.claims.bid(client.buyer, msg.offerId, msg.amount, msg.requestId, 'feed');
        send(client, { type: 'bid.result', requestId: msg.requestId, ...answer.body }, false);
      } else {
        const answer = await services.claims.claim(client.buyer, msg.offerId, msg.requestId, 'feed');
        send(client, { type: 'claim.result', requestId: msg.requestId, ...answer.body }, false);
      }
    } catch (err) {
      // A refusal the REST answer would make a problem document (rate_limited, claim_pending…): an error with the requestId.
      if (!(err instanceof Problem)) throw err;
      const { retryAfter } = problemBody(err);
      sendError(client, err.code, err.detail, {
        requestId: msg.requestId,
        ...(typeof retryAfter === 'number' ? { retryAfter } : {}),
      });
    }
  };

  const viewed = async (client: FeedClient, offerId: string): Promise<void> => {
    if (client.viewed.has(offerId)) return;
    const target = await getTarget(services.db, offerId, client.buyer.buyerId);
    const offer = target?.eligible ? await getOffer(services.db, offerId) : undefined;
    if (!offer || offer.kind !== 'ping_post')
      return sendError(client, 'not_found', 'No such offer for you.', { offerId });
    await recordViewed(services.db, offer.leadId, offer.id, client.buyer.buyerId, 'feed');
    client.viewed.add(offerId);
  };

  // ─── the upgrade ──────────────────────────────────────────────────────────
  const refuse = (socket: Duplex, status: number, problem: Problem) => {
    if (socket.destroyed) return;
    const body = JSON.stringify(problemBody(problem));
    const extra = Object.entries(problem.extra.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.end(
      `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : 'Error'}\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  };

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    void (async () => {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://feed.invalid');
      } catch {
        return refuse(socket, 404, new Problem(404, 'route_not_found', 'No such WebSocket route.'));
      }
      if (url.pathname !== FEED_PATH || closed)
        return refuse(socket, 404, new Problem(404, 'route_not_found', 'No such WebSocket route.'));
      // `?since=<seq>`: resume after the last message this client had (its `seq`, milliseconds).
      const sinceParam = url.searchParams.get('since');
      if (sinceParam !== null && !/^\d{1,15}$/.test(sinceParam)) {
        return refuse(
          socket,
          400,
          invalidField('since', 'the seq of the last message you received (an integer)', 'query'),
        );
      }
      const since = sinceParam === null ? null : Number(sinceParam);
      let principal;
      try {
        principal = await services.auth.authenticate(
          req.headers.authorization,
          services.clientIp(req),
          url.searchParams.get('token'),
        );
      } catch (err) {
        const problem =
          err instanceof Problem ? err : new Problem(503, 'service_unavailable', 'Could not check the key; retry.');
        if (!(err instanceof Problem)) services.logger.warn('[feed] authentication failed', err);
        return refuse(socket, problem.status, problem);
      }
      if (principal.kind !== 'buyer')
        return refuse(socket, 403, new Problem(403, 'forbidden', 'The feed is for buyer keys.'));
      if (!(await services.auth.stillValid(principal)))
        return refuse(
          socket,
          403,
          new Problem(403, 'buyer_paused', 'This buyer is paused: the feed opens again when it is resumed.'),
        );
      if (socket.destroyed || closed) return;
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, principal, since));
    })().catch(() => socket.destroy());
  };
  server.on('upgrade', onUpgrade);

  // ─── heartbeat ────────────────────────────────────────────────────────────
  const heartbeat = setInterval(() => {
    // The backstop of the bus event: every connected key re-checked in one query.
    enforceAccess([...byBuyer.values()].flatMap((set) => [...set])).catch((err) =>
      services.logger.warn('[feed] access re-check failed', err),
    );
    for (const set of byBuyer.values()) {
      for (const client of set) {
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
    }
  }, options.pingIntervalMs);
  heartbeat.unref();

  return {
    connections: () => count,
    resyncs: () => resyncs,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      stopResync();
      server.off('upgrade', onUpgrade);
      const all = [...byBuyer.values()].flatMap((s) => [...s]);
      await Promise.all(
        all.map(
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
      await queue.catch(() => undefined);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
