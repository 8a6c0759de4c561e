/**
 * The nemesis campaign's checker (ops/nemesis/invariants.ts) catches what it must: fed a history of
 * client answers that the data contradicts – a refusal for a sale that exists (refused and charged), a
 * win with no sale, an accepted lead that is not stored, an acknowledged top-up not in the ledger, a
 * webhook for nothing sold, a bad signature, a card payment credited twice or a card credit without a
 * payment – each invariant reports it with the ids it concerns; fed the true answers, it reports nothing.
 */
import crypto from 'node:crypto';

import { sql } from 'drizzle-orm';

import type { Database } from '../../db/connection';
import { setLeadStatus } from '../../db/leads';
import { topUp } from '../../db/ledger';
import { createPayment, settleSucceededPayment } from '../../db/payments';
import { releaseBid, reserveBid, sellAcceptedPost, sellManually } from '../../db/sales';
import { endpointPostKey } from '../../domain/ids';
import { rechargeIdempotencyKey, rechargeWorkflowId } from '../../domain/recharge';
import { POST_UNKNOWN } from '../../domain/types';
import { runAudit } from '../../ops/audit';
import { History } from '../../ops/nemesis/history';
import { type CheckContext, INVARIANTS } from '../../ops/nemesis/invariants';
import { PAYMENT_INVARIANTS } from '../../ops/nemesis/payment-invariants';
import { cardTopUpDetail } from '../../ops/nemesis/payments';
import type { Receivers } from '../../ops/nemesis/receivers';
import { intentRequestDetail } from '../../ops/nemesis/recharges';
import type { World } from '../../ops/nemesis/world';
import { openTestPostgres } from '../helpers/db';
import { endpointOffer } from '../helpers/endpoint-fleet';
import { newId } from '../helpers/stripe';
import { makeAgency, makeBuyer, makeCampaign, makeLead } from '../helpers/world';

let database: Database;
beforeAll(async () => {
  database = await openTestPostgres();
});
afterAll(() => database.close());

const pick = (...names: string[]) => INVARIANTS.filter((i) => names.includes(i.name));
const CHECKED = ["buyers' answers agree with the ledger", 'accepted leads final', 'top-ups', 'webhooks'];

function receivers(webhookIds: { id: string; buyerId: string }[], bad = false): Receivers {
  return {
    url: () => '',
    setSecret: () => undefined,
    byWebhookId: new Map(
      webhookIds.map(({ id, buyerId }) => [
        id,
        {
          webhookId: id,
          buyerId,
          arrivals: 1,
          stored: 1,
          bodies: new Set(['x']),
          assignmentId: null,
          leadId: null,
          firstAt: 0,
        },
      ]),
    ),
    badSignatures: bad
      ? [{ buyerId: webhookIds[0]!.buyerId, webhookId: 'msg_x', error: 'No matching signature found' }]
      : [],
    counts: { ok: 0, unavailable: 0, error: 0, slow: 0, stored_then_dropped: 0, duplicate: 0 },
    close: async () => undefined,
  };
}

async function scene() {
  const db = database.db;
  const agency = await makeAgency(db);
  const [winner, other] = [await makeBuyer(db, agency.id, { credits: 100 }), await makeBuyer(db, agency.id)];
  const campaign = await makeCampaign(db, agency.id);
  const lead = await makeLead(db, agency.id, campaign.id);
  const offerId = crypto.randomUUID();
  const sale = await sellManually(db, {
    offerId,
    leadId: lead.id,
    buyerId: winner.id,
    workflowId: `lead-${lead.id}`,
    at: new Date().toISOString(),
  });
  if (sale.result !== 'won') throw new Error(`the sale was refused: ${JSON.stringify(sale)}`);
  const key = crypto.randomUUID();
  await topUp(db, { buyerId: other.id, agencyId: agency.id, amount: 25, idempotencyKey: `topup:${other.id}:${key}` });
  const world = { agencyId: agency.id } as World;
  return { agency, winner, other, lead, offerId, assignmentId: sale.assignmentId, key, world };
}

