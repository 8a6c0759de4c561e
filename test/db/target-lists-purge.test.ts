/**
 * The feed's stored target lists (migration 0033: an `offer.opened` too large for NOTIFY names its list by the hash
 * of its content) are purged by the `expire-records` job once no open offer uses them and they are older than an
 * hour (db/offers.ts `purgeTargetLists`), on the real Postgres: an open offer's list is kept however old, a young
 * list is kept, an old one that only a closed offer used – or that no offer used – goes.
 */
import crypto from 'node:crypto';

import { eq, inArray, sql } from 'drizzle-orm';

import type { Database, Db } from '../../db/connection';
import { targetListOf } from '../../db/offer-bus';
import { saveTargetList } from '../../db/offers';
import { offers, targetLists } from '../../db/schema';
import { expireRecords } from '../../worker/lead-starter';
import { openTestPostgres } from '../helpers/db';
import { makeAgency, makeCampaign, makeLead, makeOffer } from '../helpers/world';

let database: Database;
let db: Db;

beforeAll(async () => {
  database = await openTestPostgres();
  db = database.db;
});

afterAll(async () => {
  await database.close();
});

const someBuyers = (n: number) => Array.from({ length: n }, () => crypto.randomUUID());

/** A ping-post offer whose committed targets (and own prices) are `targets`, open or closed. */
async function offerTo(
  agencyId: string,
  campaignId: string,
  targets: string[],
  prices: Record<string, number> | null,
  status: 'open' | 'won',
) {
  const lead = await makeLead(db, agencyId, campaignId);
  const offer = await makeOffer(db, lead, { kind: 'ping_post' });
  // Committed in the opening's order, not the list's (sorted): the same list all the same.
  await db
    .update(offers)
    .set({ targetIds: [...targets].reverse(), targetPrices: prices, status })
    .where(eq(offers.id, offer.id));
  return offer;
}

/** Stores the list of these targets, made `hoursAgo` old. */
async function storedList(targets: string[], prices: Record<string, number> | null, hoursAgo: number) {
  const list = targetListOf(targets, prices);
  await saveTargetList(db, list);
  await db
    .update(targetLists)
    .set({ createdAt: sql`now() - make_interval(hours => ${hoursAgo})` })
    .where(eq(targetLists.id, list.id));
  return list.id;
}

test("an open offer's list is kept however old; an old list no open offer uses goes; a young one stays", async () => {
  const agency = await makeAgency(db);
  const campaign = await makeCampaign(db, agency.id);
  const open = someBuyers(40);
  const prices = { [open[3]!]: 25 };
  const closedOnly = someBuyers(40);
  const nobody = someBuyers(40);
  const young = someBuyers(40);

  const lists = {
    // Two hours old, the targets of an offer still open.
    openOffers: await storedList(open, prices, 2),
    // The same buyers at other prices: another list, which no open offer uses.
    otherPrices: await storedList(open, null, 2),
    // The list of an offer that has closed since.
    closedOffers: await storedList(closedOnly, null, 2),
    nobodys: await storedList(nobody, null, 2),
    // Minutes old: its offer may still be opening.
    young: await storedList(young, null, 0),
  };
  await offerTo(agency.id, campaign.id, open, prices, 'open');
  await offerTo(agency.id, campaign.id, closedOnly, null, 'won');

  const purged = await expireRecords(db, {});
  expect(purged.targetLists).toBeGreaterThanOrEqual(3);
  const left = await db
    .select({ id: targetLists.id })
    .from(targetLists)
    .where(inArray(targetLists.id, Object.values(lists)));
  expect(left.map((r) => r.id).sort()).toEqual([lists.openOffers, lists.young].sort());

  // Once its offer closes, the open offer's list goes too.
  await db.update(offers).set({ status: 'won' }).where(eq(offers.agencyId, agency.id));
  await expireRecords(db, {});
  expect(
    (
      await db
        .select({ id: targetLists.id })
        .from(targetLists)
        .where(inArray(targetLists.id, Object.values(lists)))
    ).map((r) => r.id),
  ).toEqual([lists.young]);
});
