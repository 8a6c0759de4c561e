/**
 * Publish first, then the paperwork (#26 item 2), on real Postgres with the LISTEN/NOTIFY bus: route-and-open commits
 * the offer with its targets' ids, `offer.opened` leaves, and only then are the verdict rows and the
 * `targeted`/`excluded` events written – a transaction of their own, held here by a row lock taken from another
 * connection (the verdict rows' key check on one targeted buyer), so the order is observed, not timed. A claim that
 * arrives before its buyer's verdict row is judged from the committed ids; the paperwork written after it agrees.
 */
import crypto from 'node:crypto';

import { eq, sql } from 'drizzle-orm';
import type { Pool } from 'pg';

import { offerActivities } from '../../activities/offers';
import type { Database, Db } from '../../db/connection';
import { insertLead } from '../../db/leads';
import { createPostgresBus, type OfferBus, type OfferBusEvent } from '../../db/offer-bus';
import {
  awaitingPaperwork,
  finishPaperwork,
  getOffer,
  listBuyerOffers,
  listTargets,
  openOfferRow,
} from '../../db/offers';
import { claimContext, sellOffer } from '../../db/sales';
import { leads, offerPaperwork } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { openTestPostgres } from '../helpers/db';
import { balanceOf, targetsOf, timelineCounts } from '../helpers/lifecycle';
import { holdLock, tracked, waitingOnLock } from '../helpers/locks';
import { eventually } from '../helpers/temporal';
import { leadFields, makeAgency, makeBuyer, makeBuyers, makeCampaign } from '../helpers/world';

let database: Database;
let db: Db;
let bus: OfferBus;
const heard: OfferBusEvent[] = [];

beforeAll(async () => {
  database = await openTestPostgres();
  db = database.db;
  bus = createPostgresBus(database.url!, database.raw as Pool);
  bus.subscribe((e) => {
    if (e.type === 'offer.opened') heard.push(e);
  });
  await bus.ready();
});
afterAll(async () => {
  await bus?.close();
  await database?.close();
});

const openedFor = (offerId: string) =>
  eventually(async () => heard.find((e) => e.offerId === offerId), 10_000, `offer.opened of ${offerId}`);

const pendingPaperwork = async (offerId: string) =>
  (await db.select().from(offerPaperwork).where(eq(offerPaperwork.offerId, offerId))).length;

/** An agency with two buyers who can buy at 10 and one who cannot (no credits), a ping-post campaign, one lead. */
async function world() {
  const agency = await makeAgency(db);
  const [a, b] = await makeBuyers(db, agency.id, 2, { credits: 100 });
  const broke = await makeBuyer(db, agency.id);
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 60 });
  const lead = await insertLead(db, {
    agencyId: agency.id,
    campaignId: campaign.id,
    fields: leadFields(),
    workflowId: leadWorkflowId,
  });
  return { agency, a: a!, b: b!, broke, campaign, lead };
}

