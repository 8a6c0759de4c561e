/**
 * Everything a payments test needs from "Stripe", each a real local server on 127.0.0.1 on a free port:
 *
 * - `startStripeMock()`: Stripe's own mock API server (lib/stripe-mock.ts), stateless, every endpoint.
 * - `startRecordingProxy(target)`: a tiny HTTP proxy in front of it recording each request's method, path,
 *   `Idempotency-Key` and form body – to prove, say, exactly one PaymentIntent per recharge.
 * - `startStripeErrorServer()`: answers `POST /v1/payment_intents` from a script of outcomes – Stripe's
 *   documented card errors (HTTP 402, `card_declined`, `authentication_required`) or a succeeded PaymentIntent –
 *   and replays an idempotent request's first answer, as Stripe does. stripe-mock knows no declining card.
 * - `stripeEvent()` and `signedDelivery()`: an event as Stripe sends it to a webhook endpoint, signed with the
 *   SDK's own test-header helper (no crypto of ours).
 * - Builders for the objects the payments code reads (checkout session, payment intent, charge, refund,
 *   dispute), typed field by field against the SDK's own types so a misspelt or mistyped field fails to compile.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import Stripe from 'stripe';

import { SYSTEM } from '../../db/audit';
import type { Db } from '../../db/connection';
import { createPayment, savePaymentSettings, settleSucceededPayment } from '../../db/payments';
import { startStripeMock as startMockProcess, STRIPE_MOCK_KEY } from '../../lib/stripe-mock';
import { apiAgency, type Harness } from '../api/harness';

export { STRIPE_MOCK_KEY } from '../../lib/stripe-mock';

export interface LocalServer {
  /** http://127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
}

/** stripe-mock on a free port, answering already. */
export async function startStripeMock(): Promise<LocalServer> {
  const mock = await startMockProcess({ log: () => undefined });
  return { url: mock.url, stop: mock.stop };
}

/** An SDK client for a local server: what the payments code builds from an agency's key and the API base. */
export function stripeClientFor(url: string, key: string): Stripe {
  const u = new URL(url);
  return new Stripe(key, {
    host: u.hostname,
    port: Number(u.port),
    protocol: u.protocol === 'https:' ? 'https' : 'http',
    maxNetworkRetries: 0,
  });
}

// ---------------------------------------------------------------------------------------------------
// Recording proxy

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent: /v1/payment_intents */
  path: string;
  idempotencyKey: string | null;
  /** The form body's fields as sent (`metadata[buyer_id]` stays one key). */
  form: Record<string, string>;
  /** The target's answer, once it came (null while in flight or when the target was unreachable). */
  status: number | null;
  /** The id of the object answered (`pi_…`), once it came. */
  answeredId?: string;
  /** The answer was the first one for this Idempotency-Key again (RecordingProxyOptions.idempotency). */
  replayed?: true;
}

export interface RecordingProxy extends LocalServer {
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** How many requests carried this `Idempotency-Key`. */
  countByIdempotencyKey(key: string): number;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function formFields(body: Buffer, contentType: string | undefined): Record<string, string> {
  if (!contentType?.startsWith('application/x-www-form-urlencoded')) return {};
  return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

async function listen(server: http.Server): Promise<LocalServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface TargetAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Sends a request on to `target`; its answer, or null when unreachable. */
async function ask(target: string, req: http.IncomingMessage, body: Buffer): Promise<TargetAnswer | null> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'transfer-encoding'].includes(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  let answer: Response;
  try {
    answer = await fetch(new URL(req.url ?? '/', target), {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(body),
    });
  } catch {
    return null;
  }
  const out: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name)) out[name] = value;
  });
  return { status: answer.status, headers: out, body: Buffer.from(await answer.arrayBuffer()) };
}

