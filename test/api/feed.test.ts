/**
 * The live feed with real WebSocket clients: offers arrive as they open,
 * claims go through the socket, everyone hears how an offer closed, a ping
 * tree's offers (#22) are never on it, and nothing a client sends can break
 * the gateway.
 */
import WebSocket from 'ws';

import { hiddenValues } from '../../domain/preview';
import { eventually } from '../helpers/temporal';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  apiLead,
  bearer,
  connectFeed,
  type FeedClient,
  feedMessagesOffSchema,
  type Harness,
  leadFields,
  startHarness,
} from './harness';
import { apiEndpoint, offerOfLead, storedOffer, winOffer } from './world';

let h: Harness;
const open: FeedClient[] = [];
const connect = async (key: string, via: 'header' | 'query' = 'header', wsUrl = h.main.wsUrl) => {
  const c = await connectFeed(wsUrl, key, via);
  open.push(c);
  return c;
};

beforeAll(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await h?.close();
});

const ofType =
  (type: string, pred: (m: Record<string, unknown>) => boolean = () => true) =>
  (m: Record<string, unknown>) =>
    m.type === type && pred(m);

test('a buyer sees the offer open, claims it over the socket and gets the full lead; the other hears it was taken', async () => {
  const { adminKey } = await apiAgency(h);
  const winner = await apiBuyer(h, adminKey, { credits: 100 });
  const other = await apiBuyer(h, adminKey, { credits: 100 });
  const previewFields = ['city', 'zip'];
  const campaign = await apiCampaign(h, adminKey, { previewFields, price: { base: 12 } });
  const a = await connect(winner.apiKey);
  const b = await connect(other.apiKey, 'query');
  expect(await a.next(ofType('snapshot'))).toEqual({ type: 'snapshot', offers: [], seq: expect.any(Number) });
  await b.next(ofType('snapshot'));

  const fields = leadFields();
  const lead = await apiLead(h, adminKey, campaign.id, fields);
  const opened = await a.next(ofType('offer.opened'));
  const offer = opened.offer as Record<string, unknown>;
  expect(Object.keys(offer).sort()).toEqual(['auction', 'closesAt', 'id', 'leadId', 'preview', 'price']);
  expect(offer).toMatchObject({ leadId: lead.id, price: 12, preview: { city: fields.city, zip: fields.zip } });
  expect(await b.next(ofType('offer.opened'))).toEqual(opened);

  a.send({ type: 'viewed', offerId: offer.id });
  a.send({ type: 'viewed', offerId: offer.id });
  a.send({ type: 'claim', offerId: offer.id, requestId: 'ws-1' });
  const result = await a.next(ofType('claim.result'));
  expect(result).toMatchObject({
    type: 'claim.result',
    requestId: 'ws-1',
    result: 'won',
    charged: 12,
    balance: 88,
    lead: { id: lead.id, ...fields },
  });
  expect(await a.next(ofType('offer.closed'))).toEqual({
    type: 'offer.closed',
    offerId: offer.id,
    outcome: 'won_by_you',
    seq: expect.any(Number),
  });
  expect(await b.next(ofType('offer.closed'))).toEqual({
    type: 'offer.closed',
    offerId: offer.id,
    outcome: 'taken',
    seq: expect.any(Number),
  });

  // The loser's whole feed, and the winner's before its win, hold no hidden value of the lead.
  const hidden = hiddenValues(fields, previewFields);
  const before = a.messages.slice(0, a.messages.indexOf(result));
  for (const v of hidden) {
    expect(JSON.stringify(b.messages)).not.toContain(v);
    expect(JSON.stringify(before)).not.toContain(v);
  }

  // Too late now: the same relay answers the socket as it answers REST, with the true reason – another buyer
  // won it (the feed said `taken`), so the race is lost; `offer_closed` is for an offer that expired or was cancelled.
  b.send({ type: 'claim', offerId: offer.id, requestId: 'ws-2' });
  expect(await b.next(ofType('claim.result'))).toEqual({
    type: 'claim.result',
    requestId: 'ws-2',
    result: 'lost',
    reason: 'lost_race',
    message: 'Taken by another buyer',
  });

  const timeline = await h.http.get(`/v1/offers/${offer.id}/timeline`).set(bearer(adminKey));
  const viewed = timeline.body.events.filter((e: { type: string }) => e.type === 'viewed');
  expect(viewed).toEqual([expect.objectContaining({ buyerId: winner.buyer.id, data: { channel: 'feed' } })]);
});

