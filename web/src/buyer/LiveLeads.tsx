/**
 * Live Leads: the board of offer cards, fed by the WebSocket (snapshot,
 * offer.opened, offer.closed), with a countdown per card and one Claim
 * button. `useLiveBoard` combines the feed connection (live-feed.ts), the
 * board reducer (cards.ts) and claiming (claiming.ts: a claim goes over the
 * socket when it is up, else over REST, with one requestId per attempt; a
 * highest-bid offer takes a sealed bid instead); the winner's card fills in
 * with the record when the offer closes "won by you".
 */
import type { RefObject } from 'preact';
import { useEffect, useReducer, useRef, useState } from 'preact/hooks';

import { type Api, serverNow } from '../shared/api';
import type { FeedStatus } from '../shared/feed';
import { ago, countdown, credits, label, num, show } from '../shared/format';
import type { LeadRecord, Wallet } from '../shared/types';
import { Button, Empty, useNow } from '../shared/ui';
import * as B from './cards';
import { useClaiming, useWonRecords } from './claiming';
import { useFeedConnection } from './live-feed';

export interface LiveState {
  board: B.Board;
  status: FeedStatus;
  /** When the next reconnection attempt is due (offline). */
  retryAt?: number;
  /** The feed has connected at least once. */
  everOnline: boolean;
  claim(offerId: string): Promise<void>;
  bid(offerId: string, amount: number): Promise<void>;
  viewed(offerId: string): void;
  reconnect(): void;
  dismissOver(): void;
}

/**
 * The board and what drives it: the feed connection (live-feed.ts) feeds the
 * board reducer (cards.ts) with offers opening and closing; claiming
 * (claiming.ts) feeds it the answers.
 */
export function useLiveBoard(
  api: Api,
  buyerId: string,
  onClaimAnswered: (balance?: number) => void,
  /** `wallet.changed`: an entry (a top-up, a card payment, a charge, a refund…) moved the balance. */
  onWalletChanged?: (balance: number) => void,
): LiveState {
  const [board, dispatch] = useReducer(B.reduceBoard, []);
  const snapshots = useRef(0);
  const connection = useFeedConnection(buyerId, (m) => {
    if (m.type === 'snapshot') dispatch({ t: 'snapshot', offers: m.offers, first: snapshots.current++ === 0 });
    else if (m.type === 'offer.opened') dispatch({ t: 'opened', offer: m.offer });
    else if (m.type === 'offer.closed') dispatch({ t: 'closed', offerId: m.offerId, outcome: m.outcome });
    else if (m.type === 'wallet.changed') onWalletChanged?.(m.balance);
  });
  const { claim, bid } = useClaiming(api, connection.feed, dispatch, onClaimAnswered);
  useWonRecords(api, board, dispatch);
  return {
    board,
    status: connection.status,
    retryAt: connection.retryAt,
    everOnline: connection.everOnline,
    claim,
    bid,
    viewed: connection.viewed,
    reconnect: connection.reconnect,
    dismissOver: () => dispatch({ t: 'dismiss' }),
  };
}

// ─── the board ───────────────────────────────────────────────────────────────

