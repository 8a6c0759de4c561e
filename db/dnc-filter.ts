/**
 * A Bloom filter of the platform's Do-Not-Call lists (dnc_entries: `national_dnc`, every `state_dnc:XX`) in each API
 * process, so that a ping's or a lead's phone reaches the database only when it is probably listed (#23: with 10
 * million hashes the lists' index is far past Postgres's shared buffers, and a look-up of a random HMAC read pages
 * from disk). A "not listed" from the filter is certain – a Bloom filter has no false negatives – while it is
 * current; a "perhaps" is answered by the database, so a false positive costs one read and never a wrong answer.
 *
 * Current means: built from the table after the bus was listening, and no change heard since. Every committed change
 * of dnc_entries – the registry upload, a deletion, a script – is NOTIFYed by the table's trigger (migration 0034) on
 * `leadwire_dnc`; the bus hears it (`onDncChange`), the filter stops answering at once (every look-up goes to the
 * database, as without it) and is rebuilt shortly after the changes stop. So is a filter whose bus lost its LISTEN
 * connection (its state says so, or its reconnect count moved: changes may have gone unheard), and one whose build
 * overlapped a change. Until the first build is done, and when the lists would need more memory than allowed, the
 * database answers everything.
 *
 * The build streams the table (a cursor on Postgres, pages in key order on PGlite, whose transactions would hold
 * its single connection), reading only the first 8 bytes of each HMAC: the process never holds the lists, only the
 * filter's bits (10 million entries at 1 % ≈ 12 MB).
 */
import { sql } from 'drizzle-orm';

import { BloomFilter, bloomSize, PREFIX_HEX } from '../lib/bloom';
import type { Db } from './connection';
import type { OfferBus } from './offer-bus';

export type DncFilterState = 'off' | 'building' | 'ready' | 'stale' | 'too_large';

export interface DncFilterOptions {
  /** At most this many bytes of filter (the lists' count, with headroom, at the false-positive rate); past it: off. */
  maxBytes: number;
  /** The rate the filter is sized for; default 1 %. */
  falsePositiveRate?: number;
  /** Wait this long after the last change heard before rebuilding (a bulk load NOTIFYs every batch); default 2 s. */
  rebuildDelayMs?: number;
  /** Rows per FETCH (or page) of the build; default 10,000. */
  batchRows?: number;
  log?: { info(message: string, meta?: unknown): void; warn(message: string, meta?: unknown): void };
  /** Awaited after each batch of a build (observation: the test looks up numbers while a build runs). */
  onBatch?: () => Promise<void> | void;
}

/** What the filter is doing and has done (metrics, logs, tests). */
export interface DncFilterStats {
  state: DncFilterState;
  /** Entries in the current filter (0 when none is current). */
  entries: number;
  bytes: number;
  /** The last completed build's duration. */
  lastBuildMs: number | null;
  builds: number;
  /** Look-ups the filter answered "not listed" (no database read). */
  screened: number;
  /** Look-ups it let through that the database found on no list. */
  falsePositives: number;
  /** Times it stopped answering: a change heard, the bus lost, a build overlapped by a change. */
  invalidations: number;
}

/** Room for growth between builds: the filter is sized for the lists' count times this. */
const HEADROOM = 1.25;
/** The least capacity a filter is sized for (a few KB). */
const MIN_CAPACITY = 10_000;
/** After a failed build, try again this long after (while the bus is up). */
const RETRY_MS = 30_000;

class Superseded extends Error {}
/** The lists hold more than the estimate the filter was sized for. */
class Undersized extends Error {}

export class DncFilter {
  private filter: BloomFilter | null = null;
  private current: DncFilterState = 'stale';
  /** Bumped by every change heard and every loss of the bus: a build that started before is superseded. */
  private generation = 0;
  /** The bus's reconnect count when the current filter's build started. */
  private builtWithReconnects = -1;
  private building: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly counts = { builds: 0, screened: 0, falsePositives: 0, invalidations: 0 };
  private lastBuildMs: number | null = null;
  /** The planner's estimate proved short: count the rows for the next build. */
  private countRows = false;
  /** Loads running in this process (`hold`): no filter answers, none is built, until they end. */
  private holds = 0;
  private readonly rate: number;

  constructor(
    private readonly db: Db,
    private readonly driver: 'postgres' | 'pglite',
    private readonly bus: OfferBus,
    private readonly opts: DncFilterOptions,
  ) {
    this.rate = opts.falsePositiveRate ?? 0.01;
  }

