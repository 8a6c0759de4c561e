/**
 * The frames a client sends, one handler per message type (api/feed-messages.ts):
 * `viewed` (recorded once per buyer and offer), `claim` and `bid` (the same
 * relay as the REST claim and bid). Every frame answers to the key's state
 * now, not at connect time. Anything malformed is answered with
 * `{type:"error", code, message}`; nothing a client sends can throw here.
 */
import type { RawData } from 'ws';

import { getOffer, getTarget, recordViewed } from '../../db/offers';
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
    const target = await getTarget(services.db, offerId, client.buyer.buyerId);
    const offer = target?.eligible ? await getOffer(services.db, offerId) : undefined;
    if (!offer || offer.kind !== 'ping_post')
      return client.sendError('not_found', 'No such offer for you.', { offerId });
    await recordViewed(services.db, offer.leadId, offer.id, client.buyer.buyerId, 'feed');
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

/** One client frame: access, then JSON, then the message schema, then its handler. */
export async function handleFrame(
  services: ApiServices,
  client: FeedConnection,
  data: RawData,
  isBinary: boolean,
): Promise<void> {
  if (client.revoked) return;
  if (!(await services.auth.stillValid(client.buyer))) return client.revoke();
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
  await (HANDLERS[msg.type] as Handler<typeof msg.type>)(services, client, msg);
}