/** Sends a request on to `target` and the answer back to `res`; the status, or null when unreachable. */
async function forward(
  target: string,
  req: http.IncomingMessage,
  body: Buffer,
  res: http.ServerResponse,
): Promise<number | null> {
  const answer = await ask(target, req, body);
  if (!answer) {
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${target} unreachable`);
    return null;
  }
  res.writeHead(answer.status, answer.headers).end(answer.body);
  return answer.status;
}

/** The `id` of the JSON object in an answer (`pi_…`), if it is one. */
function answeredId(body: Buffer): string | undefined {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export interface RecordingProxyOptions {
  /**
   * Stripe's idempotency, which stateless stripe-mock lacks (it makes a new object for every request): a POST whose
   * `Idempotency-Key` was answered before (below 500) gets that first answer again, header `Idempotent-Replayed:
   * true`, without reaching the target; one whose key is still in flight waits for that answer.
   */
  idempotency?: boolean;
  /**
   * Awaited once the target answered, before the answer goes back: a test holds an answer (and kills the client
   * meanwhile), or has the webhook delivered before the caller hears of its PaymentIntent, as Stripe may.
   */
  beforeAnswer?: (r: RecordedRequest) => Promise<void> | void;
}

/** A server that records every request in `requests` before `handle` answers it (setting `record.status`). */
function recordingServer(
  requests: RecordedRequest[],
  handle: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, record: RecordedRequest) => Promise<void>,
): http.Server {
  return http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        idempotencyKey: headerValue(req.headers['idempotency-key']),
        form: formFields(body, req.headers['content-type']),
        status: null,
      };
      requests.push(record);
      await handle(req, res, body, record);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
}

export async function startRecordingProxy(
  targetUrl: string,
  opts: RecordingProxyOptions = {},
): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  const byKey = new Map<string, Promise<TargetAnswer | null>>();
  const server = recordingServer(requests, async (req, res, body, record) => {
    const key = opts.idempotency && record.method === 'POST' ? record.idempotencyKey : null;
    const first = key ? byKey.get(key) : undefined;
    let answer: TargetAnswer | null;
    if (first && ((await first)?.status ?? 500) < 500) {
      answer = await first;
      record.replayed = true;
    } else {
      const asked = ask(targetUrl, req, body);
      if (key) byKey.set(key, asked);
      answer = await asked;
    }
    if (!answer) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${targetUrl} unreachable`);
      return;
    }
    record.status = answer.status;
    const id = answeredId(answer.body);
    if (id) record.answeredId = id;
    await opts.beforeAnswer?.(record);
    const headers = record.replayed ? { ...answer.headers, 'idempotent-replayed': 'true' } : answer.headers;
    res.writeHead(answer.status, headers).end(answer.body);
  });
  const local = await listen(server);
  return {
    ...local,
    requests,
    countByIdempotencyKey: (key) => requests.filter((r) => r.idempotencyKey === key).length,
  };
}

// ---------------------------------------------------------------------------------------------------
// Error server: Stripe's documented error objects for POST /v1/payment_intents

type PaymentIntentOutcome =
  /** HTTP 402, card_error `card_declined` (decline_code insufficient_funds), the intent in requires_payment_method. */
  | 'declined'
  /**
   * HTTP 402, card_error `authentication_required` (decline_code authentication_required): an off-session
   * payment the bank wants 3-D Secure for; the intent in requires_payment_method, or requires_action when
   * the request set error_on_requires_action=false (see startStripeErrorServer's `authenticationStatus`).
   */
  | 'authentication_required'
  /** HTTP 200, a succeeded PaymentIntent made from the request (amount, currency, customer, metadata…). */
  | 'ok'
  /** Send the request on to the server's `forwardTo` (stripe-mock) and return its answer. */
  | 'forward';

export interface StripeErrorServer extends LocalServer {
  /** Appends outcomes for the next `POST /v1/payment_intents` calls; when the queue is empty the answer is `ok`. */
  script(...outcomes: PaymentIntentOutcome[]): void;
  /** Outcomes not used yet. */
  pending(): PaymentIntentOutcome[];
  /** Every request (replays included), in arrival order. */
  requests: RecordedRequest[];
  /** The PaymentIntents answered so far (declined ones too), by id. */
  paymentIntents: Map<string, PaymentIntentObject>;
}

