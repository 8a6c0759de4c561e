/**
 * (1) Claim storm: K buyers claim the same offer at once through the REST API;
 *     the answer latency of the winner and of the losers, and exactly one
 *     winner checked every round.
 * (2) The floor: the same claim as database transactions only, on the same
 *     database, K at once, no HTTP and no Temporal – both the product's own
 *     sale transaction (db/sales.ts `sellOffer`: re-check, debit, assign,
 *     timeline) and a bare minimum (lock the offer, insert charge and
 *     assignment) – and our claim's p50/p99 as a ratio to each.
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { and, eq } from 'drizzle-orm';
import type { Pool } from 'pg';

import { sellOffer } from '../../db/sales';
import { leads, offers, offerTargets } from '../../db/schema';
import { bearer } from '../../packages/client';
import { type ApiClient, type Buyer, createAgency, createBuyers, createCampaign, postLead, until } from '../lib/client';
import { activityTimes, scrape } from '../lib/prom';
import { fmt, ratio, summarize, type Summary } from '../lib/stats';
import { type BenchContext, FLOOR_WORKFLOW_PREFIX, type ScenarioResult, settle } from './context';

interface StormRound {
  winners: number;
  statuses: Record<string, number>;
  winnerMs: number | null;
  loserMs: number[];
}

/** One offer, K simultaneous claims through the API. */
async function stormRound(
  ctx: BenchContext,
  adminKey: string,
  campaignId: string,
  claimers: Buyer[],
): Promise<StormRound> {
  const { leadId } = await postLead(ctx.api, adminKey, campaignId);
  const offer = await until(
    async () =>
      (
        await ctx.database.db
          .select()
          .from(offers)
          .where(and(eq(offers.leadId, leadId), eq(offers.status, 'open')))
      )[0],
    30_000,
    `offer of lead ${leadId}`,
    10,
  );
  const results = await fireClaims(ctx.api, offer.id, claimers);
  const statuses: Record<string, number> = {};
  for (const r of results) statuses[r.label] = (statuses[r.label] ?? 0) + 1;
  const won = results.filter((r) => r.status === 200);
  // The next round starts once this offer is closed, so rounds do not overlap.
  await until(
    async () =>
      (await ctx.database.db.select({ status: offers.status }).from(offers).where(eq(offers.id, offer.id)))[0]
        ?.status !== 'open',
    30_000,
    'the offer to close',
    20,
  );
  return {
    winners: won.length,
    statuses,
    winnerMs: won[0]?.ms ?? null,
    loserMs: results.filter((r) => r.status !== 200).map((r) => r.ms),
  };
}

export async function fireClaims(api: ApiClient, offerId: string, claimers: Buyer[]) {
  // Every request is built first, then all are sent in the same tick (synchronously: callers may fire many offers in one tick).
  return Promise.all(
    claimers.map(async (b) => {
      const r = await api.timed(
        api.client.POST('/v1/offers/{id}/claim', {
          headers: bearer(b.key),
          params: { path: { id: offerId } },
          body: { requestId: crypto.randomUUID() },
        }),
      );
      const body: { result?: string; reason?: string; code?: string } = r.data ?? r.error ?? {};
      return {
        status: r.status,
        ms: r.ms,
        label: `${r.status} ${body.result ?? body.code ?? ''}${body.reason ? ` ${body.reason}` : ''}`.trim(),
      };
    }),
  );
}

export interface StormFigures {
  claimers: number;
  rounds: number;
  exactlyOneWinnerEveryRound: boolean;
  roundsWithoutExactlyOneWinner: number;
  winner: Summary;
  losers: Summary;
  all: Summary;
  answers: Record<string, number>;
  /** The worker's own time in the sale activity (p50/p99 ms), the rest of a claim being HTTP, relay reads and Temporal. */
  activities?: Record<string, { count: number; p50: number | null; p99: number | null }>;
}

export async function stormSeries(
  ctx: BenchContext,
  adminKey: string,
  campaignId: string,
  claimers: Buyer[],
  rounds: number,
): Promise<StormFigures> {
  await stormRound(ctx, adminKey, campaignId, claimers); // warm-up: connections, caches
  const metricsBefore = await scrape(ctx.stack.workerMetricsUrl);
  const winner: number[] = [];
  const losers: number[] = [];
  const answers: Record<string, number> = {};
  let bad = 0;
  for (let r = 0; r < rounds; r++) {
    const round = await stormRound(ctx, adminKey, campaignId, claimers);
    if (round.winners !== 1) bad++;
    if (round.winnerMs !== null) winner.push(round.winnerMs);
    losers.push(...round.loserMs);
    for (const [k, n] of Object.entries(round.statuses)) answers[k] = (answers[k] ?? 0) + n;
  }
  return {
    claimers: claimers.length,
    rounds,
    exactlyOneWinnerEveryRound: bad === 0,
    roundsWithoutExactlyOneWinner: bad,
    winner: summarize(winner),
    losers: summarize(losers),
    all: summarize([...winner, ...losers]),
    answers,
    activities: activityTimes(metricsBefore, await scrape(ctx.stack.workerMetricsUrl), [
      'postAndCharge',
      'openOffer',
      'loadRoute',
      'recordEvents',
    ]),
  };
}

