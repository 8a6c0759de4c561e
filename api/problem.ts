/**
 * Errors as RFC 9457 problem documents (`application/problem+json`) with a
 * stable machine `code`. Handlers throw a Problem; the final error handler
 * turns it (or anything unexpected, without its internals) into a response.
 */
import crypto from 'node:crypto';

import type { ErrorRequestHandler, Response } from 'express';

import type { ConsentRefusal, ContactRefusal, ScrubRefusal } from '../domain/types';
import type { ProblemExtensionValues } from './schemas';

/** The contact checks' reason codes (domain/types.ts CONTACT_REFUSALS) as intake answers them. */
const CONTACT_REFUSAL_TITLES = {
  invalid_phone: 'The phone number is not a valid number',
  invalid_email: 'The email address cannot receive mail',
  disposable_email: 'The email address belongs to a disposable email service',
} as const satisfies Record<ContactRefusal, string>;

/** The consent-certificate refusals (domain/types.ts CONSENT_REFUSALS) as intake answers them. */
const CONSENT_REFUSAL_TITLES = {
  consent_missing: 'The campaign requires a consent certificate',
  consent_invalid: "The consent certificate is not the provider's",
  consent_expired: 'The consent certificate is older than the campaign allows',
} as const satisfies Record<ConsentRefusal, string>;
/** The third-party scrubs' reason codes (domain/types.ts SCRUB_REFUSALS) as intake answers them. */
const SCRUB_REFUSAL_TITLES = {
  litigator: 'The phone number belongs to a known TCPA litigator',
  phone_disconnected: 'The phone line is disconnected',
} as const satisfies Record<ScrubRefusal, string>;

const PROBLEM_TITLES = {
  validation_failed: 'The request is not valid',
  malformed_json: 'The body is not valid JSON',
  payload_too_large: 'The body is too large',
  unsupported_media_type: 'The body must be JSON',
  unauthorized: 'Missing or invalid API key',
  forbidden: 'This key may not do that',
  second_factor_required: 'The second factor is still owed',
  invalid_credentials: 'Wrong email or password',
  link_invalid: 'The link is invalid, expired or already used',
  second_factor_invalid: 'The code or passkey was not accepted',
  two_factor_required: 'The agency requires a second factor: enrol one in your account',
  no_organisation: 'The session has no organisation to act in',
  session_required: 'This route is for a signed-in person',
  cross_site_request: 'The request came from another site',
  csrf_token_invalid: 'Missing or wrong CSRF token',
  own_role: 'Nobody changes their own role',
  role_above_yours: 'That role is above yours',
  last_owner: 'An organisation keeps at least one owner',
  not_found: 'Not found',
  route_not_found: 'No such route',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict with the current state',
  idempotency_conflict: 'Idempotency-Key reused with another request',
  idempotency_in_progress: 'A request with this Idempotency-Key is still running',
  duplicate_lead: 'Duplicate lead',
  campaign_paused: 'The campaign is paused',
  not_in_manual_review: 'The lead is not in manual review',
  offer_not_open: 'The offer is not open',
  dispute_not_open: 'The dispute is already resolved',
  claim_pending: 'The claim is still being decided',
  bid_pending: 'The bid is still being decided',
  bid_required: 'This offer is a highest-bid auction: bid on it',
  consent_required: 'The agency requires consent evidence with every lead',
  bad_file: 'The file is refused whole: nothing of it was stored',
  ...CONTACT_REFUSAL_TITLES,
  ...CONSENT_REFUSAL_TITLES,
  ...SCRUB_REFUSAL_TITLES,
  return_window_closed: 'The return window has closed',
  reason_not_allowed: 'Not one of the agency return reasons',
  return_rate_exceeded: 'The return-rate limit is reached',
  pause_locked: 'The agency or the system paused this buyer',
  invalid_transition: 'That pipeline status change is not allowed',
  source_paused: 'The source is paused',
  campaign_not_allowed: 'The campaign is not allowed for this source',
  settlement_exceeds_balance: 'The settlement is more than the source is owed',
  adjustment_exceeds_balance: 'The adjustment would take the source balance below zero',
  ping_not_found: 'No such ping',
  ping_rejected: 'The ping was rejected: there is nothing to post',
  ping_expired: 'The ping has expired',
  ping_already_posted: 'The ping was already posted',
  post_contradicts_ping: 'The post contradicts its ping',
  rate_limited: 'Too many requests',
  too_many_in_flight: 'Too many requests in flight',
  channel_not_configured: 'The buyer has no such delivery channel',
  buyer_paused: 'The buyer is paused',
  access_revoked: 'The key was revoked or its buyer paused',
  upgrade_required: 'This route is a WebSocket',
  sso_not_configured: 'No single sign-on for this email domain',
  sso_domain_taken: "Another agency's single sign-on already allows that domain",
  payments_not_configured: 'The agency has not set up card payments',
  no_saved_card: 'Save a card first',
  stripe_signature_invalid: 'The Stripe signature does not check out',
  stripe_event_refused: 'The Stripe event does not match a payment of this agency',
  payment_not_refundable: 'Only a succeeded card payment can be refunded',
  refund_exceeds_payment: 'More credits than the payment has left to refund',
  refund_exceeds_balance: "The buyer's balance is below the credits to take back",
  stripe_unavailable: 'Stripe refused or could not be reached',
  public_url_not_set: 'The server does not know its public URL (LW_PUBLIC_URL)',
  bad_request: 'Bad request',
  service_unavailable: 'A dependency is unavailable',
  internal_error: 'Internal error',
} as const;

