/**
 * Offer events for the Live Leads feed. Activities publish; every gateway
 * instance subscribes and fans out to its connected buyers.
 *
 * With PGlite everything runs in one process, so an in-process emitter is
 * enough. With Postgres, events go through LISTEN/NOTIFY so a buyer connected
 * to any API instance hears about offers opened by any worker. An event
 * carries what the gateways need to fan it out without reading the database
 * (the buyer-facing offer and the buyers it targets, or who won). A target
 * list too large for NOTIFY's 8 kB goes by reference: the opening stores it
 * once under the hash of its content (target_lists) and the event carries the
 * hash; a gateway reads a list the first time it sees its hash and keeps it,
 * so an offer to the same buyers as an earlier one costs it no read. Any
 * other event that would not fit goes as ids only and the gateways read the
 * rest.
 *
 * The bus also carries what the ledger trigger (migration 0016) NOTIFYs on
 * `leadwire_wallet` for every entry applied to a wallet, so that the feed can
 * tell the buyer's pages their new balance (`wallet.changed`): on Postgres the
 * same LISTEN connection listens to that channel too; with PGlite the bus
 * listens through PGlite's own `listen()`, which hears the trigger's NOTIFY.
 * The same way it hears `leadwire_dnc`, which a trigger on dnc_entries
 * (migration 0034) NOTIFYs on every change of the platform's Do-Not-Call
 * lists: each API process's filter of the lists (db/dnc-filter.ts) rebuilds.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';

import type { PGlite } from '@electric-sql/pglite';
import type { Client, Pool } from 'pg';

import type { BuyerOffer } from '../domain/offer-view';
import { LEDGER_ENTRY_KINDS, type LedgerEntryKind } from '../domain/types';

export interface OfferBusEvent {
  type: 'offer.opened' | 'offer.closed';
  offerId: string;
  agencyId: string;
  /** When the publisher sent it, for feed-latency measurements. */
  sentAt: string;
  /** offer.opened: the buyer-facing offer and the ids of the buyers it targets. */
  offer?: BuyerOffer;
  targets?: string[];
  /** offer.opened: the targets that have their own price (#12: a per-buyer campaign rule), buyer id → price. */
  prices?: Record<string, number>;
  /**
   * offer.opened: in place of `targets` and `prices` when they would not fit NOTIFY, the id of the stored list that
   * holds them (target_lists; `targetListOf`).
   */
  targetsRef?: string;
  /**
   * offer.closed: the buyers who bought it (none: it expired or was cancelled) – every sale there is: the closing
   * transaction reads them under the offer's lock, and the event is published after its commit. Absent when the event
   * came as ids only (too large for NOTIFY) or from an older publisher: the gateways read them.
   */
  winners?: string[];
  /**
   * offer.closed: the offer's places, so that a gateway tells `lost_race` (every place sold) from `offer_closed`
   * without reading the offer (claims/decided-offers.ts). Absent from older publishers' events.
   */
  maxWinners?: number;
}

/** NOTIFY refuses payloads of 8000 bytes or more. */
const NOTIFY_LIMIT = 7900;

/** Room left for `sentAt` and the rest of the envelope. */
const SENT_AT_ROOM = 64;

/** Whether an event goes through NOTIFY whole (else: its target list by reference, or ids only). */
export function fitsNotify(event: Unsent): boolean {
  return Buffer.byteLength(JSON.stringify(event)) + SENT_AT_ROOM < NOTIFY_LIMIT;
}

/** A target list as stored for a reference (target_lists): its id is the hash of its content, so equal lists share a row. */
export function targetListOf(
  targets: string[],
  prices: Record<string, number> | null | undefined,
): { id: string; buyerIds: string[]; prices: Record<string, number> | null } {
  const buyerIds = [...targets].sort();
  const own = prices && Object.keys(prices).length ? prices : null;
  const sortedPrices = own
    ? Object.fromEntries(
        Object.keys(own)
          .sort()
          .map((k) => [k, own[k]!]),
      )
    : null;
  const id = createHash('sha256')
    .update(JSON.stringify([buyerIds, sortedPrices]))
    .digest('base64url');
  return { id, buyerIds, prices: sortedPrices };
}

/** The event as sent through NOTIFY: whole when it fits, else ids only (the gateways read the rest). */
function notifyPayload(event: BusEvent): string {
  const whole = JSON.stringify(event);
  if (Buffer.byteLength(whole) < NOTIFY_LIMIT || event.type === 'buyer.access') return whole;
  return JSON.stringify({ type: event.type, offerId: event.offerId, agencyId: event.agencyId, sentAt: event.sentAt });
}

/**
 * A buyer's access changed (a key revoked, the buyer paused): every gateway
 * re-checks that buyer's open sockets and closes the ones no longer allowed.
 */
interface AccessBusEvent {
  type: 'buyer.access';
  agencyId: string;
  buyerId: string;
  sentAt: string;
}

export type BusEvent = OfferBusEvent | AccessBusEvent;

