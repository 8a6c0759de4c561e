/**
 * The live feed's AsyncAPI 3.0 document, served at /v1/asyncapi.json: it is a
 * valid document (the AsyncAPI parser finds no error), and it names every
 * message the gateway can send and every message it accepts – both lists
 * taken from the schema unions the gateway is typed by, so a message added to
 * them is in the document or this test fails.
 */
import { Parser } from '@asyncapi/parser';
import request from 'supertest';

import { documentApi } from '../../api/document-app';
import {
  FeedClientMessage,
  FeedServerMessage,
  type FeedServerMessageType,
  messageTypes,
} from '../../api/feed-messages';

/** The document needs no database or Temporal. */
const api = documentApi();

type Doc = {
  asyncapi: string;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  operations: Record<
    string,
    { action: 'send' | 'receive'; messages: { $ref: string }[]; reply?: { messages: { $ref: string }[] } }
  >;
  components: {
    messages: Record<
      string,
      { name: string; payload: { properties?: Record<string, { const?: unknown }>; oneOf?: unknown[] } }
    >;
  };
};

async function fetchDoc(): Promise<Doc> {
  const res = await request(api.app).get('/v1/asyncapi.json');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.body as Doc;
}

/** The message names an operation refers to (through the channel). */
const named = (refs: { $ref: string }[]) => refs.map((r) => r.$ref.replace('#/channels/feed/messages/', ''));

test('the document is a valid AsyncAPI 3.0 document for /v1/feed', async () => {
  const doc = await fetchDoc();
  expect(doc.asyncapi).toBe('3.0.0');
  expect(doc.channels.feed!.address).toBe('/v1/feed');
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
  // Severity 0 is an error; warnings and hints (style advice) do not make a document invalid.
  expect(diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
  expect(document).toBeDefined();
  expect(
    document!
      .channels()
      .all()
      .map((c) => c.address()),
  ).toEqual(['/v1/feed']);
});

test('every message type the gateway can send is in the document, as a message the gateway sends', async () => {
  const doc = await fetchDoc();
  // The union `send` is typed by: a type missing from this list would not compile, nor would one too many.
  const everyType: Record<FeedServerMessageType, true> = {
    snapshot: true,
    'offer.opened': true,
    'offer.closed': true,
    'wallet.changed': true,
    'claim.result': true,
    'bid.result': true,
    error: true,
  };
  const sendable = FeedServerMessage.options.flatMap(messageTypes);
  expect(sendable.sort()).toEqual(Object.keys(everyType).sort());

  const sent = Object.values(doc.operations)
    .filter((op) => op.action === 'send')
    .flatMap((op) => named(op.messages));
  for (const type of sendable) {
    expect({ type, inChannel: doc.channels.feed!.messages[type]?.$ref }).toEqual({
      type,
      inChannel: `#/components/messages/${type}`,
    });
    expect({ type, sent: sent.includes(type) }).toEqual({ type, sent: true });
    expect(doc.components.messages[type]!.name).toBe(type);
  }
  // The answers to claims and bids are named as their replies.
  expect(named(doc.operations.receiveClaim!.reply!.messages).sort()).toEqual(['claim.result', 'error']);
  expect(named(doc.operations.receiveBid!.reply!.messages).sort()).toEqual(['bid.result', 'error']);
});

test('every message a client may send is in the document, as a message the gateway receives', async () => {
  const doc = await fetchDoc();
  const accepted = FeedClientMessage.options.flatMap(messageTypes);
  expect(accepted.sort()).toEqual(['bid', 'claim', 'viewed']);
  const received = Object.values(doc.operations)
    .filter((op) => op.action === 'receive')
    .flatMap((op) => named(op.messages));
  expect(received.sort()).toEqual(accepted);
});

test("a message's payload is its schema: the type is fixed, and a bid result's two answers are both there", async () => {
  const doc = await fetchDoc();
  expect(doc.components.messages['offer.closed']!.payload.properties!.type).toMatchObject({ const: 'offer.closed' });
  expect(doc.components.messages['bid.result']!.payload.oneOf).toHaveLength(2);
  expect(JSON.stringify(doc.components.messages.snapshot!.payload)).toContain('resync');
});