test('offer.opened is heard while the verdict rows and the targeted/excluded events are still unwritten', async () => {
  const w = await world();
  const activities = offerActivities({ db, bus });
  const input = {
    offerId: crypto.randomUUID(),
    leadId: w.lead.id,
    campaignId: w.campaign.id,
    workflowId: `lead-${w.lead.id}`,
    depth: 0,
    openedAt: new Date().toISOString(),
  };
  // The paperwork's verdict rows check their buyers' keys: holding buyer a's row holds the paperwork, nothing else.
  const hold = await holdLock(db, sql`SELECT 1 FROM buyers WHERE id = ${w.a.id} FOR UPDATE`);
  const opening = tracked(activities.routeAndOpen(input));
  let pendingCandidates: Awaited<ReturnType<typeof listTargets>> = [];
  try {
    const event = await openedFor(input.offerId);
    await waitingOnLock(db, 'insert into "offer_targets"');
    // The feed has it, with its targets, while the paperwork waits.
    expect([...event.targets!].sort()).toEqual([w.a.id, w.b.id].sort());
    expect(event.offer).toMatchObject({ id: input.offerId, leadId: w.lead.id });
    const offer = await getOffer(db, input.offerId);
    expect([...offer!.targetIds!].sort()).toEqual([w.a.id, w.b.id].sort());
    expect(offer!.status).toBe('open');
    expect(await targetsOf(db, input.offerId)).toEqual([]);
    expect(await timelineCounts(db, input.offerId)).toEqual({});
    expect(await pendingPaperwork(input.offerId)).toBe(1);
    const [lead] = await db.select().from(leads).where(eq(leads.id, w.lead.id));
    expect(lead!.status).toBe('offered');
    // A feed snapshot taken now has it from the committed ids (the buyers' listing reads verdict rows: not yet).
    expect((await awaitingPaperwork(db, w.a.id)).map((o) => o.id)).toEqual([input.offerId]);
    expect(await awaitingPaperwork(db, w.broke.id)).toEqual([]);
    expect((await listBuyerOffers(db, w.a.id, 'open', { limit: 10 })).items).toEqual([]);
    // The offer's candidates ("why didn't I get this lead?") are read from the pending verdicts meanwhile.
    pendingCandidates = await listTargets(db, input.offerId);
    expect(pendingCandidates.map((t) => [t.buyerId, t.eligible, t.reason])).toEqual(
      expect.arrayContaining([
        [w.a.id, true, null],
        [w.b.id, true, null],
        [w.broke.id, false, 'insufficient_credits'],
      ]),
    );
    expect(pendingCandidates).toHaveLength(3);
    expect((await listTargets(db, input.offerId, w.broke.id)).map((t) => t.buyerId)).toEqual([w.broke.id]);
    // A claim arriving now is judged from the committed ids.
    expect((await claimContext(db, input.offerId, w.b.id))!.targeted).toBe(true);
    expect((await claimContext(db, input.offerId, w.broke.id))!.targeted).toBe(false);
    expect(opening.settled).toBe(false);
  } finally {
    await hold.release();
  }
  const routed = await opening.promise;
  expect(routed.offer).toMatchObject({ offerId: input.offerId, eligible: 2, excluded: 1 });
  const targets = await targetsOf(db, input.offerId);
  expect(targets.map((t) => [t.buyerId, t.eligible]).sort()).toEqual(
    [
      [w.a.id, true],
      [w.b.id, true],
      [w.broke.id, false],
    ].sort(),
  );
  expect(targets.find((t) => t.buyerId === w.broke.id)!.reason).toBe('insufficient_credits');
  expect(await timelineCounts(db, input.offerId)).toEqual({ targeted: 2, excluded: 1 });
  expect(await pendingPaperwork(input.offerId)).toBe(0);
  // The same candidates, in the same order, from the verdict rows.
  expect(await listTargets(db, input.offerId)).toEqual(pendingCandidates);
  expect(await awaitingPaperwork(db, w.a.id)).toEqual([]);
  expect((await listBuyerOffers(db, w.a.id, 'open', { limit: 10 })).items.map((o) => o.id)).toEqual([input.offerId]);

  // Run again (Temporal's retry of the local activity): the same answer, nothing written twice.
  expect((await activities.routeAndOpen(input)).offer).toMatchObject({ eligible: 2, excluded: 1 });
  expect(await targetsOf(db, input.offerId)).toHaveLength(3);
  expect(await timelineCounts(db, input.offerId)).toEqual({ targeted: 2, excluded: 1 });
});

test('a claim before its buyer’s verdict row is judged from the committed target ids, at its own price', async () => {
  const w = await world();
  const offerId = crypto.randomUUID();
  const opened = new Date();
  // Step one only: the offer and its target ids committed, the paperwork not (a worker that died between them).
  await openOfferRow(
    db,
    {
      id: offerId,
      leadId: w.lead.id,
      agencyId: w.agency.id,
      campaignId: w.campaign.id,
      kind: 'ping_post',
      workflowId: `lead-${w.lead.id}`,
      price: 10,
      preview: {},
      maxWinners: 1,
      depth: 0,
      auction: 'first_claim',
      pricing: 'first_price',
      openedAt: opened,
      closesAt: new Date(opened.getTime() + 60_000),
    },
    [
      { buyerId: w.a.id, eligible: true, reason: null, detail: null, snapshot: {}, price: 7 },
      { buyerId: w.b.id, eligible: true, reason: null, detail: null, snapshot: {} },
      { buyerId: w.broke.id, eligible: false, reason: 'insufficient_credits', detail: null, snapshot: {} },
    ],
  );
  expect(await targetsOf(db, offerId)).toEqual([]);

  // Not targeted: refused as such (the buyer has no verdict row either way).
  expect(await sellOffer(db, { offerId, buyerId: w.broke.id, sale: 'claim', requestId: 'r-broke' })).toMatchObject({
    result: 'failed',
    reason: 'not_targeted',
  });
  // Targeted, with its own price: wins and is charged that price; the sale closes the offer.
  const won = await sellOffer(db, { offerId, buyerId: w.a.id, sale: 'claim', requestId: 'r-a' });
  expect(won).toMatchObject({ result: 'won', charged: 7 });
  expect(await balanceOf(db, w.a.id)).toBe(93);
  expect((await getOffer(db, offerId))!.status).toBe('won');
  expect(await sellOffer(db, { offerId, buyerId: w.b.id, sale: 'claim', requestId: 'r-b' })).toMatchObject({
    result: 'lost',
    reason: 'lost_race',
  });

  // The paperwork written late (as the routing sweep does), once; it agrees with what the claims were judged by.
  expect(await finishPaperwork(db, offerId)).toBe(true);
  expect(await finishPaperwork(db, offerId)).toBe(false);
  const targets = await targetsOf(db, offerId);
  expect(targets.map((t) => [t.buyerId, t.eligible, t.price]).sort()).toEqual(
    [
      [w.a.id, true, 7],
      [w.b.id, true, null],
      [w.broke.id, false, null],
    ].sort(),
  );
  // `lost` for b came from the committed ids when the sale closed the offer, before any verdict row existed.
  expect(await timelineCounts(db, offerId)).toMatchObject({ targeted: 2, excluded: 1, lost: 1 });
  expect(await pendingPaperwork(offerId)).toBe(0);
});
