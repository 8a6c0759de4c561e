/**
 * Offer events for the Live Leads feed. Activities publish; every gateway
 * instance subscribes and fans out to its connected buyers.
 *
 * With PGlite everything runs in one process, so an in-process emitter is
 * enough. With Postgres, events go through LISTEN/NOTIFY so a buyer connected
 * to any API instance hears about offers opened by any worker. An event
 * carries what the gateways need to fan it out without reading the database
 * (the buyer-facing offer and the buyers it targets, or who won); when that
 * would not fit NOTIFY's 8 kB the event goes as ids only and the gateways
 * read the rest.
 */
import { EventEmitter } from 'node:events';
import type { Pool, Client } from 'pg';
import type { BuyerOffer } from '../domain/offer-view';

export interface OfferBusEvent {
  type: 'offer.opened' | 'offer.closed';
  offerId: string;
  agencyId: string;
  /** When the publisher sent it, for feed-latency measurements. */
  sentAt: string;
  /** offer.opened: the buyer-facing offer and the ids of the buyers it targets. */
  offer?: BuyerOffer;
  targets?: string[];
  /** offer.closed: the buyers who bought it (none: it expired or was cancelled). */
  winners?: string[];
}

/** NOTIFY refuses payloads of 8000 bytes or more. */
const NOTIFY_LIMIT = 7900;

/** The event as sent through NOTIFY: whole when it fits, else ids only (the gateways read the rest). */
export function notifyPayload(event: OfferBusEvent): string {
  const whole = JSON.stringify(event);
  if (Buffer.byteLength(whole) < NOTIFY_LIMIT) return whole;
  return JSON.stringify({ type: event.type, offerId: event.offerId, agencyId: event.agencyId, sentAt: event.sentAt });
}

export type OfferBusListener = (event: OfferBusEvent) => void;

export interface OfferBus {
  publish(event: Omit<OfferBusEvent, 'sentAt'>): Promise<void>;
  subscribe(listener: OfferBusListener): () => void;
  /** Resolves once subscribers will hear every later event (the LISTEN is up). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

const CHANNEL = 'leadwire_offers';

export function createInProcessBus(): OfferBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(event) {
      emitter.emit('event', { ...event, sentAt: new Date().toISOString() });
    },
    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
    async ready() {},
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/**
 * LISTEN on a dedicated connection (reconnecting after a loss), NOTIFY through
 * the shared pool. A subscriber that throws cannot break the others.
 */
export function createPostgresBus(url: string, pool: Pool): OfferBus {
  const listeners = new Set<OfferBusListener>();
  let client: Client | null = null;
  let closed = false;
  let connecting: Promise<void> | null = null;

  const connect = async (): Promise<void> => {
    const { Client } = await import('pg');
    while (!closed) {
      const c = new Client({ connectionString: url });
      try {
        c.on('notification', (msg) => {
          if (msg.channel !== CHANNEL || !msg.payload) return;
          let event: OfferBusEvent;
          try {
            event = JSON.parse(msg.payload) as OfferBusEvent;
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
          if (client === c) client = null;
          c.end().catch(() => undefined);
          if (!closed) setTimeout(() => void ensure(), 500);
        });
        await c.connect();
        await c.query(`LISTEN ${CHANNEL}`);
        client = c;
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
      await pool.query('SELECT pg_notify($1, $2)', [CHANNEL, notifyPayload({ ...event, sentAt: new Date().toISOString() })]);
    },
    subscribe(listener) {
      listeners.add(listener);
      void ensure();
      return () => listeners.delete(listener);
    },
    ready: ensure,
    async close() {
      closed = true;
      listeners.clear();
      await client?.end().catch(() => undefined);
      client = null;
    },
  };
}
