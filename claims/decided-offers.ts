/**
 * Decided offers, remembered by one API process (#26.3): the offers it heard
 * closed on the offer bus, with who won them, so that a claim on one by a buyer
 * who lost is answered `lost_race` / `offer_closed` without reading the
 * database or calling the workflow. A claim storm's losers, and the late
 * clicks after it, cost the process a map look-up.
 *
 * What it remembers comes only from the bus (db/offer-bus.ts), which every API
 * process already hears for the Live Leads feed; the processes share nothing
 * else. Per offer: its agency and lead, its eligible targets (`offer.opened`),
 * and once it is decided, its winners and places (`offer.closed`).
 *
 * Why the answer is true – the same answer the database would give (the slow
 * path in claims/relay.ts: `decided` on `claimContext`):
 * - `offer.closed` is published after the closing commit (the sale that sold
 *   the last place, or closeOffer: activities/offers.ts `publishClosed`), so an
 *   entry is decided only once the database says so;
 * - its `winners` are every sale of the offer (read under the offer's lock in
 *   the closing transaction), and no sale commits after it (a sale re-checks
 *   "open, a place left" under the same lock): a buyer not among them never
 *   will be, whatever attempt of theirs is still in flight anywhere;
 * - the reason is `noPlaceLeft`, the one definition the slow path uses, from
 *   the winners and the places carried on the event;
 * - a buyer the offer did not target, another agency's buyer, an offer whose
 *   targets or winners did not come on the bus (too large for NOTIFY, an older
 *   publisher): nothing is answered here, the slow path answers.
 *
 * And it never answers a winner: a buyer among the winners, or one that
 * claimed this offer through this process before (its earlier attempt – same
 * buyer, any requestId – may be the win it retries), takes the slow path.
 *
 * The claim attempt rows (db/claim-attempts.ts): an answer from here records
 * no row, as the relay's own refusals from the database record none. The row
 * exists so that a sale of an attempt still in flight cannot commit after its
 * buyer was refused; here none can – the offer was decided and committed
 * before the entry existed, and its winners are known. The nemesis checker
 * judges every answer a client was given against the ledger ("refused and
 * charged"), the answers from here included.
 *
 * Bounded: the entries weigh what they hold (1 + targets + winners + buyers
 * seen claiming), and past `size` the least recently used offers are
 * forgotten (a forgotten offer is answered by the slow path).
 */
import type { BusEvent } from '../db/offer-bus';
import { noPlaceLeft } from './vocabulary';

interface Entry {
  /** From `offer.opened`: null until heard (then nothing is answered from here). */
  agencyId: string | null;
  leadId: string | null;
  targets: Set<string> | null;
  /** From `offer.closed` with its winners and places: why every other buyer's claim is refused now. */
  decided: { winners: Set<string>; reason: 'lost_race' | 'offer_closed' } | null;
  /** Buyers that claimed it through this process on the slow path: never answered from here. */
  claimed: Set<string>;
  weight: number;
}

/** A claim answered from memory: the refusal and the offer's lead (its timeline). */
export interface RememberedRefusal {
  reason: 'lost_race' | 'offer_closed';
  leadId: string;
}

export class DecidedOffers {
  /** In order of use, least recent first. */
  private readonly entries = new Map<string, Entry>();
  private weight = 0;

  /** `size`: how many buyer ids (targets, winners, claimants) it holds at most; 0 remembers nothing. */
  constructor(private readonly size: number) {}

  /** The bus subscriber. */
  readonly onBusEvent = (event: BusEvent): void => {
    if (this.size <= 0 || !event) return;
    if (event.type === 'offer.opened') {
      // Ids only (too large for NOTIFY): the targets are unknown here, and stay so.
      if (!event.offer || !event.targets) return;
      const e = this.entry(event.offerId);
      e.agencyId = event.agencyId;
      e.leadId = event.offer.leadId;
      e.targets = new Set(event.targets);
      this.weigh(event.offerId, e);
    } else if (event.type === 'offer.closed') {
      // Only an offer whose opening was heard: without its targets a refusal could not be told from `not_targeted`.
      const e = this.entries.get(event.offerId);
      if (!e?.targets || !event.winners || event.maxWinners === undefined) return;
      const reason = noPlaceLeft({ winners: event.winners.length, maxWinners: event.maxWinners, open: false });
      e.decided = { winners: new Set(event.winners), reason: reason ?? 'offer_closed' };
      this.weigh(event.offerId, e);
    }
  };

  /**
   * The refusal this claim gets from memory, or null: the slow path decides it. Null also marks the buyer as a
   * claimant of the offer, so that none of its later claims on it (retries of a possible win) is answered here.
   */
  refusal(claim: { agencyId: string; buyerId: string; offerId: string }): RememberedRefusal | null {
    if (this.size <= 0) return null;
    const e = this.entries.get(claim.offerId);
    const d = e?.decided;
    if (
      e &&
      d &&
      e.leadId &&
      e.agencyId === claim.agencyId &&
      e.targets?.has(claim.buyerId) &&
      !d.winners.has(claim.buyerId) &&
      !e.claimed.has(claim.buyerId)
    ) {
      this.touch(claim.offerId, e);
      return { reason: d.reason, leadId: e.leadId };
    }
    const slow = e ?? this.entry(claim.offerId);
    if (!slow.claimed.has(claim.buyerId)) {
      slow.claimed.add(claim.buyerId);
      this.weigh(claim.offerId, slow);
    }
    return null;
  }

  /** What it holds now: offers, and their weight in buyer ids (metrics, tests). */
  stats(): { offers: number; decided: number; weight: number } {
    let decided = 0;
    for (const e of this.entries.values()) if (e.decided) decided++;
    return { offers: this.entries.size, decided, weight: this.weight };
  }

  /** Whether the offer is remembered as decided (tests). */
  isDecided(offerId: string): boolean {
    return !!this.entries.get(offerId)?.decided;
  }

  private entry(offerId: string): Entry {
    let e = this.entries.get(offerId);
    if (!e) {
      e = { agencyId: null, leadId: null, targets: null, decided: null, claimed: new Set(), weight: 0 };
      this.entries.set(offerId, e);
    }
    return e;
  }

  private touch(offerId: string, e: Entry): void {
    this.entries.delete(offerId);
    this.entries.set(offerId, e);
  }

  /** Re-weighs an entry that changed, makes it the most recent, and forgets the least recent past the bound. */
  private weigh(offerId: string, e: Entry): void {
    const weight = 1 + (e.targets?.size ?? 0) + (e.decided?.winners.size ?? 0) + e.claimed.size;
    this.weight += weight - e.weight;
    e.weight = weight;
    this.touch(offerId, e);
    for (const [id, old] of this.entries) {
      if (this.weight <= this.size || id === offerId) break;
      this.entries.delete(id);
      this.weight -= old.weight;
    }
  }
}
