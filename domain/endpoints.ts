/**
 * Buyer endpoints (#22): a buyer whose own system bids through outbound
 * ping-post. The vocabulary (authentication kinds, call kinds and outcomes),
 * the limits, and how a call is written down in the endpoint's log – secrets
 * masked, answers redacted and truncated – defined once for the database, the
 * API, the call library and the pages. The request template and the response
 * rules are domain/endpoint-mapping.ts.
 */
import type { EndpointTemplate, ResponseRules } from './endpoint-mapping';

/** How a call proves it comes from Leadwire: nothing, a header with a token, HTTP basic, or a Standard Webhooks HMAC. */
export const ENDPOINT_AUTH_KINDS = ['none', 'header', 'basic', 'hmac'] as const;
export type EndpointAuthKind = (typeof ENDPOINT_AUTH_KINDS)[number];

export const ENDPOINT_METHODS = ['POST', 'PUT'] as const;
export type EndpointMethod = (typeof ENDPOINT_METHODS)[number];

/** How the optional status query (#22 item 4) asks about an unanswered post: GET (a query string) or POST (a body). */
export const ENDPOINT_STATUS_METHODS = ['GET', 'POST'] as const;
export type EndpointStatusMethod = (typeof ENDPOINT_STATUS_METHODS)[number];

/** A body as JSON, or as `application/x-www-form-urlencoded` (a flat template). */
export const ENDPOINT_FORMATS = ['json', 'form'] as const;
export type EndpointFormat = (typeof ENDPOINT_FORMATS)[number];

export const ENDPOINT_STATUSES = ['active', 'paused'] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

/** `test`: the console's "test endpoint" (a sample lead; never counted against the endpoint's health). */
export const ENDPOINT_CALL_KINDS = ['ping', 'post', 'test'] as const;
export type EndpointCallKind = (typeof ENDPOINT_CALL_KINDS)[number];

/**
 * The two steps of ping-post (a direct-post endpoint has the second only), and `status`: the optional status query
 * asked about a post sent but unanswered, logged as the post's call (kind `post`, its idempotency key).
 */
export type EndpointStep = 'ping' | 'post' | 'status';
export const ENDPOINT_STEPS = ['ping', 'post', 'status'] as const;

/**
 * What became of one call:
 * - `accepted` / `rejected`: the buyer answered and the rules read it (a bid, or a refusal with its reason);
 * - `timeout`: no answer within the endpoint's own timeout; `late`: still unanswered at the tier's deadline (no bid);
 * - `unknown`: a post sent but not answered – the buyer may have taken it (resolved later, never guessed);
 * - `error`: a 5xx or a broken connection; `malformed`: an answer the rules cannot read;
 * - `refused`: the address guard refused the destination; `busy`: the endpoint's maximum of concurrent pings was in use.
 */
export const ENDPOINT_CALL_OUTCOMES = [
  'accepted',
  'rejected',
  'timeout',
  'late',
  'unknown',
  'error',
  'malformed',
  'refused',
  'busy',
] as const;
export type EndpointCallOutcome = (typeof ENDPOINT_CALL_OUTCOMES)[number];

/**
 * A `pinged` timeline event's data (#22), as the ping activity writes it: the one shape, published in the API as
 * `PingedEventData` (api/schemas.ts, checked against this) and read by the console's timeline. The buyer's reason
 * for a refusal is the event's `reason`; its raw answer stays in the endpoint's log. (A type, not an interface, so
 * that it is a timeline event's `data` as it is.)
 */
export type PingedEventData = {
  /** A ping tree's tier the buyer was pinged in (1 = the first); absent for a highest-bid auction's endpoint bidders. */
  tier?: number;
  outcome: EndpointCallOutcome;
  latencyMs: number;
  /** The bid of an accepted answer; null otherwise. */
  bid: number | null;
};

/** Outcomes that say the endpoint is failing: a run of them pauses it (the agency's `autoPauseAfterFailures`). */
export const FAILING_OUTCOMES: ReadonlySet<EndpointCallOutcome> = new Set(['timeout', 'unknown', 'error', 'malformed']);

export const DEFAULT_ENDPOINT_TIMEOUT_MS = 1500;
export const MIN_ENDPOINT_TIMEOUT_MS = 100;
export const MAX_ENDPOINT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONCURRENT_PINGS = 10;
export const MAX_CONCURRENT_PINGS = 1000;
/** The endpoint log keeps this many calls per endpoint. */
export const ENDPOINT_LOG_SIZE = 100;
/** A logged body (request or answer) keeps this many characters. */
const LOGGED_BODY_CHARS = 2048;
/** An answer is read up to this many bytes; the rules see no more. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** What a log shows instead of a secret. */
const MASK = '••••';

