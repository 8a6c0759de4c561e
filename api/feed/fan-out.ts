/**
 * The bus fan-out: the gateway subscribes once to the offer bus and sends each
 * event to the connected buyers it concerns, in order. Bus events carry the
 * buyer-facing offer and its targets (opened) or its winners (closed), so
 * fan-out reads nothing. A target list too large for NOTIFY comes by
 * reference (`targetsRef`, db/offer-bus.ts): read the first time this gateway
 * sees it and kept (TARGET_LISTS_KEPT), so later offers to the same buyers
 * read nothing either. Any other event too large for NOTIFY comes as ids and
 * is read once. Events that wait for a read hold the ones after them back, in
 * order. `offer.opened` goes to
 * the offer's targets, `offer.closed` to the sockets that were shown the offer.
 * A `buyer.access` event re-checks that buyer's sockets (api/feed/access.ts).
 * A wallet change (the ledger trigger's NOTIFY, heard by the bus) goes to that
 * buyer's sockets as `wallet.changed` with the new balance.
 */
import { offerWinnerIds } from '../../db/assignments';
import type { BusEvent, OfferBusEvent, WalletChange } from '../../db/offer-bus';
import { eligibleTargetPrices, getOffer, targetList } from '../../db/offers';
import { buyersSee } from '../../domain/offer-view';
import type { FeedServerMessage } from '../feed-messages';
import type { ApiServices } from '../services';
import { buyerOfferView } from '../views';
import { enforceAccess } from './access';
import type { FeedClients } from './clients';
import type { FeedConnection } from './connection';

/** Target lists a gateway keeps by reference id (the least recently used go first). */
const TARGET_LISTS_KEPT = 256;

type TargetList = { targets: string[]; prices: Record<string, number> | null };

export class FeedFanOut {
  /** Target lists read by reference, by id (a Map in use order: the first is the least recently used). */
  private readonly lists = new Map<string, TargetList>();
  /** The events that had to be read, in order: each waits for the ones before it. */
  private queue: Promise<void> = Promise.resolve();
  private reading = 0;
  private closed = false;

  constructor(
    private readonly services: ApiServices,
    private readonly clients: FeedClients,
  ) {}

  /** The bus subscriber. */
  readonly onBusEvent = (event: BusEvent): void => {
    const { services } = this;
    // A revocation made in another process: this one forgets the buyer's remembered keys at once too.
    if (event?.type === 'buyer.access') services.auth.forgetBuyer(event.buyerId);
    if (this.closed || !event || !this.clients.servesAgency(event.agencyId)) return;
    if (event.type === 'buyer.access')
      return void enforceAccess(services, this.clients.ofBuyer(event.buyerId)).catch((err) =>
        services.logger.warn('[feed] access re-check failed', err),
      );
    const known = event.type === 'offer.opened' ? this.withKnownList(event) : event;
    const complete = known.type === 'offer.opened' ? !!(known.offer && known.targets) : !!known.winners;
    if (complete && this.reading === 0) return this.fanOut(known); // nothing to read, nothing ahead of it: at once
    this.reading++;
    this.queue = this.queue
      .then(async () => this.fanOut(complete ? known : await this.readEvent(known)))
      .catch((err) => services.logger.warn(`[feed] could not fan out ${event.type} ${event.offerId}`, err))
      .finally(() => this.reading--);
  };

  /** The wallet subscriber: every socket of the buyer hears its new balance and the entry that made it. */
  readonly onWalletChange = (change: WalletChange): void => {
    if (this.closed || !this.clients.servesAgency(change.agencyId)) return;
    const message: FeedServerMessage = { type: 'wallet.changed', balance: change.balance, entry: change.entry };
    for (const c of this.clients.ofBuyer(change.buyerId)) c.send(message);
  };

  /** Stops fanning out: events heard from now on are dropped. */
  stop(): void {
    this.closed = true;
  }

