/**
 * The Live Leads board as plain data: one card per offer, the pure
 * transitions the feed and the claim answers cause, and the reducer that
 * applies them (`reduceBoard`). The component renders cards; everything that
 * decides what a card says lives here.
 */
import type { ClaimAnswer } from '../shared/feed';
import type {
  BidAnswer,
  BidRefusalReason,
  BuyerOffer,
  ClaimFailureReason,
  ClaimWonAnswer,
  CloseOutcome,
  LeadRecord,
} from '../shared/types';

type Phase =
  /** claimable */
  | 'open'
  /** a claim (or a bid) is on its way */
  | 'claiming'
  /** the claim or bid was refused but the offer is still open (credits, cap, eligibility, floor) */
  | 'refused'
  /** this buyer won: the card shows the full lead */
  | 'won'
  /** over, for this buyer: taken, expired, or closed while offline */
  | 'closed';

export interface Card {
  offer: BuyerOffer;
  phase: Phase;
  /** When this page first saw the offer (for the "new" highlight). */
  arrivedAt: number;
  /** Arrived after the first snapshot: highlighted as new. */
  fresh: boolean;
  reason?: ClaimFailureReason;
  /** What the claim refusal means, in the server's words (its `message`). */
  refusal?: string;
  /** Highest-bid offers: my standing sealed bid, and why the last bid was refused (reason and the server's words). */
  bid?: number;
  bidReason?: BidRefusalReason;
  bidRefusal?: string;
  outcome?: CloseOutcome | 'gone';
  won?: { lead: LeadRecord; charged: number; assignmentId: string };
  /** A transient problem (network, rate limit) shown under the button. */
  note?: string;
}

export type Board = Card[];

/** How many cards that are over stay on the board. */
const KEEP_CLOSED = 40;

const isLive = (c: Card) => c.phase === 'open' || c.phase === 'claiming' || c.phase === 'refused';

function prune(board: Board): Board {
  let over = 0;
  return board.filter((c) => isLive(c) || c.phase === 'won' || ++over <= KEEP_CLOSED);
}

const update = (board: Board, offerId: string, f: (c: Card) => Card): Board =>
  board.map((c) => (c.offer.id === offerId ? f(c) : c));

/** A (re)connection's snapshot: the open offers now. Cards still open here but absent there closed while we were away. */
function applySnapshot(board: Board, offers: BuyerOffer[], now: number, first: boolean): Board {
  const open = new Map(offers.map((o) => [o.id, o]));
  const known = new Set(board.map((c) => c.offer.id));
  const added: Card[] = offers
    .filter((o) => !known.has(o.id))
    .map((offer) => ({ offer, phase: 'open', arrivedAt: now, fresh: !first }));
  const kept = board.map((c): Card => {
    const o = open.get(c.offer.id);
    if (o)
      return c.phase === 'closed' && c.outcome === 'gone'
        ? { ...c, offer: o, phase: 'open', outcome: undefined }
        : { ...c, offer: o };
    if (isLive(c)) return { ...c, phase: 'closed', outcome: 'gone', note: undefined };
    return c;
  });
  return prune([...added, ...kept]);
}

function applyOpened(board: Board, offer: BuyerOffer, now: number): Board {
  if (board.some((c) => c.offer.id === offer.id)) return update(board, offer.id, (c) => ({ ...c, offer }));
  return prune([{ offer, phase: 'open', arrivedAt: now, fresh: true }, ...board]);
}

function applyClosed(board: Board, offerId: string, outcome: CloseOutcome): Board {
  return update(board, offerId, (c) =>
    c.phase === 'won'
      ? { ...c, outcome }
      : { ...c, phase: outcome === 'won_by_you' && c.won ? 'won' : 'closed', outcome, note: undefined },
  );
}

function claimStarted(board: Board, offerId: string): Board {
  return update(board, offerId, (c) => ({ ...c, phase: 'claiming', note: undefined }));
}

function claimWon(board: Board, answer: ClaimWonAnswer): Board {
  return update(board, answer.offerId, (c) => ({
    ...c,
    phase: 'won',
    reason: undefined,
    refusal: undefined,
    note: undefined,
    won: { lead: answer.lead, charged: answer.charged, assignmentId: answer.assignmentId },
  }));
}

/** A won lead learned another way (claimed in another tab, or over REST). */
function wonElsewhere(board: Board, offerId: string, won: NonNullable<Card['won']>): Board {
  return update(board, offerId, (c) => ({ ...c, phase: 'won', won }));
}

/**
 * A refused claim, as the answer gives it: `lost` (a lost race or a finished offer) ends the card for this buyer,
 * whatever happens next; `failed` (money, caps, eligibility) leaves it open to try again. The card keeps the
 * answer's `message`, the words it shows.
 */