/** The request as it was sent, for the log: the secrets in its headers masked. */
export interface LoggedRequest {
  method: EndpointMethod | EndpointStatusMethod;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The answer as it came back, for the log: redacted and truncated. */
export interface LoggedResponse {
  status: number;
  body: string;
}

const SECRET_HEADERS = new Set(['authorization', 'webhook-signature', 'proxy-authorization', 'cookie']);

/**
 * The headers with every secret masked: the authorization and signature
 * headers, the endpoint's own token header, and any header whose value holds
 * the secret itself. The scheme of an `Authorization` stays readable ("Basic ••••").
 */
export function maskHeaders(
  headers: Record<string, string>,
  opts: { tokenHeader?: string | null; secret?: string | null },
): Record<string, string> {
  const token = opts.tokenHeader?.toLowerCase();
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'proxy-authorization') {
      const scheme = /^(\w+)\s+/.exec(value)?.[1];
      out[name] = scheme ? `${scheme} ${MASK}` : MASK;
    } else if (SECRET_HEADERS.has(lower) || lower === token) out[name] = MASK;
    else out[name] = redactSecret(value, opts.secret);
  }
  return out;
}

const redactSecret = (text: string, secret: string | null | undefined) =>
  secret && secret.length >= 4 ? text.split(secret).join(MASK) : text;

/** Keys whose values an answer's log never shows. */
const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|ssn|card/i;

/**
 * An answer's body for the log: JSON values under secret-looking keys masked,
 * the endpoint's own secret masked wherever it appears, and the whole cut to
 * LOGGED_BODY_CHARS (marked with "…").
 */
export function redactBody(text: string, secret?: string | null): string {
  let out = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') out = JSON.stringify(maskKeys(parsed));
  } catch {
    // not JSON: only the secret and the length are handled
  }
  out = redactSecret(out, secret);
  return out.length > LOGGED_BODY_CHARS ? `${out.slice(0, LOGGED_BODY_CHARS)}…` : out;
}

function maskKeys(value: unknown, depth = 0): unknown {
  if (depth > 20 || !value || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskKeys(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const masked =
      SECRET_KEY.test(k) && (typeof v === 'string' || typeof v === 'number') ? MASK : maskKeys(v, depth + 1);
    Object.defineProperty(out, k, { value: masked, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** An endpoint's settings as the agency gives them (the secret apart). */
export interface EndpointSettings {
  pingUrl: string | null;
  postUrl: string;
  method: EndpointMethod;
  format: EndpointFormat;
  authKind: EndpointAuthKind;
  authHeader: string | null;
  authUsername: string | null;
  timeoutMs: number;
  maxConcurrentPings: number;
  pingTemplate: EndpointTemplate | null;
  postTemplate: EndpointTemplate;
  pingRules: ResponseRules | null;
  postRules: ResponseRules;
  /** The optional status query (#22 item 4): its URL and rules together, or neither. */
  statusUrl: string | null;
  statusMethod: EndpointStatusMethod;
  statusTemplate: EndpointTemplate | null;
  statusRules: ResponseRules | null;
  status: EndpointStatus;
  pauseReason: string | null;
}

/**
 * Whether an endpoint is pinged: active, with a ping URL, template and rules (a direct-post endpoint is posted only,
 * a paused one not called). The call library pings only these, and only these have their secret opened for a ping.
 */
export function isPingable(ep: Pick<EndpointSettings, 'status' | 'pingUrl' | 'pingTemplate' | 'pingRules'>): boolean {
  return ep.status === 'active' && !!ep.pingUrl && !!ep.pingTemplate && !!ep.pingRules;
}

/** What the call library needs of an endpoint (db/endpoints.ts `EndpointForCalls`: the row, its secret opened). */
export interface EndpointSpec extends Omit<EndpointSettings, 'pauseReason'> {
  id: string;
  buyerId: string;
  secret: string | null;
}

/** One call as the endpoint's log records it. */
export interface EndpointCall {
  endpointId: string;
  leadId: string | null;
  kind: EndpointCallKind;
  step: EndpointStep;
  request: LoggedRequest;
  response: LoggedResponse | null;
  latencyMs: number;
  outcome: EndpointCallOutcome;
  bid?: number | null;
  pingId?: string | null;
  reason?: string | null;
  idempotencyKey?: string | null;
}
