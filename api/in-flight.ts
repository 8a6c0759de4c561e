/**
 * Bounds on requests in flight, so one client cannot starve the others (a
 * keep-alive socket pipelining thousands of requests, or one key fanning out
 * over many sockets): at most `perConnection` requests at once per TCP
 * connection and `perKey` per presented API key, reads included. A request
 * over a bound is answered 429 `too_many_in_flight` at once, before it costs
 * a database lookup, and the client's other requests carry on.
 */
import crypto from 'node:crypto';
import type { Socket } from 'node:net';

import type { RequestHandler } from 'express';

import { bearerToken } from './auth';
import { Problem } from './problem';

export interface InFlightLimits {
  perConnection: number;
  perKey: number;
}

export const DEFAULT_IN_FLIGHT: InFlightLimits = { perConnection: 8, perKey: 64 };

/** `LW_MAX_IN_FLIGHT_PER_CONNECTION`, `LW_MAX_IN_FLIGHT_PER_KEY` over the defaults. */
export function inFlightFromEnv(env: NodeJS.ProcessEnv = process.env): InFlightLimits {
  const n = (v: string | undefined, d: number) => (v && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : d);
  return {
    perConnection: n(env.LW_MAX_IN_FLIGHT_PER_CONNECTION, DEFAULT_IN_FLIGHT.perConnection),
    perKey: n(env.LW_MAX_IN_FLIGHT_PER_KEY, DEFAULT_IN_FLIGHT.perKey),
  };
}

function tooMany(what: string): Problem {
  return new Problem(
    429,
    'too_many_in_flight',
    `Too many requests in flight ${what}; wait for the answers before sending more.`,
    {
      headers: { 'Retry-After': '1' },
      retryAfter: 1,
    },
  );
}

export function boundInFlight(limits: InFlightLimits): RequestHandler {
  const perSocket = new WeakMap<Socket, number>();
  const perKey = new Map<string, number>();
  return (req, res, next) => {
    const socket = req.socket;
    const token = bearerToken(req.headers.authorization);
    // Keys are held by their digest, not in clear.
    const key = token ? crypto.createHash('sha256').update(token).digest('base64') : null;
    const onSocket = perSocket.get(socket) ?? 0;
    if (onSocket >= limits.perConnection) return next(tooMany('on this connection'));
    if (key && (perKey.get(key) ?? 0) >= limits.perKey) return next(tooMany('with this key'));
    perSocket.set(socket, onSocket + 1);
    if (key) perKey.set(key, (perKey.get(key) ?? 0) + 1);
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      perSocket.set(socket, (perSocket.get(socket) ?? 1) - 1);
      if (key) {
        const left = (perKey.get(key) ?? 1) - 1;
        if (left > 0) perKey.set(key, left);
        else perKey.delete(key);
      }
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}