export type ProblemCode = keyof typeof PROBLEM_TITLES;

export interface FieldError {
  /** Dotted path of the failing field, e.g. `fields.email` or `zipCodes.2`. */
  path: string;
  message: string;
  /** Where the field is: the JSON body, the query string, the path or a header. */
  in?: 'body' | 'query' | 'params' | 'header';
  /** For a field holding text in a language (a template, a path, a JSONata expression): the 0-based character of the error. */
  position?: number;
}

/**
 * What a Problem carries besides its code and detail: field errors, response headers, and only the extension
 * members the document declares (`ProblemExtensions` in api/schemas.ts), so an integrator's generated client
 * sees every member the docs tell it to read.
 */
export type ProblemExtras = { errors?: FieldError[]; headers?: Record<string, string> } & ProblemExtensionValues;

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extra: ProblemExtras = {},
  ) {
    super(detail);
    this.name = 'Problem';
  }
}

export const notFound = (what: string) => new Problem(404, 'not_found', `${what} not found`);

/** A top-up or an adjustment that would take a wallet past what its integer column holds (SQLSTATE 22003). */
export const balanceTooLarge = () =>
  new Problem(422, 'validation_failed', 'The balance would exceed the largest amount a wallet can hold.', {
    errors: [{ in: 'body', path: 'amount', message: 'too large for this wallet' }],
  });

export function problemBody(p: Problem): Record<string, unknown> {
  const { headers: _headers, errors, ...extensions } = p.extra;
  // Extensions first: they can never overwrite a standard member.
  return {
    ...extensions,
    type: `urn:leadwire:problem:${p.code}`,
    title: PROBLEM_TITLES[p.code],
    status: p.status,
    detail: p.detail,
    code: p.code,
    ...(errors?.length ? { errors } : {}),
  };
}

function sendProblem(res: Response, p: Problem): void {
  for (const [k, v] of Object.entries(p.extra.headers ?? {})) res.setHeader(k, v);
  res
    .status(p.status)
    .type('application/problem+json')
    .send(JSON.stringify(problemBody(p)));
}

/** body-parser's error types, mapped to problems clients can act on. */
function parserProblem(err: { type?: unknown; status?: unknown; limit?: unknown }): Problem | null {
  switch (err.type) {
    case 'entity.parse.failed':
      return new Problem(400, 'malformed_json', 'The request body is not valid JSON.');
    case 'entity.too.large':
      return new Problem(
        413,
        'payload_too_large',
        `The request body is larger than ${String(err.limit ?? 'the limit')} bytes.`,
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new Problem(
        415,
        'unsupported_media_type',
        'The body must be UTF-8 JSON (Content-Type: application/json).',
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new Problem(400, 'bad_request', 'The request body was incomplete.');
    case 'parameters.too.many':
      return new Problem(413, 'payload_too_large', 'Too many parameters.');
    default:
      return null;
  }
}

const OUTAGE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
const OUTAGE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/**
 * True when an error (or one of its causes) says a dependency could not be
 * reached: a refused or dropped connection, Postgres' connection exceptions
 * (SQLSTATE class 08) or its "shutting down / cannot connect now" (57P01-57P03).
 */
export function isDependencyOutage(err: unknown): boolean {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (OUTAGE_ERRNOS.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
    if (typeof e.message === 'string' && OUTAGE_MESSAGES.test(e.message)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

export interface ErrorLogger {
  error(message: string, meta?: unknown): void;
}

/** The last middleware: nothing a client sends reaches it as anything but a problem document. */
export function errorHandler(logger: ErrorLogger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let problem: Problem | null = err instanceof Problem ? err : null;
    if (!problem && err && typeof err === 'object') problem = parserProblem(err as Record<string, unknown>);
    if (!problem) {
      // Express and its parsers mark client errors with a 4xx status (e.g. a malformed %-escape in the path).
      const status = Number((err as { status?: unknown })?.status);
      if (status >= 400 && status < 500)
        problem = new Problem(status, 'bad_request', 'The request could not be processed.');
    }
    if (!problem && isDependencyOutage(err)) {
      // The database (or another dependency) is away: a retry soon will work, so say so instead of a 500.
      logger.error(`[api] ${req.method} ${req.path}: a dependency is unavailable`, err);
      problem = new Problem(503, 'service_unavailable', 'A dependency is briefly unavailable; retry shortly.', {
        headers: { 'Retry-After': '2' },
      });
    }
    if (!problem) {
      const errorId = crypto.randomUUID();
      logger.error(`[api] ${req.method} ${req.path} failed (error ${errorId})`, err);
      problem = new Problem(500, 'internal_error', 'Something went wrong on our side; it has been logged.', {
        errorId,
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(res, problem);
  };
}
