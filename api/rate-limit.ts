/**
 * In-memory token buckets, one per key (a client IP, an API key). Each
 * instance limits one thing; state is per process – the single-process
 * default (`npm start`, tests). Several API processes on Postgres share their
 * limits through `SharedTokenBuckets` (api/shared-rate-limit.ts), behind the
 * same `RateLimiter` interface.
 */

/**
 * What the claim relay and the authenticator ask of a limit: take a token for
 * a key. In memory the answer is immediate; a shared limit waits for its
 * lease from Postgres (api/shared-rate-limit.ts).
 */
export interface RateLimiter {
  /** Takes a token. Resolves to 0 when allowed, else the seconds until one is back (for Retry-After). */
  acquire(key: string): Promise<number>;
  /**
   * Looks without taking: 0 while a token is left, else the seconds until one
   * is back. A sign-in asks whether an account is over its limit of wrong
   * guesses before it lets a right password through (api/routes/session.ts).
   */
  peek(key: string): Promise<number>;
}

export interface BucketOptions {
  /** Tokens a full bucket holds: the burst allowed. */
  capacity: number;
  /** Tokens added back per second. */
  refillPerSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Beyond this many tracked keys, full buckets (idle clients) are forgotten. */
const SWEEP_ABOVE = 10_000;

export class TokenBuckets implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly options: BucketOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private refill(key: string): Bucket {
    const t = this.now();
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.options.capacity, at: t };
    const tokens = Math.min(this.options.capacity, b.tokens + ((t - b.at) / 1000) * this.options.refillPerSecond);
    return { tokens, at: t };
  }

  /** Whether a token is left, without taking it. */
  has(key: string): boolean {
    return this.refill(key).tokens >= 1;
  }

  /** Whether the key's bucket is full (it has been idle for capacity ÷ rate seconds). */
  full(key: string): boolean {
    return this.refill(key).tokens >= this.options.capacity;
  }

  /** Takes a token. Returns 0 when allowed, else the seconds until one is back (for Retry-After). */
  take(key: string): number {
    const b = this.refill(key);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      this.sweep();
      return 0;
    }
    this.buckets.set(key, b);
    return this.retryAfter(key);
  }

  acquire(key: string): Promise<number> {
    return Promise.resolve(this.take(key));
  }

  peek(key: string): Promise<number> {
    return Promise.resolve(this.retryAfter(key));
  }

  /** Seconds until the next token (0 if one is there). */
  retryAfter(key: string): number {
    const b = this.refill(key);
    if (b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.options.refillPerSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    if (this.buckets.size <= SWEEP_ABOVE) return;
    for (const key of [...this.buckets.keys()]) {
      if (this.refill(key).tokens >= this.options.capacity) this.buckets.delete(key);
    }
  }
}
