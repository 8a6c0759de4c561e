/**
 * The campaign's market, built through the public API: test/faults/traffic.ts's world (an agency, bot
 * buyers – one with a daily cap, one short of credits – and its campaign mix: ping post → fallback ping
 * post → manual review; shared ping post → push; push round robin) with every buyer's webhook going to
 * its own flaky receiver, and two sources allowed on the ping-post campaigns with payout rules.
 */
import { buildTrafficWorld, must, type TrafficWorld } from '../../test/faults/traffic';
import type { Receivers } from './receivers';

export type Buyer = TrafficWorld['buyers'][number];

interface Source {
  id: string;
  key: string;
  /** The campaigns it may ping and post into. */
  campaignIds: string[];
}

export interface World extends TrafficWorld {
  baseUrl: string;
  sources: Source[];
}

export async function buildWorld(
  baseUrl: string,
  rootToken: string,
  receivers: Receivers,
  opts: { buyers: number; credits: number; windowSeconds: number },
): Promise<World> {
  const world = await buildTrafficWorld(baseUrl, rootToken, {
    bots: opts.buyers,
    credits: opts.credits,
    windowSeconds: opts.windowSeconds,
    sharedDailyCap: 400,
    webhooks: { url: receivers.url, secret: receivers.setSecret },
  });
  const pingPost = [...new Set(world.mix.filter((m) => m.label !== 'push').map((m) => m.campaignId))];
  const sources: Source[] = [];
  for (const [i, payout] of [
    { kind: 'share', shareBps: 3000 },
    { kind: 'fixed', amount: 3 },
  ].entries()) {
    const s = await must(baseUrl, 'POST', '/v1/sources', world.adminKey, { name: `source-${i}` });
    const id = (s.source as { id: string }).id;
    for (const campaignId of pingPost)
      await must(baseUrl, 'POST', `/v1/sources/${id}/campaigns`, world.adminKey, { campaignId, payout });
    sources.push({ id, key: s.apiKey as string, campaignIds: pingPost });
  }
  return { ...world, baseUrl, sources };
}
