/**
 * (4) Throughput: leads sent open-loop at a fixed rate for a while, each
 *     auctioned end to end – intake → targeted → offer.opened at bot buyers on
 *     the feed → claimed by one bot (REST) → charged → delivered – at rising
 *     rates until the system no longer keeps up. Per step: achieved rate,
 *     the latency of each stage from the intake request, and the CPU of every
 *     process (API, worker, Temporal dev server with its SQLite, Postgres, the
 *     load generator itself).
 */
import fs from 'node:fs';
import path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { eq, inArray } from 'drizzle-orm';

import { assignments, deliveries, offers } from '../../db/schema';
import { leadWorkflowId } from '../../domain/ids';
import { bearer } from '../../packages/client';
import {
  connectFeeds,
  createAgency,
  createBuyers,
  createCampaign,
  type FeedClient,
  leadBody,
  nowMs,
  sleep,
} from '../lib/client';
import { activityTimes, scrape } from '../lib/prom';
import { climbRates, judgeStep, sendOpenLoop, sustained } from '../lib/rates';
import { cpuWindow, loadAverage, msPer, percentOfCore, rssMb, temporalRssMb } from '../lib/stack';
import { cpuText, summarize, type Summary } from '../lib/stats';
import { type BenchContext, type ScenarioResult, settle } from './context';

interface LeadTrace {
  sentAt: number;
  acceptedAt?: number;
  openedAt?: number;
  claimStart?: number;
  claimEnd?: number;
  won?: boolean;
  failed?: string;
}

interface StepFigures {
  offeredRate: number;
  seconds: number;
  sent: number;
  accepted: number;
  completed: number;
  /** Delivered leads per second of sending. */
  achievedRate: number;
  /** How long after the last send the last delivery came. */
  backlogSeconds: number;
  intakeErrors: number;
  claimFailures: Record<string, number>;
  /** Events in a sold lead's workflow history (each one a write to Temporal's persistence). */
  historyEventsPerLead: number | null;
  stages: {
    intake202: Summary;
    offerStored: Summary;
    feedOpened: Summary;
    claimAnswer: Summary;
    charged: Summary;
    delivered: Summary;
  };
  cpuPercent: Record<string, number>;
  /** CPU milliseconds per delivered lead, by process (#26 item 5). */
  cpuMsPerLead: Record<string, number>;
  /** The worker's time in each activity (p50/p99 ms): database work, apart from Temporal's. */
  activities: Record<string, { count: number; p50: number | null; p99: number | null }>;
  rssMb: Record<string, number | null>;
  temporalDbMb: number;
  loadAverage: number[];
  saturated: boolean;
  why: string | null;
}

// The lean lifecycle's steps (local activities count in the worker's activity metrics like any other).
const ACTIVITIES = ['routeAndOpen', 'postAndCharge', 'closeOffer', 'recordEvents', 'setLeadStatus'];

const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);

function sqliteMb(dir: string): number {
  let bytes = 0;
  for (const f of ['temporal.db', 'temporal.db-wal', 'temporal.db-shm']) {
    try {
      bytes += fs.statSync(path.join(dir, f)).size;
    } catch {
      /* absent */
    }
  }
  return Math.round(bytes / 2 ** 20);
}