/** An entry applied to a buyer's wallet, as the ledger trigger tells it (any process, any kind of entry). */
export interface WalletChange {
  buyerId: string;
  agencyId: string;
  /** The balance after the entry. */
  balance: number;
  entry: { id: string; kind: LedgerEntryKind; amount: number; at: string };
}

/** The channel the ledger trigger (ledger_apply_entry, migration 0016) NOTIFYs every applied entry on. */
const WALLET_CHANNEL = 'leadwire_wallet';
/** The channel the dnc_entries trigger (dnc_entries_changed, migration 0034) NOTIFYs every change of the lists on. */
const DNC_CHANNEL = 'leadwire_dnc';

/** The trigger's payload `{buyerId, agencyId, balance, entryId, kind, amount, at}` as a WalletChange (null: not one). */
function walletChangeOf(payload: string | undefined): WalletChange | null {
  if (!payload) return null;
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return null;
  }
  const at = typeof p.at === 'string' ? new Date(p.at) : null;
  if (
    typeof p.buyerId !== 'string' ||
    typeof p.agencyId !== 'string' ||
    typeof p.entryId !== 'string' ||
    !Number.isSafeInteger(p.balance) ||
    !Number.isSafeInteger(p.amount) ||
    !(LEDGER_ENTRY_KINDS as readonly unknown[]).includes(p.kind) ||
    !at ||
    Number.isNaN(at.getTime())
  )
    return null;
  return {
    buyerId: p.buyerId,
    agencyId: p.agencyId,
    balance: p.balance as number,
    entry: { id: p.entryId, kind: p.kind as LedgerEntryKind, amount: p.amount as number, at: at.toISOString() },
  };
}

type WalletListener = (change: WalletChange) => void;
/** A statement changed the platform's Do-Not-Call lists (committed): `insert`, `update`, `delete` or `truncate`. */
type DncListener = (op: string) => void;

function tell<T>(listeners: Iterable<(x: T) => void>, x: T): void {
  for (const l of listeners) {
    try {
      l(x);
    } catch {
      /* one bad subscriber must not silence the rest */
    }
  }
}
type Unsent = Omit<OfferBusEvent, 'sentAt'> | Omit<AccessBusEvent, 'sentAt'>;

type OfferBusListener = (event: BusEvent) => void;

export interface OfferBus {
  publish(event: Unsent): Promise<void>;
  subscribe(listener: OfferBusListener): () => void;
  /** Resolves once subscribers will hear every later event (the LISTEN is up). */
  ready(): Promise<void>;
  close(): Promise<void>;
  /** Whether events are being heard now, and how often the LISTEN connection was lost (readiness, metrics). */
  state(): BusState;
  /**
   * Called after the bus heard nothing for a while – its LISTEN connection was
   * lost and is back: events sent meanwhile are gone, so subscribers bring
   * their clients up to date from the database.
   */
  onResync(listener: () => void): () => void;
  /**
   * Every entry applied to any wallet of the database (the ledger trigger's NOTIFY). Absent on a bus that cannot
   * hear the database (an in-process bus without PGlite): then nobody is told.
   */
  onWallet?(listener: WalletListener): () => void;
  /**
   * Every committed change of the platform's Do-Not-Call lists (the dnc_entries trigger's NOTIFY), from any process.
   * Absent on a bus that cannot hear the database: then nobody can know of a change.
   */
  onDncChange?(listener: DncListener): () => void;
}

interface BusState {
  connected: boolean;
  reconnects: number;
}

/** The LISTEN connection's keepalive: a `SELECT 1` on it this often, failing after the timeout (a half-open connection). */
const BUS_KEEPALIVE_MS = 10_000;
const BUS_KEEPALIVE_TIMEOUT_MS = 5_000;

const CHANNEL = 'leadwire_offers';
/** The LISTEN connection's name in pg_stat_activity (operators, and the test that cuts it). */
export const BUS_APPLICATION_NAME = 'leadwire-feed-bus';

/**
 * One process's bus. Given the PGlite database, it also hears the ledger trigger's wallet NOTIFYs through
 * PGlite's `listen()` (a NOTIFY of a committed transaction reaches it, as it would a Postgres LISTEN).
 */
export function createInProcessBus(opts: { pglite?: PGlite } = {}): OfferBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const walletListeners = new Set<WalletListener>();
  const dncListeners = new Set<DncListener>();
  const pglite = opts.pglite;
  let closed = false;
  let unlisten: Promise<(() => Promise<void>) | null> | null = null;
  let unlistenDnc: Promise<(() => Promise<void>) | null> | null = null;
  const listening = (): Promise<unknown> =>
    pglite
      ? Promise.all([
          (unlisten ??= pglite
            .listen(WALLET_CHANNEL, (payload) => {
              const change = walletChangeOf(payload);
              if (change) tell(walletListeners, change);
            })
            .catch(() => null)),
          (unlistenDnc ??= pglite.listen(DNC_CHANNEL, (payload) => tell(dncListeners, payload)).catch(() => null)),
        ])
      : Promise.resolve();
  return {
    async publish(event) {
      emitter.emit('event', { ...event, sentAt: new Date().toISOString() });
    },
    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
    async ready() {
      await listening();
    },
    async close() {
      closed = true;
      emitter.removeAllListeners();
      walletListeners.clear();
      dncListeners.clear();
      for (const stop of await Promise.all([unlisten, unlistenDnc])) await stop?.().catch(() => undefined);
    },
    // Closed, it hears nothing more (a Do-Not-Call filter on it goes back to the database).
    state: () => ({ connected: !closed, reconnects: 0 }),
    onResync: () => () => undefined,
    ...(pglite
      ? {
          onWallet(listener: WalletListener) {
            walletListeners.add(listener);
            void listening();
            return () => walletListeners.delete(listener);
          },
          onDncChange(listener: DncListener) {
            dncListeners.add(listener);
            void listening();
            return () => dncListeners.delete(listener);
          },
        }
      : {}),
  };
}

