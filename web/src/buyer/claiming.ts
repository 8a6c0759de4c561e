/**
 * Claiming and bidding from the Live Leads board. A claim goes over the
 * socket when it is up, else over REST; either way with one requestId, so a
 * retry after a timeout or a dropped connection is the same attempt (never a
 * second charge). A sealed bid goes over REST with the same retry rule. Each
 * answer is dispatched to the board (cards.ts); a card that closed "won by
 * you" without this page's claim (another tab, REST) gets its record from
 * My leads.
 */
import type { RefObject } from 'preact';
import { useCallback, useEffect } from 'preact/hooks';

import { type Api, ApiError, messageOf, ok, randomId, toApiError } from '../shared/api';
import { type ClaimAnswer, FeedClaimError, type LiveFeed } from '../shared/feed';
import { credits } from '../shared/format';
import type { BidAnswer } from '../shared/types';
import { toast } from '../shared/ui';
import type { Board, BoardAction } from './cards';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Claiming {
  claim(offerId: string): Promise<void>;
  bid(offerId: string, amount: number): Promise<void>;
}

export function useClaiming(
  api: Api,
  feed: RefObject<LiveFeed | null>,
  dispatch: (a: BoardAction) => void,
  onClaimAnswered: (balance?: number) => void,
): Claiming {
  const restClaim = async (offerId: string, requestId: string): Promise<ClaimAnswer> => {
    const { data, error, response } = await api.client.POST('/v1/offers/{id}/claim', {
      params: { path: { id: offerId } },
      body: { requestId },
    });
    if (data) return data;
    // A refusal (lost, failed) is a business answer, not a problem document.
    if ([402, 403, 409].includes(response.status) && error && 'result' in error) return error;
    throw toApiError(response.status, error ?? null);
  };

  const claim = useCallback(
    async (offerId: string) => {
      const requestId = randomId();
      dispatch({ t: 'claiming', offerId });
      for (let attempt = 0; attempt < 6; attempt++) {
        try {
          const socket = feed.current;
          const answer = socket?.online ? await socket.claim(offerId, requestId) : await restClaim(offerId, requestId);
          dispatch({ t: 'answer', offerId, answer });
          if (answer.result === 'won')
            toast(
              `You won ${answer.lead.firstName} ${answer.lead.lastName}'s lead – charged ${credits(answer.charged)}`,
              'ok',
            );
          onClaimAnswered(answer.result === 'won' ? answer.balance : undefined);
          return;
        } catch (err) {
          const code = err instanceof FeedClaimError || err instanceof ApiError ? err.code : '';
          // Not decided yet, or the connection dropped mid-claim: ask again with the same requestId.
          if (
            code === 'claim_pending' ||
            code === 'disconnected' ||
            code === 'timeout' ||
            code === 'network_error' ||
            (err as Error).message === 'offline'
          ) {
            await sleep(Math.min(4000, 500 * 2 ** attempt));
            continue;
          }
          const retryAfter = err instanceof FeedClaimError ? err.retryAfter : undefined;
          const note =
            code === 'rate_limited'
              ? `Too many claims – wait ${retryAfter ?? 1} s and try again`
              : code === 'not_found'
                ? 'This offer no longer exists'
                : messageOf(err);
          dispatch({ t: 'problem', offerId, note });
          return;
        }
      }
      dispatch({ t: 'problem', offerId, note: 'Still being decided – check My leads in a moment' });
    },
    [api, onClaimAnswered],
  );

  const bid = useCallback(
    async (offerId: string, amount: number) => {
      const requestId = randomId();
      dispatch({ t: 'claiming', offerId });
      for (let attempt = 0; attempt < 6; attempt++) {
        try {
          const res = await api.client.POST('/v1/offers/{id}/bids', {
            params: { path: { id: offerId } },
            body: { amount, requestId },
          });
          const body: BidAnswer | null = res.data ?? (res.error && 'result' in res.error ? res.error : null);
          if (body && (body.result === 'accepted' || body.result === 'refused')) {
            dispatch({ t: 'bid', offerId, answer: body });
            if (body.result === 'accepted') toast(`Sealed bid of ${credits(body.amount)} placed`, 'ok');
            onClaimAnswered();
            return;
          }
          throw toApiError(res.response.status, res.error ?? null);
        } catch (err) {
          const code = err instanceof ApiError ? err.code : '';
          if (code === 'bid_pending' || code === 'network_error') {
            await sleep(Math.min(4000, 500 * 2 ** attempt));
            continue;
          }
          dispatch({
            t: 'problem',
            offerId,
            note: code === 'rate_limited' ? 'Too many bids – wait a moment and try again' : messageOf(err),
          });
          return;
        }
      }
      dispatch({ t: 'problem', offerId, note: 'Still being decided – check again in a moment' });
    },
    [api, onClaimAnswered],
  );

  return { claim, bid };
}

/** A card that closed "won by you" without this page's claim (another tab, REST): its record, from My leads. */
export function useWonRecords(api: Api, board: Board, dispatch: (a: BoardAction) => void): void {
  useEffect(() => {
    const missing = board.filter((c) => c.outcome === 'won_by_you' && !c.won);
    if (!missing.length) return;
    let cancelled = false;
    void ok(api.client.GET('/v1/me/leads', { params: { query: { limit: 50 } } }))
      .then((page) => {
        if (cancelled) return;
        for (const c of missing) {
          const w = page.leads.find((l) => l.offerId === c.offer.id);
          if (w)
            dispatch({
              t: 'wonElsewhere',
              offerId: c.offer.id,
              won: { lead: w.lead, charged: w.price, assignmentId: w.assignmentId },
            });
        }
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [board, api]);
}