const check = async (ctx: CheckContext) => (await Promise.all(pick(...CHECKED).map((i) => i.check(ctx)))).flat();

const context = (world: World, history: History, delivered: Receivers): CheckContext => ({
  pool: database.raw as never,
  database,
  temporal: null,
  world,
  history,
  receivers: delivered,
});

test('the true answers: no finding', async () => {
  const s = await scene();
  const h = new History(Date.now());
  h.add('op', 'claim', 'ok', { buyerId: s.winner.id, offerId: s.offerId, assignmentId: s.assignmentId });
  h.add('op', 'claim', 'fail', { buyerId: s.other.id, offerId: s.offerId }, 'lost already_sold');
  h.add('op', 'top-up', 'ok', { buyerId: s.other.id }, `amount=25 key=${s.key}`);
  const ctx = context(s.world, h, receivers([{ id: `msg_${s.assignmentId}`, buyerId: s.winner.id }]));
  expect(await check(ctx)).toEqual([]);
});

test('answers the data contradicts: each one found, with its ids', async () => {
  const s = await scene();
  const h = new History(Date.now());
  const ghostLead = crypto.randomUUID();
  const ghostOffer = crypto.randomUUID();
  // Refused, yet the sale exists: the phantom charge.
  h.add('op', 'claim', 'fail', { buyerId: s.winner.id, offerId: s.offerId }, 'lost offer_closed');
  // Won, yet no sale.
  h.add('op', 'claim', 'ok', { buyerId: s.other.id, offerId: ghostOffer, assignmentId: crypto.randomUUID() });
  h.add('op', 'intake', 'ok', { leadId: ghostLead });
  h.add('op', 'top-up', 'ok', { buyerId: s.winner.id }, `amount=7 key=${crypto.randomUUID()}`);
  h.add('op', 'top-up', 'fail', { buyerId: s.other.id }, `amount=25 key=${s.key} 400 validation_failed`);
  // The sale never delivered; a webhook for nothing sold; a bad signature.
  const ctx = context(s.world, h, receivers([{ id: `msg_${crypto.randomUUID()}`, buyerId: s.other.id }], true));
  const findings = await check(ctx);
  const by = (name: string) => findings.filter((f) => f.invariant === name);
  expect(by('refused and charged')).toEqual([
    expect.objectContaining({ ids: expect.objectContaining({ buyerId: s.winner.id, assignmentId: s.assignmentId }) }),
  ]);
  expect(by('won and not charged')).toHaveLength(1);
  expect(by('accepted leads final')).toEqual([expect.objectContaining({ ids: { leadId: ghostLead } })]);
  expect(by('acknowledged top-up in the ledger once')).toHaveLength(1);
  expect(by('refused top-up not in the ledger')).toHaveLength(1);
  expect(by('every sale delivered at least once')).toEqual([
    expect.objectContaining({ ids: expect.objectContaining({ assignmentId: s.assignmentId }) }),
  ]);
  expect(by('nothing delivered that was not sold (to that buyer)')).toHaveLength(1);
  expect(by('every delivery verifies (Standard Webhooks)')).toHaveLength(1);
  expect(findings).toHaveLength(8);
  // The history printed for the phantom charge names the refusal.
  expect(h.touching({ offerId: s.offerId }).map((e) => e.detail)).toContain('lost offer_closed');
});