export function LiveLeads({
  live,
  balance,
  wallet,
  onWallet,
}: {
  live: LiveState;
  balance: number | null;
  wallet: Wallet | null;
  onWallet(): void;
}) {
  const now = useNow(500);
  const [hideOver, setHideOver] = useState(false);
  const open = live.board.filter((c) => c.phase === 'open' || c.phase === 'claiming' || c.phase === 'refused');
  const over = live.board.length - open.length;
  const shown = hideOver ? live.board.filter((c) => open.includes(c) || c.phase === 'won') : live.board;
  // An alert's claim link (`/?offer=<id>`) opens the page on that offer.
  const [focus] = useState(() => new URLSearchParams(location.search).get('offer'));
  const focusGone =
    focus !== null &&
    live.everOnline &&
    !live.board.some(
      (c) => c.offer.id === focus && (c.phase === 'open' || c.phase === 'claiming' || c.phase === 'refused'),
    );
  return (
    <div class="live-layout">
      <div class="live">
        <div class="live-head">
          <div>
            <h1>Live Leads</h1>
            <p class="muted">
              {open.length === 0
                ? 'No open offers right now.'
                : `${open.length} open ${open.length === 1 ? 'offer' : 'offers'}.`}{' '}
              New offers appear here the moment they open – the first valid claim wins.
            </p>
          </div>
          {over > 0 ? (
            <div class="live-tools">
              <label class="check">
                <input type="checkbox" checked={hideOver} onChange={(e) => setHideOver(e.currentTarget.checked)} /> Hide
                closed
              </label>
              <Button size="sm" variant="ghost" onClick={live.dismissOver}>
                Clear closed & won
              </Button>
            </div>
          ) : null}
        </div>
        {focusGone ? (
          <div class="note note-warn" data-testid="focus-gone">
            The offer from your alert is no longer open: it was taken or its claim window ended.
          </div>
        ) : null}
        {shown.length === 0 ? (
          <Empty title={live.everOnline ? 'Waiting for leads…' : 'Connecting to the live feed…'}>
            {live.everOnline
              ? 'Keep this page open: offers that match your service area and subscriptions pop up here instantly.'
              : null}
          </Empty>
        ) : (
          <div class="cards" data-testid="offer-cards">
            {shown.map((c) => (
              <OfferCard
                key={c.offer.id}
                card={c}
                now={now}
                balance={balance}
                onClaim={live.claim}
                onBid={live.bid}
                onViewed={live.viewed}
                focused={c.offer.id === focus}
              />
            ))}
          </div>
        )}
      </div>
      <WalletAside wallet={wallet} balance={balance} now={now} onWallet={onWallet} />
    </div>
  );
}

const ENTRY_LABEL: Record<string, string> = {
  top_up: 'Top-up',
  charge: 'Lead',
  refund: 'Refund',
  adjustment: 'Adjustment',
};

