/**
 * The upgrade to a feed socket: the path, `?since=`, then a buyer key
 * (`Authorization: Bearer` or `?token=`) of an active buyer. A refusal is a
 * plain HTTP answer with a problem document before any WebSocket exists: 404
 * for another path, 400 for a malformed `since`, 401 for a bad key (429 while
 * the address is rate-limited), 403 for a key of another kind or a paused buyer,
 * 429 for a key whose socket was just closed for flooding (its cooldown).
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';

import { type BuyerPrincipal, rateLimited } from '../auth';
import { allows, grantsOf, grantWords } from '../authorization';
import { Problem, problemBody } from '../problem';
import type { ApiServices } from '../services';
import { invalidField } from '../validate';

const FEED_PATH = '/v1/feed';

/** A refused upgrade: the status line, the problem document, and the socket closed. */
function refuse(socket: Duplex, status: number, problem: Problem): void {
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
}

export interface UpgradeOptions {
  /** The gateway is closing: every upgrade is a 404. */
  closed(): boolean;
  /** Seconds the key must wait after its socket was closed for flooding (0: none). */
  cooldown(keyId: string): number;
  /** The upgrade passed: hand the socket over (`since`: the client's resume cursor). */
  accept(req: http.IncomingMessage, socket: Duplex, head: Buffer, buyer: BuyerPrincipal, since: number | null): void;
}

/** The server's `upgrade` listener. */
export function upgradeHandler(services: ApiServices, options: UpgradeOptions) {
  return (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    void (async () => {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://feed.invalid');
      } catch {
        return refuse(socket, 404, new Problem(404, 'route_not_found', 'No such WebSocket route.'));
      }
      if (url.pathname !== FEED_PATH || options.closed())
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
        principal = await services.auth.authenticate(req, services.clientIp(req), {
          queryToken: url.searchParams.get('token'),
          feed: true,
          publicUrl: services.publicUrl,
        });
      } catch (err) {
        const problem =
          err instanceof Problem ? err : new Problem(503, 'service_unavailable', 'Could not check the key; retry.');
        if (!(err instanceof Problem)) services.logger.warn('[feed] authentication failed', err);
        return refuse(socket, problem.status, problem);
      }
      if (principal.kind !== 'buyer' || !allows(principal, 'openFeed'))
        return refuse(
          socket,
          403,
          new Problem(403, 'forbidden', `The feed is for ${grantsOf('openFeed').map(grantWords).join(' or ')}.`),
        );
      const wait = options.cooldown(principal.credentialId);
      if (wait > 0)
        return refuse(
          socket,
          429,
          rateLimited(wait, "This key's last socket sent too many frames: connect again after Retry-After."),
        );
      if (!(await services.auth.stillValid(principal)))
        return refuse(
          socket,
          403,
          new Problem(403, 'buyer_paused', 'This buyer is paused: the feed opens again when it is resumed.'),
        );
      if (socket.destroyed || options.closed()) return;
      options.accept(req, socket, head, principal, since);
    })().catch(() => socket.destroy());
  };
}
