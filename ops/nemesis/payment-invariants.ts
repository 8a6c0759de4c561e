/**
 * The checker's card-payment invariants (#21), judged from the data and the history like the others
 * (invariants.ts appends them to its registry):
 *
 * - every card top-up whose success a delivery acknowledged is credited exactly once: its payment succeeded and
 *   one `top_up` entry under the payment intent's ledger key (domain/payments.ts `stripeLedgerKey`) carries its
 *   credits to its buyer; a top-up every delivery of which was refused is not credited;
 * - every succeeded payment has exactly one ledger entry – counting any entry that names the payment, under
 *   whatever key, so a second credit under another key (an event id, a session id) is caught;
 * - no card credit without a succeeded payment: every Stripe-keyed `top_up` is a succeeded payment's, for its
 *   buyer and its credits;
 * - per buyer, the Stripe-keyed credits add up to the succeeded payments' credits.
 *
 * The ledger's own invariants (balance = ledger, unique keys, integer amounts) stay in invariants.ts.
 */
import { stripeLedgerKey } from '../../domain/payments';
import type { CheckContext, Finding, Invariant } from './invariants';
import { parseCardTopUp } from './payments';

/** The prefix every card payment's ledger key has (one definition: stripeLedgerKey). */
const STRIPE_KEY_PREFIX = stripeLedgerKey.payment('');

interface PaymentRow {
  id: string;
  buyer_id: string;
  status: string;
  credits: number;
  stripe_payment_intent_id: string | null;
}

interface EntryRow {
  id: string;
  buyer_id: string;
  amount: number;
  idempotency_key: string;
  reference: string | null;
}

async function load(ctx: CheckContext) {
  const a = ctx.world.agencyId;
  const payments = (
    await ctx.pool.query(
      `SELECT id, buyer_id, status, credits, stripe_payment_intent_id FROM payments WHERE agency_id = $1`,
      [a],
    )
  ).rows as PaymentRow[];
  // Card credits: top-ups under a Stripe key, and any top-up naming a payment of the agency in its reference.
  const entries = (
    await ctx.pool.query(
      `SELECT e.id, e.buyer_id, e.amount, e.idempotency_key, e.reference FROM ledger_entries e
        WHERE e.agency_id = $1 AND e.kind = 'top_up'
          AND (starts_with(e.idempotency_key, $2)
               OR EXISTS (SELECT 1 FROM payments p WHERE p.agency_id = $1 AND strpos(e.reference, p.id::text) > 0))`,
      [a, STRIPE_KEY_PREFIX],
    )
  ).rows as EntryRow[];
  return { payments, entries };
}

/** The entries that belong to a payment: under its intent's key, or naming it. */
function entriesOf(p: PaymentRow, entries: EntryRow[]): EntryRow[] {
  const key = p.stripe_payment_intent_id ? stripeLedgerKey.payment(p.stripe_payment_intent_id) : null;
  return entries.filter((e) => e.idempotency_key === key || (e.reference ?? '').includes(p.id));
}