export async function claimStorm(ctx: BenchContext): Promise<ScenarioResult & { bySize: StormFigures[] }> {
  await settle(ctx);
  const { adminKey } = await createAgency(ctx.api, 'bench: claim storm');
  const buyers = await createBuyers(ctx.api, adminKey, Math.max(...ctx.sizes.claimers));
  const bySize: StormFigures[] = [];
  for (const k of ctx.sizes.claimers) {
    const pool = buyers.slice(0, k);
    const campaignId = await createCampaign(ctx.api, adminKey, {
      claimWindowSeconds: 60,
      buyerIds: pool.map((b) => b.id),
    });
    const figures = await stormSeries(ctx, adminKey, campaignId, pool, ctx.sizes.claimRounds);
    ctx.log(
      `claim storm K=${k}: winner ${fmt(figures.winner)}; losers ${fmt(figures.losers)}; one winner every round: ${figures.exactlyOneWinnerEveryRound}`,
    );
    bySize.push(figures);
  }
  return {
    scenario: 'claim_storm',
    figures: { bySize },
    bySize,
    headline: bySize
      .map(
        (f) =>
          `K=${f.claimers}: winner p50 ${f.winner.p50} p95 ${f.winner.p95} p99 ${f.winner.p99}; losers p50 ${f.losers.p50} p95 ${f.losers.p95} p99 ${f.losers.p99} ms; ${f.rounds} rounds, one winner each: ${f.exactlyOneWinnerEveryRound ? 'yes' : `NO (${f.roundsWithoutExactlyOneWinner} bad)`}`,
      )
      .join('<br>'),
  };
}

// ─── the floor ───────────────────────────────────────────────────────────────

/** An open offer for `buyers`, written straight into the database (no workflow owns it). */
async function bareOffer(ctx: BenchContext, agencyId: string, campaignId: string, buyers: Buyer[]): Promise<string> {
  const db = ctx.database.db;
  const leadId = crypto.randomUUID();
  const offerId = crypto.randomUUID();
  await db.insert(leads).values({
    id: leadId,
    agencyId,
    campaignId,
    fields: {
      firstName: 'Floor',
      lastName: 'Lead',
      phone: '5550000000',
      email: `${leadId}@floor.example`,
      zip: '78701',
      state: 'TX',
    },
    status: 'offered',
    workflowId: `${FLOOR_WORKFLOW_PREFIX}${leadId}`,
  });
  await db.insert(offers).values({
    id: offerId,
    leadId,
    agencyId,
    campaignId,
    kind: 'ping_post',
    workflowId: `${FLOOR_WORKFLOW_PREFIX}${leadId}`,
    price: 1,
    preview: {},
    maxWinners: 1,
    status: 'open',
    closesAt: new Date(Date.now() + 60_000),
  });
  await db.insert(offerTargets).values(buyers.map((b) => ({ offerId, buyerId: b.id, eligible: true, snapshot: {} })));
  return offerId;
}

/** The least a claim can be: lock the offer, refuse if full, else charge (the ledger trigger debits) and assign. */
async function bareClaim(pool: Pool, offerId: string, agencyId: string, buyerId: string): Promise<boolean> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const { rows } = await c.query<{ lead_id: string; winners: number; max_winners: number; price: number }>(
      'SELECT lead_id, winners, max_winners, price FROM offers WHERE id = $1 FOR UPDATE',
      [offerId],
    );
    const o = rows[0]!;
    if (o.winners >= o.max_winners) {
      await c.query('ROLLBACK');
      return false;
    }
    const entry = await c.query<{ id: string }>(
      `INSERT INTO ledger_entries (buyer_id, agency_id, kind, amount, idempotency_key, lead_id, offer_id) VALUES ($1, $2, 'charge', $3, $4, $5, $6) RETURNING id`,
      [buyerId, agencyId, -o.price, `bare:${offerId}:${buyerId}`, o.lead_id, offerId],
    );
    await c.query(
      `INSERT INTO assignments (lead_id, offer_id, buyer_id, agency_id, price, exclusive, charge_entry_id) VALUES ($1, $2, $3, $4, $5, true, $6)`,
      [o.lead_id, offerId, buyerId, agencyId, o.price, entry.rows[0]!.id],
    );
    await c.query('COMMIT');
    return true;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export interface FloorFigures {
  claimers: number;
  rounds: number;
  exactlyOneWinnerEveryRound: boolean;
  /** db/sales.ts sellOffer, the product's sale transaction. */
  sale: { winner: Summary; all: Summary };
  /** Lock, charge, assign: nothing else. */
  bare: { winner: Summary; all: Summary };
  /** Our API claim (all answers) over the floor, at p50 and p99. */
  ratioToSale?: { p50: number | null; p99: number | null };
  ratioToBare?: { p50: number | null; p99: number | null };
}

