/**
 * Auto-recharges in the campaign's load (#21). Two of the buyers that do not pay by Checkout have a saved card and
 * auto-recharge set just under their balance (a small amount each time), and no other top-ups: their sales take
 * them below the threshold again and again, each crossing writing the outbox row in the sale's transaction, the
 * workers draining it into the buyer's recharge workflow, whose off-session PaymentIntent goes to "Stripe":
 * stripe-mock behind the recording proxy (test/helpers/stripe.ts), which adds the idempotency stateless stripe-mock
 * lacks and counts requests per Idempotency-Key. The workers' LW_STRIPE_API_BASE is that proxy.
 *
 * As Stripe would, "Stripe" then delivers each new intent's signed `payment_intent.succeeded` to the real webhook
 * route of a random API (payments.ts `deliverUntilFinal`, retried across whatever fault is on), drawn per intent:
 * once or twice, the copies concurrently or apart, sometimes late (seconds after), sometimes before the worker has
 * even heard Stripe's answer (the answer held until a delivery was acknowledged).
 *
 * The history gets Stripe's view of each PaymentIntent request (`stripe-payment-intent`: its key, the intent
 * answered, whether a replay) and each recharge's deliveries (`auto-recharge`: ok once one was acknowledged);
 * payment-invariants.ts judges them against the ledger.
 */
import { ensureStripeCustomer, saveCard, setRechargeSettings } from '../../db/billing';
import type { Db } from '../../db/connection';
import { walletBalance } from '../../db/ledger';
import {
  type RecordedRequest,
  type RecordingProxy,
  startRecordingProxy,
  succeededEventFor,
} from '../../test/helpers/stripe';
import type { Ids } from './history';
import type { OpContext } from './operations';
import { type CardPayments, cardTopUpDetail, deliverUntilFinal } from './payments';
import type { Rng } from './rng';
import type { World } from './world';

/** "Stripe" for the recharges: started before the stack (its URL goes into the workers' environment). */
export interface RechargeStripe {
  url: string;
  proxy: RecordingProxy;
  /** From now on, every new PaymentIntent's events are delivered (into `ctx`'s history, with `ctx`'s retries). */
  deliverTo(ctx: OpContext, rng: Rng): void;
  stop(): Promise<void>;
}

export async function startRechargeStripe(stripeMockUrl: string): Promise<RechargeStripe> {
  let onIntent: ((r: RecordedRequest) => Promise<void>) | null = null;
  const proxy = await startRecordingProxy(stripeMockUrl, {
    idempotency: true,
    beforeAnswer: (r) =>
      r.method === 'POST' && r.path === '/v1/payment_intents' && onIntent ? onIntent(r) : undefined,
  });
  return {
    url: proxy.url,
    proxy,
    deliverTo(ctx, rng) {
      const intents = new Map<string, number>();
      onIntent = (r) => intentMade(ctx, rng, r, intents);
    },
    stop: () => proxy.stop(),
  };
}

/** The buyers that recharge automatically (no other top-up reaches them, so their sales keep crossing). */
export interface AutoRecharges {
  buyerIds: string[];
}

/**
 * Saves a card and auto-recharge for two buyers that pay by no Checkout (not the capped or the poor one): a
 * threshold 12 credits under the balance (the second sale crosses it), 15–30 credits a time.
 */
export async function setUpAutoRecharges(world: World, cards: CardPayments, rng: Rng): Promise<AutoRecharges> {
  const candidates = world.buyers.filter((b) => !cards.buyerIds.includes(b.id) && b.label.startsWith('bot'));
  const buyerIds = candidates.slice(0, 2).map((b) => b.id);
  for (const buyerId of buyerIds) {
    const balance = await walletBalance(cards.db, buyerId);
    await enableAutoRecharge(
      cards.db,
      { buyerId, agencyId: cards.agencyId },
      { threshold: Math.max(0, balance - 12), credits: rng.int(15, 30) },
    );
  }
  return { buyerIds };
}

/**
 * What a buyer's setup-mode Checkout and its settings page do, without the pages: a Stripe Customer, the test card
 * saved (pm_card_visa), auto-recharge on at `threshold` for `credits` a time.
 */
