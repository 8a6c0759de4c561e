/**
 * (5) Scale: N offers open at once (long claim windows, nobody claims):
 *     memory of the worker, the API and the Temporal dev server; claim latency
 *     of a claim storm run beside them against the same storm before they
 *     opened; then the time for all of them to expire and fall through (no
 *     fallback campaign: each lead goes to manual review) and how late each
 *     expiry ran after its offer's closesAt.
 */
import { and, eq, sql } from 'drizzle-orm';

import { leads, offers } from '../../db/schema';
import { bearer } from '../../packages/client';
import {
  type ApiClient,
  createAgency,
  createBuyers,
  createCampaign,
  leadBody,
  nowMs,
  pool,
  sleep,
  until,
} from '../lib/client';
import { cpuWindow, rssMb, temporalRssMb } from '../lib/stack';
import { fmt, ratio, summarize, type Summary } from '../lib/stats';
import { type StormFigures, stormSeries } from './claims';
import { type BenchContext, type ScenarioResult, settle } from './context';

async function postLeads(
  api: ApiClient,
  adminKey: string,
  campaignId: string,
  n: number,
  concurrency = 32,
): Promise<number> {
  let errors = 0;
  await pool(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async () => {
      const { response } = await api.client.POST('/v1/leads', {
        headers: bearer(adminKey),
        body: leadBody(campaignId),
      });
      if (response.status !== 202) errors++;
    },
  );
  return errors;
}

async function countOffers(ctx: BenchContext, campaignId: string, status: 'open' | 'expired'): Promise<number> {
  const [row] = await ctx.database.db
    .select({ n: sql<number>`count(*)::int` })
    .from(offers)
    .where(and(eq(offers.campaignId, campaignId), eq(offers.status, status)));
  return Number(row?.n ?? 0);
}

async function countLeads(ctx: BenchContext, campaignId: string, status: 'manual_review'): Promise<number> {
  const [row] = await ctx.database.db
    .select({ n: sql<number>`count(*)::int` })
    .from(leads)
    .where(and(eq(leads.campaignId, campaignId), eq(leads.status, status)));
  return Number(row?.n ?? 0);
}

const memory = (ctx: BenchContext) => ({
  api: rssMb(ctx.stack.api.pid),
  worker: rssMb(ctx.stack.worker.pid),
  temporal: temporalRssMb(ctx.stack),
});