  /** Listens for changes and builds the first filter in the background; without a bus that hears changes: off. */
  start(): this {
    if (!this.bus.onDncChange) {
      this.current = 'off';
      this.opts.log?.warn('[dnc-filter] off: the bus cannot hear changes of the Do-Not-Call lists');
      return this;
    }
    this.unsubscribe.push(this.bus.onDncChange(() => this.invalidate('the lists changed')));
    // Events sent while the LISTEN connection was down are lost: what was built before may be missing entries.
    this.unsubscribe.push(this.bus.onResync(() => this.invalidate('the bus reconnected')));
    this.schedule(0);
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    for (const u of this.unsubscribe.splice(0)) u();
    this.filter = null;
    this.current = 'off';
  }

  get state(): DncFilterState {
    this.checkBus();
    return this.current;
  }

  stats(): DncFilterStats {
    const state = this.state;
    return {
      state,
      entries: state === 'ready' ? (this.filter?.added ?? 0) : 0,
      bytes: this.filter?.bytes ?? 0,
      lastBuildMs: this.lastBuildMs,
      ...this.counts,
    };
  }

  /** Resolves when no build is running (tests, the benchmark). */
  async settled(): Promise<void> {
    while (this.building) await this.building;
  }

  /**
   * The HMACs (hex, under the platform's key) the database must be asked about: all of them unless the filter is
   * current, else only those it says are perhaps listed. `screened`: whether the filter answered for the others.
   */
  screen(hmacs: string[]): { ask: string[]; screened: boolean } {
    if (!hmacs.length) return { ask: hmacs, screened: false };
    this.checkBus();
    const filter = this.current === 'ready' && this.holds === 0 ? this.filter : null;
    if (!filter) return { ask: hmacs, screened: false };
    const ask = hmacs.filter((h) => filter.mightHold(h));
    this.counts.screened += hmacs.length - ask.length;
    return { ask, screened: true };
  }

  /** After a screened read: how many of the HMACs asked about the database found on no list (false positives). */
  found(asked: string[], listed: Set<string>): void {
    for (const h of asked) if (!listed.has(h)) this.counts.falsePositives++;
  }

