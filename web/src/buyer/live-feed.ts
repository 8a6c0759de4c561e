/**
 * The Live Leads feed connection as a hook: the WebSocket (shared/feed.ts)
 * for as long as the session acts for the same buyer, its status (connecting, online, offline
 * with the time of the next attempt), and the `viewed` messages, sent once per
 * offer and kept until the socket is up.
 */
import type { RefObject } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import { type FeedStatus, LiveFeed } from '../shared/feed';
import type { FeedServerMessage } from '../shared/types';

export interface FeedConnection {
  /** The socket (null between two buyers): claims go over it when it is online. */
  feed: RefObject<LiveFeed | null>;
  status: FeedStatus;
  /** When the next reconnection attempt is due (offline). */
  retryAt?: number;
  /** The feed has connected at least once. */
  everOnline: boolean;
  /** The buyer looked at an offer: told to the server once (now, or when the socket is up). */
  viewed(offerId: string): void;
  reconnect(): void;
}

/** The feed of the session's buyer `buyerId`; every server message goes to `onMessage` (the latest one given). */
export function useFeedConnection(buyerId: string, onMessage: (m: FeedServerMessage) => void): FeedConnection {
  const [status, setStatus] = useState<FeedStatus>('connecting');
  const [retryAt, setRetryAt] = useState<number | undefined>();
  const [everOnline, setEverOnline] = useState(false);
  const feedRef = useRef<LiveFeed | null>(null);
  const handler = useRef(onMessage);
  handler.current = onMessage;
  /** Offers whose `viewed` is to be (re)sent when the socket is up. */
  const unsentViews = useRef(new Set<string>());
  const sentViews = useRef(new Set<string>());

  const flushViews = () => {
    const feed = feedRef.current;
    if (!feed?.online) return;
    for (const id of unsentViews.current) {
      if (feed.send({ type: 'viewed', offerId: id })) {
        unsentViews.current.delete(id);
        sentViews.current.add(id);
      }
    }
  };

  useEffect(() => {
    const feed = new LiveFeed({
      message(m: FeedServerMessage) {
        handler.current(m);
        // A (re)connection begins with its snapshot: the views not sent yet go now.
        if (m.type === 'snapshot') flushViews();
      },
      status(s, d) {
        setStatus(s);
        setRetryAt(d.retryInMs === undefined ? undefined : Date.now() + d.retryInMs);
        if (s === 'online') setEverOnline(true);
      },
    });
    feedRef.current = feed;
    feed.start();
    return () => {
      feed.stop();
      feedRef.current = null;
    };
  }, [buyerId]);

  const viewed = useCallback((offerId: string) => {
    if (sentViews.current.has(offerId)) return;
    unsentViews.current.add(offerId);
    flushViews();
  }, []);

  return {
    feed: feedRef,
    status,
    retryAt,
    everOnline,
    viewed,
    reconnect: () => window.dispatchEvent(new Event('online')),
  };
}
