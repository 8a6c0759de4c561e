/**
 * The call library of buyer endpoints (#22), shared by the worker's
 * activities (activities/endpoints.ts) and the console's "test endpoint"
 * (api/routes/endpoints.ts). It holds no database: the caller passes the
 * endpoints (secrets opened) and a `record` that writes each call to the
 * endpoint's log as it lands (db/endpoints.ts `recordEndpointCall`).
 *
 * - `pingTier`: the tier's pings go out together, under ONE deadline; each
 *   call also has its endpoint's own timeout. A ping still unanswered at the
 *   deadline is cut and recorded `late` (no bid); one over its own timeout
 *   `timeout`. An endpoint already at its maximum of concurrent pings (in this
 *   process) is not called (`busy`).
 * - `postLead`: the full lead to one winner, with `Idempotency-Key` (the
 *   caller's: the same on every resend of one sale) and, when signed, the
 *   same `webhook-id`. Its answer is `accepted`, `rejected`, `unknown` (sent,
 *   not answered: maybe taken – never guessed) or `failed` (certainly not
 *   taken: refused, unreachable, or a 5xx).
 * - `queryStatus`: the endpoint's optional status query (#22 item 4), asked
 *   about a post sent but unanswered, under the post's key: its rules say
 *   accepted or rejected, or the post stays `unknown`. Logged as the post's
 *   call (kind `post`, step `status`).
 * Every call goes through the address guard (lib/endpoint-http.ts).
 */
import crypto from 'node:crypto';

import { Webhook } from 'standardwebhooks';

import {
  encodeBody,
  readAnswer,
  renderTemplate,
  type RenderValues,
  type ResponseRules,
} from '../domain/endpoint-mapping';
import {
  type EndpointCall,
  type EndpointCallKind,
  type EndpointCallOutcome,
  type EndpointSpec,
  type EndpointStep,
  isPingable,
  type LoggedRequest,
  type LoggedResponse,
  maskHeaders,
  MAX_ANSWER_BYTES,
  redactBody,
} from '../domain/endpoints';
import { CallFailed, guardedRequest } from './endpoint-http';
import { UrlRefused } from './url-guard';

export interface CallDeps {
  /** Writes one call to the endpoint's log (and keeps its health); `pauseNow` pauses it at once. */
  record(call: EndpointCall, opts?: { pauseNow?: string }): Promise<unknown>;
  /** Internal targets allowed despite the SSRF rules; null = LW_WEBHOOK_ALLOWLIST. */
  allowlist: string | null;
}

/** One call as it went: what was sent, what came back, what the rules made of it. */
export interface CallReport {
  endpointId: string;
  buyerId: string;
  step: EndpointStep;
  outcome: EndpointCallOutcome;
  bid: number | null;
  pingId: string | null;
  reason: string | null;
  latencyMs: number;
  request: LoggedRequest;
  response: LoggedResponse | null;
  /** Whether recording this call paused the endpoint. */
  paused: boolean;
}

interface CallInput {
  endpoint: EndpointSpec;
  step: EndpointStep;
  kind: EndpointCallKind;
  leadId: string | null;
  values: RenderValues;
  /** A post's key: also the signed message's id, so a resend is the same message. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** The headers that authenticate a call with the endpoint's secret. */
function authHeaders(ep: EndpointSpec, messageId: string, body: string): Record<string, string> {
  if (ep.authKind === 'none' || !ep.secret) return {};
  if (ep.authKind === 'header') return { [ep.authHeader ?? 'Authorization']: ep.secret };
  if (ep.authKind === 'basic')
    return { Authorization: `Basic ${Buffer.from(`${ep.authUsername ?? ''}:${ep.secret}`).toString('base64')}` };
  const at = new Date();
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(ep.secret).sign(messageId, at, body),
  };
}

/**
 * The status query's request: GET sends the rendered template as the query string (without one,
 * `?idempotency_key=<key>`); POST sends it as the body in the endpoint's format (without one,
 * `{"idempotency_key": <key>}`).
 */
function statusRequest(
  ep: EndpointSpec,
  values: RenderValues,
): { method: 'GET' | 'POST'; url: string; body: string; contentType: string | null } {
  const rendered = ep.statusTemplate
    ? renderTemplate(ep.statusTemplate, 'status', values)
    : { idempotency_key: values.idempotencyKey ?? '' };
  if (ep.statusMethod === 'POST') return { method: 'POST', url: ep.statusUrl!, ...encodeBody(rendered, ep.format) };
  const url = new URL(ep.statusUrl!);
  for (const [k, v] of Object.entries(rendered))
    url.searchParams.append(
      k,
      v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v),
    );
  return { method: 'GET', url: url.toString(), body: '', contentType: null };
}

