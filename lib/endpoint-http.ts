/**
 * One guarded outbound HTTP request – the only way Leadwire calls out to a
 * buyer (webhooks, and the pings and posts of buyer endpoints):
 * SSRF-checked at connect time by lib/url-guard.ts (the address checked is the
 * address connected to; redirects never followed), bounded by its own timeout
 * and by an optional outer signal (a ping tier's deadline), the answer read up
 * to a bound. Every status is an answer; what went wrong before one came back
 * is a CallFailed saying whether the request had been sent – a post sent but
 * unanswered may have been taken by the buyer.
 */
import http from 'node:http';
import https from 'node:https';

import { checkLiteralHost, guardedLookup, UrlRefused } from './url-guard';

/** Why no answer came: the call's own timeout, the outer signal (a deadline), or the network. */
export type CallFailure = 'timeout' | 'aborted' | 'network';

export class CallFailed extends Error {
  constructor(
    message: string,
    readonly failure: CallFailure,
    /** Whether the whole request had been written before it failed. */
    readonly sent: boolean,
  ) {
    super(message);
    this.name = 'CallFailed';
  }
}

export interface CallAnswer {
  status: number;
  /** The answer's first `maxBytes`. */
  body: string;
  headers: http.IncomingHttpHeaders;
}

export interface CallOptions {
  method: 'POST' | 'PUT' | 'GET';
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Ends the call early (counted as `aborted`). */
  signal?: AbortSignal;
  /** Internal targets allowed despite the SSRF rules; null = LW_WEBHOOK_ALLOWLIST. */
  allowlist?: string | null;
  /** How much of the answer is read. */
  maxBytes: number;
}

/** Sends one request through the address guard; throws UrlRefused (not allowed) or CallFailed (no answer). */
export async function guardedRequest(rawUrl: string, opts: CallOptions): Promise<CallAnswer> {
  const url = new URL(rawUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UrlRefused('only http and https URLs are allowed');
  checkLiteralHost(url, opts.allowlist);
  // OpenTelemetry: instrumentation-http makes the client span and adds the traceparent header when tracing is on
  // (observability/tracing.ts).
  return send(url, opts);
}

function send(url: URL, opts: CallOptions): Promise<CallAnswer> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<CallAnswer>((resolve, reject) => {
    let sent = false;
    const fail = (message: string, failure: CallFailure) => req.destroy(new CallFailed(message, failure, sent));
    const req = client.request(url, {
      method: opts.method,
      headers: { 'Content-Length': String(Buffer.byteLength(opts.body)), ...opts.headers },
      lookup: guardedLookup(opts.allowlist),
    });
    const timer = setTimeout(() => fail(`no answer within ${opts.timeoutMs} ms`, 'timeout'), opts.timeoutMs);
    const onAbort = () => fail('the deadline passed before an answer', 'aborted');
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    req.on('finish', () => (sent = true));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < opts.maxBytes) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        done();
        const body = Buffer.concat(chunks).subarray(0, opts.maxBytes).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
      res.on('error', (err) => req.destroy(err));
    });
    req.on('error', (err) => {
      done();
      reject(
        err instanceof UrlRefused || err instanceof CallFailed ? err : new CallFailed(err.message, 'network', sent),
      );
    });
    req.end(opts.body);
  });
}
