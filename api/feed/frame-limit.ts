/**
 * What one socket may send: a token bucket per socket (FEED_FRAME_LIMIT of
 * api/feed-messages.ts, the documented defaults). It is asked before
 * anything else is done with a frame – no parsing, no database – so a
 * flooding client costs the gateway a counter per frame beyond its limit. A
 * frame over the limit is dropped; the first of a run is answered with one
 * `rate_limited` error; the `closeAfter`-th closes the socket with
 * `frame_rate_exceeded` (4429). The count starts again once the bucket is
 * full, i.e. after the client was quiet for burst ÷ rate seconds. After that
 * close the key's upgrades to this gateway are refused for `cooldownSeconds`
 * (FloodCooldown).
 */
import { TokenBuckets } from '../rate-limit';

export interface FrameLimit {
  /** Frames a socket may send at once. */
  burst: number;
  /** Frames a second after that. */
  perSecond: number;
  /** Frames over the limit before the socket is closed. */
  closeAfter: number;
  /** After that close, the key's upgrades to this gateway are refused for this long. */
  cooldownSeconds: number;
}

/**
 * The keys whose socket this gateway closed for flooding, until when (ms): their upgrades are refused with 429
 * meanwhile, so a flooder pays for a refused upgrade (no database, no snapshot) instead of a fresh socket.
 */
export class FloodCooldown {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly seconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key's socket was closed for flooding. */
  start(keyId: string): void {
    const t = this.now();
    if (this.until.size >= SWEEP_ABOVE) for (const [k, u] of this.until) if (u <= t) this.until.delete(k);
    this.until.set(keyId, t + this.seconds * 1000);
  }

  /** Seconds until the key may connect again (0: now). */
  retryAfter(keyId: string): number {
    const u = this.until.get(keyId);
    if (u === undefined) return 0;
    const left = u - this.now();
    if (left > 0) return Math.ceil(left / 1000);
    this.until.delete(keyId);
    return 0;
  }
}

const SWEEP_ABOVE = 10_000;

/** What the gateway does with a frame. */
export type FrameVerdict =
  /** Handle it. */
  | { action: 'handle' }
  /** Drop it; answer with one `rate_limited` error (`reply`) or nothing. */
  | { action: 'drop'; reply: boolean; retryAfter: number }
  /** Drop it and close the socket with 4429. */
  | { action: 'close' };

const ONE = '';

export class FrameGate {
  private readonly bucket: TokenBuckets;
  /** Frames dropped since the bucket was last full. */
  private dropped = 0;
  /** The last frame was dropped (a run of drops is answered once). */
  private dropping = false;

  constructor(
    private readonly limit: FrameLimit,
    now: () => number = Date.now,
  ) {
    this.bucket = new TokenBuckets({ capacity: limit.burst, refillPerSecond: limit.perSecond }, now);
  }

  /** Takes a frame's token: handle it, drop it, or close. */
  admit(): FrameVerdict {
    if (this.bucket.full(ONE)) this.dropped = 0;
    const retryAfter = this.bucket.take(ONE);
    if (retryAfter === 0) {
      this.dropping = false;
      return { action: 'handle' };
    }
    if (++this.dropped >= this.limit.closeAfter) return { action: 'close' };
    const reply = !this.dropping;
    this.dropping = true;
    return { action: 'drop', reply, retryAfter };
  }
}
