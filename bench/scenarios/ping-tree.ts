/**
 * (10) Ping tree (#22): a campaign whose delivery is a ping tree over N buyers'
 * own systems (default 50: local HTTP servers in their own process,
 * bench/processes/endpoints.ts, answering each call in 20–200 ms, random per
 * call, seeded), three tiers (a fifth of the buyers with floor 50, two fifths
 * with floor 30, two fifths with floor 10). Half the leads sell in tier 1, a
 * quarter fall to tier 2, a quarter to tier 3 (bench/lib/endpoints.ts
 * `fallThrough`: the refusing tiers reject or bid under their floor).
 *
 * Leads are sent open-loop at a fixed rate (default 5/s) for a while, then at
 * rising rates until the tree no longer keeps up (bench/lib/rates.ts: the same
 * saturation rules as throughput, where "delivered" is the post received by
 * the winning buyer's server). Per lead, from the load generator's send of
 * `POST /v1/leads` (one host clock for all processes):
 *
 * - intake → post sent: when the winner's server received the post;
 * - the slowest counted pings: for each tier that ran, its slowest ping as
 *   its server held it (every ping here answers well inside the endpoint's
 *   1.5 s timeout, so every one counts), summed over the tiers;
 * - overhead = post sent − intake sent − the slowest counted pings: what
 *   Leadwire itself adds (intake, the workflow, routing, the activities,
 *   reserve, post) – target p99 ≤ 50 ms at 5 leads/s;
 * - first ping (send → the first ping received) and after the pings (the last
 *   tier's slowest answer → the post received), to tell where it goes;
 * - CPU ms per lead by process (api, worker, Temporal, Postgres, the endpoint
 *   servers, the load generator).
 *
 * Checked: every lead posted once, to one buyer, and sold in the database.
 */
import { inArray, sql } from 'drizzle-orm';

import { SYSTEM } from '../../db/audit';
import { saveEndpoint } from '../../db/endpoints';
import { leads } from '../../db/schema';
import { bearer } from '../../packages/client';
import { fleetEndpointSettings } from '../../test/helpers/endpoint-fleet';
import { createAgency, createBuyers, createCampaign, leadBody, nowMs, sleep } from '../lib/client';
import { type EndpointEvent, type EndpointPlan, type EndpointServers, startEndpointServers } from '../lib/endpoints';
import { climbRates, judgeStep, sendOpenLoop, sustained } from '../lib/rates';
import { cpuWindow, loadAverage, msPer, percentOfCore } from '../lib/stack';
import { cpuText, summarize, type Summary } from '../lib/stats';
import { type BenchContext, type ScenarioResult, settle } from './context';

/** The tiers: the share of the buyers in each, and its floor. */
const TIERS = [
  { share: 0.2, floor: 50 },
  { share: 0.4, floor: 30 },
  { share: 0.4, floor: 10 },
];
const PING_MS = { min: 20, max: 200 };
const SEED = 22;
/** The overhead's target at the fixed rate (#22). */
const OVERHEAD_P99_TARGET_MS = 50;

interface LeadTrace {
  seq: number;
  sentAt: number;
  leadId?: string;
}

interface StepFigures {
  offeredRate: number;
  seconds: number;
  sent: number;
  accepted: number;
  /** Leads whose post reached the winner's server. */
  posted: number;
  achievedRate: number;
  backlogSeconds: number;
  intakeErrors: number;
  /** Posted leads whose lead is `sold` in the database; leads posted more than once (must be 0). */
  soldInDb: number;
  postedTwice: number;
  /**
   * The endpoints' call log over the step (endpoint_call_facts: every ping and post the worker recorded), by step
   * and outcome; a ping other than accepted or rejected (late, timeout, busy, error…) is not counted in its tier.
   */
  callLog: Record<string, Record<string, number>>;
  /** Pings the servers noted in the step (to set beside the log's). */
  pingsNoted: number;
  /** How many leads ran 1, 2, 3 tiers. */
  tiersRun: Record<string, number>;
  intakeToPost: Summary;
  slowestPings: Summary;
  overhead: Summary;
  firstPing: Summary;
  afterPings: Summary;
  cpuPercent: Record<string, number>;
  cpuMsPerLead: Record<string, number>;
  loadAverage: number[];
  saturated: boolean;
  why: string | null;
}

