/**
 * `Idempotency-Key` on creating POSTs: the same key with the same request
 * answers the first response again (without running anything); the same key
 * with another request is a 409 `idempotency_conflict`. Keys are scoped to
 * the operation and the agency, and the request is identified by a hash of
 * its path parameters and its validated body.
 */
import crypto from 'node:crypto';

import type { Db } from '../db/connection';
import {
  completeIdempotencyKey,
  IDEMPOTENCY_RENEW_MS,
  releaseIdempotencyKey,
  renewIdempotencyLease,
  reserveIdempotencyKey,
} from '../db/idempotency';
import { Problem } from './problem';
import { invalidField } from './validate';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The header's value, validated (printable ASCII, 1–255 characters), or null when absent. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !KEY.test(header)) {
    throw invalidField('Idempotency-Key', '1 to 255 printable ASCII characters', 'header');
  }
  return header;
}

/** JSON with sorted keys, so {a,b} and {b,a} are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function requestHash(parts: unknown): string {
  return crypto.createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/**
 * Runs `run` at most once per (scope, key). A success is remembered; a
 * refusal or a failure (a problem, a thrown error) forgets the key, so a retry
 * after fixing the cause (a paused campaign, an outage) runs again.
 */
export async function withIdempotency(
  db: Db,
  scope: string,
  key: string | null,
  hash: string,
  run: () => Promise<Reply>,
): Promise<Reply> {
  if (!key) return run();
  const reservation = await reserveIdempotencyKey(db, scope, key, hash);
  switch (reservation.state) {
    case 'replay':
      return { status: reservation.status, body: reservation.body, headers: { 'Idempotent-Replayed': 'true' } };
    case 'conflict':
      throw new Problem(
        409,
        'idempotency_conflict',
        'This Idempotency-Key was used with a different request; use a new key for a new request.',
      );
    case 'in_progress':
      throw new Problem(
        409,
        'idempotency_in_progress',
        'A request with this Idempotency-Key is still running; retry shortly.',
        {
          headers: { 'Retry-After': '1' },
        },
      );
    case 'reserved':
      break;
  }
  const { leaseId } = reservation;
  // The lease is renewed while the request runs; if this process dies, it lapses within seconds.
  const renewal = setInterval(
    () => void renewIdempotencyLease(db, scope, key, leaseId).catch(() => undefined),
    IDEMPOTENCY_RENEW_MS,
  );
  renewal.unref();
  let reply: Reply;
  try {
    reply = await run();
  } catch (err) {
    clearInterval(renewal);
    await release(db, scope, key, leaseId);
    throw err;
  }
  clearInterval(renewal);
  if (reply.status >= 300) {
    await release(db, scope, key, leaseId);
    return reply;
  }
  try {
    await completeIdempotencyKey(db, scope, key, leaseId, reply.status, reply.body ?? {});
  } catch (err) {
    // The answer is lost with the database; the client retries and the request runs again (the routes
    // that take a key are safe to run twice: intake and top-ups derive their ids from the key).
    await release(db, scope, key, leaseId);
    throw err;
  }
  return reply;
}

/** Background attempts to forget a reservation, each later than the last: under a minute in all. */
const RELEASE_RETRY_MS = [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000, 8_000];

/**
 * Forgets a reservation. When that fails too (the database being away is the
 * likely reason the request failed), it keeps trying in the background, so
 * the client's retry runs once the database is back rather than hearing
 * `idempotency_in_progress` until its lease lapses. A later takeover's
 * reservation is never mistaken for this one: it has its own lease id.
 */
async function release(db: Db, scope: string, key: string, leaseId: string): Promise<void> {
  const attempt = (n: number): Promise<void> =>
    releaseIdempotencyKey(db, scope, key, leaseId).catch(() => {
      if (n >= RELEASE_RETRY_MS.length) return;
      setTimeout(() => void attempt(n + 1), RELEASE_RETRY_MS[n]).unref();
    });
  await attempt(0);
}
