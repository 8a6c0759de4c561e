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
 * - per buyer, the Stripe-keyed credits add up to the succeeded payments' credits;
 * - auto-recharges (recharges.ts): an acknowledged one is credited exactly once, like a top-up; at Stripe each
 *   attempt's idempotency key made at most one PaymentIntent, held by the one payment of that key; one recharge in
 *   flight per buyer (the payments of one outbox request's run settled before the next run's first one; Temporal's
 *   runs of the buyer's recharge workflow apart).
 *
 * The ledger's own invariants (balance = ledger, unique keys, integer amounts) stay in invariants.ts.
 */
import { stripeLedgerKey } from '../../domain/payments';
import { rechargeWorkflowId } from '../../domain/recharge';
import type { CheckContext, Finding, Invariant } from './invariants';
import { parseCardTopUp } from './payments';
import { parseIntentRequest } from './recharges';

/** The history's operations that pay by card: a buyer's Checkout (payments.ts) and an auto-recharge (recharges.ts). */
const PAID_BY_CARD: Record<string, string> = { 'card-top-up': 'card top-up', 'auto-recharge': 'auto-recharge' };

/** The prefix every card payment's ledger key has (one definition: stripeLedgerKey). */
const STRIPE_KEY_PREFIX = stripeLedgerKey.payment('');

interface PaymentRow {
  id: string;
  buyer_id: string;
  kind: string;
  status: string;
  credits: number;
  stripe_payment_intent_id: string | null;
  stripe_idempotency_key: string | null;
  created_at: Date;
  /** When it succeeded or failed (null while pending). */
  settled_at: Date | null;
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
      `SELECT id, buyer_id, kind, status, credits, stripe_payment_intent_id, stripe_idempotency_key, created_at,
              CASE WHEN status = 'succeeded' THEN succeeded_at WHEN status <> 'pending' THEN updated_at END AS settled_at
         FROM payments WHERE agency_id = $1`,
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
    'an acknowledged card top-up or auto-recharge is credited exactly once (its payment succeeded, one entry under its intent’s key with its credits); a refused one is not credited',
  async check(ctx) {
    const { payments, entries } = await load(ctx);
    const byId = new Map(payments.map((p) => [p.id, p]));
    const out: Finding[] = [];
    for (const phase of ['ok', 'fail'] as const) {
      for (const e of ctx.history.events) {
        if (e.kind !== 'op' || !(e.name in PAID_BY_CARD) || e.phase !== phase) continue;
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
              invariant: `acknowledged ${PAID_BY_CARD[e.name]} credited exactly once`,
              message: `payment ${told.paymentId} (${told.paymentIntentId}, ${told.credits} credits) acknowledged; payment ${p ? `${p.status}, intent ${p.stripe_payment_intent_id}` : 'missing'}, ledger ${mine.map((m) => `${m.amount} under ${m.idempotency_key}`).join(', ') || 'nothing'}`,
              ids,
            });
        } else if (mine.length || p?.status === 'succeeded')
          out.push({
            invariant: `refused ${PAID_BY_CARD[e.name]} not credited`,
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

/** Stripe's view of the recharges' PaymentIntent requests (recharges.ts), by idempotency key: the intents answered. */
function intentsByKey(ctx: CheckContext): Map<string, Set<string>> {
  const byKey = new Map<string, Set<string>>();
  for (const e of ctx.history.events) {
    if (e.kind !== 'op' || e.name !== 'stripe-payment-intent' || e.phase !== 'ok') continue;
    const r = parseIntentRequest(e.detail);
    if (r) byKey.set(r.key, (byKey.get(r.key) ?? new Set()).add(r.paymentIntentId));
  }
  return byKey;
}

const rechargeIntents: Invariant = {
  name: 'one PaymentIntent per recharge attempt',
  description:
    'at Stripe, each recharge attempt’s idempotency key made at most one PaymentIntent; it belongs to exactly one payment, which holds that intent',
  async check(ctx) {
    const { payments } = await load(ctx);
    const out: Finding[] = [];
    for (const [key, intents] of intentsByKey(ctx)) {
      const mine = payments.filter((p) => p.stripe_idempotency_key === key);
      const ids = mine[0] ? { buyerId: mine[0].buyer_id, paymentId: mine[0].id } : {};
      if (intents.size > 1)
        out.push({
          invariant: 'at most one PaymentIntent per idempotency key',
          message: `key ${key} made ${intents.size} PaymentIntents at Stripe: ${[...intents].join(', ')}`,
          ids,
        });
      if (mine.length !== 1 || !intents.has(mine[0]!.stripe_payment_intent_id ?? ''))
        out.push({
          invariant: 'a PaymentIntent for a recharge payment',
          message: `key ${key} (Stripe answered ${[...intents].join(', ')}): ${mine.length} payments ${mine.map((p) => `${p.id} ${p.status} intent ${p.stripe_payment_intent_id}`).join(', ')}`,
          ids,
        });
    }
    return out;
  },
};

/** A recharge attempt's key, `recharge:<workflow id>:<request id>:<attempt>` (domain/recharge.ts). */
function rechargeKeyParts(key: string): { workflowId: string; requestId: string } | null {
  const [kind, workflowId, requestId] = key.split(':');
  return kind === 'recharge' && workflowId && requestId ? { workflowId, requestId } : null;
}

interface RechargeRun {
  buyerId: string;
  first: Date;
  last: Date | null;
  ids: string[];
}

const rechargeInFlight: Invariant = {
  name: 'one recharge in flight per buyer',
  description:
    'a buyer’s auto-recharge payments belong to its own recharge workflow, and one recharge (an outbox request’s run) is over before the next one’s first payment; Temporal’s runs of each recharge workflow do not overlap',
  async check(ctx) {
    const { payments } = await load(ctx);
    const out: Finding[] = [];
    // One recharge = one outbox request's run: from its first payment made to its last one settled.
    const runs = new Map<string, RechargeRun>();
    for (const p of payments.filter((x) => x.kind === 'auto_recharge')) {
      const parts = p.stripe_idempotency_key ? rechargeKeyParts(p.stripe_idempotency_key) : null;
      if (!parts || parts.workflowId !== rechargeWorkflowId(p.buyer_id)) {
        out.push({
          invariant: 'a recharge payment of the buyer’s own workflow',
          message: `payment ${p.id} of buyer ${p.buyer_id} has key ${p.stripe_idempotency_key}`,
          ids: { buyerId: p.buyer_id, paymentId: p.id },
        });
        continue;
      }
      const run = runs.get(parts.requestId) ?? { buyerId: p.buyer_id, first: p.created_at, last: null, ids: [] };
      if (p.created_at < run.first) run.first = p.created_at;
      const end = p.settled_at ?? new Date(8.64e15);
      if (!run.last || end > run.last) run.last = end;
      run.ids.push(p.id);
      runs.set(parts.requestId, run);
    }
    const byBuyer = new Map<string, RechargeRun[]>();
    for (const r of runs.values()) byBuyer.set(r.buyerId, [...(byBuyer.get(r.buyerId) ?? []), r]);
    for (const [buyerId, list] of byBuyer) {
      list.sort((a, b) => a.first.getTime() - b.first.getTime());
      for (let i = 1; i < list.length; i++)
        if (list[i]!.first < list[i - 1]!.last!)
          out.push({
            invariant: 'one recharge in flight per buyer',
            message: `buyer ${buyerId}: payment ${list[i]!.ids[0]} made at ${list[i]!.first.toISOString()} while payment ${list[i - 1]!.ids.at(-1)} of the recharge before was unsettled until ${list[i - 1]!.last!.toISOString()}`,
            ids: { buyerId, paymentId: list[i]!.ids[0]! },
          });
    }
    if (ctx.temporal) {
      const byId = new Map<string, { start: Date; close: Date | null; runId: string }[]>();
      for await (const wf of ctx.temporal.workflow.list({ query: `WorkflowType = 'rechargeWorkflow'` }))
        byId.set(wf.workflowId, [
          ...(byId.get(wf.workflowId) ?? []),
          { start: wf.startTime, close: wf.closeTime ?? null, runId: wf.runId },
        ]);
      for (const [workflowId, list] of byId) {
        list.sort((a, b) => a.start.getTime() - b.start.getTime());
        for (let i = 1; i < list.length; i++) {
          const before = list[i - 1]!;
          if (!before.close || list[i]!.start < before.close)
            out.push({
              invariant: 'one recharge workflow run in flight per buyer',
              message: `${workflowId}: run ${list[i]!.runId} started ${list[i]!.start.toISOString()} while run ${before.runId} ran until ${before.close?.toISOString() ?? 'now'}`,
              ids: { buyerId: workflowId.replace(/^recharge-/, '') },
            });
        }
      }
    }
    return out;
  },
};

export const PAYMENT_INVARIANTS: Invariant[] = [acknowledged, ledger, rechargeIntents, rechargeInFlight];
