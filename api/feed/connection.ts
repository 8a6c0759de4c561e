/**
 * One buyer's socket on the feed: who it is, what it was shown and has seen,
 * and the one way anything is sent to it. Every frame the gateway sends goes
 * through `send`, typed by the feed's message schemas (api/feed-messages.ts);
 * a socket whose access was withdrawn is sent nothing more.
 */
import type { WebSocket } from 'ws';

import type { OfferBusEvent } from '../../db/offer-bus';
import type { BuyerPrincipal } from '../auth';
import { FEED_CLOSE_CODES, type FeedCloseReason, type FeedServerMessage } from '../feed-messages';
import { FrameGate, type FrameLimit } from './frame-limit';

/** A client this far behind on reading is not coming back. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Close code of a socket whose key was revoked or whose buyer was paused. */
export const FEED_ACCESS_REVOKED = FEED_CLOSE_CODES.access_revoked.code;
/** How long a client may take to answer the gateway's close before its socket is cut. */
const CLOSE_GRACE_MS = 1000;

/** What an `error` message may carry besides its code and message (requestId, offerId, retryAfter, errors). */
export type FeedErrorExtra = Omit<Extract<FeedServerMessage, { type: 'error' }>, 'type' | 'code' | 'message'>;

export class FeedConnection {
  /** Answered the last heartbeat ping. */
  alive = true;
  /** Events held until the snapshot is sent (null once it is). */
  held: FeedServerMessage[] | null = [];
  /** Offers whose `viewed` is recorded. */
  readonly viewed = new Set<string>();
  /** Closed by the gateway (access withdrawn, too many frames): nothing more is sent or handled. */
  closing: FeedCloseReason | null = null;
  /** Told when the gateway starts closing the socket, and why. */
  onClosing: (reason: FeedCloseReason) => void = () => undefined;
  /** The frames this socket may still send (api/feed/frame-limit.ts). */
  readonly gate: FrameGate;
  /** Offers this socket asked about with `viewed`: the lead of one it may see, null for one it may not. */
  readonly visible = new Map<string, Promise<string | null>>();

  /** The newest `seq` sent to this socket: where a resync picks up. */
  lastSeq = 0;
  /** Open offers this socket was shown (snapshot or offer.opened): it hears how they close. */
  readonly shown = new Set<string>();
  /** Closes heard while the snapshot was being read: applied to the snapshot's offers once it is sent. */
  closedMeanwhile: OfferBusEvent[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly buyer: BuyerPrincipal,
    frameLimit: FrameLimit,
  ) {
    this.gate = new FrameGate(frameLimit);
  }

  /** Sends a frame, or holds it while the snapshot loads (`hold`: events; answers and the snapshot itself pass). */
  send(message: FeedServerMessage, hold = true): void {
    if (hold && this.held) {
      this.held.push(message);
      return;
    }
    const { ws } = this;
    if (ws.readyState !== ws.OPEN || this.closing) return;
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

  /** Access withdrawn: an `access_revoked` error, then the close with 4403. */
  revoke(): void {
    this.closeWith('access_revoked', 'access_revoked', 'This key was revoked or its buyer paused.');
  }

  /**
   * The gateway closes the socket: an error saying why, then the close code (FEED_CLOSE_CODES); nothing is read
   * from the socket any more, and it is cut if the client does not answer the close in a second.
   */
  closeWith(reason: FeedCloseReason, errorCode: string, message: string): void {
    if (this.closing) return;
    this.sendError(errorCode, message);
    this.closing = reason;
    this.onClosing(reason);
    const { code, reason: words } = FEED_CLOSE_CODES[reason];
    this.ws.close(code, words);
    this.ws.pause();
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }
}