function claimRefused(
  board: Board,
  offerId: string,
  answer: { result: 'lost' | 'failed'; reason: ClaimFailureReason; message: string },
): Board {
  const { result, reason, message: refusal } = answer;
  return update(board, offerId, (c) => {
    if (c.phase === 'closed' || c.phase === 'won') return c.reason ? { ...c } : { ...c, reason, refusal };
    if (result === 'lost')
      return {
        ...c,
        phase: 'closed',
        reason,
        refusal,
        outcome: c.outcome ?? (reason === 'lost_race' ? 'taken' : undefined),
      };
    return { ...c, phase: 'refused', reason, refusal };
  });
}

function bidPlaced(board: Board, offerId: string, amount: number): Board {
  return update(board, offerId, (c) =>
    c.phase === 'claiming' || c.phase === 'refused' || c.phase === 'open'
      ? { ...c, phase: 'open', bid: amount, bidReason: undefined, bidRefusal: undefined, note: undefined }
      : { ...c, bid: amount },
  );
}

/** A refused bid, as the answer gives it (its reason, and the words the card shows: `message`). */
function bidRefused(board: Board, offerId: string, answer: { reason: BidRefusalReason; message: string }): Board {
  const { reason, message: bidRefusal } = answer;
  return update(board, offerId, (c) => {
    if (c.phase === 'closed' || c.phase === 'won') return c;
    if (reason === 'offer_closed') return { ...c, phase: 'closed', bidReason: reason, bidRefusal };
    return { ...c, phase: 'refused', bidReason: reason, bidRefusal, reason: undefined, refusal: undefined };
  });
}

function claimProblem(board: Board, offerId: string, note: string): Board {
  return update(board, offerId, (c) => (c.phase === 'claiming' ? { ...c, phase: 'open', note } : { ...c, note }));
}

function dismissOver(board: Board): Board {
  return board.filter((c) => isLive(c));
}

// ─── the reducer ─────────────────────────────────────────────────────────────

/** What changes the board: the feed's messages, this page's claims and bids and their answers, the buyer's clearing. */
export type BoardAction =
  | { t: 'snapshot'; offers: BuyerOffer[]; first: boolean }
  | { t: 'opened'; offer: BuyerOffer }
  | { t: 'closed'; offerId: string; outcome: CloseOutcome }
  | { t: 'claiming'; offerId: string }
  | { t: 'answer'; offerId: string; answer: ClaimAnswer }
  | { t: 'bid'; offerId: string; answer: BidAnswer }
  | { t: 'problem'; offerId: string; note: string }
  | { t: 'wonElsewhere'; offerId: string; won: NonNullable<Card['won']> }
  | { t: 'dismiss' };

/** The board after one action (the useReducer of Live Leads). */
export function reduceBoard(board: Board, a: BoardAction): Board {
  const now = Date.now();
  switch (a.t) {
    case 'snapshot':
      return applySnapshot(board, a.offers, now, a.first);
    case 'opened':
      return applyOpened(board, a.offer, now);
    case 'closed':
      return applyClosed(board, a.offerId, a.outcome);
    case 'claiming':
      return claimStarted(board, a.offerId);
    case 'answer':
      return a.answer.result === 'won' ? claimWon(board, a.answer) : claimRefused(board, a.offerId, a.answer);
    case 'bid':
      return a.answer.result === 'accepted'
        ? bidPlaced(board, a.offerId, a.answer.amount)
        : bidRefused(board, a.offerId, a.answer);
    case 'problem':
      return claimProblem(board, a.offerId, a.note);
    case 'wonElsewhere':
      return wonElsewhere(board, a.offerId, a.won);
    case 'dismiss':
      return dismissOver(board);
  }
}

/** Refusals after which another (higher) bid can still stand. */
export const BID_RETRYABLE: ReadonlySet<BidRefusalReason> = new Set([
  'below_floor',
  'not_a_raise',
  'insufficient_credits',
]);

/** Whether the buyer may press Claim again after this refusal (the cause can change while the window is open). */
export const RETRYABLE: ReadonlySet<ClaimFailureReason> = new Set(['insufficient_credits', 'cap_reached']);

const OUTCOMES: Record<CloseOutcome | 'gone', string> = {
  won_by_you: 'Won by you',
  taken: 'Taken by another buyer',
  expired: 'Expired – nobody claimed it in time',
  gone: 'Closed while you were offline',
};

/** The one line a card that is over says. */
export function closedText(c: Card): string {
  if (c.offer.auction === 'highest_bid') {
    if (c.outcome === 'taken') return c.bid ? 'Another buyer bid higher' : 'Sold to the highest bidder';
    if (c.outcome === 'expired') return 'Expired – no valid bid';
  }
  if (c.outcome) return OUTCOMES[c.outcome];
  if (c.bidReason) return c.bidRefusal ?? c.bidReason;
  if (c.reason) return c.refusal ?? c.reason;
  return 'Closed';
}
