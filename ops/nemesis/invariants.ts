/**
 * The checker: a registry of invariants, each judged at the end from the data alone (the product's
 * Postgres, what the flaky receivers stored, and the history of what each client was told). Each returns
 * its findings; a finding names the ids it concerns, and the campaign prints the history touching them.
 *
 * To add one (card payments, outbound posts…): write an `Invariant` – a name, what it promises, and
 * `check`, which returns a `Finding` per broken promise (empty: it holds) – and append it to INVARIANTS.
 */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';

import type { Database } from '../../db/connection';
import { ENDPOINT_CHECKS, ledgerInvariants } from '../../db/invariants';
import { endpointPostKey } from '../../domain/ids';
import { checkInvariants } from '../../test/faults/invariants';
import { runAudit } from '../audit';
import type { History, HistoryEvent, Ids } from './history';
import { PAYMENT_INVARIANTS } from './payment-invariants';
import type { Receivers } from './receivers';
import type { World } from './world';

export interface CheckContext {
  pool: Pool;
  database: Database;
  /** For the audit's workflow check (skipped without). */
  temporal: Client | null;
  world: World;
  history: History;
  receivers: Receivers;
}

export interface Finding {
  invariant: string;
  message: string;
  ids: Ids;
}

export interface Invariant {
  name: string;
  description: string;
  check(ctx: CheckContext): Promise<Finding[]>;
}

const ID_COLUMNS: Record<string, keyof Ids> = {
  lead_id: 'leadId',
  leadId: 'leadId',
  buyer_id: 'buyerId',
  buyerId: 'buyerId',
  offer_id: 'offerId',
  offerId: 'offerId',
  assignment_id: 'assignmentId',
  assignmentId: 'assignmentId',
  source_id: 'sourceId',
};

function idsOf(row: Record<string, unknown>): Ids {
  const ids: Ids = {};
  for (const [col, key] of Object.entries(ID_COLUMNS))
    if (typeof row[col] === 'string' && !ids[key]) ids[key] = row[col] as string;
  return ids;
}

/** Final answers of one operation name, with the ids they carried. */
function answers(h: History, name: string, phase: HistoryEvent['phase']): HistoryEvent[] {
  return h.events.filter((e) => e.kind === 'op' && e.name === name && e.phase === phase);
}

const rows = async <T = Record<string, unknown>>(ctx: CheckContext, sql: string, params: unknown[] = []) =>
  (await ctx.pool.query(sql, params)).rows as T[];

/** The agency's rows of `sql` (its $1), by `key`. */
async function keyed<T>(ctx: CheckContext, sql: string, key: (r: T) => string): Promise<Map<string, T>> {
  return new Map((await rows<T>(ctx, sql, [ctx.world.agencyId])).map((r) => [key(r), r]));
}

/** test/faults/invariants.ts: money, sales, caps, final states, timers (one SQL query each). */
const sqlInvariants: Invariant = {
  name: 'ledger and sales',
  description:
    'balance = ledger; every charge has its sale and vice versa; no exclusive lead sold twice; winners ≤ maxWinners; caps; every lead final; timers fired',
  async check(ctx) {
    const found = await checkInvariants(ctx.pool, ctx.world.agencyId);
    return found.flatMap((v) =>
      v.rows.map((r) => ({ invariant: v.invariant, message: JSON.stringify(r), ids: idsOf(r) })),
    );
  },
};

/** ops/audit.ts, the project's own audit, as a second opinion (its workflow check included). */
const audit: Invariant = {
  name: 'ops/audit.ts',
  description: "the ledger audit's checks, and every lead's workflow against its status",
  async check(ctx) {
    const report = await runAudit(ctx.database.db, {
      agencyId: ctx.world.agencyId,
      temporal: ctx.temporal,
      minAgeMs: 0,
    });
    // The endpoint checks are their own invariant below (the same functions): reported once.
    const endpointChecks: readonly string[] = ENDPOINT_CHECKS;
    return report.violations
      .filter((v) => !endpointChecks.includes(v.check))
      .map((v) => ({
        invariant: `audit: ${v.check}`,
        message: v.message,
        ids: idsOf(v.ids as Record<string, unknown>),
      }));
  },
};

/**
 * Endpoint sales (#22): the audit's endpoint checks (db/invariants.ts – no charge without an accepted post under the
 * sale's key, no second buyer posted while a post is unresolved, every reserve given back once or held by a
 * `post_unknown` lead in review), and the buyers' own view: what each endpoint server took (one accepted answer per
 * Idempotency-Key) against what its buyer was charged – no charge for a post the buyer never took, and no post it
 * took left uncharged unless its lead went to a person.
 */