test('the snapshot holds my open offers; an expiring offer closes as expired', async () => {
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey, { claimWindowSeconds: 4 });
  const lead = await apiLead(h, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id);
  const c = await connect(buyer.apiKey);
  const snapshot = await c.next(ofType('snapshot'));
  expect(snapshot.offers).toEqual([
    {
      id: offer.id,
      leadId: lead.id,
      preview: offer.preview,
      price: offer.price,
      auction: 'first_claim',
      closesAt: offer.closesAt.toISOString(),
    },
  ]);
  expect(await c.next(ofType('offer.closed'), 20_000)).toEqual({
    type: 'offer.closed',
    offerId: offer.id,
    outcome: 'expired',
    seq: expect.any(Number),
  });
});

test('a cancelled offer reads as expired to its buyers', async () => {
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey);
  const c = await connect(buyer.apiKey);
  await c.next(ofType('snapshot'));
  const lead = await apiLead(h, adminKey, campaign.id);
  const opened = await c.next(ofType('offer.opened'));
  const offerId = (opened.offer as { id: string }).id;
  expect(
    (await h.http.post(`/v1/offers/${offerId}/cancel`).set(bearer(adminKey)).send({ reason: 'duplicate' })).status,
  ).toBe(202);
  expect(await c.next(ofType('offer.closed'))).toEqual({
    type: 'offer.closed',
    offerId,
    outcome: 'expired',
    seq: expect.any(Number),
  });
  expect(lead.id).toBeTruthy();
});

test('buyers hear only the offers targeted to them', async () => {
  const { adminKey } = await apiAgency(h);
  const inside = await apiBuyer(h, adminKey, { credits: 100 });
  const outside = await apiBuyer(h, adminKey, { credits: 100, zipCodes: ['10001'] });
  const other = await apiAgency(h);
  const foreign = await apiBuyer(h, other.adminKey, { credits: 100 });
  const campaign = await apiCampaign(h, adminKey);
  const [i, o, f] = [await connect(inside.apiKey), await connect(outside.apiKey), await connect(foreign.apiKey)];
  await Promise.all([i, o, f].map((c) => c.next(ofType('snapshot'))));
  await apiLead(h, adminKey, campaign.id);
  const opened = await i.next(ofType('offer.opened'));
  const offerId = (opened.offer as { id: string }).id;
  o.send({ type: 'viewed', offerId });
  expect(await o.next(ofType('error'))).toMatchObject({ code: 'not_found', offerId });
  f.send({ type: 'claim', offerId, requestId: 'sneaky' });
  expect(await f.next(ofType('error'))).toMatchObject({ code: 'not_found', requestId: 'sneaky' });
  await new Promise((r) => setTimeout(r, 300));
  expect(o.messages.filter((m) => m.type === 'offer.opened')).toEqual([]);
  expect(f.messages.filter((m) => m.type === 'offer.opened')).toEqual([]);
});

test("a ping tree's offers are not on the feed: the snapshot and the catch-up of closes leave them out, a first-claim offer of the same agency is in them", async () => {
  const since = Date.now() - 1_000;
  const { agency, adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey, { credits: 100 });
  const rival = await apiBuyer(h, adminKey, { credits: 100 });
  await apiEndpoint(h, adminKey, buyer.buyer.id);
  const tree = await apiCampaign(h, adminKey, {
    auction: 'ping_tree',
    pingTree: { tiers: [{ buyerIds: [buyer.buyer.id], floor: 20 }] },
  });
  const plain = await apiCampaign(h, adminKey, { claimWindowSeconds: 120 });
  const stored = (campaignId: string, auction: 'ping_tree' | 'first_claim', more: object = {}) =>
    storedOffer(h, { agencyId: agency.id, campaignId, auction, buyerIds: [buyer.buyer.id], ...more });

  // Closed while the buyer is away: a ping tree's offer, then a first-claim one the rival takes.
  const treeClosed = await stored(tree.id, 'ping_tree', { closed: true });
  const taken = await offerOfLead(h, (await apiLead(h, adminKey, plain.id)).id);
  await winOffer(h, rival.apiKey, taken.id);
  await offerOfLead(h, taken.leadId, 'won');
  // Open: a ping tree's offer with its verdict rows and one between the two steps of its opening (the snapshot's two
  // reads), and the same two of first-claim offers.
  const treeOpen = await stored(tree.id, 'ping_tree');
  const treePending = await stored(tree.id, 'ping_tree', { paperwork: false });
  const plainPending = await stored(plain.id, 'first_claim', { paperwork: false });
  const plainOpen = await offerOfLead(h, (await apiLead(h, adminKey, plain.id)).id);

  // The buyer comes back with a cursor from before all of it.
  const c = await connect(buyer.apiKey, 'header', `${h.main.wsUrl}?since=${since}`);
  const snapshot = await c.next(ofType('snapshot'));
  expect((snapshot.offers as { id: string }[]).map((o) => o.id).sort()).toEqual([plainOpen.id, plainPending].sort());
  // The catch-up sends the closes oldest first: the ping tree's closed before the taken one, so it would be here now.
  expect(await c.next(ofType('offer.closed', (m) => m.offerId === taken.id))).toMatchObject({ outcome: 'taken' });
  const closes = c.messages.filter((m) => m.type === 'offer.closed').map((m) => m.offerId);
  expect(closes).toEqual([taken.id]);
  expect(closes).not.toContain(treeClosed);

  // Nor does the socket take a `viewed` of one: to this buyer it is no offer of the feed.
  c.send({ type: 'viewed', offerId: treeOpen });
  expect(await c.next(ofType('error'))).toMatchObject({ code: 'not_found', offerId: treeOpen });
  const timeline = await h.http.get(`/v1/offers/${treeOpen}/timeline`).set(bearer(adminKey));
  expect(timeline.body.events.map((e: { type: string }) => e.type)).not.toContain('viewed');
  expect(JSON.stringify(c.messages)).not.toContain(treePending);
});

