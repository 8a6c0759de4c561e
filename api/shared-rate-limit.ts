/**
 * Rate limits shared by every API process: N processes allow the documented
 * rate once, not N times. The buckets live in Postgres (db/idempotency.ts)
 * – every deployment that runs several API processes already has it, and
 * Redis, though faster, would be one more service to run and secure.
 *
 * A request takes its token from the shared bucket: it waits for a lease of
 * its key (one statement). The requests of a key that arrive while a lease is
 * in flight wait for the next one, which asks for all of them at once, so a
 * burst costs its key about two statements per process, not one per request,
 * and a key's first burst up to its capacity is admitted whole – across any
 * number of processes – instead of being refused while a lease is in flight.
 * Nothing is leased ahead of demand: every admitted request is one token of
 * the shared bucket, so the processes together never admit more than the
 * capacity plus what refilled. A lease that found the bucket empty refuses
 * the key's requests here, without asking again, until the next token is
 * due (a flood of refused requests costs no statement each).
 *
 * If the database cannot be reached, the waiting requests are judged by a
 * bucket of this process with the same capacity and rate: a limit never
 * becomes an outage.
 */
import type { Db } from '../db/connection';
import { leaseTokens, peekTokens } from '../db/idempotency';
import { type Admission, type BucketOptions, type RateLimiter, TokenBuckets } from './rate-limit';

interface Local {
  /** Requests waiting for a lease, each told its Retry-After (0: admitted) and what the key has left. */
  waiting: ((admission: Admission) => void)[];
  leasing: boolean;
  /** The last lease found the shared bucket empty: refuse here until this time (ms) … */
  dryUntil: number;
  /** … with this Retry-After (seconds). */
  dryRetryAfter: number;
}

const SWEEP_ABOVE = 10_000;

export class SharedTokenBuckets implements RateLimiter {
  private readonly locals = new Map<string, Local>();
  /** The database is away: this process's own buckets decide. */
  private readonly fallback: TokenBuckets;

  constructor(
    private readonly db: Db,
    /** Names the limit in the shared table (`claims`, `auth_failures`). */
    private readonly scope: string,
    readonly options: BucketOptions,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.fallback = new TokenBuckets(options, now);
  }

  async acquire(key: string): Promise<number> {
    return (await this.admit(key)).retryAfter;
  }

  admit(key: string): Promise<Admission> {
    let l = this.locals.get(key);
    if (!l) {
      l = { waiting: [], leasing: false, dryUntil: 0, dryRetryAfter: 0 };
      this.locals.set(key, l);
      this.sweep();
    }
    if (!l.leasing && this.now() < l.dryUntil) return Promise.resolve({ retryAfter: l.dryRetryAfter, remaining: 0 });
    const local = l;
    return new Promise<Admission>((resolve) => {
      local.waiting.push(resolve);
      this.lease(key, local);
    });
  }

  /** Looks at the shared bucket without taking a token (one read); the process's own bucket if the database is away. */
  async peek(key: string): Promise<number> {
    const { capacity, refillPerSecond } = this.options;
    try {
      const left = await peekTokens(this.db, this.scope, key, capacity, refillPerSecond);
      return left >= 1 ? 0 : Math.max(1, Math.ceil((1 - left) / refillPerSecond));
    } catch (err) {
      this.onError(err);
      return this.fallback.retryAfter(key);
    }
  }

  /** One lease in flight per key: for every request waiting now; the ones that arrive meanwhile get the next. */
  private lease(key: string, l: Local): void {
    if (l.leasing || !l.waiting.length) return;
    l.leasing = true;
    const waiting = l.waiting;
    l.waiting = [];
    const { capacity, refillPerSecond } = this.options;
    leaseTokens(this.db, this.scope, key, waiting.length, capacity, refillPerSecond)
      .then(({ granted, left }) => {
        const retryAfter = Math.max(1, Math.ceil((1 - Math.min(left, 1)) / refillPerSecond));
        if (granted < waiting.length) {
          l.dryUntil = this.now() + Math.max(0, (1 - left) / refillPerSecond) * 1000;
          l.dryRetryAfter = retryAfter;
        }
        // The lease's i-th admitted request is told what was left after it (the later ones of the lease took theirs too).
        waiting.forEach((resolve, i) =>
          resolve(
            i < granted
              ? { retryAfter: 0, remaining: left + (granted - 1 - i) }
              : { retryAfter, remaining: Math.max(0, left) },
          ),
        );
      })
      .catch((err: unknown) => {
        this.onError(err);
        for (const resolve of waiting) resolve(this.fallback.admitNow(key));
      })
      .finally(() => {
        l.leasing = false;
        if (l.waiting.length && this.now() < l.dryUntil) {
          // Arrived during a lease that found the bucket empty: refused like the requests after it.
          for (const resolve of l.waiting.splice(0)) resolve({ retryAfter: l.dryRetryAfter, remaining: 0 });
        }
        if (l.waiting.length) this.lease(key, l);
        else if (this.now() >= l.dryUntil) this.locals.delete(key);
      });
  }

  get size(): number {
    return this.locals.size;
  }

  private sweep(): void {
    if (this.locals.size <= SWEEP_ABOVE) return;
    const t = this.now();
    for (const [key, l] of this.locals) if (!l.leasing && !l.waiting.length && t >= l.dryUntil) this.locals.delete(key);
  }
}
