/**
 * (7) Storm over many offers: B buyers (50) each claim O open offers (30) at
 *     once — B×O claims (1,500) through `POST /v1/offers/:id/claim`, all sent
 *     in one tick. Per round: O leads posted, every offer waited for open in
 *     the database, the claims fired, then every offer waited for closed.
 *     Answer latency (p50/p95/p99 over all claims, and for winners and
 *     losers), how many got `503 claim_pending`, and exactly one winner per
 *     offer, checked twice: one `200 won` answer per offer, and one
 *     assignment row per offer in the database (a failed check makes the run
 *     exit 1).
 */
import { and, eq, inArray, sql } from 'drizzle-orm';

import { assignments, offers } from '../../db/schema';
import { createAgency, createBuyers, createCampaign, nowMs, pool, postLead, until } from '../lib/client';
import { activityTimes, scrape } from '../lib/prom';
import { cpuWindow } from '../lib/stack';
import { fmt, summarize } from '../lib/stats';
import { fireClaims } from './claims';
import { type BenchContext, type ScenarioResult, settle } from './context';

/** api/app.ts's default `claimTimeoutMs` (the bench API raises it to 30 s). */
const DEFAULT_CLAIM_TIMEOUT_MS = 10_000;

export async function stormMany(ctx: BenchContext): Promise<ScenarioResult> {
  await settle(ctx);
  const { manyBuyers, manyOffers, manyRounds } = ctx.sizes;
  const { adminKey } = await createAgency(ctx.api, 'bench: storm over many offers');
  const buyers = await createBuyers(ctx.api, adminKey, manyBuyers);
  const campaignId = await createCampaign(ctx.api, adminKey, {
    claimWindowSeconds: 300,
    buyerIds: buyers.map((b) => b.id),
  });
  const db = ctx.database.db;
  const metricsBefore = await scrape(ctx.stack.workerMetricsUrl);
  const all: number[] = [];
  const winner: number[] = [];
  const losers: number[] = [];
  const answers: Record<string, number> = {};
  const spans: number[] = [];
  /** CPU % of a core per process, from the first claim sent to the last answer, per round. */
  const cpuPercent: Record<string, number>[] = [];
  let offersWithoutOneWinner = 0;
  let offersWithoutOneAssignment = 0;
  for (let round = 0; round < manyRounds; round++) {
    const leadIds = await pool(
      Array.from({ length: manyOffers }, (_, i) => i),
      8,
      async () => (await postLead(ctx.api, adminKey, campaignId)).leadId,
    );
    const open = await until(
      async () => {
        const rows = await db
          .select({ id: offers.id })
          .from(offers)
          .where(and(inArray(offers.leadId, leadIds), eq(offers.status, 'open')));
        return rows.length === manyOffers ? rows : undefined;
      },
      120_000,
      `${manyOffers} offers open`,
      50,
    );
    // All B×O requests start in this one tick (fireClaims builds and sends its K at once, synchronously).
    const cpu = cpuWindow(ctx.stack);
    const firedAt = nowMs();
    const byOffer = await Promise.all(open.map((o) => fireClaims(ctx.api, o.id, buyers)));
    spans.push(nowMs() - firedAt);
    cpuPercent.push(cpu.stop());
    for (const results of byOffer) {
      const won = results.filter((r) => r.status === 200);
      if (won.length !== 1) offersWithoutOneWinner++;
      for (const r of results) {
        all.push(r.ms);
        (r.status === 200 ? winner : losers).push(r.ms);
        answers[r.label] = (answers[r.label] ?? 0) + 1;
      }
    }
    const ids = open.map((o) => o.id);
    await until(
      async () =>
        (
          await db
            .select({ id: offers.id })
            .from(offers)
            .where(and(inArray(offers.id, ids), eq(offers.status, 'open')))
        ).length === 0,
      120_000,
      'the offers to close',
      100,
    );
    const sold = await db
      .select({ offerId: assignments.offerId, n: sql<number>`count(*)::int` })
      .from(assignments)
      .where(inArray(assignments.offerId, ids))
      .groupBy(assignments.offerId);
    offersWithoutOneAssignment += ids.length - sold.filter((s) => s.n === 1).length;
    ctx.log(
      `storm over many offers, round ${round + 1}: ${fmt(summarize(all))} so far; answers ${JSON.stringify(answers)}`,
    );
  }
  const claimPending = Object.entries(answers)
    .filter(([label]) => /claim_pending/.test(label))
    .reduce((n, [, c]) => n + c, 0);
  const exactlyOneWinnerPerOffer = offersWithoutOneWinner === 0 && offersWithoutOneAssignment === 0;
  const figures = {
    buyers: manyBuyers,
    offers: manyOffers,
    rounds: manyRounds,
    claimsPerRound: manyBuyers * manyOffers,
    exactlyOneWinnerPerOffer,
    offersWithoutOneWonAnswer: offersWithoutOneWinner,
    offersWithoutOneAssignment,
    claimPending,
    /** Answers slower than the API's default claim timeout (10 s): `503 claim_pending` under default settings (the bench API waits 30 s). */
    slowerThanDefaultTimeout: all.filter((ms) => ms > DEFAULT_CLAIM_TIMEOUT_MS).length,
    all: summarize(all),
    winner: summarize(winner),
    losers: summarize(losers),
    /** From the first request sent to the last answer, per round. */
    stormSpan: summarize(spans),
    cpuPercent,
    answers,
    activities: activityTimes(metricsBefore, await scrape(ctx.stack.workerMetricsUrl), [
      'postAndCharge',
      'routeAndOpen',
      'closeOffer',
      'recordEvents',
    ]),
  };
  const a = figures.all;
  return {
    scenario: 'storm_many',
    figures,
    headline:
      `${manyBuyers} buyers × ${manyOffers} offers = ${figures.claimsPerRound} claims at once, ${manyRounds} round(s): answer p50 ${a.p50} p95 ${a.p95} p99 ${a.p99} max ${a.max} ms (target p99 ≤ 1000); ` +
      `503 claim_pending: ${claimPending}, answers over the default 10 s claim timeout: ${figures.slowerThanDefaultTimeout} (target 0); one winner per offer (answers and assignments): ${exactlyOneWinnerPerOffer ? 'yes' : `NO (${offersWithoutOneWinner} by answers, ${offersWithoutOneAssignment} by assignments)`}` +
      `<br>winner p99 ${figures.winner.p99}, losers p99 ${figures.losers.p99} ms; first request to last answer p50 ${figures.stormSpan.p50} ms; CPU % of a core then (last round): ${Object.entries(
        cpuPercent[cpuPercent.length - 1] ?? {},
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; answers ${Object.entries(answers)
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ')}`,
  };
}