export async function enableAutoRecharge(
  db: Db,
  buyer: { buyerId: string; agencyId: string },
  s: { threshold: number; credits: number },
): Promise<void> {
  const customerId = await ensureStripeCustomer(db, buyer, async () => `cus_${buyer.buyerId.replace(/-/g, '')}`);
  await saveCard(db, buyer, customerId, {
    paymentMethodId: 'pm_card_visa',
    brand: 'visa',
    last4: '4242',
    exp: '12/2030',
  });
  await setRechargeSettings(db, buyer, { enabled: true, ...s });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The `key=… pi=… replayed=…` Stripe's view of one PaymentIntent request carries. */
export function intentRequestDetail(r: { key: string; paymentIntentId: string; replayed: boolean }): string {
  return `key=${r.key} pi=${r.paymentIntentId} replayed=${r.replayed}`;
}

export function parseIntentRequest(detail: string | undefined) {
  const m = /key=(\S+) pi=(\S+) replayed=(true|false)/.exec(detail ?? '');
  return m ? { key: m[1]!, paymentIntentId: m[2]!, replayed: m[3] === 'true' } : null;
}

/**
 * Stripe made (or replayed) a PaymentIntent; its answer waits until this resolves. A new intent's deliveries start
 * now; drawn "early", the answer waits (at most 5 s) for the first acknowledged delivery.
 */
async function intentMade(
  ctx: OpContext,
  rng: Rng,
  r: RecordedRequest,
  /** New intents so far, per buyer. */
  intents: Map<string, number>,
): Promise<void> {
  const cards = ctx.cards;
  const paymentId = r.form['metadata[leadwirePaymentId]'];
  const buyerId = r.form['metadata[leadwireBuyerId]'];
  if (!cards || !paymentId || !buyerId || !r.answeredId || !r.idempotencyKey || r.status !== 200) return;
  const ids: Ids = { buyerId, paymentId };
  const intentId = r.answeredId;
  ctx.history.add(
    'op',
    'stripe-payment-intent',
    'ok',
    ids,
    intentRequestDetail({ key: r.idempotencyKey, paymentIntentId: intentId, replayed: !!r.replayed }),
  );
  if (r.replayed) return;
  // Drawn by the buyer's label and the intent's number among the buyer's (both fixed by the seed), not by the key,
  // whose ids are new every run: a seed draws the same deliveries every time.
  const n = (intents.get(buyerId) ?? 0) + 1;
  intents.set(buyerId, n);
  const label = ctx.world.buyers.find((b) => b.id === buyerId)?.label ?? buyerId;
  const draw = rng.fork(`${label}:${n}`);
  const early = draw.chance(0.25);
  const late = !early && draw.chance(0.2);
  const copies = draw.chance(0.35) ? 2 : 1;
  const concurrent = draw.chance(0.5);
  const credits = Number(r.form.amount) / cards.creditPrice;
  let acknowledged!: () => void;
  const firstAck = new Promise<void>((resolve) => (acknowledged = resolve));
  const event = succeededEventFor(r);
  const run = ctx.history.op('auto-recharge', ids, async () => {
    if (!early) await sleep(late ? draw.int(5_000, 10_000) : draw.int(0, 1_500));
    const one = async () => {
      const d = await deliverUntilFinal(ctx, cards, draw, event, ids);
      if (d.final === 'ok') acknowledged();
      return d;
    };
    const answers = [];
    if (concurrent) answers.push(...(await Promise.all(Array.from({ length: copies }, one))));
    else
      for (let i = 0; i < copies; i++) {
        if (i) await sleep(draw.int(0, 3_000));
        answers.push(await one());
      }
    const how = `×${copies}${concurrent ? ' concurrently' : ''}${early ? ' early' : late ? ' late' : ''}`;
    const detail = `${cardTopUpDetail({ paymentId, paymentIntentId: intentId, credits })} ${how}`;
    if (answers.some((a) => a.final === 'ok')) return { phase: 'ok' as const, detail };
    if (answers.every((a) => a.final === 'refused'))
      return { phase: 'fail' as const, detail: `${detail}: ${answers.map((a) => a.detail).join('; ')}` };
    return { phase: 'info' as const, detail };
  });
  ctx.pending.add(run);
  void run.finally(() => ctx.pending.delete(run)).catch(() => undefined);
  if (early) await Promise.race([firstAck, sleep(5_000)]);
}