const acknowledged: Invariant = {
  name: 'card top-ups',
  description:
    'an acknowledged card top-up is credited exactly once (its payment succeeded, one entry under its intent’s key with its credits); a refused one is not credited',
  async check(ctx) {
    const { payments, entries } = await load(ctx);
    const byId = new Map(payments.map((p) => [p.id, p]));
    const out: Finding[] = [];
    for (const phase of ['ok', 'fail'] as const) {
      for (const e of ctx.history.events) {
        if (e.kind !== 'op' || e.name !== 'card-top-up' || e.phase !== phase) continue;
        const told = parseCardTopUp(e.detail);
        if (!told) continue;
        const p = byId.get(told.paymentId);
        const mine = p ? entriesOf(p, entries) : [];
        const ids = { ...e.ids, paymentId: told.paymentId };
        if (phase === 'ok') {
          const right =
            p?.status === 'succeeded' &&
            p.stripe_payment_intent_id === told.paymentIntentId &&
            mine.length === 1 &&
            mine[0]!.idempotency_key === stripeLedgerKey.payment(told.paymentIntentId) &&
            mine[0]!.amount === told.credits &&
            mine[0]!.buyer_id === e.ids.buyerId;
          if (!right)
            out.push({
              invariant: 'acknowledged card top-up credited exactly once',
              message: `payment ${told.paymentId} (${told.paymentIntentId}, ${told.credits} credits) acknowledged; payment ${p ? `${p.status}, intent ${p.stripe_payment_intent_id}` : 'missing'}, ledger ${mine.map((m) => `${m.amount} under ${m.idempotency_key}`).join(', ') || 'nothing'}`,
              ids,
            });
        } else if (mine.length || p?.status === 'succeeded')
          out.push({
            invariant: 'refused card top-up not credited',
            message: `payment ${told.paymentId}: every delivery refused, yet it is ${p?.status} with ${mine.length} ledger entries`,
            ids,
          });
      }
    }
    return out;
  },
};

const ledger: Invariant = {
  name: 'card payments and the ledger',
  description:
    'every succeeded payment has exactly one ledger entry; no card credit without a succeeded payment (same buyer, same credits); per buyer, card credits = succeeded payments’ credits',
  async check(ctx) {
    const { payments, entries } = await load(ctx);
    const out: Finding[] = [];
    const byIntent = new Map(
      payments.filter((p) => p.stripe_payment_intent_id).map((p) => [p.stripe_payment_intent_id!, p]),
    );
    for (const p of payments) {
      const mine = entriesOf(p, entries);
      if (p.status === 'succeeded' ? mine.length !== 1 : mine.length !== 0)
        out.push({
          invariant: 'card payment credited exactly once',
          message: `payment ${p.id} (${p.status}, ${p.credits} credits, ${p.stripe_payment_intent_id}) has ${mine.length} ledger entries: ${mine.map((m) => `${m.amount} under ${m.idempotency_key}`).join(', ') || 'none'}`,
          ids: { buyerId: p.buyer_id, paymentId: p.id },
        });
    }
    for (const e of entries) {
      const p = e.idempotency_key.startsWith(STRIPE_KEY_PREFIX)
        ? byIntent.get(e.idempotency_key.slice(STRIPE_KEY_PREFIX.length))
        : undefined;
      if (!p || p.status !== 'succeeded' || p.buyer_id !== e.buyer_id || p.credits !== e.amount)
        out.push({
          invariant: 'no card credit without a succeeded payment',
          message: `ledger entry ${e.id} (${e.amount} to buyer ${e.buyer_id} under ${e.idempotency_key}): ${p ? `payment ${p.id} is ${p.status}, buyer ${p.buyer_id}, ${p.credits} credits` : 'no payment has that intent'}`,
          ids: { buyerId: e.buyer_id, ...(p ? { paymentId: p.id } : {}) },
        });
    }
    const credited = new Map<string, number>();
    const paid = new Map<string, number>();
    for (const e of entries) credited.set(e.buyer_id, (credited.get(e.buyer_id) ?? 0) + e.amount);
    for (const p of payments)
      if (p.status === 'succeeded') paid.set(p.buyer_id, (paid.get(p.buyer_id) ?? 0) + p.credits);
    for (const buyerId of new Set([...credited.keys(), ...paid.keys()]))
      if ((credited.get(buyerId) ?? 0) !== (paid.get(buyerId) ?? 0))
        out.push({
          invariant: 'card credits = payment credits',
          message: `buyer ${buyerId}: ${credited.get(buyerId) ?? 0} card credits in the ledger, ${paid.get(buyerId) ?? 0} paid for`,
          ids: { buyerId },
        });
    return out;
  },
};

export const PAYMENT_INVARIANTS: Invariant[] = [acknowledged, ledger];
