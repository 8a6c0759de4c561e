/**
 * (3) Feed latency: C buyers connected to the live feed; for each lead, the
 *     time from sending the intake request to `offer.opened` arriving at each
 *     client (intake, workflow start, eligibility for the agency's buyers,
 *     offer stored, NOTIFY, fan-out, socket). One buyer then claims it, so
 *     offers do not pile up between rounds.
 */
import { bearer } from '../../packages/client';
import {
  connectFeeds,
  createAgency,
  createBuyers,
  createCampaign,
  type FeedClient,
  nowMs,
  postLead,
  until,
} from '../lib/client';
import { fmt, summarize, type Summary } from '../lib/stats';
import { type BenchContext, type ScenarioResult, settle } from './context';

interface FeedFigures {
  clients: number;
  rounds: number;
  intakeToOpened: Summary;
  /** The same, per round, at the last client to hear of it. */
  lastClient: Summary;
  intake202: Summary;
  missed: number;
}

async function round(ctx: BenchContext, adminKey: string, campaignId: string, clients: FeedClient[]) {
  const arrivals: number[] = [];
  let leadId: string | null = null;
  const early: { leadId: string; at: number }[] = [];
  const offs = clients.map((c) =>
    c.on(({ at, msg }) => {
      if (msg.type !== 'offer.opened') return;
      const id = (msg.offer as { leadId: string }).leadId;
      if (leadId === null) early.push({ leadId: id, at });
      else if (id === leadId) arrivals.push(at);
    }),
  );
  const sent = nowMs();
  const intake = await postLead(ctx.api, adminKey, campaignId);
  leadId = intake.leadId;
  for (const e of early) if (e.leadId === leadId) arrivals.push(e.at); // arrived before the 202
  let missed = 0;
  await until(async () => arrivals.length >= clients.length, 30_000, 'offer.opened at every client', 10).catch(() => {
    missed = clients.length - arrivals.length;
  });
  offs.forEach((off) => off());
  // Close it: the first client claims.
  const offerId = await until(
    async () => {
      const r = await ctx.api.client.GET('/v1/offers', {
        headers: bearer(clients[0]!.buyer.key),
        params: { query: { status: 'open', limit: 50 } },
      });
      return r.data?.offers.find((o) => o.leadId === leadId)?.id;
    },
    10_000,
    'the offer in the list',
  );
  await ctx.api.client.POST('/v1/offers/{id}/claim', {
    headers: bearer(clients[0]!.buyer.key),
    params: { path: { id: offerId } },
    body: {},
  });
  return {
    latencies: arrivals.map((a) => a - sent),
    last: arrivals.length ? Math.max(...arrivals) - sent : null,
    intakeMs: intake.ms,
    missed,
  };
}

export async function feedLatency(ctx: BenchContext): Promise<ScenarioResult> {
  await settle(ctx);
  const { adminKey } = await createAgency(ctx.api, 'bench: feed');
  const buyers = await createBuyers(ctx.api, adminKey, Math.max(...ctx.sizes.feedClients));
  const out: FeedFigures[] = [];
  for (const c of ctx.sizes.feedClients) {
    const pool = buyers.slice(0, c);
    const campaignId = await createCampaign(ctx.api, adminKey, {
      claimWindowSeconds: 60,
      buyerIds: pool.map((b) => b.id),
    });
    const clients = await connectFeeds(ctx.stack.wsUrl, pool);
    try {
      await round(ctx, adminKey, campaignId, clients); // warm-up
      const all: number[] = [];
      const last: number[] = [];
      const intake: number[] = [];
      let missed = 0;
      for (let r = 0; r < ctx.sizes.feedRounds; r++) {
        const res = await round(ctx, adminKey, campaignId, clients);
        all.push(...res.latencies);
        if (res.last !== null) last.push(res.last);
        intake.push(res.intakeMs);
        missed += res.missed;
      }
      const f: FeedFigures = {
        clients: c,
        rounds: ctx.sizes.feedRounds,
        intakeToOpened: summarize(all),
        lastClient: summarize(last),
        intake202: summarize(intake),
        missed,
      };
      ctx.log(
        `feed C=${c}: intake → offer.opened ${fmt(f.intakeToOpened)}; at the last client ${fmt(f.lastClient)}; missed ${missed}`,
      );
      out.push(f);
    } finally {
      clients.forEach((cl) => cl.close());
    }
  }
  return {
    scenario: 'feed_latency',
    figures: { bySize: out },
    headline: out
      .map(
        (f) =>
          `C=${f.clients}: intake → offer.opened p50 ${f.intakeToOpened.p50} p99 ${f.intakeToOpened.p99} ms (last client p50 ${f.lastClient.p50} p99 ${f.lastClient.p99}; intake 202 p50 ${f.intake202.p50}); ${f.rounds} leads, missed ${f.missed}`,
      )
      .join('<br>'),
  };
}
