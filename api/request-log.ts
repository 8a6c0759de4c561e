/**
 * Request ids and the request log (pino-http).
 *
 * Every request gets an id: the caller's `X-Request-Id` when it is a plain token (up to 128 letters, digits and
 * `._:@+=/-`), else a new UUID; the answer echoes it in `X-Request-Id`, and every line logged while the request is
 * handled carries it as `requestId` (observability/logger.ts `logContext`, with the trace's `trace_id`/`span_id`).
 * One line per request when it is answered: method, route template, status, ms and who asked – never its
 * headers (keys, cookies) or body.
 */
import crypto from 'node:crypto';

import type { Request, RequestHandler, Response } from 'express';
import pino, { type Logger } from 'pino';
import { pinoHttp } from 'pino-http';

import { logContext, withRequestId } from '../observability/logger';
import type { Principal } from './auth';

/** Where the request lines go: a pino logger, or anything with pino's `(fields, message)` calls. */
export interface RequestLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

const INCOMING_ID = /^[\w.:@+=/-]{1,128}$/;

/** Gives the request its id (honouring a well-formed X-Request-Id), echoes it, and scopes the log lines to it. */
export function requestIds(): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('X-Request-Id');
    const id = incoming && INCOMING_ID.test(incoming) ? incoming : crypto.randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    withRequestId(id, next);
  };
}

/** The route template a request matched (`/v1/offers/:id/claim`), or `unmatched`: never the raw path. */
export function routeOf(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched';
}

/** One line per answered request, written through `out` (after `requestIds`, whose id it keeps). */
export function requestLog(out: RequestLogger): RequestHandler {
  const fields = (req: Request, res: Response, ms: number) => requestLogFields(req, res, ms);
  return pinoHttp<Request, Response>({
    logger: isPino(out) ? out : forwardTo(out),
    genReqId: (req) => req.id,
    // No `req` object (its headers hold keys and cookies); the request id comes with every line from the mixin.
    serializers: { req: () => undefined },
    quietResLogger: true,
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'warn' : 'info'),
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request',
    customSuccessObject: (req, res, val: { responseTime: number }) => fields(req, res, val.responseTime),
    customErrorObject: (req, res, _err, val: { responseTime: number }) => fields(req, res, val.responseTime),
  });
}

function isPino(out: RequestLogger): out is Logger {
  return typeof (out as Partial<Logger>).child === 'function' && typeof (out as Partial<Logger>).levels === 'object';
}

/** A pino logger whose lines are handed, parsed, to a plain `{info, warn}` (tests capture the request log so). */
function forwardTo(out: RequestLogger): Logger {
  return pino(
    { mixin: logContext, base: undefined, timestamp: false },
    {
      write(line: string) {
        const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg: string };
        out[level >= 40 ? 'warn' : 'info'](fields, msg);
      },
    },
  );
}

function requestLogFields(req: Request, res: Response, ms: number): Record<string, unknown> {
  const route = routeOf(req);
  const principal = res.locals.principal as Principal | undefined;
  const id = (req.params as Record<string, string> | undefined)?.id;
  const idKey = route.startsWith('/v1/offers/')
    ? 'offerId'
    : route.startsWith('/v1/leads/')
      ? 'leadId'
      : route.startsWith('/v1/buyers/')
        ? 'buyerId'
        : null;
  return {
    method: req.method,
    route,
    status: res.statusCode,
    ms,
    ...(principal && principal.kind !== 'root' ? { agencyId: principal.agencyId } : {}),
    ...(principal?.kind === 'buyer' ? { buyerId: principal.buyerId } : {}),
    ...(principal?.kind === 'source' ? { sourceId: principal.sourceId } : {}),
    ...(idKey && id ? { [idKey]: id } : {}),
  };
}