/**
 * LISTEN on a dedicated connection (reconnecting after a loss), NOTIFY through
 * the shared pool. A subscriber that throws cannot break the others. The
 * LISTEN connection has TCP keepalive and a `SELECT 1` every
 * `keepaliveMs`: one that does not answer in time is dropped and replaced, so
 * a half-open connection cannot silence the feed. After a replacement the
 * resync listeners are told (events sent meanwhile were lost).
 */
export function createPostgresBus(
  url: string,
  pool: Pool,
  opts: { keepaliveMs?: number; keepaliveTimeoutMs?: number } = {},
): OfferBus {
  const listeners = new Set<OfferBusListener>();
  const resyncListeners = new Set<() => void>();
  const walletListeners = new Set<WalletListener>();
  const dncListeners = new Set<DncListener>();
  let client: Client | null = null;
  let closed = false;
  let connecting: Promise<void> | null = null;
  let everConnected = false;
  let reconnects = 0;

  /** Drops a connection that failed (an error, or no answer to the keepalive) and starts a new one. */
  const lose = (c: Client): void => {
    if (client !== c) return;
    client = null;
    c.end().catch(() => undefined);
    if (!closed) setTimeout(() => void ensure(), 500);
  };

  const keepalive = setInterval(() => {
    const c = client;
    if (!c) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('keepalive timed out')),
        opts.keepaliveTimeoutMs ?? BUS_KEEPALIVE_TIMEOUT_MS,
      );
    });
    Promise.race([c.query('SELECT 1'), timeout])
      .catch(() => lose(c))
      .finally(() => clearTimeout(timer));
  }, opts.keepaliveMs ?? BUS_KEEPALIVE_MS);
  keepalive.unref();

  const connect = async (): Promise<void> => {
    const { Client } = await import('pg');
    while (!closed) {
      const c = new Client({
        connectionString: url,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        connectionTimeoutMillis: 5_000,
        application_name: BUS_APPLICATION_NAME,
      });
      try {
        c.on('notification', (msg) => {
          if (msg.channel === WALLET_CHANNEL) {
            const change = walletChangeOf(msg.payload);
            if (change) tell(walletListeners, change);
            return;
          }
          if (msg.channel === DNC_CHANNEL) {
            tell(dncListeners, msg.payload ?? '');
            return;
          }
          if (msg.channel !== CHANNEL || !msg.payload) return;
          let event: BusEvent;
          try {
            event = JSON.parse(msg.payload) as BusEvent;
          } catch {
            return;
          }
          for (const l of listeners) {
            try {
              l(event);
            } catch {
              /* one bad subscriber must not silence the rest */
            }
          }
        });
        c.on('error', () => {
          if (client === c) lose(c);
          else c.end().catch(() => undefined);
        });
        c.on('end', () => lose(c));
        await c.connect();
        await c.query(`LISTEN ${CHANNEL}`);
        await c.query(`LISTEN ${WALLET_CHANNEL}`);
        await c.query(`LISTEN ${DNC_CHANNEL}`);
        client = c;
        if (everConnected) {
          reconnects++;
          for (const l of resyncListeners) {
            try {
              l();
            } catch {
              /* one bad subscriber must not stop the rest */
            }
          }
        }
        everConnected = true;
        return;
      } catch {
        await c.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const ensure = (): Promise<void> => {
    if (client || closed) return Promise.resolve();
    connecting ??= connect().finally(() => (connecting = null));
    return connecting;
  };

  return {
    async publish(event) {
      await pool.query('SELECT pg_notify($1, $2)', [
        CHANNEL,
        notifyPayload({ ...event, sentAt: new Date().toISOString() }),
      ]);
    },
    subscribe(listener) {
      listeners.add(listener);
      void ensure();
      return () => listeners.delete(listener);
    },
    ready: ensure,
    async close() {
      closed = true;
      clearInterval(keepalive);
      listeners.clear();
      resyncListeners.clear();
      walletListeners.clear();
      dncListeners.clear();
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
    state: () => ({ connected: client !== null, reconnects }),
    onResync(listener) {
      resyncListeners.add(listener);
      return () => resyncListeners.delete(listener);
    },
    onWallet(listener) {
      walletListeners.add(listener);
      void ensure();
      return () => walletListeners.delete(listener);
    },
    onDncChange(listener) {
      dncListeners.add(listener);
      void ensure();
      return () => dncListeners.delete(listener);
    },
  };
}