let seq = 0;

async function step(
  ctx: BenchContext,
  agencyId: string,
  adminKey: string,
  campaignId: string,
  servers: EndpointServers,
  rate: number,
  seconds: number,
): Promise<StepFigures> {
  await servers.events(); // drop the notes of anything before this step
  const traces: LeadTrace[] = [];
  const pings = new Map<number, EndpointEvent[]>();
  const posts = new Map<string, EndpointEvent[]>();
  const collect = async () => {
    for (const e of await servers.events()) {
      if (e.step === 'ping' && e.seq !== null) pings.set(e.seq, [...(pings.get(e.seq) ?? []), e]);
      else if (e.step === 'post' && e.leadId) posts.set(e.leadId, [...(posts.get(e.leadId) ?? []), e]);
    }
  };
  const stepStart = new Date();
  const cpu = cpuWindow(ctx.stack, { endpoints: servers.proc.pid });
  let intakeErrors = 0;
  const loop = await sendOpenLoop(rate, seconds, async (sentAt) => {
    const body = leadBody(campaignId);
    const t: LeadTrace = { seq: seq++, sentAt };
    body.fields.answers = { bench_seq: String(t.seq) };
    try {
      const r = await ctx.api.client.POST('/v1/leads', { headers: bearer(adminKey), body });
      if (r.response.status !== 202 || !r.data) intakeErrors++;
      else {
        t.leadId = r.data.lead.id;
        traces.push(t);
      }
    } catch {
      intakeErrors++;
    }
  });
  // Drain: every accepted lead posted (or 30 s).
  const drainUntil = nowMs() + 30_000;
  for (;;) {
    await collect();
    const waiting = loop.outstanding() > 0 || traces.some((t) => !posts.has(t.leadId!));
    if (!waiting || nowMs() > drainUntil) break;
    await sleep(100);
  }
  const cpuUsed = cpu.stopSeconds();
  await collect();

  const stages = { intakeToPost: [], slowestPings: [], overhead: [], firstPing: [], afterPings: [] } as Record<
    'intakeToPost' | 'slowestPings' | 'overhead' | 'firstPing' | 'afterPings',
    number[]
  >;
  const tiersRun: Record<string, number> = {};
  let posted = 0;
  let postedTwice = 0;
  let lastDone = loop.start;
  for (const t of traces) {
    const post = posts.get(t.leadId!);
    const its = pings.get(t.seq) ?? [];
    if (!post?.length) continue;
    posted++;
    if (post.length > 1) postedTwice++;
    const postAt = Math.min(...post.map((p) => p.at));
    lastDone = Math.max(lastDone, postAt);
    const byTier = new Map<number, EndpointEvent[]>();
    for (const p of its) byTier.set(p.tier, [...(byTier.get(p.tier) ?? []), p]);
    tiersRun[byTier.size] = (tiersRun[byTier.size] ?? 0) + 1;
    const slowest = [...byTier.values()].reduce((sum, tier) => sum + Math.max(...tier.map((p) => p.delayMs)), 0);
    const lastTier = byTier.get(Math.max(...byTier.keys()));
    stages.intakeToPost.push(postAt - t.sentAt);
    stages.slowestPings.push(slowest);
    stages.overhead.push(postAt - t.sentAt - slowest);
    if (its.length) stages.firstPing.push(Math.min(...its.map((p) => p.at)) - t.sentAt);
    if (lastTier) stages.afterPings.push(postAt - Math.max(...lastTier.map((p) => p.at + p.delayMs)));
  }
  // The sale is written after the post's answer: give the database a moment to catch up with the servers.
  const ids = traces.map((t) => t.leadId!);
  let soldInDb = 0;
  for (const until = nowMs() + 15_000; ; await sleep(200)) {
    soldInDb = ids.length
      ? (await ctx.database.db.select({ status: leads.status }).from(leads).where(inArray(leads.id, ids))).filter(
          (l) => l.status === 'sold',
        ).length
      : 0;
    if (soldInDb >= posted || nowMs() > until) break;
  }
  const logged = (await ctx.database.db.execute(sql`
    SELECT step, outcome, count(*)::int AS n FROM endpoint_call_facts
    WHERE agency_id = ${agencyId} AND created_at >= ${stepStart.toISOString()}::timestamptz GROUP BY step, outcome`)) as unknown as {
    rows: { step: string; outcome: string; n: number }[];
  };
  const callLog: Record<string, Record<string, number>> = {};
  for (const r of logged.rows) (callLog[r.step] ??= {})[r.outcome] = Number(r.n);
  const summary = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summarize(v)])) as Record<
    keyof typeof stages,
    Summary
  >;
  const judged = judgeStep(
    {
      rate,
      seconds,
      sent: loop.sent,
      accepted: traces.length,
      completed: posted,
      intakeErrors,
      start: loop.start,
      lastDone,
      p99: summary.intakeToPost.p99,
    },
    'leads',
    'posted',
  );
  return {
    offeredRate: rate,
    seconds,
    sent: loop.sent,
    accepted: traces.length,
    posted,
    achievedRate: judged.achievedRate,
    backlogSeconds: judged.backlogSeconds,
    intakeErrors,
    soldInDb,
    postedTwice,
    callLog,
    pingsNoted: [...pings.values()].reduce((n, p) => n + p.length, 0),
    tiersRun,
    ...summary,
    cpuPercent: percentOfCore(cpuUsed),
    cpuMsPerLead: msPer(cpuUsed.cpu, posted),
    loadAverage: loadAverage(),
    saturated: judged.saturated,
    why: judged.why,
  };
}

