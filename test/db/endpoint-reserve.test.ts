/**
 * The money side of selling to buyers' own systems (#22), on the real
 * Postgres: a winning bid is reserved on the wallet under the overdraft rule
 * before its post, a release gives back exactly its reserve once (the
 * database refuses a release without its reserve or of another amount), and
 * the sale of a post charges nothing unless the endpoint's log holds the
 * accepted post sent under the sale's key – then one transaction releases,
 * charges and assigns, and a retry charges nothing more.
 */
import crypto from 'node:crypto';

import { and, eq } from 'drizzle-orm';

import { offerActivities } from '../../activities/offers';
import type { Database } from '../../db/connection';
import { ENDPOINT_LOG_SLACK } from '../../db/endpoints';
import { pgErrorOf, postLedgerEntry } from '../../db/ledger';
import { createInProcessBus } from '../../db/offer-bus';
import { leadTimeline } from '../../db/offers';
import { releaseBid, reserveBid, sellAcceptedPost } from '../../db/sales';
import { endpointCalls, ledgerEntries } from '../../db/schema';
import { ledgerReleaseKey } from '../../domain/ids';
import { openTestPostgres } from '../helpers/db';
import { endpointOffer } from '../helpers/endpoint-fleet';
import { balanceOf } from '../helpers/lifecycle';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

let database: Database;

beforeAll(async () => {
  database = await openTestPostgres();
});

afterAll(async () => {
  await database.close();
});

/** An agency, a buyer with an endpoint and `credits`, and an open offer of a lead to it. */
async function world(credits: number) {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits });
  const { lead, offerId, routed, logPost: log, logPing } = await endpointOffer(db, agency.id, [buyer.id]);
  expect(routed.offer?.eligibleBuyerIds).toEqual([buyer.id]);
  expect(routed.route.pingTree).toEqual({ tiers: [{ buyerIds: [buyer.id], floor: 10 }] });
  /** The endpoint's log gets a post with this outcome under the sale's key. */
  const logPost = (outcome: 'accepted' | 'rejected', key?: string) => log(buyer.id, outcome, key);
  return { agency, buyer, lead, offerId, logPost, logPing: () => logPing(buyer.id) };
}

/** The constraint that refused the write (the database's own words), or 'accepted'. */
const refusedBy = (write: Promise<unknown>) =>
  write.then(
    () => 'accepted',
    (err: unknown) => pgErrorOf(err).constraint,
  );

const entriesOf = (offerId: string, buyerId: string) =>
  database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.offerId, offerId), eq(ledgerEntries.buyerId, buyerId)));

test('a reserve holds the bid under the overdraft rule, once; a release gives back exactly it, once', async () => {
  const db = database.db;
  const { buyer, offerId } = await world(50);
  expect(await reserveBid(db, { offerId, buyerId: buyer.id, amount: 60 })).toEqual({
    ok: false,
    reason: 'insufficient_credits',
  });
  expect(await balanceOf(db, buyer.id)).toBe(50);
  expect(await reserveBid(db, { offerId, buyerId: buyer.id, amount: 30 })).toEqual({ ok: true });
  // A retried reserve holds nothing more.
  expect(await reserveBid(db, { offerId, buyerId: buyer.id, amount: 30 })).toEqual({ ok: true });
  expect(await balanceOf(db, buyer.id)).toBe(20);
  expect(await releaseBid(db, { offerId, buyerId: buyer.id })).toBe(true);
  expect(await releaseBid(db, { offerId, buyerId: buyer.id })).toBe(false);
  expect(await balanceOf(db, buyer.id)).toBe(50);
  expect((await entriesOf(offerId, buyer.id)).map((e) => [e.kind, e.amount]).sort()).toEqual([
    ['release', 30],
    ['reserve', -30],
  ]);
});

test('the database refuses a release that is not exactly its reserve', async () => {
  const db = database.db;
  const { agency, buyer, offerId } = await world(50);
  const release = (amount: number, key = ledgerReleaseKey(offerId, buyer.id)) =>
    postLedgerEntry(db, { buyerId: buyer.id, agencyId: agency.id, kind: 'release', amount, idempotencyKey: key });
  // No reserve: a release would mint credits.
  expect(await refusedBy(release(30))).toBe('ledger_reserve_release');
  await reserveBid(db, { offerId, buyerId: buyer.id, amount: 30 });
  expect(await refusedBy(release(31))).toBe('ledger_reserve_release');
  expect(await refusedBy(release(30, `offer:${offerId}:buyer:${buyer.id}:free-money`))).toBe('ledger_reserve_release');
  // A reserve keyed otherwise is refused too, and a positive reserve by the sign rule.
  expect(
    await refusedBy(
      postLedgerEntry(db, { buyerId: buyer.id, agencyId: agency.id, kind: 'reserve', amount: -5, idempotencyKey: 'x' }),
    ),
  ).toBe('ledger_reserve_release');
  expect(
    await refusedBy(
      postLedgerEntry(db, {
        buyerId: buyer.id,
        agencyId: agency.id,
        kind: 'reserve',
        amount: 5,
        idempotencyKey: `${crypto.randomUUID()}:reserve`,
      }),
    ),
  ).toBe('ledger_amount_sign');
  expect(await balanceOf(db, buyer.id)).toBe(20);
});