/** Beside the board on a wide screen: the balance, today's buying, the latest ledger entries. */
function WalletAside({
  wallet,
  balance,
  now,
  onWallet,
}: {
  wallet: Wallet | null;
  balance: number | null;
  now: number;
  onWallet(): void;
}) {
  const today = new Date(now).toDateString();
  const todays = (wallet?.entries ?? []).filter(
    (e) => e.kind === 'charge' && new Date(e.createdAt).toDateString() === today,
  );
  const spent = todays.reduce((s, e) => s - e.amount, 0);
  return (
    <aside class="live-aside">
      <section class="panel aside-wallet">
        <div class="aside-label">Balance</div>
        <div class="aside-balance">
          {balance === null ? '…' : num(balance)} <span>credits</span>
        </div>
        <div class="aside-today">
          <div>
            <strong>{todays.length}</strong> {todays.length === 1 ? 'lead' : 'leads'} won today
          </div>
          <div>
            <strong>{num(spent)}</strong> credits spent
          </div>
        </div>
      </section>
      <section class="panel">
        <header class="panel-head">
          <h2>Latest activity</h2>
          <button class="link" onClick={onWallet}>
            Ledger →
          </button>
        </header>
        {wallet?.entries.length ? (
          <ul class="activity">
            {wallet.entries.slice(0, 6).map((e) => (
              <li key={e.id}>
                <span class={`kind kind-${e.kind}`}>{ENTRY_LABEL[e.kind] ?? e.kind}</span>
                <span class="muted">{ago(e.createdAt, now)}</span>
                <span class={e.amount < 0 ? 'neg' : 'pos'}>
                  {e.amount > 0 ? '+' : ''}
                  {num(e.amount)}
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No activity yet.</p>
        )}
      </section>
      <section class="panel aside-how">
        <h2>How it works</h2>
        <ul>
          <li>The first valid claim wins the lead.</li>
          <li>Credits are charged the instant you win; the full record opens at once.</li>
          <li>A bad lead? Dispute it from My leads.</li>
        </ul>
      </section>
    </aside>
  );
}

/** The preview as rows; the place fields are left out when the title already says them. */
function previewRows(preview: Record<string, unknown>, titled: boolean): [string, unknown][] {
  const rows: [string, unknown][] = [];
  for (const [k, v] of Object.entries(preview)) {
    if (titled && (k === 'city' || k === 'state' || k === 'zip')) continue;
    if (k === 'answers' && v && typeof v === 'object') for (const [q, a] of Object.entries(v)) rows.push([q, a]);
    else rows.push([k, v]);
  }
  return rows;
}

function placeTitle(p: Record<string, unknown>): string | null {
  const city = typeof p.city === 'string' ? p.city : null;
  const state = typeof p.state === 'string' ? p.state : null;
  const zip = typeof p.zip === 'string' ? p.zip : null;
  const head = [city, state].filter(Boolean).join(', ');
  return [head, zip].filter(Boolean).join(' ') || null;
}

function OfferCard({
  card,
  now,
  balance,
  onClaim,
  onBid,
  onViewed,
  focused,
}: {
  card: B.Card;
  now: number;
  balance: number | null;
  onClaim(id: string): Promise<void>;
  onBid(id: string, amount: number): Promise<void>;
  onViewed(id: string): void;
  /** Opened from an alert's claim link. */
  focused?: boolean;
}) {
  const ref = useRef<HTMLElement>(null);
  const { offer, phase } = card;
  useEffect(() => {
    if (focused) ref.current?.scrollIntoView?.({ block: 'center' });
  }, [focused]);
  const live = phase === 'open' || phase === 'claiming' || phase === 'refused';

  // `viewed` when at least half of the card is on screen (once per offer).
  useEffect(() => {
    const el = ref.current;
    if (!el || !live) return;
    if (typeof IntersectionObserver === 'undefined') {
      onViewed(offer.id);
      return;
    }
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          onViewed(offer.id);
          io.disconnect();
        }
      },
      { threshold: 0.5 },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [offer.id, live, onViewed]);

  const closesAt = Date.parse(offer.closesAt);
  const remaining = closesAt - (now + (serverNow() - Date.now()));
  const total = Math.max(1_000, closesAt - card.arrivedAt);
  const fraction = Math.max(0, Math.min(1, remaining / total));
  const timeUp = remaining <= 0;
  const urgency = remaining < 5_000 ? 'urgent' : remaining < 15_000 ? 'soon' : '';
  const title = placeTitle(offer.preview);
  const rows = previewRows(offer.preview, title !== null);
  const short = balance !== null && balance < offer.price;
  const isBid = offer.auction === 'highest_bid';
  const refusal = card.reason ?? card.bidReason;
  const stateAttr =
    phase === 'closed'
      ? `closed:${card.outcome ?? refusal ?? ''}`
      : phase === 'refused'
        ? `refused:${refusal}`
        : phase === 'open' && card.bid !== undefined
          ? 'bid'
          : phase;

  if (phase === 'won' && card.won)
    return <WonCard card={card} lead={card.won.lead} charged={card.won.charged} innerRef={ref} />;

  return (
    <article
      ref={ref}
      class={`offer-card phase-${phase} ${focused ? 'is-focus' : ''} ${card.fresh && now - card.arrivedAt < 4000 ? 'is-new' : ''} ${urgency && live ? `is-${urgency}` : ''}`}
      data-testid="offer-card"
      data-offer-id={offer.id}
      data-state={stateAttr}
    >
      <header class="oc-head">
        <div class="oc-price">
          {isBid ? <span class="oc-price-floor">floor</span> : null}
          <span class="oc-price-n">{offer.price}</span>{' '}
          <span class="oc-price-u">{offer.price === 1 ? 'credit' : 'credits'}</span>
        </div>
        {live ? (
          <div class="oc-timer" title="Time left to claim" aria-label={`${countdown(remaining)} left`}>
            <ClockIcon /> {timeUp ? 'closing…' : countdown(remaining)}
          </div>
        ) : (
          <div class={`oc-outcome oc-outcome-${card.outcome ?? 'closed'}`}>
            {card.outcome === 'won_by_you'
              ? 'Won'
              : card.outcome === 'taken'
                ? 'Taken'
                : card.outcome === 'expired'
                  ? 'Expired'
                  : 'Closed'}
          </div>
        )}
      </header>
      {live ? (
        <div class="oc-bar" aria-hidden="true">
          <span style={{ width: `${fraction * 100}%` }} />
        </div>
      ) : null}
      <h3 class="oc-title">{title ?? 'New lead'}</h3>
      {rows.length ? (
        <dl class="oc-fields">
          {rows.map(([k, v]) => (
            <div key={k} class="kv">
              <dt>{label(k)}</dt>
              <dd>{show(v)}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p class="oc-msg oc-msg-muted">The rest of the record is yours once you claim it.</p>
      )}
      <footer class="oc-foot">
        {live && isBid ? (
          <BidForm card={card} timeUp={timeUp} short={short} onBid={onBid} />
        ) : live ? (
          <>
            <Button
              variant="primary"
              size="lg"
              class="wide"
              busy={phase === 'claiming'}
              disabled={timeUp || (phase === 'refused' && !!card.reason && !B.RETRYABLE.has(card.reason))}
              onClick={() => void onClaim(offer.id)}
            >
              {phase === 'claiming'
                ? 'Claiming…'
                : phase === 'refused' && card.reason && B.RETRYABLE.has(card.reason)
                  ? 'Try again'
                  : `Claim · ${credits(offer.price)}`}
            </Button>
            {phase === 'refused' && card.reason ? (
              <p
                class={`oc-msg ${card.reason === 'insufficient_credits' ? 'oc-msg-warn' : 'oc-msg-bad'}`}
                data-testid="card-status"
              >
                {card.refusal}
              </p>
            ) : card.note ? (
              <p class="oc-msg oc-msg-bad" data-testid="card-status">
                {card.note}
              </p>
            ) : short ? (
              <p class="oc-msg oc-msg-muted">Your balance is below this price.</p>
            ) : null}
          </>
        ) : (
          <p class={`oc-msg oc-msg-closed`} data-testid="card-status">
            {B.closedText(card)}
          </p>
        )}
      </footer>
    </article>
  );
}

/** A highest-bid offer: one sealed bid (raised as often as the buyer likes); the highest at close wins. */
function BidForm({
  card,
  timeUp,
  short,
  onBid,
}: {
  card: B.Card;
  timeUp: boolean;
  short: boolean;
  onBid(id: string, amount: number): Promise<void>;
}) {
  const { offer, phase } = card;
  const min = card.bid !== undefined ? card.bid + 1 : offer.price;
  const [amount, setAmount] = useState(String(min));
  useEffect(() => setAmount(String(min)), [min]);
  const n = Number(amount);
  const final = phase === 'refused' && card.bidReason !== undefined && !B.BID_RETRYABLE.has(card.bidReason);
  return (
    <form
      class="oc-bid"
      onSubmit={(e) => {
        e.preventDefault();
        if (Number.isInteger(n) && n >= 0) void onBid(offer.id, n);
      }}
    >
      <div class="oc-bid-row">
        <input
          type="number"
          name="bid"
          min={offer.price}
          step={1}
          value={amount}
          onInput={(e) => setAmount(e.currentTarget.value)}
          aria-label="Your bid in credits"
          disabled={timeUp || final}
        />
        <Button
          type="submit"
          variant="primary"
          size="lg"
          busy={phase === 'claiming'}
          disabled={timeUp || final || !Number.isInteger(n)}
        >
          {phase === 'claiming' ? 'Bidding…' : card.bid !== undefined ? 'Raise bid' : 'Place bid'}
        </Button>
      </div>
      {phase === 'refused' && card.bidReason ? (
        <p
          class={`oc-msg ${card.bidReason === 'insufficient_credits' ? 'oc-msg-warn' : 'oc-msg-bad'}`}
          data-testid="card-status"
        >
          {card.bidRefusal}
        </p>
      ) : card.note ? (
        <p class="oc-msg oc-msg-bad" data-testid="card-status">
          {card.note}
        </p>
      ) : card.bid !== undefined ? (
        <p class="oc-msg oc-msg-ok" data-testid="card-status">
          Your sealed bid: {credits(card.bid)}. The highest bid at close wins.
        </p>
      ) : (
        <p class="oc-msg oc-msg-muted">
          {short ? 'Your balance is below the floor.' : 'Sealed bids: the highest at close wins.'}
        </p>
      )}
    </form>
  );
}

function WonCard({
  card,
  lead,
  charged,
  innerRef,
}: {
  card: B.Card;
  lead: LeadRecord;
  charged: number;
  innerRef: RefObject<HTMLElement | null>;
}) {
  const name = `${lead.firstName} ${lead.lastName}`.trim();
  const place = [lead.address, [lead.city, lead.state].filter(Boolean).join(', '), lead.zip]
    .filter(Boolean)
    .join(' · ');
  const answers = Object.entries(lead.answers ?? {});
  return (
    <article
      ref={innerRef}
      class="offer-card phase-won"
      data-testid="offer-card"
      data-offer-id={card.offer.id}
      data-state="won"
    >
      <div class="won-ribbon">
        <CheckIcon /> Won · charged {credits(charged)}
      </div>
      <h3 class="won-name" data-testid="won-name">
        {name}
      </h3>
      <div class="won-contact">
        <a href={`tel:${lead.phone.replace(/[^\d+]/g, '')}`} class="won-link">
          <PhoneIcon /> {lead.phone}
        </a>
        <a href={`mailto:${lead.email}`} class="won-link">
          <MailIcon /> {lead.email}
        </a>
      </div>
      {place ? <p class="won-place">{place}</p> : null}
      {answers.length ? (
        <dl class="oc-fields">
          {answers.map(([q, a]) => (
            <div key={q} class="kv">
              <dt>{label(q)}</dt>
              <dd>{show(a)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      <p class="oc-msg oc-msg-ok" data-testid="card-status">
        The full record is in My leads.
      </p>
    </article>
  );
}

// ─── icons ───────────────────────────────────────────────────────────────────

const ClockIcon = () => (
  <svg viewBox="0 0 20 20" width="15" height="15" aria-hidden="true">
    <circle cx="10" cy="10" r="7.5" fill="none" stroke="currentColor" stroke-width="1.8" />
    <path d="M10 5.5V10l3 2" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" />
  </svg>
);
const CheckIcon = () => (
  <svg viewBox="0 0 20 20" width="15" height="15" aria-hidden="true">
    <path
      d="M4 10.5l4 4 8-9"
      fill="none"
      stroke="currentColor"
      stroke-width="2.2"
      stroke-linecap="round"
      stroke-linejoin="round"
    />
  </svg>
);
const PhoneIcon = () => (
  <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
    <path
      d="M6.5 2.5l2 4-1.6 1.3a9 9 0 004.8 4.8L13 11l4 2-.6 3a2 2 0 01-2.1 1.5C8.6 17 3 11.4 2.5 5.7A2 2 0 014 3.6z"
      fill="none"
      stroke="currentColor"
      stroke-width="1.6"
      stroke-linejoin="round"
    />
  </svg>
);
const MailIcon = () => (
  <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
    <rect x="2.5" y="4.5" width="15" height="11" rx="2" fill="none" stroke="currentColor" stroke-width="1.6" />
    <path d="M3 5.5l7 5.5 7-5.5" fill="none" stroke="currentColor" stroke-width="1.6" />
  </svg>
);
