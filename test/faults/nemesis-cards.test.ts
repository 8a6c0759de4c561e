/**
 * The campaign's card top-ups (ops/nemesis/payments.ts) without faults, in seconds: twelve runs of the operation
 * against two API instances' real webhook route and stripe-mock – each payment's session and/or intent event,
 * some twice, some concurrently – then the checker's card invariants on the result. The 60-second campaign
 * (nemesis.test.ts) runs the same operation under faults.
 */
import { walletBalance } from '../../db/ledger';
import { History } from '../../ops/nemesis/history';
import { opContext } from '../../ops/nemesis/operations';
import { PAYMENT_INVARIANTS } from '../../ops/nemesis/payment-invariants';
import { CARD_OPERATIONS, parseCardTopUp, setUpCardPayments } from '../../ops/nemesis/payments';
import type { Receivers } from '../../ops/nemesis/receivers';
import { Rng } from '../../ops/nemesis/rng';
import type { World } from '../../ops/nemesis/world';
import { apiAgency, apiBuyer, type Harness, startHarness } from '../api/harness';
import { type LocalServer, startStripeMock } from '../helpers/stripe';

let h: Harness;
let mock: LocalServer;
beforeAll(async () => {
  h = await startHarness();
  mock = await startStripeMock();
});
afterAll(async () => {
  await mock?.stop();
  await h?.close();
});

test('card top-ups through the real webhook route, delivered once, twice, concurrently or as both events: each credited once', async () => {
  const { agency, adminKey } = await apiAgency(h);
  const buyers = [await apiBuyer(h, adminKey), await apiBuyer(h, adminKey)].map((b) => ({ id: b.buyer.id }));
  const world = { agencyId: agency.id, buyers } as unknown as World;
  const second = await h.startInstance();
  const rng = new Rng(21);
  const cards = await setUpCardPayments(h.database.db, world, {
    stripeApiBase: mock.url,
    apiUrls: [h.main.baseUrl, second.baseUrl],
    rng: rng.fork('cards'),
  });
  const history = new History(Date.now());
  const ctx = opContext(world, history, { retryDeadlineMs: 30_000, cards });
  const [op] = CARD_OPERATIONS;
  await Promise.all(Array.from({ length: 12 }, (_, i) => op!.run(ctx, rng.fork(`run:${i}`), 0)));

  const told = history.events.filter((e) => e.kind === 'op' && e.name === 'card-top-up' && e.phase !== 'invoke');
  expect(told.map((e) => `${e.phase}${e.phase === 'ok' ? '' : ` ${e.detail}`}`)).toEqual(Array(12).fill('ok'));
  // The draws covered every way of delivering.
  const how = told.map((e) => e.detail!.split(' via ')[1]);
  for (const want of [/^session/, /^intent/, /^both/, /×2/, /concurrently/])
    expect(how.some((x) => want.test(x!))).toBe(true);
  const deliveries = history.events.filter((e) => e.kind === 'op' && e.name === 'stripe-webhook' && e.phase === 'ok');
  expect(deliveries.length).toBeGreaterThan(12);

  const ctxCheck = {
    pool: h.database.raw as never,
    database: h.database,
    temporal: null,
    world,
    history,
    receivers: {} as Receivers,
  };
  expect((await Promise.all(PAYMENT_INVARIANTS.map((i) => i.check(ctxCheck)))).flat()).toEqual([]);
  // And the wallets hold exactly what was paid for.
  for (const b of buyers) {
    const paid = told.filter((e) => e.ids.buyerId === b.id).reduce((n, e) => n + parseCardTopUp(e.detail)!.credits, 0);
    expect(await walletBalance(h.database.db, b.id)).toBe(paid);
  }
});