test('the upgrade needs a buyer key', async () => {
  const { adminKey } = await apiAgency(h);
  const refused = (headers: Record<string, string>, url = h.main.wsUrl) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('open', () => reject(new Error('upgrade accepted')));
      ws.once('error', () => undefined);
    });
  expect(await refused({})).toBe(401);
  expect(await refused(bearer('lw_buyer_nope'))).toBe(401);
  expect(await refused({}, `${h.main.wsUrl}?token=lw_buyer_nope`)).toBe(401);
  expect(await refused(bearer(adminKey))).toBe(403);
  expect(await refused({}, h.main.wsUrl.replace('/v1/feed', '/v1/elsewhere'))).toBe(404);
  const plain = await h.http.get('/v1/feed');
  expect(plain.status).toBe(426);
});

test('malformed frames get an error message, never a crash; a frame over 64 KiB closes with 1009', async () => {
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey);
  const c = await connect(buyer.apiKey);
  await c.next(ofType('snapshot'));
  const errors: Record<string, unknown>[] = [];
  const expectError = async (frame: unknown, code: string) => {
    c.send(frame);
    const e = await c.next((m) => m.type === 'error' && !errors.includes(m));
    errors.push(e);
    expect(e).toMatchObject({ type: 'error', code, message: expect.any(String) });
    return e;
  };
  await expectError('not json', 'malformed_json');
  await expectError('{"type":', 'malformed_json');
  await expectError({ type: 'subscribe' }, 'unknown_type');
  await expectError([1, 2], 'unknown_type');
  await expectError('null', 'unknown_type');
  const missing = await expectError({ type: 'claim', offerId: 'x' }, 'validation_failed');
  expect((missing.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['offerId', 'requestId']);
  await expectError(
    { type: 'viewed', offerId: '00000000-0000-4000-8000-000000000000', extra: true },
    'validation_failed',
  );
  await expectError({ type: 'claim', offerId: '00000000-0000-4000-8000-000000000000', requestId: 'r' }, 'not_found');
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  expect(await c.next((m) => m.type === 'error' && m.code === 'unsupported_frame')).toBeTruthy();

  const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
  c.ws.send('x'.repeat(100 * 1024));
  expect(await closed).toBe(1009);

  // The gateway still serves.
  const again = await connect(buyer.apiKey);
  expect(await again.next(ofType('snapshot'))).toEqual({ type: 'snapshot', offers: [], seq: expect.any(Number) });
  expect((await h.http.get('/healthz')).status).toBe(200);
});

test('a socket that stops answering pings is dropped', async () => {
  const quick = await h.startInstance({ feedPingIntervalMs: 100 });
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey);
  const alive = await connectFeed(quick.wsUrl, buyer.apiKey);
  const silent = await connectFeed(quick.wsUrl, buyer.apiKey);
  await eventually(async () => quick.feed.connections() === 2, 5_000, 'two connections');
  // Stop reading: no pong will come back.
  (silent.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  await eventually(async () => quick.feed.connections() === 1, 5_000, 'the silent socket to be dropped');
  await new Promise((r) => setTimeout(r, 400));
  expect(quick.feed.connections()).toBe(1);
  expect(alive.ws.readyState).toBe(WebSocket.OPEN);
  await alive.close();
  silent.ws.terminate();
  await quick.close();
});

test('closing the gateway closes its sockets', async () => {
  const instance = await h.startInstance();
  const { adminKey } = await apiAgency(h);
  const buyer = await apiBuyer(h, adminKey);
  const c = await connectFeed(instance.wsUrl, buyer.apiKey);
  const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
  await instance.close();
  expect(await closed).toBe(1001);
  expect(instance.feed.connections()).toBe(0);
});

test('every message the gateway sent in this file is one its schemas admit (api/feed-messages.ts)', () => {
  expect(feedMessagesOffSchema()).toEqual([]);
});