/** What one step sends: its method, URL, body and rules. */
function requestOf(input: CallInput): {
  method: LoggedRequest['method'];
  url: string;
  body: string;
  contentType: string | null;
  rules: ResponseRules;
} {
  const { endpoint: ep, step } = input;
  if (step === 'status') return { ...statusRequest(ep, input.values), rules: ep.statusRules! };
  const url = step === 'ping' ? ep.pingUrl! : ep.postUrl;
  const template = step === 'ping' ? ep.pingTemplate! : ep.postTemplate;
  const rules = step === 'ping' ? ep.pingRules! : ep.postRules;
  return { method: ep.method, url, rules, ...encodeBody(renderTemplate(template, step, input.values), ep.format) };
}

/** One call: rendered, sent through the guard, read by the rules, recorded. Never throws for the far end's faults. */
async function call(input: CallInput, deps: CallDeps): Promise<CallReport> {
  const { endpoint: ep, step } = input;
  const { method, url, body, contentType, rules } = requestOf(input);
  // A status query is its own message (a post's resend is the same one, with the same id).
  const messageId = `msg_${step === 'status' ? crypto.randomUUID() : (input.idempotencyKey ?? crypto.randomUUID())}`;
  const headers: Record<string, string> = {
    ...(contentType ? { 'Content-Type': contentType } : {}),
    Accept: 'application/json',
    'User-Agent': 'Leadwire-Endpoint/1',
    ...(input.idempotencyKey ? { 'Idempotency-Key': input.idempotencyKey } : {}),
    ...authHeaders(ep, messageId, body),
  };
  const request: LoggedRequest = {
    method,
    url,
    headers: maskHeaders(headers, { tokenHeader: ep.authKind === 'header' ? ep.authHeader : null, secret: ep.secret }),
    body: redactBody(body, ep.secret),
  };
  const started = performance.now();
  let outcome: EndpointCallOutcome;
  let response: LoggedResponse | null = null;
  let bid: number | null = null;
  let pingId: string | null = null;
  let reason: string | null = null;
  let pauseNow: string | undefined;
  try {
    const answer = await guardedRequest(url, {
      method,
      headers,
      body,
      timeoutMs: ep.timeoutMs,
      signal: input.signal,
      allowlist: deps.allowlist,
      maxBytes: MAX_ANSWER_BYTES,
    });
    response = { status: answer.status, body: redactBody(answer.body, ep.secret) };
    const read = await readAnswer(rules, step, answer);
    outcome = read.outcome;
    if (read.outcome === 'accepted') ({ bid, pingId } = read);
    else reason = read.reason;
    // 410 Gone: the buyer says the endpoint is no more; pause it rather than call it again.
    if (answer.status === 410) pauseNow = `410 Gone from ${url}`;
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
    if (err instanceof UrlRefused) {
      outcome = 'refused';
      pauseNow = `the address guard refused ${url}: ${reason}`;
    } else if (err instanceof CallFailed) {
      outcome =
        err.failure === 'aborted'
          ? 'late'
          : step === 'post' && err.sent
            ? 'unknown'
            : err.failure === 'timeout'
              ? 'timeout'
              : 'error';
    } else outcome = 'error';
  }
  const latencyMs = performance.now() - started;
  const recorded = (await deps.record(
    {
      endpointId: ep.id,
      leadId: input.leadId,
      kind: input.kind,
      step,
      request,
      response,
      latencyMs,
      outcome,
      bid,
      pingId,
      reason,
      idempotencyKey: input.idempotencyKey ?? null,
    },
    pauseNow ? { pauseNow } : {},
  )) as { paused?: boolean } | undefined;
  return {
    endpointId: ep.id,
    buyerId: ep.buyerId,
    step,
    outcome,
    bid,
    pingId,
    reason,
    latencyMs,
    request,
    response,
    paused: !!recorded?.paused,
  };
}

/** Pings in flight per endpoint, in this process: the endpoint's maximum of concurrent pings. */
const inFlight = new Map<string, number>();

