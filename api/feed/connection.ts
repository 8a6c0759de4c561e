/**
 * One buyer's socket on the feed: who it is, what it was shown and has seen,
 * and the one way anything is sent to it. Every frame the gateway sends goes
 * through `send`, typed by the feed's message schemas (api/feed-messages.ts);
 * a socket whose access was withdrawn is sent nothing more.
 */
import type { WebSocket } from 'ws';

import type { OfferBusEvent } from '../../db/offer-bus';
import type { BuyerPrincipal } from '../auth';
import type { FeedServerMessage } from '../feed-messages';

/** A client this far behind on reading is not coming back. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Close code of a socket whose key was revoked or whose buyer was paused (4000-4999: the application's). */
export const FEED_ACCESS_REVOKED = 4403;

/** What an `error` message may carry besides its code and message (requestId, offerId, retryAfter, errors). */
export type FeedErrorExtra = Omit<Extract<FeedServerMessage, { type: 'error' }>, 'type' | 'code' | 'message'>;

export class FeedConnection {
  /** Answered the last heartbeat ping. */
  alive = true;
  /** Events held until the snapshot is sent (null once it is). */
  held: FeedServerMessage[] | null = [];
  /** Offers whose `viewed` is recorded. */
  readonly viewed = new Set<string>();
  /** Access withdrawn: nothing more is sent or handled; the socket is closing. */
  revoked = false;
  /** The newest `seq` sent to this socket: where a resync picks up. */
  lastSeq = 0;
  /** Open offers this socket was shown (snapshot or offer.opened): it hears how they close. */
  readonly shown = new Set<string>();
  /** Closes heard while the snapshot was being read: applied to the snapshot's offers once it is sent. */
  closedMeanwhile: OfferBusEvent[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly buyer: BuyerPrincipal,
  ) {}

  /** Sends a frame, or holds it while the snapshot loads (`hold`: events; answers and the snapshot itself pass). */
  send(message: FeedServerMessage, hold = true): void {
    if (hold && this.held) {
      this.held.push(message);
      return;
    }
    const { ws } = this;
    if (ws.readyState !== ws.OPEN || this.revoked) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.terminate();
      return;
    }
    if ('seq' in message && message.seq > this.lastSeq) this.lastSeq = message.seq;
    ws.send(JSON.stringify(message), (err) => {
      if (err) ws.terminate();
    });
  }

  /** `{type:"error", code, message, …}`, never held. */
  sendError(code: string, message: string, extra: FeedErrorExtra = {}): void {
    this.send({ type: 'error', code, message, ...extra }, false);
  }

  /** Access withdrawn: an `access_revoked` error, then the close with 4403 (terminated if the client lingers). */
  revoke(): void {
    if (this.revoked) return;
    this.sendError('access_revoked', 'This key was revoked or its buyer paused.');
    this.revoked = true;
    this.ws.close(FEED_ACCESS_REVOKED, 'access revoked');
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }
}
