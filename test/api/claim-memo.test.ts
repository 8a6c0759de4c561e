/**
 * Decided offers answered from memory (#26.3, claims/decided-offers.ts), on
 * the real stack: the dev server, Postgres and its LISTEN/NOTIFY bus. Each
 * API instance here has its own recorded database handle and Temporal client
 * (test/helpers/recording.ts), so what a claim cost is asserted by what it
 * asked for – statements and workflow calls – never by how long it took.
 */
import { sql } from 'drizzle-orm';

import type { ClaimFailureReason } from '../../domain/types';
import { holdLock, tracked, waitingOnLock } from '../helpers/locks';
import { sample } from '../helpers/metrics';
import { recordingDatabase, recordingTemporalClient } from '../helpers/recording';
import { eventually } from '../helpers/temporal';
import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  type ApiInstance,
  apiLead,
  bearer,
  connectFeed,
  feedMessagesOffSchema,
  type Harness,
  startHarness,
} from './harness';
import { offerOfLead, winOffer } from './world';

jest.setTimeout(120_000);

let h: Harness;
/** An API instance, what it asked of the database and of Temporal, and the offers its bus told it closed. */
interface Recorded {
  api: ApiInstance;
  statements: string[];
  calls: string[];
  closed: Set<string>;
  close(): Promise<void>;
}
let a: Recorded;
let b: Recorded;

async function recordedInstance(): Promise<Recorded> {
  const { database, statements } = await recordingDatabase(h.database.url!);
  const { client, calls } = recordingTemporalClient(h.connection);
  const api = await h.startInstance({ db: database.db, temporal: client });
  // The instance's memo subscribed to its bus when the app was made: this listener hears each event after it.
  const closed = new Set<string>();
  api.bus.subscribe((e) => {
    if (e.type === 'offer.closed') closed.add(e.offerId);
  });
  return { api, statements, calls, closed, close: () => database.close() };
}

beforeAll(async () => {
  h = await startHarness({ bus: 'postgres' });
  a = await recordedInstance();
  b = await recordedInstance();
});
afterAll(async () => {
  await h?.close();
  await a?.close();
  await b?.close();
});

/**
 * Authentication reads the key (remembered for a second, api/auth.ts), and the feed re-checks it for every claim
 * frame: not the claim's own cost.
 */
const claimStatements = (statements: string[]) => statements.filter((s) => !s.includes('"api_keys"'));
/** The one statement a refusal from memory makes: its attempt on the timeline, in the batched insert. */
const timelineInsert = (s: string) => /^insert into "offer_events"/i.test(s);

/** Claims through an instance and returns the answer with the statements and workflow calls made meanwhile. */
async function claim(on: Recorded, key: string, offerId: string, requestId?: string) {
  const [s, c] = [on.statements.length, on.calls.length];
  const res = await on.api.http
    .post(`/v1/offers/${offerId}/claim`)
    .set(bearer(key))
    .send(requestId ? { requestId } : {});
  return {
    status: res.status,
    body: res.body as { result: string; reason?: ClaimFailureReason; assignmentId?: string },
    statements: claimStatements(on.statements.slice(s)),
    calls: on.calls.slice(c),
  };
}

const memoHits = async (on: Recorded, reason: string) =>
  sample((await on.api.http.get('/metrics')).text, 'leadwire_claim_memo_hits_total', { reason }) ?? 0;

/** Waits until the instance's bus told it the offer closed (its memo heard it first). */
const heardClosed = (on: Recorded, offerId: string) =>
  eventually(async () => on.closed.has(offerId), 20_000, `offer.closed of ${offerId} on the bus`);

const LOST_RACE = { result: 'lost', reason: 'lost_race', message: 'Taken by another buyer' };

