/**
 * The campaign's randomness: one printed seed, split into named, independent streams (the fault
 * schedule, each load loop, each receiver), so the same seed replays the same schedule and the same
 * choices of each loop whatever the others did. A small PRNG (mulberry32) seeded per stream from
 * SHA-256(seed, name): no Math.random anywhere in the campaign.
 */
import crypto from 'node:crypto';

export class Rng {
  private state: number;

  constructor(
    readonly seed: number,
    readonly stream = 'root',
  ) {
    this.state = crypto.createHash('sha256').update(`${seed}:${stream}`).digest().readUInt32BE(0);
  }

  /** An independent stream named `name`, a function of (seed, name) only. */
  fork(name: string): Rng {
    return new Rng(this.seed, `${this.stream}/${name}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (!items.length) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: [[item, weight], …]. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((n, [, w]) => n + w, 0);
    let x = this.next() * total;
    for (const [item, w] of items) {
      x -= w;
      if (x < 0) return item;
    }
    return items[items.length - 1]![0];
  }

  /** A UUID from this stream (idempotency keys and request ids replay with the seed). */
  uuid(): string {
    const b = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 4) b.writeUInt32BE(Math.floor(this.next() * 4294967296), i);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}

/** A fresh seed when none was given (printed, so the run can be replayed). */
export function newSeed(): number {
  return crypto.randomInt(1, 2 ** 31);
}
