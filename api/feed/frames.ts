/**
 * The frames a client sends, one handler per message type (api/feed-messages.ts):
 * `viewed` (recorded once per buyer and offer), `claim` and `bid` (the same
 * relay as the REST claim and bid). Anything malformed is answered with
 * `{type:"error", code, message}`; nothing a client sends can throw here.
 *
 * The work a frame can cause is bounded: the socket's frame limit is taken
 * first (api/feed/frame-limit.ts: a frame over it costs a counter), then the
 * frame is parsed and validated without the database (a malformed frame or an
 * unknown type costs no query). `claim` and `bid` check the key's access in
 * the database every time (money moves). `viewed` moves nothing: it relies on
 * the revocation closing the socket (the `buyer.access` bus event, the
 * heartbeat's re-check) and remembers, per socket, which offers it may see,
 * so a `viewed` costs at most two reads per offer and socket, then none.
 */
import type { RawData } from 'ws';

import { buyerStanding, getOffer, recordViewed } from '../../db/offers';
import { buyersSee } from '../../domain/offer-view';
import { FeedClientMessage, messageTypes } from '../feed-messages';
import { Problem, problemBody } from '../problem';
import type { ApiServices } from '../services';
import { describeErrors, fieldErrors } from '../validate';
import type { FeedConnection } from './connection';

/** The `type`s a client may send (api/feed-messages.ts). */
const CLIENT_TYPES = new Set(messageTypes(FeedClientMessage));

type Handler<T extends FeedClientMessage['type']> = (
  services: ApiServices,
  client: FeedConnection,
  message: Extract<FeedClientMessage, { type: T }>,
) => Promise<void>;

/** One handler per client message type: a type added to the schema without its handler does not compile. */
const HANDLERS: { [T in FeedClientMessage['type']]: Handler<T> } = {
  async viewed(services, client, { offerId }) {
    if (client.viewed.has(offerId)) return;
    const leadId = await visibleLead(services, client, offerId);
    if (!leadId) return client.sendError('not_found', 'No such offer for you.', { offerId });
    await recordViewed(services.db, leadId, offerId, client.buyer.buyerId, 'feed');
    client.viewed.add(offerId);
  },
  claim: (services, client, msg) =>
    answering(client, msg.requestId, async () => {
      const answer = await services.claims.claim(client.buyer, msg.offerId, msg.requestId, 'feed');
      client.send({ type: 'claim.result', requestId: msg.requestId, ...answer.body }, false);
    }),
  bid: (services, client, msg) =>
    answering(client, msg.requestId, async () => {
      const answer = await services.claims.bid(client.buyer, msg.offerId, msg.amount, msg.requestId, 'feed');
      client.send({ type: 'bid.result', requestId: msg.requestId, ...answer.body }, false);
    }),
};

/** Offers remembered per socket for `viewed` at most (the oldest go first). */
const VISIBLE_REMEMBERED = 1_000;

/**
 * The lead of an offer this buyer may see on the feed (one buyers see, `buyersSee`, that targets it), else null: asked once
 * per socket and offer – the `viewed` frames that name it meanwhile wait for the same answer.
 */
function visibleLead(services: ApiServices, client: FeedConnection, offerId: string): Promise<string | null> {
  const known = client.visible.get(offerId);
  if (known) return known;
  const asking = (async () => {
    const offer = await getOffer(services.db, offerId);
    if (!offer || !buyersSee(offer)) return null;
    const target = await buyerStanding(services.db, offer, client.buyer.buyerId);
    return target?.eligible ? offer.leadId : null;
  })();
  // A failed read is not remembered: the next `viewed` asks again.
  asking.catch(() => client.visible.delete(offerId));
  if (client.visible.size >= VISIBLE_REMEMBERED) client.visible.delete(client.visible.keys().next().value!);
  client.visible.set(offerId, asking);
  return asking;
}

/** A refusal the REST answer would make a problem document (rate_limited, claim_pending…): an error with the requestId. */
async function answering(client: FeedConnection, requestId: string, relay: () => Promise<void>): Promise<void> {
  try {
    await relay();
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    const { retryAfter } = problemBody(err);
    client.sendError(err.code, err.detail, {
      requestId,
      ...(typeof retryAfter === 'number' ? { retryAfter } : {}),
    });
  }
}

/** One client frame: the socket's frame limit, then JSON, then the message schema, then access, then its handler. */
export async function handleFrame(
  services: ApiServices,
  client: FeedConnection,
  data: RawData,
  isBinary: boolean,
): Promise<void> {
  if (client.closing) return;
  const verdict = client.gate.admit();
  services.metrics.inc('leadwire_feed_frames_total', { outcome: verdict.action === 'handle' ? 'handled' : 'dropped' });
  if (verdict.action === 'close') {
    services.metrics.inc('leadwire_feed_rate_limited_closes_total');
    return client.closeWith('frame_rate_exceeded', 'rate_limited', 'Too many frames on this socket: closing it.');
  }
  if (verdict.action === 'drop') {
    if (verdict.reply)
      client.sendError('rate_limited', 'Too many frames on this socket: frames are dropped until you slow down.', {
        retryAfter: verdict.retryAfter,
      });
    return;
  }
  if (isBinary) return client.sendError('unsupported_frame', 'Send JSON text frames.');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
  } catch {
    return client.sendError('malformed_json', 'The message is not valid JSON.');
  }
  const type = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !CLIENT_TYPES.has(type)) {
    return client.sendError(
      'unknown_type',
      `A message's type is one of ${[...CLIENT_TYPES].join(', ')} (see /v1/asyncapi.json).`,
    );
  }
  const parsed = FeedClientMessage.safeParse(raw);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues, 'body');
    const requestId =
      typeof (raw as { requestId?: unknown }).requestId === 'string'
        ? (raw as { requestId: string }).requestId.slice(0, 128)
        : undefined;
    return client.sendError('validation_failed', describeErrors(errors), {
      errors,
      ...(requestId ? { requestId } : {}),
    });
  }
  const msg = parsed.data;
  // Money moves on a claim or a bid: the key's state now, in the database (a gateway may not have heard of a revocation).
  if (msg.type !== 'viewed' && !(await services.auth.stillValid(client.buyer))) return client.revoke();
  await (HANDLERS[msg.type] as Handler<typeof msg.type>)(services, client, msg);
}