describe('card payments', () => {
  /** An agency with two buyers; one paid 40 credits by card (settled as the webhook settles it), one 10 pending. */
  async function cardScene() {
    const db = database.db;
    const agency = await makeAgency(db);
    const [payer, other] = [await makeBuyer(db, agency.id), await makeBuyer(db, agency.id)];
    const pay = (buyerId: string, credits: number) =>
      createPayment(db, { agencyId: agency.id, buyerId, kind: 'checkout', credits, creditPrice: 125, currency: 'usd' });
    const paid = await pay(payer.id, 40);
    const pi = newId('pi');
    const settled = await settleSucceededPayment(db, {
      agencyId: agency.id,
      paymentId: paid.id,
      paymentIntentId: pi,
      amount: paid.amount,
      currency: 'usd',
      eventId: newId('evt'),
    });
    if (settled.outcome !== 'credited') throw new Error(`not credited: ${JSON.stringify(settled)}`);
    const pending = await pay(other.id, 10);
    const world = { agencyId: agency.id } as World;
    return { agency, payer, other, paid, pi, pending, world };
  }
  const checkCards = async (ctx: CheckContext) =>
    (await Promise.all(PAYMENT_INVARIANTS.map((i) => i.check(ctx)))).flat();

  test('the true answers: a payment acknowledged and credited once, one still pending – no finding', async () => {
    const s = await cardScene();
    const h = new History(Date.now());
    h.add(
      'op',
      'card-top-up',
      'ok',
      { buyerId: s.payer.id, paymentId: s.paid.id },
      cardTopUpDetail({ paymentId: s.paid.id, paymentIntentId: s.pi, credits: 40 }),
    );
    expect(await checkCards(context(s.world, h, receivers([])))).toEqual([]);
  });

  test('a double credit (a second entry for the payment under another key) is found', async () => {
    const s = await cardScene();
    const dup = newId('evt');
    // The classic bug: crediting under the event's id, so the other event of the same payment credits again.
    await topUp(database.db, {
      buyerId: s.payer.id,
      agencyId: s.agency.id,
      amount: 40,
      idempotencyKey: `stripe:${dup}`,
      reference: `card payment ${s.paid.id} (${dup})`,
    });
    const h = new History(Date.now());
    h.add(
      'op',
      'card-top-up',
      'ok',
      { buyerId: s.payer.id, paymentId: s.paid.id },
      cardTopUpDetail({ paymentId: s.paid.id, paymentIntentId: s.pi, credits: 40 }),
    );
    const findings = await checkCards(context(s.world, h, receivers([])));
    const by = (name: string) => findings.filter((f) => f.invariant === name);
    expect(by('card payment credited exactly once')).toEqual([
      expect.objectContaining({ ids: { buyerId: s.payer.id, paymentId: s.paid.id } }),
    ]);
    expect(by('acknowledged card top-up credited exactly once')).toEqual([
      expect.objectContaining({ ids: { buyerId: s.payer.id, paymentId: s.paid.id } }),
    ]);
    expect(by('no card credit without a succeeded payment')).toEqual([
      expect.objectContaining({ message: expect.stringContaining(`stripe:${dup}`) }),
    ]);
    expect(by('card credits = payment credits')).toEqual([
      expect.objectContaining({ message: `buyer ${s.payer.id}: 80 card credits in the ledger, 40 paid for` }),
    ]);
    expect(findings).toHaveLength(4);
  });

  test('a credit without a payment, a pending payment acknowledged, and a refused one credited are found', async () => {
    const s = await cardScene();
    const ghost = newId('pi');
    await topUp(database.db, {
      buyerId: s.other.id,
      agencyId: s.agency.id,
      amount: 30,
      idempotencyKey: `stripe:${ghost}`,
      reference: 'card payment of nobody',
    });
    const h = new History(Date.now());
    // Told it succeeded, but the payment is still pending and uncredited.
    h.add(
      'op',
      'card-top-up',
      'ok',
      { buyerId: s.other.id, paymentId: s.pending.id },
      cardTopUpDetail({ paymentId: s.pending.id, paymentIntentId: newId('pi'), credits: 10 }),
    );
    // Told every delivery was refused, but it is credited.
    h.add(
      'op',
      'card-top-up',
      'fail',
      { buyerId: s.payer.id, paymentId: s.paid.id },
      `${cardTopUpDetail({ paymentId: s.paid.id, paymentIntentId: s.pi, credits: 40 })}: 422 stripe_event_refused`,
    );
    const findings = await checkCards(context(s.world, h, receivers([])));
    const by = (name: string) => findings.filter((f) => f.invariant === name);
    expect(by('no card credit without a succeeded payment')).toEqual([
      expect.objectContaining({
        ids: { buyerId: s.other.id },
        message: expect.stringContaining('no payment has that intent'),
      }),
    ]);
    expect(by('card credits = payment credits')).toEqual([
      expect.objectContaining({ message: `buyer ${s.other.id}: 30 card credits in the ledger, 0 paid for` }),
    ]);
    expect(by('acknowledged card top-up credited exactly once')).toEqual([
      expect.objectContaining({ ids: { buyerId: s.other.id, paymentId: s.pending.id } }),
    ]);
    expect(by('refused card top-up not credited')).toEqual([
      expect.objectContaining({ ids: { buyerId: s.payer.id, paymentId: s.paid.id } }),
    ]);
    expect(findings).toHaveLength(4);
  });
});