  /** Resolves when the events being read are done. */
  async settled(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** An `offer.opened` whose target list came by reference: with the list if this gateway keeps it (else as it came). */
  private withKnownList(event: OfferBusEvent): OfferBusEvent {
    if (event.targets || !event.targetsRef) return event;
    const list = this.lists.get(event.targetsRef);
    if (!list) return event;
    this.lists.delete(event.targetsRef); // used now: to the back of the line
    this.lists.set(event.targetsRef, list);
    return withTargets(event, list);
  }

  private keep(id: string, list: TargetList): void {
    this.lists.set(id, list);
    if (this.lists.size > TARGET_LISTS_KEPT) this.lists.delete(this.lists.keys().next().value!);
  }

  /**
   * An event that came incomplete: an `offer.opened` whose target list came by reference and is not kept here (read
   * once, then kept), or an event that came as ids only (too large for NOTIFY, or from an older publisher): the rest
   * from the database.
   */
  private async readEvent(event: OfferBusEvent): Promise<OfferBusEvent | null> {
    const { db } = this.services;
    if (event.type === 'offer.opened' && event.offer && event.targetsRef) {
      const known = this.withKnownList(event); // read meanwhile for an event ahead of this one
      if (known.targets) return known;
      this.services.metrics.inc('leadwire_feed_event_reads_total', { what: 'target_list' });
      const list = await targetList(db, event.targetsRef);
      if (list) {
        this.keep(event.targetsRef, list);
        return withTargets(event, list);
      }
    }
    this.services.metrics.inc('leadwire_feed_event_reads_total', { what: 'offer' });
    const offer = await getOffer(db, event.offerId);
    if (!offer || !buyersSee(offer)) return null;
    if (event.type === 'offer.opened') {
      if (offer.status !== 'open') return null; // already closed: its offer.closed follows, the opening is moot
      // The ids committed with the offer; an offer opened before they were kept: its verdict rows.
      const committed = offer.targetIds
        ? { targets: offer.targetIds, prices: offer.targetPrices }
        : await verdictTargets(db, offer.id);
      return { ...withTargets(event, committed), offer: buyerOfferView(offer) };
    }
    return { ...event, winners: [...(await offerWinnerIds(db, offer.id))] };
  }

  private fanOut(event: OfferBusEvent | null): void {
    if (!event) return;
    const from = sentAtMs(event);
    if (event.type === 'offer.opened' && event.offer && event.targets) {
      const message: FeedServerMessage = { type: 'offer.opened', offer: event.offer, seq: from };
      for (const buyerId of event.targets) {
        // A buyer with its own price (#12) sees it; everyone else shares one message.
        const own = event.prices?.[buyerId];
        const m: FeedServerMessage =
          own === undefined ? message : { type: 'offer.opened', offer: { ...event.offer, price: own }, seq: from };
        for (const c of this.clients.ofBuyer(buyerId)) {
          this.clients.show(c, event.offerId);
          c.send(m);
          this.delivered(event, from);
        }
      }
    } else if (event.type === 'offer.closed' && event.winners) {
      const winners = new Set(event.winners);
      for (const c of this.clients.takeWatchers(event.offerId)) this.closeFor(c, event, winners);
      for (const c of this.clients.snapshotting) c.closedMeanwhile.push(event);
    }
  }

  private closeFor(c: FeedConnection, event: OfferBusEvent, winners: Set<string>): void {
    c.shown.delete(event.offerId);
    // Cancelled counts as expired: for the buyer, the offer ended without anyone taking it.
    const outcome = winners.has(c.buyer.buyerId) ? 'won_by_you' : winners.size > 0 ? 'taken' : 'expired';
    c.send({ type: 'offer.closed', offerId: event.offerId, outcome, seq: sentAtMs(event) });
    this.delivered(event, sentAtMs(event));
  }

  /** Feed latency: the publisher's bus timestamp to the frame handed to the socket (clocks of one host or synced hosts). */
  private delivered(event: OfferBusEvent, from: number): void {
    if (Number.isFinite(from))
      this.services.metrics.observe(
        'leadwire_feed_delivery_seconds',
        { type: event.type },
        Math.max(0, Date.now() - from) / 1000,
      );
  }
}

const sentAtMs = (event: OfferBusEvent) => Date.parse(event.sentAt);

function withTargets(event: OfferBusEvent, list: TargetList): OfferBusEvent {
  return { ...event, targets: list.targets, ...(list.prices ? { prices: list.prices } : {}) };
}

/** The eligible targets and their own prices from the verdict rows (an offer opened before its target ids were kept). */
async function verdictTargets(db: ApiServices['db'], offerId: string): Promise<TargetList> {
  const prices = await eligibleTargetPrices(db, offerId);
  const own = [...prices].filter((e): e is [string, number] => e[1] !== null);
  return { targets: [...prices.keys()], prices: own.length ? Object.fromEntries(own) : null };
}