test('no charge without an accepted post; with one, one transaction releases, charges, assigns and records it', async () => {
  const db = database.db;
  const { buyer, lead, offerId, logPost } = await world(100);
  await reserveBid(db, { offerId, buyerId: buyer.id, amount: 40 });
  // Nothing in the log, a rejected post, an accepted post under another key: no sale, nothing moves.
  await expect(sellAcceptedPost(db, { offerId, buyerId: buyer.id, price: 40 })).rejects.toThrow(/no accepted post/);
  await logPost('rejected');
  await logPost('accepted', `sale:${crypto.randomUUID()}:${buyer.id}`);
  await expect(sellAcceptedPost(db, { offerId, buyerId: buyer.id, price: 40 })).rejects.toThrow(/no accepted post/);
  expect(await balanceOf(db, buyer.id)).toBe(60);
  expect((await entriesOf(offerId, buyer.id)).map((e) => e.kind)).toEqual(['reserve']);

  await logPost('accepted');
  const sale = await sellAcceptedPost(db, { offerId, buyerId: buyer.id, price: 40 });
  expect(sale).toMatchObject({ result: 'won', charged: 40, balance: 60 });
  // A retry (the activity ran again after a crash) answers the same sale and moves nothing.
  expect(await sellAcceptedPost(db, { offerId, buyerId: buyer.id, price: 40 })).toEqual(
    expect.objectContaining({ result: 'won', assignmentId: (sale as { assignmentId: string }).assignmentId }),
  );
  expect(await balanceOf(db, buyer.id)).toBe(60);
  expect((await entriesOf(offerId, buyer.id)).map((e) => [e.kind, e.amount]).sort()).toEqual([
    ['charge', -40],
    ['release', 40],
    ['reserve', -40],
  ]);
  const timeline = await leadTimeline(db, lead.id);
  expect(timeline.filter((e) => e.type === 'post_accepted')).toEqual([
    expect.objectContaining({ buyerId: buyer.id, data: expect.objectContaining({ bid: 40 }) }),
  ]);
  expect(timeline.filter((e) => e.type === 'won')).toHaveLength(1);
});

test('a busy endpoint trims its log past the accepted post before the sale commits: the sale still finds it, and the timeline reads posted → accepted → won', async () => {
  const db = database.db;
  const { buyer, lead, offerId, logPost, logPing } = await world(100);
  await reserveBid(db, { offerId, buyerId: buyer.id, amount: 40 });
  await logPost('accepted');
  // Other leads' pings (the worker restarting after a crash, say): the log keeps only the last ENDPOINT_LOG_SIZE,
  // trimmed back to them once it holds more than ENDPOINT_LOG_SLACK.
  for (let i = 0; i < ENDPOINT_LOG_SLACK; i++) await logPing();
  const posts = await db
    .select()
    .from(endpointCalls)
    .where(and(eq(endpointCalls.leadId, lead.id), eq(endpointCalls.step, 'post')));
  expect(posts).toEqual([]);

  expect(await sellAcceptedPost(db, { offerId, buyerId: buyer.id, price: 40 })).toMatchObject({
    result: 'won',
    charged: 40,
  });
  expect(await balanceOf(db, buyer.id)).toBe(60);
  const timeline = await leadTimeline(db, lead.id);
  const accepted = timeline.find((e) => e.type === 'post_accepted')!;
  const won = timeline.find((e) => e.type === 'won')!;
  expect(Date.parse(accepted.at)).toBeLessThanOrEqual(Date.parse(won.at));
  expect(timeline.map((e) => e.type).filter((t) => t === 'post_accepted' || t === 'won')).toEqual([
    'post_accepted',
    'won',
  ]);
});

test('endpoint bidders route with an exclusive highest-bid campaign only: the database refuses them on any other auction or a shared lead', async () => {
  const db = database.db;
  const agency = await makeAgency(db);
  const buyer = await makeBuyer(db, agency.id, { credits: 50 });
  const bidding = await makeCampaign(db, agency.id, { auction: 'highest_bid', endpointBidders: [buyer.id] });
  const lead = await makeLead(db, agency.id, bidding.id);
  const routed = await offerActivities({ db, bus: createInProcessBus() }).routeAndOpen({
    offerId: crypto.randomUUID(),
    leadId: lead.id,
    campaignId: bidding.id,
    workflowId: `lead-${lead.id}`,
    depth: 0,
    openedAt: new Date().toISOString(),
  });
  expect(routed.route).toMatchObject({ auction: 'highest_bid', endpointBidders: [buyer.id] });
  for (const other of [{ auction: 'first_claim' as const }, { auction: 'highest_bid' as const, maxWinners: 2 }]) {
    const refused = await makeCampaign(db, agency.id, { ...other, endpointBidders: [buyer.id] }).then(
      () => 'stored',
      (err: unknown) => pgErrorOf(err).constraint,
    );
    expect(refused).toBe('campaigns_endpoint_bidders_highest_bid');
  }
});