/** The tiers' servers, in order: `n` buyers shared out by TIERS. */
function tierPlan(n: number): EndpointPlan[] {
  const sizes = TIERS.map((t) => Math.max(1, Math.round(t.share * n)));
  sizes[sizes.length - 1] = Math.max(1, n - sizes.slice(0, -1).reduce((a, b) => a + b, 0));
  return TIERS.flatMap((t, tier) => Array.from({ length: sizes[tier]! }, () => ({ tier, floor: t.floor })));
}

export async function pingTree(ctx: BenchContext): Promise<ScenarioResult> {
  const { pingTreeEndpoints: n, pingTreeRate, pingTreeSeconds, pingTreeRates } = ctx.sizes;
  const { agencyId, adminKey } = await createAgency(ctx.api, 'bench: ping tree');
  const plan = tierPlan(n);
  const buyers = await createBuyers(ctx.api, adminKey, plan.length, 100_000_000);
  const servers = await startEndpointServers(plan, { seed: SEED, minMs: PING_MS.min, maxMs: PING_MS.max });
  try {
    for (const [i, b] of buyers.entries()) {
      const settings = fleetEndpointSettings(servers.urls[i]!, {
        // The ping carries the lead's sequence number (an answer: what a ping may carry), so the servers decide
        // by it and their notes say which lead each ping was for.
        pingTemplate: { zip_code: '{{zip}}', state: '{{state}}', seq: '{{answers.bench_seq}}' },
        maxConcurrentPings: 100,
      });
      const saved = await saveEndpoint(ctx.database.db, { agencyId, buyerId: b.id, settings, by: SYSTEM });
      if (saved === 'missing_secret') throw new Error('endpoint without its secret');
    }
    const campaignId = await createCampaign(ctx.api, adminKey, {
      auction: 'ping_tree',
      pingTree: {
        tiers: TIERS.map((t, tier) => ({
          floor: t.floor,
          buyerIds: buyers.filter((_, i) => plan[i]!.tier === tier).map((b) => b.id),
        })),
      },
    });
    await settle(ctx, 60_000);
    const fixed = await step(ctx, agencyId, adminKey, campaignId, servers, pingTreeRate, pingTreeSeconds);
    ctx.log(
      `ping tree ${pingTreeRate}/s: posted ${fixed.posted}/${fixed.sent}, intake → post ${fixed.intakeToPost.p50}/${fixed.intakeToPost.p99} ms, ` +
        `overhead p50 ${fixed.overhead.p50} p99 ${fixed.overhead.p99} ms, tiers ${JSON.stringify(fixed.tiersRun)}; cpu ms/lead ${cpuText(fixed.cpuMsPerLead)}`,
    );
    const rising = await climbRates(
      pingTreeRates.filter((r) => r > pingTreeRate),
      async (rate) => {
        await settle(ctx, 60_000);
        const s = await step(ctx, agencyId, adminKey, campaignId, servers, rate, ctx.sizes.stepSeconds);
        ctx.log(
          `ping tree ${rate}/s: achieved ${s.achievedRate}/s (${s.posted}/${s.sent}), overhead p99 ${s.overhead.p99} ms, ` +
            `cpu % ${JSON.stringify(s.cpuPercent)}${s.why ? `; saturated: ${s.why}` : ''}`,
        );
        return s;
      },
    );
    const { best, saturatedAt: sat } = sustained([fixed, ...rising]);
    const all = [fixed, ...rising];
    return {
      scenario: 'ping_tree',
      figures: {
        endpoints: plan.length,
        tiers: TIERS.map((t, tier) => ({ floor: t.floor, buyers: plan.filter((p) => p.tier === tier).length })),
        pingMs: PING_MS,
        seed: SEED,
        fixed,
        rising,
        sustainedRate: best?.achievedRate ?? null,
        saturatedAt: sat?.offeredRate ?? null,
        // Correctness: one post per lead, every posted lead sold.
        everyLeadPostedOnce: all.every((s) => s.postedTwice === 0 && s.posted === s.accepted),
        everyPostedLeadSold: all.every((s) => s.soldInDb === s.posted),
      },
      headline:
        `${plan.length} endpoint buyers (${TIERS.length} tiers, pings ${PING_MS.min}–${PING_MS.max} ms); at ${pingTreeRate} leads/s for ${pingTreeSeconds} s: ` +
        `intake → post sent p50 ${fixed.intakeToPost.p50} p99 ${fixed.intakeToPost.p99} ms; overhead above the slowest counted pings ` +
        `p50 ${fixed.overhead.p50} p99 ${fixed.overhead.p99} ms (target p99 ≤ ${OVERHEAD_P99_TARGET_MS}); first ping p99 ${fixed.firstPing.p99} ms, ` +
        `last ping → post p99 ${fixed.afterPings.p99} ms; tiers run ${JSON.stringify(fixed.tiersRun)}; posted ${fixed.posted}/${fixed.sent}, sold ${fixed.soldInDb}; ` +
        `call log: ${JSON.stringify(fixed.callLog)}` +
        `<br>CPU ms per lead: ${cpuText(fixed.cpuMsPerLead)}` +
        `<br>${sat ? `saturates at ${sat.offeredRate}/s: ${sat.why}; CPU % of a core then: ${cpuText(sat.cpuPercent)}` : `no saturation up to ${all[all.length - 1]!.offeredRate}/s`}` +
        `; sustained ${best ? `${best.achievedRate} leads/s` : 'none'}; steps: ${all.map((s) => `${s.offeredRate}→${s.achievedRate}/s`).join(', ')}`,
    };
  } finally {
    await servers.close();
  }
}