const endpointSales: Invariant = {
  name: 'endpoint sales',
  description:
    'no charge without an accepted post; one buyer posted per offer while a post is unresolved; every reserve given back once or held for review; each endpoint buyer charged exactly for the posts it took',
  async check(ctx) {
    const out: Finding[] = [];
    const checks = await ledgerInvariants(ctx.database.db, {
      agencyId: ctx.world.agencyId,
      maxListed: 100,
      only: ENDPOINT_CHECKS,
      heldGraceMs: 0,
    });
    for (const c of checks)
      for (const v of c.violations)
        out.push({ invariant: `endpoint sales: ${v.check}`, message: v.message, ids: idsOf(v.ids) });

    const buyers = ctx.world.endpointBuyers ?? [];
    if (!buyers.length) return out;
    // Their endpoint sales: a sale under the post's key (a push fallback may sell to the same buyers: not counted).
    const sales = (
      await rows<{ offer_id: string; buyer_id: string; lead_id: string; request_id: string | null }>(
        ctx,
        `SELECT a.offer_id, a.buyer_id, a.lead_id, e.data ->> 'requestId' AS request_id
           FROM assignments a
           JOIN offer_events e ON e.offer_id = a.offer_id AND e.buyer_id = a.buyer_id AND e.type = 'won'
          WHERE a.agency_id = $1 AND a.buyer_id = ANY($2::uuid[])`,
        [ctx.world.agencyId, buyers.map((b) => b.id)],
      )
    ).filter((s) => s.request_id === endpointPostKey(s.offer_id, s.buyer_id));
    const reviewed = new Set(
      (
        await rows<{ id: string }>(ctx, "SELECT id FROM leads WHERE agency_id = $1 AND status = 'manual_review'", [
          ctx.world.agencyId,
        ])
      ).map((r) => r.id),
    );
    const offers = await keyed<{ id: string; lead_id: string }>(
      ctx,
      'SELECT id, lead_id FROM offers WHERE agency_id = $1',
      (r) => r.id,
    );
    for (const b of buyers) {
      const taken = new Set(b.server.taken());
      const charged = new Map(
        sales.filter((s) => s.buyer_id === b.id).map((s) => [endpointPostKey(s.offer_id, s.buyer_id), s]),
      );
      for (const [key, s] of charged)
        if (!taken.has(key))
          out.push({
            invariant: 'endpoint sales: charged only for a post the buyer took',
            message: `buyer ${b.label} (${b.id}) was charged for offer ${s.offer_id} but its server never accepted a post under ${key}`,
            ids: { buyerId: b.id, offerId: s.offer_id, leadId: s.lead_id },
          });
      for (const key of taken) {
        if (charged.has(key)) continue;
        const offer = [...offers.values()].find((o) => endpointPostKey(o.id, b.id) === key);
        if (offer && reviewed.has(offer.lead_id)) continue; // a person decides
        out.push({
          invariant: 'endpoint sales: every post a buyer took is charged (or its lead in review)',
          message: `buyer ${b.label} (${b.id}) took the post ${key} and was not charged for it${offer ? '' : ' (no such offer)'}`,
          ids: { buyerId: b.id, ...(offer ? { offerId: offer.id, leadId: offer.lead_id } : {}) },
        });
      }
    }
    return out;
  },
};

const accepted: Invariant = {
  name: 'accepted leads final',
  description: 'every lead the API accepted (intake 202, post 202) is stored and reached a final state',
  async check(ctx) {
    const acked = [...answers(ctx.history, 'intake', 'ok'), ...answers(ctx.history, 'post', 'ok')]
      .map((e) => e.ids.leadId)
      .filter((id): id is string => !!id);
    const stored = await keyed<{ id: string; status: string }>(
      ctx,
      'SELECT id, status FROM leads WHERE agency_id = $1',
      (r) => r.id,
    );
    const out: Finding[] = [];
    for (const leadId of new Set(acked)) {
      const status = stored.get(leadId)?.status;
      if (!status)
        out.push({
          invariant: 'accepted leads final',
          message: `lead ${leadId} was accepted but is not stored`,
          ids: { leadId },
        });
      else if (!['sold', 'manual_review', 'rejected'].includes(status))
        out.push({ invariant: 'accepted leads final', message: `lead ${leadId} is still ${status}`, ids: { leadId } });
    }
    return out;
  },
};

