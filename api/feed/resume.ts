/**
 * What a client missed. On connect it gets the buyer's open offers
 * (`snapshot`); when it resumes from a cursor (`?since=<seq>`), or the gateway
 * resyncs after its bus was cut, the closes since then of offers it may have
 * had on screen follow. Bus events heard meanwhile are held and sent after it,
 * in order. Every offer message carries `seq`.
 */
import { awaitingPaperwork, closedSince, listBuyerOffers } from '../../db/offers';
import type { ApiServices } from '../services';
import { buyerOfferView } from '../views';
import type { FeedClients } from './clients';
import type { FeedConnection } from './connection';

/** The snapshot holds at most this many offers (the newest). */
const SNAPSHOT_LIMIT = 200;
/** A resumed client also hears the closes from a little before its cursor (clocks of publishers differ; a repeat is harmless). */
const RESUME_MARGIN_MS = 5_000;

/** The snapshot (a fresh one with `resync: true` after the bus was cut), the closes since `since`, then what was held. */
export async function sendSnapshot(
  services: ApiServices,
  clients: FeedClients,
  client: FeedConnection,
  since: number | null,
  resync: boolean,
): Promise<void> {
  clients.snapshotting.add(client);
  client.held ??= [];
  client.closedMeanwhile = [];
  const seq = Date.now();
  try {
    const [pending, page, missed] = await Promise.all([
      // First: an offer whose verdict rows are being written now is in one answer or the other (or both).
      awaitingPaperwork(services.db, client.buyer.buyerId),
      listBuyerOffers(services.db, client.buyer.buyerId, 'open', { limit: SNAPSHOT_LIMIT }),
      since !== null
        ? closedSince(services.db, client.buyer.buyerId, new Date(since - RESUME_MARGIN_MS))
        : Promise.resolve([]),
    ]);
    const closedMeanwhile = new Set(client.closedMeanwhile.map((e) => e.offerId));
    const listed = new Set(page.items.map((o) => o.id));
    const offers = [...pending.filter((o) => !listed.has(o.id)), ...page.items].filter(
      (o) => !closedMeanwhile.has(o.id),
    );
    if (resync) clients.unshowAll(client);
    for (const offer of offers) clients.show(client, offer.id);
    client.send(
      { type: 'snapshot', offers: offers.map(buyerOfferView), seq, ...(resync ? { resync: true } : {}) },
      false,
    );
    const open = new Set(offers.map((o) => o.id));
    for (const m of missed)
      if (!open.has(m.offerId))
        client.send({ type: 'offer.closed', offerId: m.offerId, outcome: m.outcome, seq }, false);
  } finally {
    clients.snapshotting.delete(client);
    client.closedMeanwhile = [];
    const held = client.held ?? [];
    client.held = null;
    for (const m of held) client.send(m);
  }
}

/**
 * The bus was cut and is back: what it carried meanwhile is lost, so every
 * client gets a fresh snapshot and the closes since the last message it had.
 */
export function resyncAll(services: ApiServices, clients: FeedClients): void {
  for (const c of clients.all()) {
    if (c.closing) continue;
    sendSnapshot(services, clients, c, c.lastSeq || null, true).catch((err) =>
      services.logger.warn('[feed] resync failed', err),
    );
  }
}