test("a sold offer's loser is answered from memory: no read, no workflow call; the winner's retry and a buyer the offer did not target take the slow path", async () => {
  const { adminKey } = await apiAgency(a.api);
  const winner = await apiBuyer(a.api, adminKey, { credits: 100 });
  const loser = await apiBuyer(a.api, adminKey, { credits: 100 });
  const outsider = await apiBuyer(a.api, adminKey, { credits: 100, zipCodes: ['10001'] });
  const campaign = await apiCampaign(a.api, adminKey);
  const lead = await apiLead(a.api, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id);
  const won = await claim(a, winner.apiKey, offer.id, 'the-win');
  expect(won.status).toBe(200);
  await heardClosed(a, offer.id);
  const hitsBefore = await memoHits(a, 'lost_race');

  const lost = await claim(a, loser.apiKey, offer.id);
  expect([lost.status, lost.body]).toEqual([409, LOST_RACE]);
  expect(lost.calls).toEqual([]);
  // No read: the only statement is the attempt's line on the timeline.
  expect(lost.statements.filter((s) => !timelineInsert(s))).toEqual([]);
  expect(lost.statements.length).toBeLessThanOrEqual(1);
  expect(await memoHits(a, 'lost_race')).toBe(hitsBefore + 1);
  // The attempt is on the timeline when the answer comes, as every refusal's is.
  const timeline = await a.api.http.get(`/v1/offers/${offer.id}/timeline`).set(bearer(adminKey));
  const attempts = (timeline.body.events as { type: string; buyerId: string; reason?: string }[]).filter(
    (e) => e.buyerId === loser.buyer.id && e.type.startsWith('claim_'),
  );
  expect(attempts.map((e) => [e.type, e.reason])).toEqual([
    ['claim_attempted', undefined],
    ['claim_failed', 'lost_race'],
  ]);

  // The winner's retries – the same requestId, or a new one – get the win again, from the database.
  for (const requestId of ['the-win', 'another-request']) {
    const again = await claim(a, winner.apiKey, offer.id, requestId);
    expect([again.status, again.body.assignmentId]).toEqual([200, won.body.assignmentId]);
    expect(again.statements.some((s) => /from "offers"/i.test(s))).toBe(true);
  }
  // A buyer the offer did not target is told so (403), as the database says: the memo knows only its targets.
  const outside = await claim(a, outsider.apiKey, offer.id);
  expect([outside.status, outside.body.reason]).toEqual([403, 'not_targeted']);
  expect(outside.statements.some((s) => /from "offers"/i.test(s))).toBe(true);
  // Another agency's buyer: 404, from the database.
  const stranger = await apiBuyer(a.api, (await apiAgency(a.api)).adminKey, { credits: 100 });
  expect((await claim(a, stranger.apiKey, offer.id)).status).toBe(404);
  expect(await memoHits(a, 'lost_race')).toBe(hitsBefore + 1);
});

test('a buyer with an earlier attempt on the offer takes the slow path; a fresh loser of a cancelled offer is told offer_closed from memory', async () => {
  const { adminKey } = await apiAgency(a.api);
  const poor = await apiBuyer(a.api, adminKey, { credits: 25 });
  const loser = await apiBuyer(a.api, adminKey, { credits: 100 });
  const campaign = await apiCampaign(a.api, adminKey, { price: { base: 20 } });
  const lead = await apiLead(a.api, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id);
  // The poor buyer was targeted, then spent its credits on another lead: its claim is refused by the workflow.
  const other = await apiLead(a.api, adminKey, campaign.id);
  await winOffer(h, poor.apiKey, (await offerOfLead(h, other.id)).id);
  const refused = await claim(a, poor.apiKey, offer.id);
  expect([refused.status, refused.body.reason]).toEqual([402, 'insufficient_credits']);
  expect(refused.calls).toContain('startUpdate');

  // Nobody buys it: the agency stops the auction.
  const cancel = await a.api.http.post(`/v1/offers/${offer.id}/cancel`).set(bearer(adminKey)).send({ reason: 'test' });
  expect(cancel.status).toBe(202);
  await heardClosed(a, offer.id);
  const hitsBefore = await memoHits(a, 'offer_closed');
  const again = await claim(a, poor.apiKey, offer.id);
  expect([again.status, again.body.reason]).toEqual([409, 'offer_closed']);
  expect(again.statements.some((s) => /from "offers"/i.test(s))).toBe(true);
  expect(await memoHits(a, 'offer_closed')).toBe(hitsBefore);

  const fresh = await claim(a, loser.apiKey, offer.id);
  expect([fresh.status, fresh.body.reason]).toEqual([409, 'offer_closed']);
  expect(fresh.calls).toEqual([]);
  expect(fresh.statements.filter((s) => !timelineInsert(s))).toEqual([]);
  expect(await memoHits(a, 'offer_closed')).toBe(hitsBefore + 1);
});

