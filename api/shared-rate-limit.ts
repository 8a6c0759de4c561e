/**
 * Rate limits shared by every API process: N processes allow the documented
 * rate once, not N times. The buckets live in Postgres (db/idempotency.ts)
 * – every deployment that runs several API processes already has it, and
 * Redis, though faster, would be one more service to run and secure for a
 * limit that tolerates a few tokens of slack.
 *
 * The claim path must not gain a database round trip, so each process keeps
 * a local bucket per key, filled by leasing a small batch (a tenth of the
 * capacity) from the shared one in the background whenever it runs low.
 * `take` stays synchronous and local. Its one imprecision is on the side of
 * the client: a key's very first request in a process is let through before
 * the first lease returns, and that token is paid back out of the lease.
 * Tokens leased but unused by one process are not available to another
 * until they refill – a batch is small, so the slack is too.
 */
import type { Db } from '../db/connection';
import { leaseTokens } from '../db/idempotency';
import type { BucketOptions, RateLimiter } from './rate-limit';

interface Local {
  tokens: number;
  /** Tokens spent before a lease covered them (the first request), paid back from the next lease. */
  owed: number;
  /** The shared bucket's tokens after the last lease, for Retry-After. */
  sharedLeft: number;
  leasing: boolean;
  leasedAt: number;
}

const SWEEP_ABOVE = 10_000;

export class SharedTokenBuckets implements RateLimiter {
  private readonly locals = new Map<string, Local>();
  private readonly batch: number;

  constructor(
    private readonly db: Db,
    /** Names the limit in the shared table (`claims`, `auth_failures`). */
    private readonly scope: string,
    readonly options: BucketOptions,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.batch = Math.max(1, Math.ceil(options.capacity / 10));
  }

  private local(key: string): Local | undefined {
    return this.locals.get(key);
  }

  /** Leases a batch (plus what is owed) in the background, once at a time per key. */
  private refill(key: string, l: Local): void {
    if (l.leasing) return;
    l.leasing = true;
    const wanted = this.batch + l.owed;
    leaseTokens(this.db, this.scope, key, wanted, this.options.capacity, this.options.refillPerSecond)
      .then(({ granted, left }) => {
        const repaid = Math.min(l.owed, granted);
        l.owed -= repaid;
        l.tokens += granted - repaid;
        l.sharedLeft = left;
        l.leasedAt = Date.now();
      })
      .catch((err: unknown) => {
        // The database is away: fall back to a local allowance of one batch, so a limit never becomes an outage.
        l.tokens = Math.max(l.tokens, this.batch);
        this.onError(err);
      })
      .finally(() => (l.leasing = false));
  }

  has(key: string): boolean {
    const l = this.local(key);
    if (!l) return true;
    if (l.tokens < 1) this.maybeRefill(key, l);
    return l.tokens >= 1;
  }

  take(key: string): number {
    let l = this.local(key);
    if (!l) {
      // First sight of this key here: let it through and lease at once (its token is paid from the lease).
      l = { tokens: 0, owed: 1, sharedLeft: this.options.capacity, leasing: false, leasedAt: 0 };
      this.locals.set(key, l);
      this.sweep();
      this.refill(key, l);
      return 0;
    }
    if (l.tokens >= 1) {
      l.tokens -= 1;
      if (l.tokens < this.batch / 2) this.refill(key, l);
      return 0;
    }
    this.maybeRefill(key, l);
    return this.retryAfter(key);
  }

  retryAfter(key: string): number {
    const l = this.local(key);
    if (!l || l.tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - Math.min(l.sharedLeft, 1)) / this.options.refillPerSecond));
  }

  /** Out of tokens: ask the shared bucket again, but not more often than a token refills. */
  private maybeRefill(key: string, l: Local): void {
    if (Date.now() - l.leasedAt >= Math.min(1000, 1000 / this.options.refillPerSecond)) this.refill(key, l);
  }

  get size(): number {
    return this.locals.size;
  }

  private sweep(): void {
    if (this.locals.size <= SWEEP_ABOVE) return;
    for (const [key, l] of this.locals)
      if (!l.leasing && l.owed === 0 && Date.now() - l.leasedAt > 60_000) this.locals.delete(key);
  }
}