describe('auto-recharges', () => {
  /**
   * A buyer on auto-recharge whose two recharges (two outbox requests) each paid 20 credits, one after the other,
   * settled as the webhook settles them.
   */
  async function rechargeScene() {
    const db = database.db;
    const agency = await makeAgency(db);
    const buyer = await makeBuyer(db, agency.id);
    const workflowId = rechargeWorkflowId(buyer.id);
    const charge = (key: string, buyerId = buyer.id) =>
      createPayment(db, {
        agencyId: agency.id,
        buyerId,
        kind: 'auto_recharge',
        credits: 20,
        creditPrice: 125,
        currency: 'usd',
        stripeIdempotencyKey: key,
      });
    const settle = async (p: { id: string; amount: number }, pi: string) => {
      const settled = await settleSucceededPayment(db, {
        agencyId: agency.id,
        paymentId: p.id,
        paymentIntentId: pi,
        amount: p.amount,
        currency: 'usd',
        eventId: newId('evt'),
      });
      if (settled.outcome !== 'credited') throw new Error(`not credited: ${JSON.stringify(settled)}`);
    };
    const runs = [crypto.randomUUID(), crypto.randomUUID()].map((requestId) => ({
      key: rechargeIdempotencyKey(workflowId, requestId, 1),
      pi: newId('pi'),
    }));
    const paid = [];
    for (const r of runs) {
      const p = await charge(r.key);
      await settle(p, r.pi);
      paid.push({ ...r, payment: p });
    }
    const h = new History(Date.now());
    for (const r of paid) {
      const ids = { buyerId: buyer.id, paymentId: r.payment.id };
      h.add(
        'op',
        'stripe-payment-intent',
        'ok',
        ids,
        intentRequestDetail({ key: r.key, paymentIntentId: r.pi, replayed: false }),
      );
      h.add(
        'op',
        'auto-recharge',
        'ok',
        ids,
        cardTopUpDetail({ paymentId: r.payment.id, paymentIntentId: r.pi, credits: 20 }),
      );
    }
    // A retried request of the first attempt: Stripe replayed its answer.
    h.add(
      'op',
      'stripe-payment-intent',
      'ok',
      { buyerId: buyer.id, paymentId: paid[0]!.payment.id },
      intentRequestDetail({ key: paid[0]!.key, paymentIntentId: paid[0]!.pi, replayed: true }),
    );
    return { agency, buyer, workflowId, charge, settle, paid, h, world: { agencyId: agency.id } as World };
  }
  const checkRecharges = async (ctx: CheckContext) =>
    (await Promise.all(PAYMENT_INVARIANTS.map((i) => i.check(ctx)))).flat();

  test('the true answers: two recharges one after the other, a replayed request – no finding', async () => {
    const s = await rechargeScene();
    expect(await checkRecharges(context(s.world, s.h, receivers([])))).toEqual([]);
  });

  test('a second PaymentIntent for one key, an intent no payment holds, overlapping recharges and a foreign key are found', async () => {
    const s = await rechargeScene();
    const [first] = s.paid;
    // Stripe made a second intent for the first attempt's key (no idempotency).
    s.h.add(
      'op',
      'stripe-payment-intent',
      'ok',
      { buyerId: s.buyer.id, paymentId: first!.payment.id },
      intentRequestDetail({ key: first!.key, paymentIntentId: newId('pi'), replayed: false }),
    );
    // An intent for a key no payment has.
    const orphan = rechargeIdempotencyKey(s.workflowId, crypto.randomUUID(), 1);
    s.h.add(
      'op',
      'stripe-payment-intent',
      'ok',
      { buyerId: s.buyer.id },
      intentRequestDetail({ key: orphan, paymentIntentId: newId('pi'), replayed: false }),
    );
    // A third recharge charged while a fourth was already charging: two in flight.
    const third = await s.charge(rechargeIdempotencyKey(s.workflowId, crypto.randomUUID(), 1));
    const fourth = await s.charge(rechargeIdempotencyKey(s.workflowId, crypto.randomUUID(), 1));
    await s.settle(third, newId('pi'));
    await s.settle(fourth, newId('pi'));
    // A payment of this buyer under another buyer's recharge workflow.
    const other = await makeBuyer(database.db, s.agency.id);
    await s.charge(rechargeIdempotencyKey(rechargeWorkflowId(other.id), crypto.randomUUID(), 1));

    const findings = await checkRecharges(context(s.world, s.h, receivers([])));
    const by = (name: string) => findings.filter((f) => f.invariant === name);
    expect(by('at most one PaymentIntent per idempotency key')).toEqual([
      expect.objectContaining({ ids: { buyerId: s.buyer.id, paymentId: first!.payment.id } }),
    ]);
    // The first key's payment holds one of its intents; the orphan key has no payment.
    expect(by('a PaymentIntent for a recharge payment')).toEqual([
      expect.objectContaining({ message: expect.stringContaining(`${orphan} (Stripe answered pi_`) }),
    ]);
    expect(by('one recharge in flight per buyer')).toEqual([
      expect.objectContaining({ ids: { buyerId: s.buyer.id, paymentId: fourth.id } }),
    ]);
    expect(by('a recharge payment of the buyer’s own workflow')).toHaveLength(1);
    expect(findings).toHaveLength(4);
  });
});

