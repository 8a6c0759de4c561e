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
  readonly options: BucketOptions;
  /** Takes a token. Resolves to 0 when allowed, else the seconds until one is back (for Retry-After). */
  acquire(key: string): Promise<number>;
  /** Takes a token, and tells what is left of the key's quota (the RateLimit header, `quotaHeaders`). */
  admit(key: string): Promise<Admission>;
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

/** A request's turn at a limit: admitted (retryAfter 0) or not, and the whole tokens its key has left after it. */
export interface Admission {
  retryAfter: number;
  remaining: number;
}

/** The quotas routes advertise (a route spec's `quota`, the policy names in the RateLimit fields). */
export const QUOTAS = {
  /** Claims and bids: one bucket per buyer key for both (claims/relay.ts). */
  claims: 'claims',
  /** Pings: one bucket per source (POST /v1/pings). */
  pings: 'pings',
} as const;
export type QuotaName = (typeof QUOTAS)[keyof typeof QUOTAS];

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers, Structured Field syntax) for one admission:
 * `RateLimit-Policy: "claims";q=30;w=3` – the policy's quota (the bucket's capacity) and the window in which a
 * drained bucket refills whole; `RateLimit: "claims";r=29;t=1` – what is left, and the seconds until the quota
 * is whole again. A token bucket refills continuously, so `t` is when it is full, not a fixed window's reset.
 */
export function quotaHeaders(policy: QuotaName, options: BucketOptions, admission: Admission): Record<string, string> {
  const { capacity, refillPerSecond } = options;
  const remaining = Math.max(0, Math.min(capacity, Math.floor(admission.remaining)));
  return {
    'RateLimit-Policy': `"${policy}";q=${capacity};w=${Math.max(1, Math.ceil(capacity / refillPerSecond))}`,
    RateLimit: `"${policy}";r=${remaining};t=${Math.ceil((capacity - admission.remaining) / refillPerSecond)}`,
  };
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

  /** Takes a token, and tells what the key has left. */
  admitNow(key: string): Admission {
    const retryAfter = this.take(key);
    return { retryAfter, remaining: this.buckets.get(key)?.tokens ?? this.options.capacity };
  }

  admit(key: string): Promise<Admission> {
    return Promise.resolve(this.admitNow(key));
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