async function step(
  ctx: BenchContext,
  adminKey: string,
  campaignId: string,
  bots: FeedClient[],
  rate: number,
  temporal: Client,
): Promise<StepFigures> {
  const traces = new Map<string, LeadTrace>();
  const pendingOpened = new Map<string, { at: number; offerId: string }>();

  // The designated bot claims at once; everyone else only receives the frame.
  const offs = bots.map((bot, i) =>
    bot.on(({ at, msg }) => {
      if (msg.type !== 'offer.opened') return;
      const offer = msg.offer as { id: string; leadId: string };
      if (hash(offer.id) % bots.length !== i) return;
      const t = traces.get(offer.leadId);
      if (!t) {
        pendingOpened.set(offer.leadId, { at, offerId: offer.id }); // before the 202 came back
        return;
      }
      claim(t, offer.id, at, bot);
    }),
  );
  const claim = (t: LeadTrace, offerId: string, at: number, bot: FeedClient) => {
    t.openedAt = at;
    t.claimStart = nowMs();
    void ctx.api.client
      .POST('/v1/offers/{id}/claim', { headers: bearer(bot.buyer.key), params: { path: { id: offerId } }, body: {} })
      .then((r) => {
        t.claimEnd = nowMs();
        t.won = r.response.status === 200;
        const refusal: { reason?: string; code?: string } = r.error ?? {};
        if (!t.won) t.failed = `${r.response.status} ${refusal.reason ?? refusal.code ?? ''}`;
      })
      .catch((err: unknown) => {
        t.claimEnd = nowMs();
        t.failed = String(err);
      });
  };

  const metricsBefore = await scrape(ctx.stack.workerMetricsUrl);
  const cpu = cpuWindow(ctx.stack);
  const seconds = ctx.sizes.stepSeconds;
  let intakeErrors = 0;
  const loop = await sendOpenLoop(rate, seconds, (sentAt) =>
    ctx.api.client
      .POST('/v1/leads', { headers: bearer(adminKey), body: leadBody(campaignId) })
      .then((r) => {
        if (r.response.status !== 202 || !r.data) {
          intakeErrors++;
          return;
        }
        const t: LeadTrace = { sentAt, acceptedAt: nowMs() };
        traces.set(r.data.lead.id, t);
        const early = pendingOpened.get(r.data.lead.id);
        if (early) {
          const bot = bots[hash(early.offerId) % bots.length]!;
          claim(t, early.offerId, early.at, bot);
        }
      })
      .catch(() => {
        intakeErrors++;
      }),
  );
  const { start, sent } = loop;
  // Drain: every accepted lead answered (or 30 s).
  const drainUntil = nowMs() + 30_000;
  while (nowMs() < drainUntil && (loop.outstanding() > 0 || [...traces.values()].some((t) => t.claimEnd === undefined)))
    await sleep(50);
  const cpuUsed = cpu.stopSeconds();
  const cpuPercent = percentOfCore(cpuUsed);
  const activities = activityTimes(metricsBefore, await scrape(ctx.stack.workerMetricsUrl), ACTIVITIES);
  offs.forEach((off) => off());

  // Stage times from the database (same host clock): offer stored, charged, delivered.
  const ids = [...traces.keys()];
  const won = [...traces.values()].filter((t) => t.won).length;
  const read = async () =>
    ids.length
      ? ctx.database.db
          .select({
            leadId: offers.leadId,
            openedAt: offers.openedAt,
            chargedAt: assignments.createdAt,
            deliveredAt: deliveries.deliveredAt,
          })
          .from(offers)
          .leftJoin(assignments, eq(assignments.offerId, offers.id))
          .leftJoin(deliveries, eq(deliveries.assignmentId, assignments.id))
          .where(inArray(offers.leadId, ids))
      : [];
  // Deliveries trail the claim answer (the offer closes first): give them up to 15 s more.
  let rows = await read();
  for (
    const until = nowMs() + 15_000;
    rows.filter((r) => r.deliveredAt).length < won && nowMs() < until;
    rows = await read()
  )
    await sleep(200);
  const db = new Map(rows.map((r) => [r.leadId, r]));
  const stages = {
    intake202: [] as number[],
    offerStored: [] as number[],
    feedOpened: [] as number[],
    claimAnswer: [] as number[],
    charged: [] as number[],
    delivered: [] as number[],
  };
  const claimFailures: Record<string, number> = {};
  let completed = 0;
  let lastDone = start;
  for (const [leadId, t] of traces) {
    const r = db.get(leadId);
    stages.intake202.push(t.acceptedAt! - t.sentAt);
    if (r?.openedAt) stages.offerStored.push(r.openedAt.getTime() - t.sentAt);
    if (t.openedAt) stages.feedOpened.push(t.openedAt - t.sentAt);
    if (t.claimEnd && t.claimStart) stages.claimAnswer.push(t.claimEnd - t.claimStart);
    if (t.won && t.claimEnd) stages.charged.push(t.claimEnd - t.sentAt);
    if (t.failed) claimFailures[t.failed] = (claimFailures[t.failed] ?? 0) + 1;
    if (r?.deliveredAt) {
      stages.delivered.push(r.deliveredAt.getTime() - t.sentAt);
      completed++;
      lastDone = Math.max(lastDone, r.deliveredAt.getTime());
    }
  }
  // Leads delivered per second of sending; falling behind shows as a backlog after the last send.
  const sold = [...traces.entries()].find(([, t]) => t.won)?.[0];
  const historyEventsPerLead = sold
    ? (await temporal.workflow.getHandle(leadWorkflowId(sold)).describe()).historyLength
    : null;
  const summary = Object.fromEntries(
    Object.entries(stages).map(([k, v]) => [k, summarize(v)]),
  ) as StepFigures['stages'];
  const judged = judgeStep({
    rate,
    seconds,
    sent,
    accepted: traces.size,
    completed,
    intakeErrors,
    start,
    lastDone,
    p99: summary.delivered.p99,
  });
  return {
    offeredRate: rate,
    seconds,
    sent,
    accepted: traces.size,
    completed,
    achievedRate: judged.achievedRate,
    backlogSeconds: judged.backlogSeconds,
    intakeErrors,
    claimFailures,
    historyEventsPerLead,
    stages: summary,
    cpuPercent,
    cpuMsPerLead: msPer(cpuUsed.cpu, completed),
    activities,
    rssMb: { api: rssMb(ctx.stack.api.pid), worker: rssMb(ctx.stack.worker.pid), temporal: temporalRssMb(ctx.stack) },
    temporalDbMb: sqliteMb(ctx.stack.temporalDataDir),
    loadAverage: loadAverage(),
    saturated: judged.saturated,
    why: judged.why,
  };
}

