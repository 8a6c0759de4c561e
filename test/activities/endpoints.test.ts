/**
 * Outbound ping-post's call library through its activities (#22), against a
 * fleet of real local endpoint servers and the real Postgres: one deadline
 * for a tier (a late answer is no bid), every call in the endpoint's log as it
 * lands, pings that carry no hidden field, posts resent with the same
 * Idempotency-Key and signature id, a post that times out left `unknown`, an
 * endpoint that keeps failing paused with the reason, secrets never logged.
 */
import { Webhook } from 'standardwebhooks';

import { endpointActivities } from '../../activities/endpoints';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import {
  endpointOfBuyer,
  type EndpointSettings,
  listEndpointCalls,
  recordEndpointCall,
  saveEndpoint,
} from '../../db/endpoints';
import { createInProcessBus } from '../../db/offer-bus';
import { offerTargets } from '../../db/schema';
import { ENDPOINT_LOG_SIZE } from '../../domain/endpoints';
import { PING_FIELDS } from '../../domain/ping';
import { hiddenValues } from '../../domain/preview';
import { keyStore } from '../../lib/key-store';
import { openTestPostgres } from '../helpers/db';
import {
  BEHAVIOURS,
  type Fleet,
  fleetEndpointSettings,
  type FleetServer,
  startEndpointFleet,
} from '../helpers/endpoint-fleet';
import { leadFields, makeAgency, makeBuyer, makeCampaign, makeLead, makeOffer } from '../helpers/world';

let database: Database;
let fleet: Fleet;
let agencyId: string;
let campaignId: string;

beforeAll(async () => {
  database = await openTestPostgres();
  fleet = startEndpointFleet();
  const agency = await makeAgency(database.db);
  agencyId = agency.id;
  campaignId = (await makeCampaign(database.db, agencyId)).id;
});

afterAll(async () => {
  await fleet.close();
  await database.close();
});

const activities = () =>
  endpointActivities({ db: database.db, bus: createInProcessBus(), delivery: { allowlist: '127.0.0.1' } });

/** A buyer whose endpoint is this fleet server, with the fleet's mapping and rules. */
async function endpointBuyer(server: FleetServer, over: Partial<EndpointSettings> = {}, secret?: string) {
  const buyer = await makeBuyer(database.db, agencyId);
  const settings = fleetEndpointSettings(server, over);
  const saved = await saveEndpoint(database.db, { agencyId, buyerId: buyer.id, settings, secret, by: SYSTEM });
  if (saved === 'missing_secret') throw new Error('missing secret');
  return { buyer, endpoint: saved };
}

const newLead = () => makeLead(database.db, agencyId, campaignId, leadFields({ answers: { roof_age: '12' } }));

test('a tier is pinged under one deadline: the bids count, an answer after the deadline is no bid, and every call is logged', async () => {
  const fast = await endpointBuyer(await fleet.add(BEHAVIOURS.bid(30)));
  const slower = await endpointBuyer(await fleet.add(BEHAVIOURS.bid(45, 100)));
  const rejecting = await endpointBuyer(await fleet.add(BEHAVIOURS.reject('no roofs')));
  const late = await endpointBuyer(await fleet.add(BEHAVIOURS.slow(5000)), { timeoutMs: 8000 });
  const timingOut = await endpointBuyer(await fleet.add(BEHAVIOURS.slow(3000)), { timeoutMs: 200 });
  const failing = await endpointBuyer(await fleet.add(BEHAVIOURS.error500()));
  const garbled = await endpointBuyer(await fleet.add(BEHAVIOURS.malformed()));
  const lead = await newLead();
  const all = [fast, slower, rejecting, late, timingOut, failing, garbled];

  const answers = await activities().pingEndpoints({
    leadId: lead.id,
    buyerIds: all.map((b) => b.buyer.id),
    deadlineMs: 1500,
  });

  const of = (b: (typeof all)[number]) => answers.find((a) => a.buyerId === b.buyer.id)!;
  expect(of(fast)).toMatchObject({ outcome: 'accepted', bid: 30, pingId: 'p-1' });
  expect(of(slower)).toMatchObject({ outcome: 'accepted', bid: 45 });
  expect(of(rejecting)).toMatchObject({ outcome: 'rejected', reason: 'no roofs', bid: null });
  expect(of(late)).toMatchObject({ outcome: 'late', bid: null });
  expect(of(timingOut)).toMatchObject({ outcome: 'timeout', bid: null });
  expect(of(failing)).toMatchObject({ outcome: 'error', reason: 'HTTP 500', bid: null });
  expect(of(garbled)).toMatchObject({ outcome: 'malformed', bid: null });
  // The late one's own timeout (8 s) did not hold the tier: the deadline cut it.
  expect(of(late).latencyMs).toBeLessThan(8000);

  for (const b of all) {
    const calls = await listEndpointCalls(database.db, b.endpoint.id);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ kind: 'ping', step: 'ping', leadId: lead.id, outcome: of(b).outcome });
  }
  const [logged] = await listEndpointCalls(database.db, failing.endpoint.id);
  expect(logged!.response).toEqual({ status: 500, body: '{"error":"internal error"}' });
});

