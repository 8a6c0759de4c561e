/**
 * Card top-ups in the campaign's load (#21). The agency has Stripe settings (its API base is the campaign's
 * stripe-mock, its key stored sealed like any agency's); some of its buyers pay by card. One `card-top-up` is
 * what a buyer's Checkout does, end to end:
 *
 * 1. the pending payment and its Checkout Session, as the foundation makes them (db/payments.ts `createPayment`,
 *    the SDK through lib/stripe.ts against stripe-mock, `attachStripeIds`);
 * 2. the buyer pays on Stripe's page: Stripe makes the PaymentIntent (an id of ours: stripe-mock is stateless and
 *    answers every session with one fixture intent) and sends its events;
 * 3. "Stripe" delivers them, signed with the agency's webhook secret by the SDK's own helper, to the real webhook
 *    route of a random API process, retrying (re-signed, maybe another API) until a final answer, as Stripe does:
 *    sometimes `checkout.session.completed`, sometimes `payment_intent.succeeded`, sometimes both for the same
 *    payment; sometimes an event twice, concurrently or a few seconds apart – across whatever fault is running.
 *
 * The client's view goes in the history: `card-top-up` ok (some delivery was acknowledged: the payment counts as
 * credited), fail (every delivery refused) or info (no final answer), and each delivery as `stripe-webhook`.
 * payment-invariants.ts judges them against the ledger.
 */
import crypto from 'node:crypto';

import { SYSTEM } from '../../db/audit';
import type { Db } from '../../db/connection';
import { attachStripeIds, createPayment, savePaymentSettings } from '../../db/payments';
import type { PaymentMetadata } from '../../domain/payments';
import { stripeClient } from '../../lib/stripe';
import { STRIPE_MOCK_KEY } from '../../lib/stripe-mock';
import {
  checkoutSession,
  deliver,
  newId,
  paymentIntent,
  signedDelivery,
  stripeEvent,
  type StripeEventObject,
} from '../../test/helpers/stripe';
import type { Ids } from './history';
import type { OpContext, Operation } from './operations';
import type { Rng } from './rng';
import type { World } from './world';

/** What the card top-ups need beyond the world: the agency's Stripe settings and where to deliver. */
export interface CardPayments {
  db: Db;
  agencyId: string;
  /** The buyers that pay by card. */
  buyerIds: string[];
  webhookSecret: string;
  currency: string;
  creditPrice: number;
  stripeApiBase: string;
  /** Each API process's own URL: every delivery goes to one of them, at random. */
  apiUrls: string[];
}

/** A bound of the credits one top-up buys (inside the agency's minimum and maximum). */
const CREDITS: [number, number] = [5, 200];

/** Stores the agency's Stripe settings (stripe-mock's key, a fresh signing secret) and picks the card buyers. */
export async function setUpCardPayments(
  db: Db,
  world: World,
  opts: { stripeApiBase: string; apiUrls: string[]; rng: Rng },
): Promise<CardPayments> {
  const webhookSecret = `whsec_${crypto.randomBytes(24).toString('base64url')}`;
  const settings = await savePaymentSettings(
    db,
    world.agencyId,
    {
      secretKey: STRIPE_MOCK_KEY,
      webhookSecret,
      currency: 'usd',
      creditPrice: 125,
      minCredits: CREDITS[0],
      maxCredits: CREDITS[1],
    },
    SYSTEM,
  );
  // Half the buyers (at least one) pay by card; the rest are topped up by the agency only.
  const shuffled = [...world.buyers].sort(() => opts.rng.next() - 0.5);
  const buyerIds = shuffled.slice(0, Math.max(1, Math.ceil(world.buyers.length / 2))).map((b) => b.id);
  return {
    db,
    agencyId: world.agencyId,
    buyerIds,
    webhookSecret,
    currency: settings.currency,
    creditPrice: settings.creditPrice,
    stripeApiBase: opts.stripeApiBase,
    apiUrls: opts.apiUrls,
  };
}

/** The pending payment and its Checkout Session, as a buyer's "top up by card" makes them. */
async function openCheckout(cards: CardPayments, buyerId: string, credits: number) {
  const payment = await createPayment(cards.db, {
    agencyId: cards.agencyId,
    buyerId,
    kind: 'checkout',
    credits,
    creditPrice: cards.creditPrice,
    currency: cards.currency,
  });
  const metadata: PaymentMetadata = {
    leadwirePaymentId: payment.id,
    leadwireBuyerId: buyerId,
    leadwireAgencyId: cards.agencyId,
  };
  const session = await stripeClient(STRIPE_MOCK_KEY, cards.stripeApiBase).checkout.sessions.create(
    {
      mode: 'payment',
      client_reference_id: payment.id,
      metadata,
      payment_intent_data: { metadata },
      line_items: [
        {
          quantity: credits,
          price_data: { currency: cards.currency, unit_amount: cards.creditPrice, product_data: { name: 'Credits' } },
        },
      ],
      success_url: 'http://127.0.0.1/wallet?topup=done',
      cancel_url: 'http://127.0.0.1/wallet?topup=cancelled',
    },
    { idempotencyKey: `checkout:${payment.id}` },
  );
  await attachStripeIds(cards.db, payment.id, { stripeCheckoutSessionId: session.id });
  return { payment, sessionId: session.id, metadata };
}

/** The events Stripe sends once the buyer paid: the session's and the intent's, both naming the same intent. */
function paidEvents(
  cards: CardPayments,
  p: { paymentId: string; sessionId: string; amount: number; metadata: PaymentMetadata },
) {
  const intent = paymentIntent({
    id: newId('pi'),
    amount: p.amount,
    currency: cards.currency,
    metadata: p.metadata,
  });
  const session = checkoutSession({
    id: p.sessionId,
    amountTotal: p.amount,
    currency: cards.currency,
    clientReferenceId: p.paymentId,
    metadata: p.metadata,
    paymentIntent: intent.id,
  });
  return {
    intentId: intent.id,
    session: stripeEvent('checkout.session.completed', session),
    intent: stripeEvent('payment_intent.succeeded', intent),
  };
}