async function pingOne(
  ep: EndpointSpec,
  lead: { id: string; values: RenderValues },
  signal: AbortSignal,
  deps: CallDeps,
): Promise<CallReport> {
  const busy = inFlight.get(ep.id) ?? 0;
  if (busy >= ep.maxConcurrentPings) {
    const reason = `${busy} pings already in flight (max ${ep.maxConcurrentPings})`;
    const request: LoggedRequest = { method: ep.method, url: ep.pingUrl!, headers: {}, body: '' };
    await deps.record({
      endpointId: ep.id,
      leadId: lead.id,
      kind: 'ping',
      step: 'ping',
      request,
      response: null,
      latencyMs: 0,
      outcome: 'busy',
      reason,
    });
    const none = { bid: null, pingId: null, response: null, latencyMs: 0, paused: false };
    return { endpointId: ep.id, buyerId: ep.buyerId, step: 'ping', outcome: 'busy', reason, request, ...none };
  }
  inFlight.set(ep.id, busy + 1);
  try {
    return await call({ endpoint: ep, step: 'ping', kind: 'ping', leadId: lead.id, values: lead.values, signal }, deps);
  } finally {
    const left = (inFlight.get(ep.id) ?? 1) - 1;
    if (left > 0) inFlight.set(ep.id, left);
    else inFlight.delete(ep.id);
  }
}

/**
 * Pings the active endpoints that have a ping URL (direct-post endpoints and
 * paused ones are not pinged) in parallel and answers every report once all
 * have landed or the deadline has passed – whichever is first, the deadline
 * cuts what is left (`late`). Each report is recorded as it lands.
 */
export async function pingTier(
  endpoints: EndpointSpec[],
  lead: { id: string; values: RenderValues },
  deadlineMs: number,
  deps: CallDeps,
): Promise<CallReport[]> {
  const pinged = endpoints.filter(isPingable);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), Math.max(0, deadlineMs));
  try {
    return await Promise.all(pinged.map((ep) => pingOne(ep, lead, deadline.signal, deps)));
  } finally {
    clearTimeout(timer);
  }
}

/** A post's result for the sale: taken (charge), refused, unknown (review), or certainly not taken. */
export type PostOutcome = 'accepted' | 'rejected' | 'unknown' | 'failed';

function postOutcomeOf(outcome: EndpointCallOutcome): PostOutcome {
  if (outcome === 'accepted' || outcome === 'rejected' || outcome === 'unknown') return outcome;
  return 'failed';
}

/**
 * Posts the full lead to one endpoint with `idempotencyKey` (the caller keeps
 * it the same for every resend of one sale). Recorded as a `post`.
 */
export async function postLead(
  endpoint: EndpointSpec,
  lead: { id: string; values: RenderValues },
  idempotencyKey: string,
  deps: CallDeps,
): Promise<CallReport & { result: PostOutcome }> {
  const report = await call(
    { endpoint, step: 'post', kind: 'post', leadId: lead.id, values: lead.values, idempotencyKey },
    deps,
  );
  return { ...report, result: postOutcomeOf(report.outcome) };
}

/** A status query's reading of an unanswered post: taken, refused, or still unknown (never guessed). */
export type StatusOutcome = 'accepted' | 'rejected' | 'unknown';

/**
 * Asks the endpoint's status query (it must have one) about the post sent with `idempotencyKey`: recorded as the
 * post's call (kind `post`, step `status`, the post's key). Accepted or rejected by the status rules resolves the
 * post; anything else – a timeout, a 5xx, an answer the rules cannot read – leaves it `unknown`.
 */
export async function queryStatus(
  endpoint: EndpointSpec,
  post: { leadId: string; pingId: string | null },
  idempotencyKey: string,
  deps: CallDeps,
): Promise<CallReport & { result: StatusOutcome }> {
  const values: RenderValues = { fields: {} as RenderValues['fields'], ...post, idempotencyKey };
  const report = await call(
    { endpoint, step: 'status', kind: 'post', leadId: post.leadId, values, idempotencyKey },
    deps,
  );
  const result = report.outcome === 'accepted' || report.outcome === 'rejected' ? report.outcome : 'unknown';
  return { ...report, result };
}

/**
 * The console's "test endpoint": pings with `values` (when the endpoint has a
 * ping step) and, when asked, posts them too – with the ping's id and bid, and
 * a fresh idempotency key. Recorded as `test` calls (never counted against
 * the endpoint's health); a paused endpoint can be tested.
 */
export async function testEndpoint(
  endpoint: EndpointSpec,
  values: RenderValues,
  opts: { post: boolean },
  deps: CallDeps,
): Promise<{ ping: CallReport | null; post: CallReport | null }> {
  const ping =
    endpoint.pingUrl && endpoint.pingTemplate && endpoint.pingRules
      ? await call({ endpoint, step: 'ping', kind: 'test', leadId: null, values }, deps)
      : null;
  if (!opts.post && ping) return { ping, post: null };
  const post = await call(
    {
      endpoint,
      step: 'post',
      kind: 'test',
      leadId: null,
      values: { ...values, pingId: ping?.pingId ?? null, bid: ping?.bid ?? null },
      idempotencyKey: `test_${crypto.randomUUID()}`,
    },
    deps,
  );
  return { ping, post };
}
