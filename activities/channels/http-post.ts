/**
 * One guarded JSON POST: SSRF-checked at connect time, bounded in time, no
 * redirects followed, the answer's status checked (2xx = delivered).
 */
import http from 'node:http';
import https from 'node:https';

import { checkLiteralHost, guardedLookup, UrlRefused } from '../../lib/url-guard';
import { traceOutgoing } from '../../observability/tracing';

export class DeliveryHttpError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** The first bytes of the answer. */
    readonly response: string | null = null,
    /** The answer's `Retry-After`, in milliseconds (a 429 or 503 asking for a pause). */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'DeliveryHttpError';
  }
}

/** `Retry-After` as seconds or as an HTTP date, in milliseconds from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export interface PostResult {
  status: number;
  /** The first 1 KiB of the answer, for the record. */
  body: string;
}

export async function postJson(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowlist?: string | null },
): Promise<PostResult> {
  const url = new URL(rawUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UrlRefused('only http and https URLs are allowed');
  checkLiteralHost(url, opts.allowlist);
  // OpenTelemetry: a client span and the traceparent header when tracing is on (observability/tracing.ts).
  return traceOutgoing('POST delivery', url, headers, (traced) => send(url, body, traced, opts));
}

function send(
  url: URL,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowlist?: string | null },
): Promise<PostResult> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': String(Buffer.byteLength(body)),
          'User-Agent': 'Leadwire-Delivery/1',
          ...headers,
        },
        lookup: guardedLookup(opts.allowlist),
        timeout: opts.timeoutMs,
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 1024) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 1024);
          if (status >= 200 && status < 300) resolve({ status, body: text });
          else
            reject(
              new DeliveryHttpError(
                `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
                status,
                text,
                parseRetryAfter(res.headers['retry-after']),
              ),
            );
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new DeliveryHttpError(`no answer within ${opts.timeoutMs} ms`, null)));
    req.on('error', (err) =>
      reject(
        err instanceof UrlRefused || err instanceof DeliveryHttpError ? err : new DeliveryHttpError(err.message, null),
      ),
    );
    req.end(body);
  });
}
