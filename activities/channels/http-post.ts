/**
 * One guarded JSON POST (lib/endpoint-http.ts: SSRF-checked at connect time,
 * bounded in time, no redirects followed), the answer's status checked
 * (2xx = delivered).
 */
import { CallFailed, guardedRequest } from '../../lib/endpoint-http';

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
  let res;
  try {
    res = await guardedRequest(rawUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'Leadwire-Delivery/1', ...headers },
      body,
      timeoutMs: opts.timeoutMs,
      allowlist: opts.allowlist,
      maxBytes: 1024,
    });
  } catch (err) {
    throw err instanceof CallFailed ? new DeliveryHttpError(err.message, null) : err;
  }
  const { status, body: text } = res;
  if (status >= 200 && status < 300) return { status, body: text };
  throw new DeliveryHttpError(
    `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    status,
    text,
    parseRetryAfter(res.headers['retry-after']),
  );
}