test('a ping carries only the non-identifying fields, in the buyer’s names', async () => {
  const server = await fleet.add(BEHAVIOURS.bid(10));
  const b = await endpointBuyer(server);
  const lead = await newLead();
  await activities().pingEndpoints({ leadId: lead.id, buyerIds: [b.buyer.id], deadlineMs: 1500 });
  const sent = server.received[0]!;
  expect(JSON.parse(sent.body)).toEqual({ zip_code: lead.fields.zip, state: lead.fields.state, roof_age: 12 });
  for (const hidden of hiddenValues(lead.fields, PING_FIELDS)) expect(sent.body).not.toContain(hidden);
});

test('the post goes to the winner with the full lead, and a resend carries the same Idempotency-Key and signature id', async () => {
  const secret = `whsec_${Buffer.from('a-very-secret-key-for-tests-0001').toString('base64')}`;
  const server = await fleet.add(BEHAVIOURS.acceptPost());
  const b = await endpointBuyer(server, { authKind: 'hmac' }, secret);
  const lead = await newLead();
  const input = { leadId: lead.id, buyerId: b.buyer.id, pingId: 'p-77', bid: 40, idempotencyKey: `sale-${lead.id}` };

  const first = await activities().postToEndpoint(input);
  const again = await activities().postToEndpoint(input); // a retry after a crash between the post and its record
  expect(first).toMatchObject({ result: 'accepted', outcome: 'accepted' });
  expect(again).toMatchObject({ result: 'accepted' });

  expect(server.received).toHaveLength(2);
  const [a, b2] = server.received;
  expect(a!.headers['idempotency-key']).toBe(`sale-${lead.id}`);
  expect(b2!.headers['idempotency-key']).toBe(a!.headers['idempotency-key']);
  expect(b2!.headers['webhook-id']).toBe(a!.headers['webhook-id']);
  const body = JSON.parse(a!.body);
  expect(body).toMatchObject({
    ping_id: 'p-77',
    lead_id: lead.id,
    first_name: lead.fields.firstName,
    email: lead.fields.email,
  });
  // The receiver verifies with the stock Standard Webhooks library.
  expect(() => new Webhook(secret).verify(a!.body, a!.headers as Record<string, string>)).not.toThrow();

  const calls = await listEndpointCalls(database.db, b.endpoint.id);
  expect(calls.map((c) => c.idempotencyKey)).toEqual([`sale-${lead.id}`, `sale-${lead.id}`]);
  expect(JSON.stringify(calls)).not.toContain(secret);
  expect(calls[0]!.request.headers['webhook-signature']).toBe('••••');
});

test('a rejected post is rejected with the buyer’s reason; a post that times out is unknown, never a refusal', async () => {
  const refusing = await endpointBuyer(await fleet.add(BEHAVIOURS.acceptPingRejectPost(50, 'duplicate lead')));
  const silent = await endpointBuyer(await fleet.add(BEHAVIOURS.slow(3000)), { timeoutMs: 300 });
  const lead = await newLead();
  const post = (buyerId: string) =>
    activities().postToEndpoint({ leadId: lead.id, buyerId, pingId: null, bid: 50, idempotencyKey: `k-${buyerId}` });
  expect(await post(refusing.buyer.id)).toMatchObject({ result: 'rejected', reason: 'duplicate lead' });
  expect(await post(silent.buyer.id)).toMatchObject({ result: 'unknown', outcome: 'unknown' });
});

test('a header token is sent, and masked in the log', async () => {
  const server = await fleet.add(BEHAVIOURS.bid(5));
  const b = await endpointBuyer(server, { authKind: 'header', authHeader: 'X-Api-Key' }, 'tok-super-secret-123');
  const lead = await newLead();
  await activities().pingEndpoints({ leadId: lead.id, buyerIds: [b.buyer.id], deadlineMs: 1500 });
  expect(server.received[0]!.headers['x-api-key']).toBe('tok-super-secret-123');
  const calls = await listEndpointCalls(database.db, b.endpoint.id);
  expect(calls[0]!.request.headers['X-Api-Key']).toBe('••••');
  expect(JSON.stringify(calls)).not.toContain('tok-super-secret-123');
});