const claimAnswers: Invariant = {
  name: "buyers' answers agree with the ledger",
  description: 'a claim answered won has its sale and charge; a claim refused (lost/failed) has neither',
  async check(ctx) {
    const sales = await keyed<{ buyer_id: string; offer_id: string; id: string; charge_entry_id: string }>(
      ctx,
      'SELECT buyer_id, offer_id, id, charge_entry_id FROM assignments WHERE agency_id = $1',
      (r) => `${r.buyer_id}:${r.offer_id}`,
    );
    const out: Finding[] = [];
    for (const e of answers(ctx.history, 'claim', 'ok')) {
      const sale = sales.get(`${e.ids.buyerId}:${e.ids.offerId}`);
      if (!sale || sale.id !== e.ids.assignmentId)
        out.push({
          invariant: 'won and not charged',
          message: `buyer ${e.ids.buyerId} was told it won offer ${e.ids.offerId} (assignment ${e.ids.assignmentId}) but ${sale ? `the sale is ${sale.id}` : 'there is no sale'}`,
          ids: e.ids,
        });
    }
    for (const e of answers(ctx.history, 'claim', 'fail')) {
      const sale = sales.get(`${e.ids.buyerId}:${e.ids.offerId}`);
      if (sale)
        out.push({
          invariant: 'refused and charged',
          message: `buyer ${e.ids.buyerId} was told "${e.detail}" for offer ${e.ids.offerId} but holds assignment ${sale.id} (charge ${sale.charge_entry_id})`,
          ids: { ...e.ids, assignmentId: sale.id },
        });
    }
    return out;
  },
};

const topUps: Invariant = {
  name: 'top-ups',
  description: 'an acknowledged top-up is in the ledger exactly once with its amount; a refused one is not',
  async check(ctx) {
    const entries = await keyed<{ idempotency_key: string; amount: number; n: number }>(
      ctx,
      `SELECT idempotency_key, min(amount)::int AS amount, count(*)::int AS n FROM ledger_entries
        WHERE agency_id = $1 AND kind = 'top_up' GROUP BY idempotency_key`,
      (r) => r.idempotency_key,
    );
    const out: Finding[] = [];
    for (const phase of ['ok', 'fail'] as const) {
      for (const e of answers(ctx.history, 'top-up', phase)) {
        const [, amount, key] = /amount=(\d+) key=(\S+)/.exec(e.detail ?? '') ?? [];
        const entry = entries.get(`topup:${e.ids.buyerId}:${key}`);
        if (phase === 'ok' && (!entry || entry.n !== 1 || entry.amount !== Number(amount)))
          out.push({
            invariant: 'acknowledged top-up in the ledger once',
            message: `top-up ${key} of ${amount} acknowledged, ledger has ${entry ? `${entry.n} × ${entry.amount}` : 'nothing'}`,
            ids: e.ids,
          });
        if (phase === 'fail' && entry)
          out.push({
            invariant: 'refused top-up not in the ledger',
            message: `top-up ${key} refused (${e.detail}) but credited`,
            ids: e.ids,
          });
      }
    }
    return out;
  },
};

const returns: Invariant = {
  name: 'returns',
  description: 'an acknowledged approval refunded the sale (and reversed its payout); an acknowledged denial did not',
  async check(ctx) {
    const sales = await keyed<{ id: string; status: string }>(
      ctx,
      'SELECT id, status FROM assignments WHERE agency_id = $1',
      (r) => r.id,
    );
    const out: Finding[] = [];
    for (const [name, want] of [
      ['approve', 'refunded'],
      ['deny', 'active'],
    ] as const) {
      for (const e of answers(ctx.history, name, 'ok')) {
        const got = sales.get(e.ids.assignmentId!)?.status;
        if (got !== want)
          out.push({
            invariant: `acknowledged ${name} applied`,
            message: `dispute ${e.ids.disputeId} ${name}d, assignment ${e.ids.assignmentId} is ${got ?? 'missing'}`,
            ids: e.ids,
          });
      }
    }
    return out;
  },
};