  /**
   * For a load of the lists in this process: the filter stops answering now, before anything commits, and is not
   * built again until the load ends (the release) – the bus's NOTIFY of each batch reaches this process too, but a
   * moment after the commit.
   */
  hold(reason: string): () => void {
    this.holds++;
    this.invalidate(reason);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.invalidate(`${reason}: done`);
    };
  }

  /** Stops answering from the filter (the database answers) and rebuilds once the changes stop. */
  invalidate(reason: string): void {
    if (this.stopped) return;
    this.generation++;
    this.counts.invalidations++;
    if (this.current === 'ready') this.opts.log?.info(`[dnc-filter] stale: ${reason}`);
    // The bits go now: a rebuild makes new ones, and holding both would double the memory.
    this.filter = null;
    if (this.current !== 'off') this.current = 'stale';
    this.schedule(this.opts.rebuildDelayMs ?? 2_000);
  }

  /** A filter built while the bus had another connection (or none now) may have missed a change: stale. */
  private checkBus(): void {
    if (this.current !== 'ready') return;
    const bus = this.bus.state();
    if (!bus.connected || bus.reconnects !== this.builtWithReconnects) this.invalidate('the bus lost its connection');
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.rebuild();
    }, ms);
    this.timer.unref();
  }

  private async rebuild(): Promise<void> {
    if (this.stopped || this.holds > 0) return; // the hold's release schedules the next build
    // One build at a time; a change during it supersedes it, and its end schedules the next.
    if (this.building) return;
    this.building = this.buildOnce().finally(() => (this.building = null));
    await this.building;
  }

  private async buildOnce(): Promise<void> {
    const started = performance.now();
    try {
      // Changes from now on are heard: a build that starts after this sees every change not heard.
      await this.bus.ready();
      if (this.stopped) return;
      const bus = this.bus.state();
      if (!bus.connected) return; // the bus's resync starts the next build
      const generation = this.generation;
      const estimate = await this.estimate();
      const capacity = Math.max(MIN_CAPACITY, Math.ceil(estimate * HEADROOM));
      const bytes = Math.ceil(bloomSize(capacity, this.rate).bits / 8);
      if (bytes > this.opts.maxBytes) {
        this.current = 'too_large';
        this.opts.log?.warn(
          `[dnc-filter] off: ${estimate} entries need ${Math.round(bytes / 1048576)} MB at ${this.rate * 100} %, past the ` +
            `${Math.round(this.opts.maxBytes / 1048576)} MB allowed (LW_DNC_FILTER_MAX_MB); the database answers every look-up`,
        );
        return;
      }
      this.current = 'building';
      const filter = new BloomFilter(capacity, this.rate);
      await this.stream((prefix) => {
        // Past its capacity the filter would still never miss, but its rate would pass its bound: size it again.
        if (filter.added >= capacity) throw new Undersized();
        filter.add(prefix);
      }, generation);
      if (this.generation !== generation) throw new Superseded();
      const after = this.bus.state();
      if (!after.connected || after.reconnects !== bus.reconnects) throw new Superseded();
      this.countRows = false;
      this.filter = filter;
      this.builtWithReconnects = bus.reconnects;
      this.current = 'ready';
      this.counts.builds++;
      this.lastBuildMs = Math.round(performance.now() - started);
      this.opts.log?.info(
        `[dnc-filter] ready: ${filter.added} entries, ${(filter.bytes / 1048576).toFixed(1)} MB, built in ${this.lastBuildMs} ms`,
      );
    } catch (err) {
      if (this.stopped) return;
      if (this.current !== 'off') this.current = 'stale';
      if (err instanceof Superseded) {
        this.schedule(this.opts.rebuildDelayMs ?? 2_000);
        return;
      }
      if (err instanceof Undersized) {
        this.opts.log?.info(
          '[dnc-filter] the lists hold more entries than estimated: counting them and building again',
        );
        this.countRows = true;
        this.schedule(0);
        return;
      }
      this.opts.log?.warn('[dnc-filter] build failed; the database answers until the next one', err);
      if (this.bus.state().connected) this.schedule(RETRY_MS);
    }
  }

  /**
   * The lists' row count as the planner estimates it – rows per page at the last ANALYZE times the table's pages
   * now, so growth since counts – without a scan; counted when never analysed, or when an estimate proved short.
   */
  private async estimate(): Promise<number> {
    if (!this.countRows) {
      const r = (await this.db.execute(
        sql`SELECT CASE WHEN relpages > 0 AND reltuples > 0
                THEN reltuples / relpages * (pg_relation_size(oid) / current_setting('block_size')::int)
                ELSE -1 END::float8 AS n
            FROM pg_class WHERE oid = 'dnc_entries'::regclass`,
      )) as unknown as { rows: { n: number | string }[] };
      const n = Number(r.rows[0]?.n ?? -1);
      if (n >= 0) return n;
    }
    const c = (await this.db.execute(sql`SELECT count(*)::int8 AS n FROM dnc_entries`)) as unknown as {
      rows: { n: number | string }[];
    };
    return Number(c.rows[0]?.n ?? 0);
  }

  /** Every entry's first 8 bytes (hex), in batches; stops early once superseded. */
  private async stream(add: (prefix: string) => void, generation: number): Promise<void> {
    const rows = this.opts.batchRows ?? 10_000;
    const prefix = sql.raw(`encode(substring(hmac from 1 for ${PREFIX_HEX / 2}), 'hex')`);
    if (this.driver === 'postgres') {
      await this.db.transaction(
        async (tx) => {
          await tx.execute(sql`DECLARE dnc_filter_build NO SCROLL CURSOR FOR SELECT ${prefix} AS p FROM dnc_entries`);
          for (;;) {
            const r = (await tx.execute(sql.raw(`FETCH ${rows} FROM dnc_filter_build`))) as unknown as {
              rows: { p: string }[];
            };
            for (const row of r.rows) add(row.p);
            await this.opts.onBatch?.();
            if (r.rows.length < rows) return;
            if (this.generation !== generation || this.stopped) throw new Superseded();
          }
        },
        { accessMode: 'read only' },
      );
      return;
    }
    // PGlite: pages in key order (a transaction would hold its one connection for the whole build).
    let after: string | null = null;
    for (;;) {
      const r = (await this.db.execute(
        sql`SELECT ${prefix} AS p, encode(hmac, 'hex') AS h FROM dnc_entries
            WHERE ${after === null ? sql`true` : sql`hmac > decode(${after}, 'hex')`}
            ORDER BY hmac LIMIT ${rows}`,
      )) as unknown as { rows: { p: string; h: string }[] };
      for (const row of r.rows) add(row.p);
      await this.opts.onBatch?.();
      if (r.rows.length < rows) return;
      after = r.rows[r.rows.length - 1]!.h;
      if (this.generation !== generation || this.stopped) throw new Superseded();
    }
  }
}

/** The filter each database's look-ups consult (one per process and database: the API's). */
const filters = new WeakMap<object, DncFilter>();

/** Makes `filter` the one `db`'s Do-Not-Call look-ups consult (db/suppression.ts `readLists`). */
export function useDncFilter(db: Db, filter: DncFilter): void {
  filters.get(db)?.stop();
  filters.set(db, filter);
}

/** The filter `db`'s look-ups consult, if any. */
export function dncFilterOf(db: object): DncFilter | undefined {
  return filters.get(db);
}