test("a round opens the secrets of the endpoints it pings only: not an ineligible buyer's, nor a paused one's", async () => {
  const auth = { authKind: 'header' as const, authHeader: 'X-Api-Key' };
  const servers = { pinged: await fleet.add(BEHAVIOURS.bid(20)), ineligible: await fleet.add(BEHAVIOURS.bid(30)) };
  const pausedServer = await fleet.add(BEHAVIOURS.bid(40));
  const pinged = await endpointBuyer(servers.pinged, auth, 'tok-pinged');
  const ineligible = await endpointBuyer(servers.ineligible, auth, 'tok-ineligible');
  const paused = await endpointBuyer(
    pausedServer,
    { ...auth, status: 'paused', pauseReason: 'on holiday' },
    'tok-paused',
  );
  const lead = await newLead();
  const offer = await makeOffer(database.db, lead, { kind: 'ping_post' });
  await database.db.insert(offerTargets).values([
    { offerId: offer.id, buyerId: pinged.buyer.id, eligible: true },
    { offerId: offer.id, buyerId: ineligible.buyer.id, eligible: false, reason: 'cap_reached' },
    { offerId: offer.id, buyerId: paused.buyer.id, eligible: true },
  ]);
  const open = jest.spyOn(keyStore(), 'open');
  try {
    const answers = await activities().pingEndpoints({
      leadId: lead.id,
      offerId: offer.id,
      buyerIds: [pinged, ineligible, paused].map((b) => b.buyer.id),
      deadlineMs: 1500,
    });
    expect(answers).toEqual([expect.objectContaining({ buyerId: pinged.buyer.id, outcome: 'accepted', bid: 20 })]);
    // One secret opened – the pinged endpoint's (sealed for its row's id) – and sent.
    expect(open.mock.calls.map(([, , context]) => context)).toEqual([pinged.endpoint.id]);
  } finally {
    open.mockRestore();
  }
  expect(servers.pinged.received.map((r) => r.headers['x-api-key'])).toEqual(['tok-pinged']);
  expect(servers.ineligible.received).toEqual([]);
  expect(pausedServer.received).toEqual([]);
});

test('an endpoint that keeps failing is paused with the reason, and is not pinged while paused', async () => {
  const server = await fleet.add(BEHAVIOURS.error500());
  const b = await endpointBuyer(server);
  for (let i = 0; i < 5; i++) {
    const lead = await newLead();
    await activities().pingEndpoints({ leadId: lead.id, buyerIds: [b.buyer.id], deadlineMs: 1500 });
  }
  const paused = await endpointOfBuyer(database.db, b.buyer.id);
  expect(paused).toMatchObject({ status: 'paused', pausedBy: 'system' });
  expect(paused!.pauseReason).toMatch(/5 consecutive failed calls \(last: ping error: HTTP 500\)/);
  const lead = await newLead();
  expect(await activities().pingEndpoints({ leadId: lead.id, buyerIds: [b.buyer.id], deadlineMs: 500 })).toEqual([]);
  expect(server.received).toHaveLength(5);
});

test('an endpoint at its maximum of concurrent pings is not called again (busy, no bid)', async () => {
  const server = await fleet.add(BEHAVIOURS.bid(20, 300));
  const b = await endpointBuyer(server, { maxConcurrentPings: 1 });
  const [l1, l2] = [await newLead(), await newLead()];
  const [a1, a2] = await Promise.all(
    [l1, l2].map((l) => activities().pingEndpoints({ leadId: l.id, buyerIds: [b.buyer.id], deadlineMs: 2000 })),
  );
  expect([a1![0]!.outcome, a2![0]!.outcome].sort()).toEqual(['accepted', 'busy']);
  expect(server.received).toHaveLength(1);
});

test('the log keeps the last 100 calls of an endpoint', async () => {
  const b = await endpointBuyer(await fleet.add(BEHAVIOURS.bid(1)));
  for (let i = 0; i < ENDPOINT_LOG_SIZE + 5; i++)
    await recordEndpointCall(database.db, {
      endpointId: b.endpoint.id,
      leadId: null,
      kind: 'test',
      step: 'ping',
      request: { method: 'POST', url: 'http://x/ping', headers: {}, body: String(i) },
      response: null,
      latencyMs: 1,
      outcome: 'accepted',
    });
  const calls = await listEndpointCalls(database.db, b.endpoint.id);
  expect(calls).toHaveLength(ENDPOINT_LOG_SIZE);
  expect(calls[0]!.request.body).toBe(String(ENDPOINT_LOG_SIZE + 4));
  expect(calls.at(-1)!.request.body).toBe('5');
});