/** Throughput's result, with the sustained rate for `engine_floor`'s ratio. */
export interface ThroughputResult extends ScenarioResult {
  /** Leads per second at the last step that kept up; null when none did. */
  sustainedRate: number | null;
  /** CPU ms per sold lead by process at that step (else the first step), for engine_floor's table. */
  cpuMsPerLead: { rate: number; ms: Record<string, number> } | null;
}

export async function throughput(ctx: BenchContext): Promise<ThroughputResult> {
  const { adminKey } = await createAgency(ctx.api, 'bench: throughput');
  const buyers = await createBuyers(ctx.api, adminKey, ctx.sizes.bots, 100_000_000);
  const campaignId = await createCampaign(ctx.api, adminKey, { claimWindowSeconds: 30 });
  const bots = await connectFeeds(ctx.stack.wsUrl, buyers);
  const connection = await Connection.connect({ address: ctx.stack.temporal.address });
  const temporal = new Client({ connection });
  let steps: StepFigures[];
  try {
    steps = await climbRates(ctx.sizes.rates, async (rate) => {
      await settle(ctx, 60_000); // the previous step's closes and deliveries
      const s = await step(ctx, adminKey, campaignId, bots, rate, temporal);
      ctx.log(
        `throughput ${rate}/s: achieved ${s.achievedRate}/s (${s.completed}/${s.sent}), delivered p50 ${s.stages.delivered.p50} p99 ${s.stages.delivered.p99} ms, ` +
          `cpu ${JSON.stringify(s.cpuPercent)}${s.why ? `; saturated: ${s.why}` : ''}`,
      );
      return s;
    });
  } finally {
    bots.forEach((b) => b.close());
    await connection.close();
  }
  const { best, saturatedAt: sat } = sustained(steps);
  const cpuStep = best ?? steps[0] ?? null;
  return {
    scenario: 'throughput',
    sustainedRate: best?.achievedRate ?? null,
    cpuMsPerLead: cpuStep ? { rate: cpuStep.offeredRate, ms: cpuStep.cpuMsPerLead } : null,
    figures: { bots: ctx.sizes.bots, steps },
    headline:
      `sustained ${best ? `${best.achievedRate} leads/s at ${best.offeredRate}/s offered (delivered p50 ${best.stages.delivered.p50} p99 ${best.stages.delivered.p99} ms)` : 'none'}; ` +
      (sat
        ? `saturates at ${sat.offeredRate}/s: ${sat.why}; CPU % of a core then: ${Object.entries(sat.cpuPercent)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`
        : `no saturation up to ${ctx.sizes.rates[ctx.sizes.rates.length - 1]}/s`) +
      (cpuStep ? `<br>CPU ms per sold lead at ${cpuStep.offeredRate}/s: ${cpuText(cpuStep.cpuMsPerLead)}` : '') +
      `<br>steps: ${steps.map((s) => `${s.offeredRate}→${s.achievedRate}/s`).join(', ')}`,
  };
}