const payouts: Invariant = {
  name: 'source payouts',
  description:
    "no payout without a sale of the source's lead; every sold sourced lead paid; a reversal only for a refunded sale with a payout; source balance = its ledger",
  async check(ctx) {
    const a = ctx.world.agencyId;
    const out: Finding[] = [];
    const add = (invariant: string, list: Record<string, unknown>[]) => {
      for (const r of list) out.push({ invariant, message: JSON.stringify(r), ids: idsOf(r) });
    };
    add(
      'no payout without a sale',
      await rows(
        ctx,
        `SELECT e.id AS entry_id, e.source_id, e.assignment_id, e.lead_id FROM source_ledger_entries e
           LEFT JOIN assignments s ON s.id = e.assignment_id
           LEFT JOIN leads l ON l.id = s.lead_id
          WHERE e.agency_id = $1 AND e.kind = 'payout' AND (s.id IS NULL OR l.source_id IS DISTINCT FROM e.source_id)`,
        [a],
      ),
    );
    add(
      'every sold sourced lead has its payout',
      await rows(
        ctx,
        `SELECT l.id AS lead_id, l.source_id FROM leads l
          WHERE l.agency_id = $1 AND l.source_id IS NOT NULL
            AND EXISTS (SELECT 1 FROM assignments s WHERE s.lead_id = l.id)
            AND NOT EXISTS (SELECT 1 FROM source_ledger_entries e WHERE e.lead_id = l.id AND e.kind = 'payout')`,
        [a],
      ),
    );
    add(
      'a reversal only for a refunded sale, exactly its payout',
      await rows(
        ctx,
        `SELECT r.id AS entry_id, r.assignment_id, r.amount, p.amount AS payout, s.status FROM source_ledger_entries r
           LEFT JOIN source_ledger_entries p ON p.assignment_id = r.assignment_id AND p.kind = 'payout'
           LEFT JOIN assignments s ON s.id = r.assignment_id
          WHERE r.agency_id = $1 AND r.kind = 'reversal'
            AND (p.id IS NULL OR r.amount <> -p.amount OR s.status IS DISTINCT FROM 'refunded')`,
        [a],
      ),
    );
    add(
      'a refunded sale with a payout has its reversal',
      await rows(
        ctx,
        `SELECT p.assignment_id, p.source_id FROM source_ledger_entries p JOIN assignments s ON s.id = p.assignment_id
          WHERE p.agency_id = $1 AND p.kind = 'payout' AND s.status = 'refunded'
            AND NOT EXISTS (SELECT 1 FROM source_ledger_entries r WHERE r.assignment_id = p.assignment_id AND r.kind = 'reversal')`,
        [a],
      ),
    );
    add(
      'source balance = its ledger',
      await rows(
        ctx,
        `SELECT w.source_id, w.balance, COALESCE(SUM(e.amount), 0)::int AS ledger FROM source_wallets w
           LEFT JOIN source_ledger_entries e ON e.source_id = w.source_id
          WHERE w.agency_id = $1 GROUP BY w.source_id, w.balance HAVING w.balance <> COALESCE(SUM(e.amount), 0)`,
        [a],
      ),
    );
    return out;
  },
};

const webhooks: Invariant = {
  name: 'webhooks',
  description:
    'every sale delivered at least once to its buyer’s deduplicating receiver, under one webhook-id carrying one payload; nothing delivered that was not sold; every signature verifies',
  async check(ctx) {
    const sales = await rows<{
      id: string;
      buyer_id: string;
      lead_id: string;
      offer_id: string;
      status: string | null;
    }>(
      ctx,
      `SELECT a.id, a.buyer_id, a.lead_id, a.offer_id, d.status FROM assignments a
         LEFT JOIN deliveries d ON d.assignment_id = a.id AND d.channel = 'webhook'
        WHERE a.agency_id = $1`,
      [ctx.world.agencyId],
    );
    const byId = new Map(sales.map((s) => [s.id, s]));
    const out: Finding[] = [];
    for (const s of sales) {
      const got = ctx.receivers.byWebhookId.get(`msg_${s.id}`);
      const ids = { assignmentId: s.id, buyerId: s.buyer_id, leadId: s.lead_id, offerId: s.offer_id };
      if (!got)
        out.push({
          invariant: 'every sale delivered at least once',
          message: `assignment ${s.id} (delivery ${s.status ?? 'none'}) never reached buyer ${s.buyer_id}'s receiver`,
          ids,
        });
      else if (got.bodies.size !== 1)
        out.push({
          invariant: 'one payload per webhook-id',
          message: `msg_${s.id} arrived ${got.arrivals}× with ${got.bodies.size} different payloads`,
          ids,
        });
    }
    for (const a of ctx.receivers.byWebhookId.values()) {
      const sale = byId.get(a.webhookId.replace(/^msg_/, ''));
      if (!sale || sale.buyer_id !== a.buyerId)
        out.push({
          invariant: 'nothing delivered that was not sold (to that buyer)',
          message: `${a.webhookId} reached buyer ${a.buyerId}'s receiver; ${sale ? `the sale is buyer ${sale.buyer_id}'s` : 'no such sale'}`,
          ids: { buyerId: a.buyerId },
        });
    }
    for (const b of ctx.receivers.badSignatures)
      out.push({
        invariant: 'every delivery verifies (Standard Webhooks)',
        message: `${b.webhookId} to buyer ${b.buyerId}: ${b.error}`,
        ids: { buyerId: b.buyerId },
      });
    return out;
  },
};

/** The registry, in the order they are checked and printed. */
export const INVARIANTS: Invariant[] = [
  sqlInvariants,
  audit,
  endpointSales,
  accepted,
  claimAnswers,
  topUps,
  returns,
  payouts,
  webhooks,
  ...PAYMENT_INVARIANTS,
];