/** A nested object from Stripe's bracketed form fields: metadata[a]=1 → { metadata: { a: '1' } }. */
function formMetadata(form: Record<string, string>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(form)) {
    const m = /^metadata\[([^\]]+)\]$/.exec(k);
    if (m) metadata[m[1]] = v;
  }
  return metadata;
}

/**
 * Answers `POST /v1/payment_intents` from the script and `GET /v1/payment_intents/:id` for those it made;
 * anything else goes to `forwardTo` (stripe-mock) when given, else gets Stripe's resource_missing 404.
 * A request with an `Idempotency-Key` seen before gets the first answer again (header `Idempotent-Replayed:
 * true`), without using an outcome: a client's retry must not look like a second payment.
 */
export async function startStripeErrorServer(
  opts: { forwardTo?: string; authenticationStatus?: 'requires_payment_method' | 'requires_action' } = {},
): Promise<StripeErrorServer> {
  const queue: PaymentIntentOutcome[] = [];
  const requests: RecordedRequest[] = [];
  const paymentIntents = new Map<string, PaymentIntentObject>();
  const answered = new Map<string, { status: number; body: string }>();

  const send = (res: http.ServerResponse, status: number, payload: unknown, extra: Record<string, string> = {}) => {
    const body = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': newId('req'), ...extra }).end(body);
    return { status, body };
  };

  const createPaymentIntent = (form: Record<string, string>, outcome: Exclude<PaymentIntentOutcome, 'forward'>) => {
    const amount = Number(form.amount);
    const base = {
      amount,
      currency: form.currency ?? 'usd',
      metadata: formMetadata(form),
      customer: form.customer ?? null,
      paymentMethod: form.payment_method ?? 'pm_card_visa',
    };
    if (outcome === 'ok') {
      const pi = paymentIntent({ ...base, status: 'succeeded' });
      paymentIntents.set(pi.id, pi);
      return { status: 200, payload: pi as unknown };
    }
    const declined = outcome === 'declined';
    const chargeId = newId('ch');
    const error = {
      type: 'card_error' as const,
      code: declined ? 'card_declined' : 'authentication_required',
      decline_code: declined ? 'insufficient_funds' : 'authentication_required',
      message: declined
        ? 'Your card has insufficient funds.'
        : 'Your card was declined. This transaction requires authentication.',
      doc_url: `https://docs.stripe.com/error-codes/${declined ? 'card-declined' : 'authentication-required'}`,
      charge: chargeId,
      request_log_url: `https://dashboard.stripe.com/test/logs/${newId('req')}`,
    };
    const status: PaymentIntentObject['status'] = declined
      ? 'requires_payment_method'
      : (opts.authenticationStatus ?? 'requires_payment_method');
    const pi = paymentIntent({
      ...base,
      status,
      chargeId,
      lastPaymentError: {
        type: error.type,
        code: error.code,
        decline_code: error.decline_code,
        message: error.message,
        doc_url: error.doc_url,
        charge: chargeId,
        payment_method: { id: base.paymentMethod, object: 'payment_method', type: 'card' },
      },
    });
    paymentIntents.set(pi.id, pi);
    return {
      status: 402,
      payload: {
        error: {
          ...error,
          payment_intent: pi,
          payment_method: { id: base.paymentMethod, object: 'payment_method', type: 'card' },
        },
      },
    };
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const form = formFields(body, req.headers['content-type']);
      const idempotencyKey = headerValue(req.headers['idempotency-key']);
      const path = (req.url ?? '/').split('?')[0];
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', idempotencyKey, form, status: null });
      const record = requests[requests.length - 1];

      if (idempotencyKey && req.method === 'POST' && answered.has(idempotencyKey)) {
        const first = answered.get(idempotencyKey)!;
        res
          .writeHead(first.status, { 'content-type': 'application/json', 'idempotent-replayed': 'true' })
          .end(first.body);
        record.status = first.status;
        return;
      }
      if (req.method === 'POST' && path === '/v1/payment_intents') {
        const outcome = queue.shift() ?? 'ok';
        if (outcome === 'forward') {
          if (!opts.forwardTo) throw new Error("outcome 'forward' needs startStripeErrorServer({ forwardTo })");
          record.status = await forward(opts.forwardTo, req, body, res);
          return;
        }
        const { status, payload } = createPaymentIntent(form, outcome);
        const sent = send(res, status, payload);
        if (idempotencyKey) answered.set(idempotencyKey, sent);
        record.status = status;
        return;
      }
      const own = /^\/v1\/payment_intents\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && own && paymentIntents.has(own[1])) {
        record.status = send(res, 200, paymentIntents.get(own[1])).status;
        return;
      }
      if (opts.forwardTo) {
        record.status = await forward(opts.forwardTo, req, body, res);
        return;
      }
      record.status = send(res, 404, {
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          message: `Unrecognized request URL (${req.method}: ${path}).`,
        },
      }).status;
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  const local = await listen(server);
  return {
    ...local,
    requests,
    paymentIntents,
    script: (...outcomes) => void queue.push(...outcomes),
    pending: () => [...queue],
  };
}