describe('endpoint sales', () => {
  /** An agency with two endpoint buyers (100 credits each) in a ping tree, and an open offer of a lead to both. */
  async function endpointScene() {
    const db = database.db;
    const agency = await makeAgency(db);
    const a = await makeBuyer(db, agency.id, { credits: 100 });
    const b = await makeBuyer(db, agency.id, { credits: 100 });
    const { lead, offerId, logPost } = await endpointOffer(db, agency.id, [a.id, b.id]);
    return { agency, a, b, lead, offerId, logPost, world: { agencyId: agency.id } as World };
  }
  const [endpointSales] = pick('endpoint sales');
  const checkEndpoints = (world: World) => endpointSales!.check(context(world, new History(Date.now()), receivers([])));

  test('a refused post, then the next bid accepted and sold; a post never answered held for review: no finding', async () => {
    const db = database.db;
    const s = await endpointScene();
    await reserveBid(db, { offerId: s.offerId, buyerId: s.a.id, amount: 50 });
    await s.logPost(s.a.id, 'rejected');
    await releaseBid(db, { offerId: s.offerId, buyerId: s.a.id });
    await reserveBid(db, { offerId: s.offerId, buyerId: s.b.id, amount: 40 });
    await s.logPost(s.b.id, 'unknown');
    await s.logPost(s.b.id, 'accepted');
    expect(await sellAcceptedPost(db, { offerId: s.offerId, buyerId: s.b.id, price: 40 })).toMatchObject({
      result: 'won',
    });
    expect(await checkEndpoints(s.world)).toEqual([]);

    const held = await endpointScene();
    await reserveBid(db, { offerId: held.offerId, buyerId: held.a.id, amount: 50 });
    await held.logPost(held.a.id, 'unknown');
    await setLeadStatus(db, { leadId: held.lead.id, status: 'manual_review', reason: POST_UNKNOWN });
    expect(await checkEndpoints(held.world)).toEqual([]);
  });

  test('a charge whose accepted post is not in the log, a second buyer posted while the first is unanswered, a reserve never given back: each found', async () => {
    const db = database.db;
    const s = await endpointScene();
    await reserveBid(db, { offerId: s.offerId, buyerId: s.a.id, amount: 50 });
    await s.logPost(s.a.id, 'unknown');
    // Buyer b posted while a's post is unresolved; a's reserve never given back (the lead is not in review).
    await reserveBid(db, { offerId: s.offerId, buyerId: s.b.id, amount: 40 });
    await s.logPost(s.b.id, 'accepted');
    await sellAcceptedPost(db, { offerId: s.offerId, buyerId: s.b.id, price: 40 });
    // The accepted post that justified b's charge is gone from the facts: a charge without an accepted post.
    await db.execute(
      sql`UPDATE endpoint_call_facts SET outcome = 'rejected' WHERE idempotency_key = ${endpointPostKey(s.offerId, s.b.id)}`,
    );
    const findings = await checkEndpoints(s.world);
    const by = (name: string) => findings.filter((f) => f.invariant === `endpoint sales: ${name}`);
    expect(by('endpoint_charges')).toEqual([
      expect.objectContaining({ ids: expect.objectContaining({ buyerId: s.b.id, offerId: s.offerId }) }),
    ]);
    expect(by('endpoint_posts')).toEqual([
      expect.objectContaining({ ids: expect.objectContaining({ buyerId: s.a.id, offerId: s.offerId }) }),
    ]);
    expect(by('endpoint_reserves')).toEqual([
      expect.objectContaining({ ids: expect.objectContaining({ buyerId: s.a.id, offerId: s.offerId }) }),
    ]);
    expect(findings).toHaveLength(3);
    // The audit (npm run audit) finds the same three.
    const audit = await runAudit(db, { agencyId: s.agency.id, minAgeMs: 0 });
    expect(audit.violations.map((v) => v.check).sort()).toEqual([
      'endpoint_charges',
      'endpoint_posts',
      'endpoint_reserves',
    ]);
  });

  test("the buyers' own view: a charge for a post the buyer never took, and a post it took never charged, are found", async () => {
    const db = database.db;
    const s = await endpointScene();
    await reserveBid(db, { offerId: s.offerId, buyerId: s.b.id, amount: 40 });
    await s.logPost(s.b.id, 'accepted');
    await sellAcceptedPost(db, { offerId: s.offerId, buyerId: s.b.id, price: 40 });
    const server = (id: string, taken: string[]) =>
      ({
        id,
        label: id.slice(0, 4),
        server: { taken: () => taken, received: [] },
      }) as unknown as World['endpointBuyers'][number];
    const truth = {
      ...s.world,
      endpointBuyers: [server(s.b.id, [endpointPostKey(s.offerId, s.b.id)]), server(s.a.id, [])],
    };
    expect(await checkEndpoints(truth)).toEqual([]);
    const lying = {
      ...s.world,
      endpointBuyers: [server(s.b.id, []), server(s.a.id, [endpointPostKey(s.offerId, s.a.id)])],
    };
    const findings = await checkEndpoints(lying);
    expect(findings.map((f) => [f.invariant, f.ids.buyerId]).sort()).toEqual(
      [
        ['endpoint sales: charged only for a post the buyer took', s.b.id],
        ['endpoint sales: every post a buyer took is charged (or its lead in review)', s.a.id],
      ].sort(),
    );
  });
});