type Delivered = { final: 'ok' | 'refused' | null; detail: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One delivery as Stripe makes it: re-signed and re-sent (to a random API each time) until a final answer or the
 * deadline. 2xx is final (acknowledged); 400, 404 and 422 are final refusals; anything else is retried.
 */
export async function deliverUntilFinal(
  ctx: OpContext,
  cards: CardPayments,
  rng: Rng,
  event: StripeEventObject,
  ids: Ids,
): Promise<Delivered> {
  const result = await ctx.history.op('stripe-webhook', ids, async () => {
    const deadline = Date.now() + ctx.retryDeadlineMs;
    let attempts = 0;
    let last = '';
    while (Date.now() < deadline) {
      attempts++;
      const api = rng.int(0, cards.apiUrls.length - 1);
      try {
        const res = await deliver(
          `${cards.apiUrls[api]}/v1/stripe/webhooks/${cards.agencyId}`,
          signedDelivery(event, cards.webhookSecret),
          { timeoutMs: 15_000 },
        );
        const body = (await res.json().catch(() => ({}))) as { outcome?: string; code?: string; reason?: string };
        last = `${res.status} ${body.outcome ?? body.code ?? ''}${body.reason ? ` ${body.reason}` : ''}`;
        const detail = `${event.type} ${event.id} → api${api + 1}: ${last} (attempt ${attempts})`;
        if (res.ok) {
          const acked = body.outcome === 'applied' || body.outcome === 'duplicate';
          return { phase: acked ? ('ok' as const) : ('info' as const), detail, final: acked ? ('ok' as const) : null };
        }
        if ([400, 404, 422].includes(res.status)) return { phase: 'fail' as const, detail, final: 'refused' as const };
        ctx.retries.byStatus[res.status] = (ctx.retries.byStatus[res.status] ?? 0) + 1;
      } catch (err) {
        // Refused, reset or timed out (a killed or stopped API): Stripe tries again later.
        last = `no answer: ${String((err as Error).cause ?? err).slice(0, 80)}`;
        ctx.retries.connectionErrors++;
      }
      // Stripe backs off between attempts (hours in production; a second or two here).
      await sleep(rng.int(300, 1_500));
    }
    return { phase: 'info' as const, detail: `${event.type} ${event.id}: no final answer, last ${last}`, final: null };
  });
  return { final: result?.final ?? null, detail: result?.detail ?? 'threw' };
}

/** One top-up by card: Checkout, then its events delivered as drawn (see the top of this file). */
const cardTopUp: Operation = {
  name: 'card-top-up',
  intervalMs: 2_500,
  async run(ctx, rng) {
    const cards = ctx.cards;
    if (!cards) return;
    const buyerId = rng.pick(cards.buyerIds);
    const credits = rng.int(CREDITS[0], CREDITS[1]);
    const which = rng.pick(['session', 'intent', 'both'] as const);
    const copies = rng.chance(0.35) ? 2 : 1;
    const concurrent = rng.chance(0.5);
    await ctx.history.op('card-top-up', { buyerId }, async () => {
      const { payment, sessionId, metadata } = await openCheckout(cards, buyerId, credits);
      const ids: Ids = { buyerId, paymentId: payment.id };
      const events = paidEvents(cards, { paymentId: payment.id, sessionId, amount: payment.amount, metadata });
      const plan = [
        ...(which === 'intent' ? [] : [events.session]),
        ...(which === 'session' ? [] : [events.intent]),
      ].flatMap((e) => Array.from({ length: copies }, () => e));
      let answers: Delivered[];
      if (concurrent) {
        answers = await Promise.all(plan.map((e) => deliverUntilFinal(ctx, cards, rng, e, ids)));
      } else {
        answers = [];
        for (const e of plan) {
          answers.push(await deliverUntilFinal(ctx, cards, rng, e, ids));
          // A few seconds between two deliveries: a fault may start or heal in between.
          await sleep(rng.int(0, 3_000));
        }
      }
      const detail = `${cardTopUpDetail({ paymentId: payment.id, paymentIntentId: events.intentId, credits })} via ${which}×${copies}${concurrent ? ' concurrently' : ''}`;
      if (answers.some((a) => a.final === 'ok')) return { phase: 'ok' as const, ids, detail };
      if (answers.every((a) => a.final === 'refused'))
        return { phase: 'fail' as const, ids, detail: `${detail}: ${answers.map((a) => a.detail).join('; ')}` };
      return { phase: 'info' as const, ids, detail };
    });
  },
};

/** The card operations, appended to the load's registry (operations.ts). */
export const CARD_OPERATIONS: Operation[] = [cardTopUp];

/** The `payment=… pi=… credits=…` an acknowledged card top-up's (or auto-recharge's) history detail carries. */
export function parseCardTopUp(detail: string | undefined) {
  const m = /payment=(\S+) pi=(\S+) credits=(\d+)/.exec(detail ?? '');
  return m ? { paymentId: m[1]!, paymentIntentId: m[2]!, credits: Number(m[3]) } : null;
}

/** The detail a card top-up (or an auto-recharge, recharges.ts) writes, one definition. */
export function cardTopUpDetail(p: { paymentId: string; paymentIntentId: string; credits: number }): string {
  return `payment=${p.paymentId} pi=${p.paymentIntentId} credits=${p.credits}`;
}