export async function floor(
  ctx: BenchContext,
  storm: StormFigures[] | null,
): Promise<ScenarioResult & { bySize: FloorFigures[] }> {
  const { agencyId, adminKey } = await createAgency(ctx.api, 'bench: floor');
  const buyers = await createBuyers(ctx.api, adminKey, Math.max(...ctx.sizes.claimers));
  const campaignId = await createCampaign(ctx.api, adminKey, { claimWindowSeconds: 60 });
  // The API process's pool size: the same database connections our claims go through.
  const pool = ctx.database.raw as Pool;
  const out: FloorFigures[] = [];
  for (const k of ctx.sizes.claimers) {
    const claimers = buyers.slice(0, k);
    const sale = { winner: [] as number[], all: [] as number[] };
    const bare = { winner: [] as number[], all: [] as number[] };
    let bad = 0;
    for (let r = 0; r <= ctx.sizes.claimRounds; r++) {
      const warm = r === 0;
      const saleOffer = await bareOffer(ctx, agencyId, campaignId, claimers);
      const saleResults = await Promise.all(
        claimers.map(async (b) => {
          const t = performance.now();
          const res = await sellOffer(ctx.database.db, {
            offerId: saleOffer,
            buyerId: b.id,
            requestId: crypto.randomUUID(),
            sale: 'claim',
          });
          return { won: res.result === 'won', ms: performance.now() - t };
        }),
      );
      const bareOfferId = await bareOffer(ctx, agencyId, campaignId, claimers);
      const bareResults = await Promise.all(
        claimers.map(async (b) => {
          const t = performance.now();
          const won = await bareClaim(pool, bareOfferId, agencyId, b.id);
          return { won, ms: performance.now() - t };
        }),
      );
      if (warm) continue;
      for (const [results, into] of [
        [saleResults, sale],
        [bareResults, bare],
      ] as const) {
        if (results.filter((x) => x.won).length !== 1) bad++;
        into.winner.push(...results.filter((x) => x.won).map((x) => x.ms));
        into.all.push(...results.map((x) => x.ms));
      }
    }
    const f: FloorFigures = {
      claimers: k,
      rounds: ctx.sizes.claimRounds,
      exactlyOneWinnerEveryRound: bad === 0,
      sale: { winner: summarize(sale.winner), all: summarize(sale.all) },
      bare: { winner: summarize(bare.winner), all: summarize(bare.all) },
    };
    const ours = storm?.find((s) => s.claimers === k)?.all;
    if (ours) {
      f.ratioToSale = { p50: ratio(ours.p50, f.sale.all.p50), p99: ratio(ours.p99, f.sale.all.p99) };
      f.ratioToBare = { p50: ratio(ours.p50, f.bare.all.p50), p99: ratio(ours.p99, f.bare.all.p99) };
    }
    ctx.log(
      `floor K=${k}: sale ${fmt(f.sale.all)}; bare ${fmt(f.bare.all)}; ours/sale p50 ${f.ratioToSale?.p50}× p99 ${f.ratioToSale?.p99}×`,
    );
    out.push(f);
  }
  return {
    scenario: 'floor',
    figures: { bySize: out, poolSize: Number(process.env.LW_BENCH_POOL ?? 20) },
    bySize: out,
    headline: out
      .map(
        (f) =>
          `K=${f.claimers}: sale tx p50 ${f.sale.all.p50} p99 ${f.sale.all.p99} ms, bare tx p50 ${f.bare.all.p50} p99 ${f.bare.all.p99} ms` +
          (f.ratioToSale
            ? `; API claim ÷ sale tx: p50 ${f.ratioToSale.p50}× p99 ${f.ratioToSale.p99}× (target ≤ 2×); ÷ bare: p50 ${f.ratioToBare!.p50}× p99 ${f.ratioToBare!.p99}×`
            : ''),
      )
      .join('<br>'),
  };
}

/** The claim storm's answer p99 as a ratio to the sale transaction's, per size (for the claim storm's row). */
export const stormOverSale = (bySize: FloorFigures[]) =>
  bySize
    .filter((f) => f.ratioToSale)
    .map((f) => `K=${f.claimers}: API claim p99 ÷ sale tx p99 (floor, same run) = ${f.ratioToSale!.p99}× (target ≤ 2×)`)
    .join('; ');
