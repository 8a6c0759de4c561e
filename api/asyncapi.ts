/**
 * The AsyncAPI 3.0 document of the live feed (`/v1/feed`), generated from the
 * message schemas the gateway parses and sends with (api/feed-messages.ts),
 * served at /v1/asyncapi.json beside the OpenAPI document. The application it
 * describes is the gateway: it `send`s the server messages and `receive`s the
 * client ones; a claim or a bid is answered on the same socket.
 */
import { z } from 'zod';

import {
  BidMessage,
  BidResultMessage,
  ClaimMessage,
  ClaimResultMessage,
  FEED_CLOSE_CODES,
  FEED_FRAME_LIMIT,
  FeedClientMessage,
  FeedErrorMessage,
  FeedServerMessage,
  messageTypes,
  ViewedMessage,
} from './feed-messages';

type Json = Record<string, unknown>;

/** AsyncAPI's default schema format is a superset of JSON Schema draft 7. */
function payload(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-7' }) as Json;
  return rest;
}

/** One component message per `type`, named by it (`offer.opened`, `claim.result`…). */
function messages(union: { options: readonly z.ZodType[] }, io: 'input' | 'output'): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const option of union.options) {
    for (const type of messageTypes(option)) {
      out[type] = {
        name: type,
        title: type,
        summary: option.description ?? type,
        contentType: 'application/json',
        payload: payload(option, io),
      };
    }
  }
  return out;
}

const ref = (path: string) => ({ $ref: path });

export function buildAsyncApi(version = '0.1.0'): Json {
  const server = messages(FeedServerMessage, 'output');
  const client = messages(FeedClientMessage, 'input');
  const all = { ...server, ...client };
  /** The channel's messages of these schemas (an operation names its messages through its channel). */
  const on = (...schemas: z.ZodType[]) =>
    schemas.flatMap(messageTypes).map((type) => ref(`#/channels/feed/messages/${type}`));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Leadwire live feed',
      version,
      description:
        'The Live Leads WebSocket for buyers: open offers as they open and close, and claims and bids over the same socket. ' +
        'Every frame is a JSON text frame with a `type`. The REST API is described by /v1/openapi.json.',
    },
    defaultContentType: 'application/json',
    channels: {
      feed: {
        address: '/v1/feed',
        title: 'Live Leads feed',
        description:
          'Upgrade with a buyer key (`Authorization: Bearer <key>` or `?token=<key>`); a bad key is refused before the upgrade (401), ' +
          'a paused buyer with 403. On connect the gateway sends `snapshot`; a revoked key or a paused buyer later gets an `error` ' +
          `(\`access_revoked\`) and the socket closes with ${FEED_CLOSE_CODES.access_revoked.code}. ` +
          `A socket may send ${FEED_FRAME_LIMIT.burst} frames at once and ${FEED_FRAME_LIMIT.perSecond} a second after that; ` +
          'frames over that are dropped (the first answered with a `rate_limited` error) and the ' +
          `${FEED_FRAME_LIMIT.closeAfter}th closes the socket with ${FEED_CLOSE_CODES.frame_rate_exceeded.code}. ` +
          'Frames over 64 KiB close the socket with 1009. The application close codes are listed in `x-close-codes`.',
        'x-close-codes': Object.fromEntries(
          Object.entries(FEED_CLOSE_CODES).map(([name, c]) => [
            String(c.code),
            { name, reason: c.reason, description: c.description },
          ]),
        ),
        messages: Object.fromEntries(Object.keys(all).map((type) => [type, ref(`#/components/messages/${type}`)])),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: {
                  type: 'string',
                  description: 'the buyer key, when no Authorization header can be set (browsers)',
                },
                since: {
                  type: 'string',
                  pattern: '^\\d{1,15}$',
                  description:
                    'resume: the `seq` of the last message received; the closes missed since then follow the snapshot',
                },
              },
            },
            headers: {
              type: 'object',
              properties: { Authorization: { type: 'string', description: 'Bearer <buyer key>' } },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations: {
      sendServerMessages: {
        action: 'send',
        title: 'Server messages',
        summary: 'What the gateway sends: the snapshot, offers opening and closing, answers and errors.',
        channel: ref('#/channels/feed'),
        messages: on(FeedServerMessage),
      },
      receiveViewed: {
        action: 'receive',
        summary: 'A buyer looked at an offer.',
        channel: ref('#/channels/feed'),
        messages: on(ViewedMessage),
      },
      receiveClaim: {
        action: 'receive',
        summary: 'A claim, answered with `claim.result` (or an `error` carrying its requestId).',
        channel: ref('#/channels/feed'),
        messages: on(ClaimMessage),
        reply: { channel: ref('#/channels/feed'), messages: on(ClaimResultMessage, FeedErrorMessage) },
      },
      receiveBid: {
        action: 'receive',
        summary: 'A sealed bid, answered with `bid.result` (or an `error` carrying its requestId).',
        channel: ref('#/channels/feed'),
        messages: on(BidMessage),
        reply: { channel: ref('#/channels/feed'), messages: on(BidResultMessage, FeedErrorMessage) },
      },
    },
    components: { messages: all },
  };
}