// ---------------------------------------------------------------------------------------------------
// List server: GET /v1/payment_intents from the test's script

export interface PaymentIntentListServer extends LocalServer {
  /** The PaymentIntents Stripe "has": listed newest first, filtered by `created`, paged by `limit`/`starting_after`. */
  intents: PaymentIntentObject[];
  /** While true, every request gets Stripe's HTTP 503 `api_error` (Stripe is down). */
  unavailable: boolean;
  /** Every request, in arrival order (list pages included). */
  requests: RecordedRequest[];
}

/**
 * Answers `GET /v1/payment_intents` (Stripe's documented list object: `object: 'list'`, `url`, `has_more`, `data`)
 * from `intents`, honouring `created[gte|gt|lte|lt]`, `limit` (default 10, as Stripe) and `starting_after` – so
 * the SDK's auto-pagination really pages – and sends everything else on to `forwardTo` (stripe-mock): stripe-mock
 * keeps no state and lists fixtures. `unavailable` plays a Stripe outage.
 */
async function startPaymentIntentListServer(forwardTo: string): Promise<PaymentIntentListServer> {
  const requests: RecordedRequest[] = [];
  const state = { intents: [] as PaymentIntentObject[], unavailable: false };
  const server = recordingServer(requests, async (req, res, body, record) => {
    const url = new URL(req.url ?? '/', 'http://stripe.test');
    const answer = (status: number, payload: unknown) => {
      res
        .writeHead(status, { 'content-type': 'application/json', 'request-id': newId('req') })
        .end(JSON.stringify(payload));
      record.status = status;
    };
    if (state.unavailable) {
      answer(503, {
        error: { type: 'api_error', message: 'Stripe is temporarily unavailable (the test says so).' },
      });
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/v1/payment_intents') {
      record.status = await forward(forwardTo, req, body, res);
      return;
    }
    const q = url.searchParams;
    const bound = (op: string) => (q.has(`created[${op}]`) ? Number(q.get(`created[${op}]`)) : null);
    const [gte, gt, lte, lt] = ['gte', 'gt', 'lte', 'lt'].map(bound);
    const listed = [...state.intents]
      .filter(
        (pi) =>
          (gte === null || pi.created >= gte) &&
          (gt === null || pi.created > gt) &&
          (lte === null || pi.created <= lte) &&
          (lt === null || pi.created < lt),
      )
      .sort((a, b) => b.created - a.created);
    const after = q.get('starting_after');
    const from = after ? listed.findIndex((pi) => pi.id === after) + 1 : 0;
    const limit = Math.min(Number(q.get('limit') ?? 10), 100);
    const page = listed.slice(from, from + limit);
    answer(200, { object: 'list', url: '/v1/payment_intents', has_more: from + limit < listed.length, data: page });
  });
  const local = await listen(server);
  return {
    ...local,
    requests,
    get intents() {
      return state.intents;
    },
    set intents(v) {
      state.intents = v;
    },
    get unavailable() {
      return state.unavailable;
    },
    set unavailable(v) {
      state.unavailable = v;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Events and signed deliveries

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A Stripe-style id: prefix, underscore, 24 base62 characters (evt_1Qx…, pi_3Pz…). */
export function newId(prefix: string): string {
  const bytes = crypto.randomBytes(24);
  let s = '';
  for (const b of bytes) s += ID_ALPHABET[b % ID_ALPHABET.length];
  return `${prefix}_${s}`;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export type StripeEventObject = Pick<
  Stripe.Event,
  'id' | 'object' | 'api_version' | 'created' | 'livemode' | 'pending_webhooks' | 'request' | 'type' | 'account'
> & { data: { object: object; previous_attributes?: object } };

/**
 * An event as Stripe posts it to a webhook endpoint (a snapshot event: the object as it was when the event
 * happened). `account` is set for events of a connected account only, as Stripe does.
 */
export function stripeEvent(
  type: Stripe.Event.Type,
  dataObject: object,
  opts: { id?: string; account?: string; created?: number; previousAttributes?: object } = {},
): StripeEventObject {
  return {
    id: opts.id ?? newId('evt'),
    object: 'event',
    ...(opts.account ? { account: opts.account } : {}),
    api_version: Stripe.API_VERSION,
    created: opts.created ?? nowSeconds(),
    data: {
      object: dataObject,
      ...(opts.previousAttributes ? { previous_attributes: opts.previousAttributes } : {}),
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/**
 * The `payment_intent.succeeded` event Stripe sends once the PaymentIntent a recorded `POST /v1/payment_intents`
 * made went through: the intent as it was asked for (amount, currency, customer, card, metadata) under the id
 * Stripe answered with (stripe-mock answers with a fresh id and none of the metadata).
 */
export function succeededEventFor(r: RecordedRequest): StripeEventObject {
  if (!r.answeredId) throw new Error(`${r.method} ${r.path} was not answered with an object`);
  return stripeEvent(
    'payment_intent.succeeded',
    paymentIntent({
      id: r.answeredId,
      amount: Number(r.form.amount),
      currency: r.form.currency ?? 'usd',
      customer: r.form.customer ?? null,
      paymentMethod: r.form.payment_method ?? null,
      metadata: formMetadata(r.form),
    }),
  );
}

export interface SignedDelivery {
  /** The exact bytes to post: the signature covers them. */
  body: string;
  headers: Record<string, string>;
}

/** The request Stripe makes to deliver `event`, its `Stripe-Signature` made by the SDK's own test helper. */
export function signedDelivery(
  event: StripeEventObject,
  webhookSecret: string,
  opts: { timestamp?: number } = {},
): SignedDelivery {
  const body = JSON.stringify(event, null, 2);
  const signature = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: webhookSecret,
    timestamp: opts.timestamp ?? nowSeconds(),
  });
  return {
    body,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': signature,
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    },
  };
}

/** Posts a delivery to a webhook URL as Stripe would (Stripe gives up on an answer after a while too). */
export function deliver(url: string, delivery: SignedDelivery, opts: { timeoutMs?: number } = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: delivery.headers,
    body: delivery.body,
    ...(opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}),
  });
}

// ---------------------------------------------------------------------------------------------------
// Data objects: the fields the payments code reads, each typed as the SDK types it

type CardDetails = Pick<
  NonNullable<Stripe.Charge.PaymentMethodDetails['card']>,
  'brand' | 'last4' | 'exp_month' | 'exp_year' | 'funding' | 'country'
>;

export type ChargeObject = Pick<
  Stripe.Charge,
  | 'id'
  | 'object'
  | 'amount'
  | 'amount_captured'
  | 'amount_refunded'
  | 'captured'
  | 'created'
  | 'currency'
  | 'customer'
  | 'disputed'
  | 'livemode'
  | 'metadata'
  | 'paid'
  | 'payment_method'
  | 'receipt_url'
  | 'refunded'
  | 'status'
> & {
  payment_intent: string | null;
  payment_method_details: { type: 'card'; card: CardDetails };
};

export interface ChargeInput {
  amount: number;
  currency?: string;
  paymentIntent?: string | null;
  customer?: string | null;
  metadata?: Record<string, string>;
  brand?: string;
  last4?: string;
  amountRefunded?: number;
  disputed?: boolean;
  status?: Stripe.Charge.Status;
  id?: string;
}

export function charge(input: ChargeInput): ChargeObject {
  const id = input.id ?? newId('ch');
  const succeeded = (input.status ?? 'succeeded') === 'succeeded';
  const refunded = input.amountRefunded ?? 0;
  return {
    id,
    object: 'charge',
    amount: input.amount,
    amount_captured: succeeded ? input.amount : 0,
    amount_refunded: refunded,
    captured: succeeded,
    created: nowSeconds(),
    currency: input.currency ?? 'usd',
    customer: input.customer ?? null,
    disputed: input.disputed ?? false,
    livemode: false,
    metadata: input.metadata ?? {},
    paid: succeeded,
    payment_intent: input.paymentIntent ?? null,
    payment_method: newId('pm'),
    payment_method_details: {
      type: 'card',
      card: {
        brand: input.brand ?? 'visa',
        last4: input.last4 ?? '4242',
        exp_month: 12,
        exp_year: new Date().getUTCFullYear() + 3,
        funding: 'credit',
        country: 'US',
      },
    },
    receipt_url: `https://pay.stripe.com/receipts/payment/${id.slice(3)}`,
    refunded: refunded > 0 && refunded === input.amount,
    status: input.status ?? 'succeeded',
  };
}

export type PaymentIntentObject = Pick<
  Stripe.PaymentIntent,
  | 'id'
  | 'object'
  | 'amount'
  | 'amount_capturable'
  | 'amount_received'
  | 'capture_method'
  | 'client_secret'
  | 'confirmation_method'
  | 'created'
  | 'currency'
  | 'livemode'
  | 'metadata'
  | 'payment_method_types'
  | 'status'
> & {
  customer: string | null;
  payment_method: string | null;
  /** The id, or (expanded, as `expand: ['latest_charge']` returns it) the charge itself. */
  latest_charge: string | ChargeObject | null;
  last_payment_error: object | null;
};

export interface PaymentIntentInput {
  amount: number;
  currency?: string;
  metadata?: Record<string, string>;
  status?: Stripe.PaymentIntent.Status;
  customer?: string | null;
  paymentMethod?: string | null;
  brand?: string;
  last4?: string;
  /** Embed the charge object (the default) or give only its id, as a plain event payload does. */
  expandCharge?: boolean;
  chargeId?: string;
  lastPaymentError?: object;
  id?: string;
  /** Unix seconds; default now. */
  created?: number;
}

/** A PaymentIntent; a succeeded one has its charge (card brand, last four, receipt URL). */
export function paymentIntent(input: PaymentIntentInput): PaymentIntentObject {
  const id = input.id ?? newId('pi');
  const status = input.status ?? 'succeeded';
  const succeeded = status === 'succeeded';
  const chargeId = input.chargeId ?? newId('ch');
  const latest = succeeded
    ? input.expandCharge === false
      ? chargeId
      : charge({
          id: chargeId,
          amount: input.amount,
          currency: input.currency,
          paymentIntent: id,
          customer: input.customer,
          metadata: input.metadata,
          brand: input.brand,
          last4: input.last4,
        })
    : input.lastPaymentError
      ? chargeId
      : null;
  return {
    id,
    object: 'payment_intent',
    amount: input.amount,
    amount_capturable: 0,
    amount_received: succeeded ? input.amount : 0,
    capture_method: 'automatic',
    client_secret: `${id}_secret_${newId('s').slice(2)}`,
    confirmation_method: 'automatic',
    created: input.created ?? nowSeconds(),
    currency: input.currency ?? 'usd',
    customer: input.customer ?? null,
    latest_charge: latest,
    last_payment_error: input.lastPaymentError ?? null,
    livemode: false,
    metadata: input.metadata ?? {},
    payment_method: input.paymentMethod ?? newId('pm'),
    payment_method_types: ['card'],
    status,
  };
}

export type CheckoutSessionObject = Pick<
  Stripe.Checkout.Session,
  | 'id'
  | 'object'
  | 'amount_subtotal'
  | 'amount_total'
  | 'cancel_url'
  | 'client_reference_id'
  | 'created'
  | 'currency'
  | 'expires_at'
  | 'livemode'
  | 'metadata'
  | 'mode'
  | 'payment_status'
  | 'status'
  | 'success_url'
  | 'url'
> & { customer: string | null; payment_intent: string | null };

export interface CheckoutSessionInput {
  amountTotal: number;
  currency?: string;
  clientReferenceId?: string | null;
  metadata?: Record<string, string>;
  paymentIntent?: string | null;
  paymentStatus?: Stripe.Checkout.Session.PaymentStatus;
  status?: Stripe.Checkout.Session.Status;
  customer?: string | null;
  id?: string;
}

/** A completed, paid Checkout Session in payment mode (as `checkout.session.completed` carries it). */
export function checkoutSession(input: CheckoutSessionInput): CheckoutSessionObject {
  const created = nowSeconds();
  return {
    id: input.id ?? newId('cs_test'),
    object: 'checkout.session',
    amount_subtotal: input.amountTotal,
    amount_total: input.amountTotal,
    cancel_url: 'http://127.0.0.1/wallet?topup=cancelled',
    client_reference_id: input.clientReferenceId ?? null,
    created,
    currency: input.currency ?? 'usd',
    customer: input.customer ?? null,
    expires_at: created + 24 * 3600,
    livemode: false,
    metadata: input.metadata ?? {},
    mode: 'payment',
    payment_intent: input.paymentIntent === undefined ? newId('pi') : input.paymentIntent,
    payment_status: input.paymentStatus ?? 'paid',
    status: input.status ?? 'complete',
    success_url: 'http://127.0.0.1/wallet?topup=done',
    url: null,
  };
}

export type RefundObject = Pick<
  Stripe.Refund,
  'id' | 'object' | 'amount' | 'created' | 'currency' | 'metadata' | 'reason' | 'status'
> & { charge: string | null; payment_intent: string | null };

export interface RefundInput {
  amount: number;
  currency?: string;
  charge?: string;
  paymentIntent?: string;
  metadata?: Record<string, string>;
  reason?: Stripe.Refund['reason'];
  status?: string;
  id?: string;
}

export function refund(input: RefundInput): RefundObject {
  return {
    id: input.id ?? newId('re'),
    object: 'refund',
    amount: input.amount,
    charge: input.charge ?? newId('ch'),
    created: nowSeconds(),
    currency: input.currency ?? 'usd',
    metadata: input.metadata ?? {},
    payment_intent: input.paymentIntent ?? null,
    reason: input.reason ?? 'requested_by_customer',
    status: input.status ?? 'succeeded',
  };
}

export type DisputeObject = Pick<
  Stripe.Dispute,
  | 'id'
  | 'object'
  | 'amount'
  | 'created'
  | 'currency'
  | 'is_charge_refundable'
  | 'livemode'
  | 'metadata'
  | 'reason'
  | 'status'
> & { charge: string; payment_intent: string | null };

export interface DisputeInput {
  amount: number;
  charge: string;
  currency?: string;
  paymentIntent?: string | null;
  reason?: string;
  status?: Stripe.Dispute.Status;
  id?: string;
}

/** A card dispute (chargeback), as `charge.dispute.created` carries it: needs_response by default. */
export function dispute(input: DisputeInput): DisputeObject {
  return {
    id: input.id ?? newId('dp'),
    object: 'dispute',
    amount: input.amount,
    charge: input.charge,
    created: nowSeconds(),
    currency: input.currency ?? 'usd',
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: input.paymentIntent ?? null,
    reason: input.reason ?? 'fraudulent',
    status: input.status ?? 'needs_response',
  };
}

/**
 * A test file's Stripe: stripe-mock behind a recording proxy, `LW_STRIPE_API_BASE` pointed at the proxy for the
 * file's life (restored at `stop`). With `paymentIntentList`, the tests' list server sits between them and answers
 * `GET /v1/payment_intents` from the file's script (`list`). Call `start` in beforeAll before the API starts, `stop`
 * in afterAll.
 */
export function stripeForTests(opts: { paymentIntentList?: boolean } = {}): {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly proxy: RecordingProxy;
  readonly list: PaymentIntentListServer;
} {
  const saved = process.env.LW_STRIPE_API_BASE;
  let mock: LocalServer | undefined;
  let list: PaymentIntentListServer | undefined;
  let proxy: RecordingProxy | undefined;
  return {
    async start() {
      mock = await startStripeMock();
      if (opts.paymentIntentList) list = await startPaymentIntentListServer(mock.url);
      proxy = await startRecordingProxy(list?.url ?? mock.url);
      process.env.LW_STRIPE_API_BASE = proxy.url;
    },
    async stop() {
      if (saved === undefined) delete process.env.LW_STRIPE_API_BASE;
      else process.env.LW_STRIPE_API_BASE = saved;
      await proxy?.stop();
      await list?.stop();
      await mock?.stop();
    },
    get proxy() {
      return proxy!;
    },
    get list() {
      if (!list) throw new Error('stripeForTests({ paymentIntentList: true }) has the list server');
      return list;
    },
  };
}

/**
 * A succeeded card payment of `credits` for the buyer, credited through the one crediting path (as the webhook
 * would: `settleSucceededPayment`), with made-up Stripe ids: what a refund or dispute test starts from.
 */
export async function paidPayment(
  db: Db,
  input: { agencyId: string; buyerId: string; credits: number; creditPrice: number; currency?: string },
) {
  const currency = input.currency ?? 'usd';
  const pending = await createPayment(db, { ...input, kind: 'checkout', currency });
  const paymentIntentId = newId('pi');
  const chargeId = newId('ch');
  const settled = await settleSucceededPayment(db, {
    agencyId: input.agencyId,
    paymentId: pending.id,
    paymentIntentId,
    chargeId,
    amount: pending.amount,
    currency,
    cardBrand: 'visa',
    cardLast4: '4242',
    eventId: newId('evt'),
  });
  if (settled.outcome !== 'credited') throw new Error(`the payment was not credited: ${settled.outcome}`);
  return { payment: settled.payment, paymentIntentId, chargeId };
}

/** A new agency (test/api/harness `apiAgency`) taking card payments with stripe-mock's key (as its owner would set). */
export async function agencyWithCardPayments(
  h: Harness,
  s: { webhookSecret: string; currency: string; creditPrice: number; minCredits: number; maxCredits: number },
) {
  const made = await apiAgency(h);
  await savePaymentSettings(h.database.db, made.agency.id, { secretKey: STRIPE_MOCK_KEY, ...s }, SYSTEM);
  return made;
}

/** `stripeForTests()` started before the file's tests (and its API) and stopped after them. */
export function stripeForThisFile(): ReturnType<typeof stripeForTests> {
  const stripe = stripeForTests();
  beforeAll(() => stripe.start());
  afterAll(() => stripe.stop());
  return stripe;
}