export async function scale(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.sizes.scaleOffers;
  await settle(ctx, 300_000);
  const { adminKey } = await createAgency(ctx.api, 'bench: scale');
  const waiting = await createBuyers(ctx.api, adminKey, 5);
  const claimers = await createBuyers(ctx.api, adminKey, ctx.sizes.scaleClaimers);
  const stormCampaign = await createCampaign(ctx.api, adminKey, {
    claimWindowSeconds: 60,
    buyerIds: claimers.map((b) => b.id),
  });

  const before = memory(ctx);
  const baseline: StormFigures = await stormSeries(ctx, adminKey, stormCampaign, claimers, ctx.sizes.scaleClaimRounds);
  ctx.log(`scale: baseline storm K=${claimers.length}: ${fmt(baseline.all)}`);

  // Calibrate: how fast do offers open here? The window must outlast opening all N and the storm beside them.
  const calibration = await createCampaign(ctx.api, adminKey, {
    claimWindowSeconds: 5,
    buyerIds: waiting.map((b) => b.id),
  });
  const calN = Math.min(100, Math.max(10, Math.round(n / 20)));
  const calStart = nowMs();
  await postLeads(ctx.api, adminKey, calibration, calN);
  await until(
    async () =>
      (await countOffers(ctx, calibration, 'open')) + (await countOffers(ctx, calibration, 'expired')) >= calN,
    120_000,
    'calibration offers',
    100,
  );
  const openRate = calN / ((nowMs() - calStart) / 1000);
  const windowSeconds = Math.ceil((n / openRate) * 1.6 + 30 + ctx.sizes.scaleClaimRounds * 4);
  ctx.log(`scale: offers open at ~${openRate.toFixed(1)}/s here; claim window ${windowSeconds}s for ${n} offers`);
  await sleep(6_000); // the calibration offers expire

  const campaignId = await createCampaign(ctx.api, adminKey, {
    claimWindowSeconds: windowSeconds,
    buyerIds: waiting.map((b) => b.id),
  });
  const intakeStart = nowMs();
  const cpuOpen = cpuWindow(ctx.stack);
  const intakeErrors = await postLeads(ctx.api, adminKey, campaignId, n);
  const intakeSeconds = (nowMs() - intakeStart) / 1000;
  let peakOpen = 0;
  await until(
    async () => {
      const open = await countOffers(ctx, campaignId, 'open');
      peakOpen = Math.max(peakOpen, open);
      return open >= n - intakeErrors || open + (await countOffers(ctx, campaignId, 'expired')) >= n - intakeErrors;
    },
    windowSeconds * 1000,
    `${n} offers opened`,
    500,
  );
  const openedSeconds = (nowMs() - intakeStart) / 1000;
  if (peakOpen < n - intakeErrors)
    ctx.log(`scale: only ${peakOpen} of ${n} were open at once (the first expired before the last opened)`);
  const cpuWhileOpening = cpuOpen.stop();
  const open = memory(ctx);
  ctx.log(
    `scale: ${n} offers open after ${openedSeconds.toFixed(1)}s (intake ${intakeSeconds.toFixed(1)}s); RSS MB ${JSON.stringify(open)}`,
  );

  const during = await stormSeries(ctx, adminKey, stormCampaign, claimers, ctx.sizes.scaleClaimRounds);
  const stillOpen = await countOffers(ctx, campaignId, 'open');
  ctx.log(`scale: storm beside ${stillOpen} open offers: ${fmt(during.all)} (baseline p99 ${baseline.all.p99})`);

  // Expiry: each lead's timer fires at its closesAt; then closeOffer, then manual review.
  const [bounds] = await ctx.database.db
    .select({ first: sql<string>`min(${offers.closesAt})`, last: sql<string>`max(${offers.closesAt})` })
    .from(offers)
    .where(eq(offers.campaignId, campaignId));
  const firstClose = new Date(bounds!.first).getTime();
  const lastClose = new Date(bounds!.last).getTime();
  await sleep(Math.max(0, firstClose - Date.now()));
  const cpuExpiry = cpuWindow(ctx.stack);
  const total = n - intakeErrors;
  await until(
    async () => (await countLeads(ctx, campaignId, 'manual_review')) >= total,
    Math.max(0, lastClose - Date.now()) + 900_000,
    'every lead in manual review',
    1000,
  );
  const allDone = Date.now();
  const cpuWhileExpiring = cpuExpiry.stop();
  const lag = await ctx.database.db.execute(sql`
    SELECT EXTRACT(EPOCH FROM (e.at - o.closes_at)) * 1000 AS ms
      FROM offers o JOIN offer_events e ON e.lead_id = o.lead_id AND e.type = 'manual_review'
     WHERE o.campaign_id = ${campaignId}`);
  const lagMs = (lag as unknown as { rows: { ms: string }[] }).rows.map((r) => Number(r.ms));
  const after = memory(ctx);

  const figures = {
    offers: n,
    peakOpenAtOnce: peakOpen,
    intakeErrors,
    windowSeconds,
    intakeSeconds: Math.round(intakeSeconds * 10) / 10,
    allOpenAfterSeconds: Math.round(openedSeconds * 10) / 10,
    rssMb: { before, allOpen: open, afterExpiry: after },
    claimBaseline: baseline,
    claimWhileOpen: during,
    claimP99Ratio: ratio(during.all.p99, baseline.all.p99),
    expiry: {
      spreadSeconds: Math.round((lastClose - firstClose) / 100) / 10,
      /** From the last offer's closesAt to every lead in manual review. */
      drainAfterLastCloseSeconds: Math.round((allDone - lastClose) / 100) / 10,
      /** From the first closesAt to every lead in manual review. */
      totalSeconds: Math.round((allDone - firstClose) / 100) / 10,
      /** manual_review event time minus closesAt, per lead. */
      lag: summarize(lagMs) as Summary,
    },
    cpuPercent: { whileOpening: cpuWhileOpening, whileExpiring: cpuWhileExpiring },
  };
  ctx.log(
    `scale: expiry drained ${figures.expiry.drainAfterLastCloseSeconds}s after the last closesAt; lag ${fmt(figures.expiry.lag)}`,
  );
  return {
    scenario: 'scale',
    figures,
    headline:
      `${n} offers (${peakOpen} open at once; window ${windowSeconds}s; all opened after ${figures.allOpenAfterSeconds}s); RSS MB worker ${open.worker}, API ${open.api}, Temporal ${open.temporal} (before: ${before.worker}/${before.api}/${before.temporal}); ` +
      `claim K=${claimers.length} p99 ${during.all.p99} ms beside them vs ${baseline.all.p99} ms before (${figures.claimP99Ratio}×), one winner each: ${during.exactlyOneWinnerEveryRound && baseline.exactlyOneWinnerEveryRound ? 'yes' : 'NO'}; ` +
      `expiry → manual review: all done ${figures.expiry.drainAfterLastCloseSeconds}s after the last closesAt (lag p50 ${figures.expiry.lag.p50} p99 ${figures.expiry.lag.p99} ms)`,
  };
}
