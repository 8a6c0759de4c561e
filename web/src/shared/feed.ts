/**
 * The Live Leads feed client: one WebSocket to /v1/feed, reconnected with
 * exponential backoff (0.5 s doubling to 15 s, with jitter) whenever it drops,
 * and at once when the browser comes back online. Every (re)connection starts
 * with a fresh `snapshot` from the server. A socket the server closed on
 * purpose (FEED_CLOSE_CODES: too many frames, access revoked) is not
 * reconnected before the longest delay, so a page that floods or lost its key
 * does not hammer the server. Claims sent over the socket are matched to their
 * `claim.result` by requestId. The socket is signed in by the session cookie
 * (a same-origin WebSocket sends it, and its Origin, by itself): no token in
 * the URL.
 */
import { FEED_CLOSE_CODES } from '../../../packages/client';
import type { ClaimRefusedAnswer, ClaimWonAnswer, FeedClientMessage, FeedServerMessage } from './types';

export type FeedStatus = 'connecting' | 'online' | 'offline';

export interface FeedEvents {
  message(m: FeedServerMessage): void;
  status(s: FeedStatus, detail: { attempt: number; retryInMs?: number }): void;
}

export type ClaimAnswer = ClaimWonAnswer | ClaimRefusedAnswer;

/** A feed `error` about a claim (e.g. claim_pending, rate_limited): the caller decides to retry. */
export class FeedClaimError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

const MIN_DELAY = 500;
const MAX_DELAY = 15_000;
/** Closes that say "not now": reconnect only after MAX_DELAY. */
const CLOSED_ON_PURPOSE: ReadonlySet<number> = new Set(Object.values(FEED_CLOSE_CODES));

export class LiveFeed {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly pending = new Map<string, { resolve(a: ClaimAnswer): void; reject(e: Error): void }>();

  constructor(private readonly on: FeedEvents) {}

  get online(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    window.addEventListener('online', this.reconnectNow);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.reconnectNow);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'signed out');
    this.failPending('the feed was closed');
  }

  /** Sends a message if connected; false otherwise. */
  send(message: FeedClientMessage): boolean {
    if (!this.online) return false;
    this.ws!.send(JSON.stringify(message));
    return true;
  }

  /** A claim over the socket; rejects if the socket is down or drops before the answer. */
  claim(offerId: string, requestId: string, timeoutMs = 15_000): Promise<ClaimAnswer> {
    return new Promise((resolve, reject) => {
      if (!this.send({ type: 'claim', offerId, requestId })) return reject(new Error('offline'));
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new FeedClaimError('timeout', 'no answer from the feed'));
      }, timeoutMs);
      this.pending.set(requestId, {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  private readonly reconnectNow = () => {
    if (this.stopped || this.online) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.connect();
  };

  /** The newest `seq` heard: a reconnect resumes from it (`since`), so closes missed meanwhile arrive too. */
  private lastSeq = 0;

  private url(): string {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const since = this.lastSeq ? `?since=${this.lastSeq}` : '';
    return `${proto}//${location.host}/v1/feed${since}`;
  }

  private connect(): void {
    if (this.stopped) return;
    this.on.status('connecting', { attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.on.status('online', { attempt: 0 });
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let m: FeedServerMessage;
      try {
        m = JSON.parse(String(ev.data)) as FeedServerMessage;
      } catch {
        return;
      }
      if ('seq' in m && typeof m.seq === 'number' && m.seq > this.lastSeq) this.lastSeq = m.seq;
      if (m.type === 'claim.result') {
        const p = this.pending.get(m.requestId);
        if (p) {
          this.pending.delete(m.requestId);
          const { type: _t, requestId: _r, ...answer } = m;
          p.resolve(answer as ClaimAnswer);
        }
      } else if (m.type === 'error' && m.requestId && this.pending.has(m.requestId)) {
        const p = this.pending.get(m.requestId)!;
        this.pending.delete(m.requestId);
        p.reject(new FeedClaimError(m.code, m.message, m.retryAfter));
        return;
      }
      this.on.message(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending('the connection dropped');
      this.scheduleReconnect(CLOSED_ON_PURPOSE.has(ev.code));
    };
    ws.onerror = () => {
      /* onclose follows and reconnects */
    };
  }

  /** `backOff`: the server closed the socket on purpose; wait the longest delay. */
  private scheduleReconnect(backOff = false): void {
    if (this.stopped) return;
    const base = backOff ? MAX_DELAY : Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt++;
    this.on.status('offline', { attempt: this.attempt, retryInMs: delay });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private failPending(why: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new FeedClaimError('disconnected', why));
    }
  }
}
