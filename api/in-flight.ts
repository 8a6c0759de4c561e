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

import { SETTINGS } from '../lib/config';
import { bearerToken } from './auth';
import { Problem } from './problem';

export interface InFlightLimits {
  perConnection: number;
  perKey: number;
}

/** The defaults of `LW_MAX_IN_FLIGHT_PER_CONNECTION` and `LW_MAX_IN_FLIGHT_PER_KEY` (lib/config.ts). */
export const DEFAULT_IN_FLIGHT: InFlightLimits = {
  perConnection: SETTINGS.LW_MAX_IN_FLIGHT_PER_CONNECTION.fallback,
  perKey: SETTINGS.LW_MAX_IN_FLIGHT_PER_KEY.fallback,
};

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
