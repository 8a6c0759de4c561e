/**
 * The campaign's auto-recharges (ops/nemesis/recharges.ts) without faults, in seconds: two buyers on auto-recharge
 * run below their threshold six times each; each crossing's outbox row is drained into the buyer's recharge
 * workflow on the real worker, whose PaymentIntent goes to stripe-mock through the campaign's "Stripe" (the
 * recording proxy with Stripe's idempotency), which delivers the intent's signed webhook to two API instances as
 * drawn – once or twice, concurrently or apart, late, or before the worker hears its answer. Then the checker's
 * payment invariants, Temporal's runs included. The 60-second campaign (nemesis.test.ts) runs the same under faults.
 */
import type { Pool } from 'pg';

import { billingOf } from '../../db/billing';
import { postLedgerEntry, walletBalance } from '../../db/ledger';
import { rechargeWorkflowId } from '../../domain/recharge';
import { History } from '../../ops/nemesis/history';
import { opContext } from '../../ops/nemesis/operations';
import { PAYMENT_INVARIANTS } from '../../ops/nemesis/payment-invariants';
import { parseCardTopUp, setUpCardPayments } from '../../ops/nemesis/payments';
import type { Receivers } from '../../ops/nemesis/receivers';
import { type RechargeStripe, setUpAutoRecharges, startRechargeStripe } from '../../ops/nemesis/recharges';
import { Rng } from '../../ops/nemesis/rng';
import type { World } from '../../ops/nemesis/world';
import { startDueRecharges } from '../../worker/recharge-starter';
import { apiAgency, apiBuyer, type Harness, startHarness } from '../api/harness';
import { type LocalServer, startStripeMock } from '../helpers/stripe';
import { eventually } from '../helpers/temporal';

jest.setTimeout(5 * 60_000);

let h: Harness;
let mock: LocalServer;
let stripe: RechargeStripe;
const previousBase = process.env.LW_STRIPE_API_BASE;
beforeAll(async () => {
  mock = await startStripeMock();
  stripe = await startRechargeStripe(mock.url);
  process.env.LW_STRIPE_API_BASE = stripe.url;
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await stripe?.stop();
  await mock?.stop();
  if (previousBase === undefined) delete process.env.LW_STRIPE_API_BASE;
  else process.env.LW_STRIPE_API_BASE = previousBase;
});

test('auto-recharges with their webhooks delivered as drawn: each credited once, one PaymentIntent per key, one in flight per buyer', async () => {
  const db = h.database.db;
  const { agency, adminKey } = await apiAgency(h);
  const buyers = [];
  for (let i = 0; i < 4; i++)
    buyers.push({ id: (await apiBuyer(h, adminKey, { credits: 500 })).buyer.id, label: `bot${i}` });
  const world = { agencyId: agency.id, buyers } as unknown as World;
  const second = await h.startInstance();
  const rng = new Rng(21);
  const cards = await setUpCardPayments(db, world, {
    stripeApiBase: mock.url,
    apiUrls: [h.main.baseUrl, second.baseUrl],
    rng: rng.fork('cards'),
  });
  const recharges = await setUpAutoRecharges(world, cards, rng.fork('recharges'));
  expect(recharges.buyerIds).toHaveLength(2);
  const history = new History(Date.now());
  const ctx = opContext(world, history, { retryDeadlineMs: 30_000, cards, recharges });
  stripe.deliverTo(ctx, rng.fork('recharge-stripe'));

  // Each round: a debit just past the threshold (the path a sale takes), the drain, the recharge to its end.
  let seq = 0;
  const roundsOf = async (buyerId: string) => {
    for (let round = 0; round < 6; round++) {
      const threshold = (await billingOf(db, buyerId))!.rechargeThreshold!;
      const balance = await walletBalance(db, buyerId);
      const debitedAt = Date.now();
      await postLedgerEntry(db, {
        buyerId,
        agencyId: agency.id,
        kind: 'charge',
        amount: threshold - balance - 1,
        idempotencyKey: `nemesis-recharges-${seq++}`,
      });
      await startDueRecharges({
        db,
        client: h.client,
        taskQueue: h.worker.taskQueue,
        retryDelaysMs: [300],
        settleWaitMs: 30_000,
        settlePollMs: 100,
      });
      // The other buyer's drain (or the worker's own starter) may have taken this buyer's request and still be
      // starting its workflow: wait for this round's run (the buyer's earlier runs started before its debit).
      const handle = h.client.workflow.getHandle(rechargeWorkflowId(buyerId));
      const runId = await eventually(
        async () => {
          const run = await handle.describe();
          return run.startTime.getTime() >= debitedAt ? run.runId : null;
        },
        60_000,
        `the recharge of round ${round}`,
      );
      const result = await h.client.workflow.getHandle(rechargeWorkflowId(buyerId), runId).result();
      expect(result).toMatchObject({ outcome: 'succeeded', attempts: 1 });
    }
  };
  await Promise.all(recharges.buyerIds.map(roundsOf));
  while (ctx.pending.size) await Promise.allSettled([...ctx.pending]);

  const told = history.events.filter((e) => e.kind === 'op' && e.name === 'auto-recharge' && e.phase !== 'invoke');
  expect(told.map((e) => e.phase)).toEqual(Array(12).fill('ok'));
  // The draws covered every way of delivering.
  for (const want of [/×1/, /×2/, /concurrently/, / early/, / late/])
    expect(told.some((e) => want.test(e.detail!))).toBe(true);
  const ctxCheck = {
    pool: h.database.raw as never,
    database: h.database,
    temporal: h.client,
    world,
    history,
    receivers: {} as Receivers,
  };
  expect((await Promise.all(PAYMENT_INVARIANTS.map((i) => i.check(ctxCheck)))).flat()).toEqual([]);
  // And the wallets hold what was paid for on top of what was spent.
  for (const buyerId of recharges.buyerIds) {
    const paid = told
      .filter((e) => e.ids.buyerId === buyerId)
      .reduce((n, e) => n + parseCardTopUp(e.detail)!.credits, 0);
    const { rows } = await (h.database.raw as Pool).query(
      `SELECT coalesce(sum(amount), 0)::int AS spent FROM ledger_entries WHERE buyer_id = $1 AND kind = 'charge'`,
      [buyerId],
    );
    expect(await walletBalance(db, buyerId)).toBe(500 + paid + (rows[0] as { spent: number }).spent);
  }
});