test('no entry before the deciding commit: while the sale waits on the offer row, nothing is heard or remembered; then the commit, then the memo', async () => {
  const { adminKey } = await apiAgency(a.api);
  const winner = await apiBuyer(a.api, adminKey, { credits: 100 });
  const loser = await apiBuyer(a.api, adminKey, { credits: 100 });
  const campaign = await apiCampaign(a.api, adminKey);
  const lead = await apiLead(a.api, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id);
  // What the database said when the bus event was heard: a publish before the commit would find the offer open.
  const atEvent: Promise<{ status: string; winners: number }>[] = [];
  const stop = a.api.bus.subscribe((e) => {
    if (e.type === 'offer.closed' && e.offerId === offer.id)
      atEvent.push(
        h.database.db
          .execute(sql`SELECT status, winners FROM offers WHERE id = ${offer.id}`)
          .then((r) => (r as unknown as { rows: { status: string; winners: number }[] }).rows[0]!),
      );
  });
  const lock = await holdLock(h.database.db, sql`SELECT 1 FROM offers WHERE id = ${offer.id} FOR UPDATE`);
  const win = tracked(claim(a, winner.apiKey, offer.id));
  await waitingOnLock(h.database.db, 'select');
  expect(win.settled).toBe(false);
  expect(a.closed.has(offer.id)).toBe(false);
  await lock.release();
  expect((await win.promise).status).toBe(200);
  await heardClosed(a, offer.id);
  stop();
  expect(await Promise.all(atEvent)).toEqual([{ status: 'won', winners: 1 }]);
  const lost = await claim(a, loser.apiKey, offer.id);
  expect([lost.status, lost.body]).toEqual([409, LOST_RACE]);
  expect(lost.statements.filter((s) => !timelineInsert(s))).toEqual([]);
});

test('two API processes sharing only the bus both answer a decided offer from memory', async () => {
  const { adminKey } = await apiAgency(a.api);
  const winner = await apiBuyer(a.api, adminKey, { credits: 100 });
  const losers = await Promise.all([1, 2, 3, 4].map(() => apiBuyer(a.api, adminKey, { credits: 100 })));
  const campaign = await apiCampaign(a.api, adminKey);
  const lead = await apiLead(a.api, adminKey, campaign.id);
  const offer = await offerOfLead(h, lead.id);
  expect((await claim(b, winner.apiKey, offer.id)).status).toBe(200);
  await heardClosed(a, offer.id);
  await heardClosed(b, offer.id);
  const before = [await memoHits(a, 'lost_race'), await memoHits(b, 'lost_race')];
  const answers = await Promise.all(losers.map((l, i) => claim(i % 2 ? b : a, l.apiKey, offer.id)));
  for (const answer of answers) {
    expect([answer.status, answer.body]).toEqual([409, LOST_RACE]);
    expect(answer.calls).toEqual([]);
    expect(answer.statements.filter((s) => !timelineInsert(s))).toEqual([]);
  }
  expect([await memoHits(a, 'lost_race'), await memoHits(b, 'lost_race')]).toEqual([before[0]! + 2, before[1]! + 2]);

  // The feed's claim goes through the same relay: answered from memory too (a loser that claimed through the other
  // process before, which this one never saw).
  const feed = await connectFeed(b.api.wsUrl, losers[0]!.apiKey);
  await feed.next((m) => m.type === 'snapshot');
  const [s, c] = [b.statements.length, b.calls.length];
  feed.send({ type: 'claim', offerId: offer.id, requestId: 'by-feed' });
  expect(await feed.next((m) => m.type === 'claim.result')).toEqual({
    type: 'claim.result',
    requestId: 'by-feed',
    ...LOST_RACE,
  });
  await feed.close();
  expect(b.calls.slice(c)).toEqual([]);
  expect(claimStatements(b.statements.slice(s)).filter((x) => !timelineInsert(x))).toEqual([]);
  expect(await memoHits(b, 'lost_race')).toBe(before[1]! + 3);
});

test('every message the gateways sent in this file is one their schemas admit (api/feed-messages.ts)', () => {
  expect(feedMessagesOffSchema()).toEqual([]);
});
