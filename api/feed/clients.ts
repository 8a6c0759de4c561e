/**
 * The gateway's connected sockets, indexed the ways fan-out asks for them: by
 * buyer (offer.opened goes to an offer's targets), by the open offer they were
 * shown (offer.closed goes to those), by agency (an event of an agency with no
 * socket here is dropped at once), and the ones whose snapshot is being read.
 */
import type { FeedConnection } from './connection';

export class FeedClients {
  private readonly byBuyer = new Map<string, Set<FeedConnection>>();
  /** Sockets by the open offer they were shown. */
  private readonly watchers = new Map<string, Set<FeedConnection>>();
  private readonly perAgency = new Map<string, number>();
  /** Sockets whose snapshot is being read. */
  readonly snapshotting = new Set<FeedConnection>();
  private count = 0;

  size(): number {
    return this.count;
  }

  /** Whether any socket here belongs to the agency. */
  servesAgency(agencyId: string): boolean {
    return !!this.perAgency.get(agencyId);
  }

  ofBuyer(buyerId: string): Iterable<FeedConnection> {
    return this.byBuyer.get(buyerId) ?? [];
  }

  all(): FeedConnection[] {
    return [...this.byBuyer.values()].flatMap((set) => [...set]);
  }

  register(client: FeedConnection): void {
    const set = this.byBuyer.get(client.buyer.buyerId) ?? new Set<FeedConnection>();
    set.add(client);
    this.byBuyer.set(client.buyer.buyerId, set);
    this.perAgency.set(client.buyer.agencyId, (this.perAgency.get(client.buyer.agencyId) ?? 0) + 1);
    this.count++;
  }

  unregister(client: FeedConnection): void {
    this.snapshotting.delete(client);
    const set = this.byBuyer.get(client.buyer.buyerId);
    if (!set?.delete(client)) return;
    for (const offerId of client.shown) {
      const w = this.watchers.get(offerId);
      w?.delete(client);
      if (w && !w.size) this.watchers.delete(offerId);
    }
    if (!set.size) this.byBuyer.delete(client.buyer.buyerId);
    const n = (this.perAgency.get(client.buyer.agencyId) ?? 1) - 1;
    if (n > 0) this.perAgency.set(client.buyer.agencyId, n);
    else this.perAgency.delete(client.buyer.agencyId);
    this.count--;
  }

  /** The socket was shown the offer: it hears how the offer closes. */
  show(client: FeedConnection, offerId: string): void {
    client.shown.add(offerId);
    const set = this.watchers.get(offerId) ?? new Set<FeedConnection>();
    set.add(client);
    this.watchers.set(offerId, set);
  }

  /** Forgets what the socket was shown (a resync's snapshot replaces its board). */
  unshowAll(client: FeedConnection): void {
    for (const offerId of client.shown) this.watchers.get(offerId)?.delete(client);
    client.shown.clear();
  }

  /** The sockets that were shown the offer, forgotten: it has closed. */
  takeWatchers(offerId: string): Iterable<FeedConnection> {
    const set = this.watchers.get(offerId) ?? [];
    this.watchers.delete(offerId);
    return set;
  }
}
