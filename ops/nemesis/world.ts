/**
 * The campaign's market, built through the public API: test/faults/traffic.ts's world (an agency, bot
 * buyers – one with a daily cap, one short of credits – and its campaign mix: ping post → fallback ping
 * post → manual review; shared ping post → push; push round robin) with every buyer's webhook going to
 * its own flaky receiver, and two sources allowed on the ping-post campaigns with payout rules; with a
 * fleet of buyer endpoint servers (#22), a ping-tree campaign in the mix: endpoint buyers of mixed
 * behaviours (bids, a slow bid, a refused post, a reject, a 500) in two tiers, falling back to push.
 */
import { buildTrafficWorld, must, type TrafficWorld } from '../../test/faults/traffic';
import {
  BEHAVIOURS,
  type Fleet,
  FLEET_SETTINGS,
  type FleetServer,
  type Script,
} from '../../test/helpers/endpoint-fleet';
import { SERVICE_LINE } from '../../test/helpers/world';
import type { Receivers } from './receivers';

export type Buyer = TrafficWorld['buyers'][number];

interface Source {
  id: string;
  key: string;
  /** The campaigns it may ping and post into. */
  campaignIds: string[];
}

/** A buyer that buys through its own endpoint (a fleet server), never through the feed. */
interface EndpointBuyer {
  id: string;
  label: string;
  server: FleetServer;
}

export interface World extends TrafficWorld {
  baseUrl: string;
  sources: Source[];
  endpointBuyers: EndpointBuyer[];
}

/** The ping tree's buyers: tier 1 pinged first (floor 20), tier 2 after it (floor 10). */
const TREE: { label: string; tier: 1 | 2; script: Script }[] = [
  { label: 'ep-bid', tier: 1, script: BEHAVIOURS.bid(34, 20) },
  { label: 'ep-slow', tier: 1, script: BEHAVIOURS.bid(38, 600) },
  { label: 'ep-refuses-post', tier: 1, script: BEHAVIOURS.acceptPingRejectPost(45) },
  { label: 'ep-500', tier: 1, script: BEHAVIOURS.error500() },
  { label: 'ep-reject', tier: 2, script: BEHAVIOURS.reject() },
  { label: 'ep-tier2', tier: 2, script: BEHAVIOURS.bid(15, 50) },
];

/** Endpoint buyers on fleet servers and a ping-tree campaign of them that falls back to `fallbackCampaignId`. */
async function buildPingTree(
  baseUrl: string,
  world: TrafficWorld,
  receivers: Receivers,
  fleet: Fleet,
  opts: { credits: number; fallbackCampaignId: string },
): Promise<{ buyers: EndpointBuyer[]; campaignId: string }> {
  const buyers: EndpointBuyer[] = [];
  for (const { label, script } of TREE) {
    const b = await must(baseUrl, 'POST', '/v1/buyers', world.adminKey, { name: label, serviceLines: [SERVICE_LINE] });
    const id = (b.buyer as { id: string }).id;
    receivers.setSecret(id, b.webhookSecret as string);
    await must(baseUrl, 'PATCH', `/v1/buyers/${id}`, world.adminKey, { delivery: { webhookUrl: receivers.url(id) } });
    await must(baseUrl, 'POST', `/v1/buyers/${id}/credits`, world.adminKey, { amount: opts.credits });
    const server = await fleet.add(script);
    await must(baseUrl, 'PUT', `/v1/buyers/${id}/endpoint`, world.adminKey, {
      ...FLEET_SETTINGS,
      pingUrl: server.pingUrl,
      postUrl: server.postUrl,
      auth: { kind: 'none' },
      timeoutMs: 1500,
    });
    buyers.push({ id, label, server });
  }
  const tier = (n: 1 | 2) => TREE.flatMap((t, i) => (t.tier === n ? [buyers[i]!.id] : []));
  const c = await must(baseUrl, 'POST', '/v1/campaigns', world.adminKey, {
    name: 'ping-tree',
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    auction: 'ping_tree',
    pingTree: {
      tiers: [
        { buyerIds: tier(1), floor: 20 },
        { buyerIds: tier(2), floor: 10 },
      ],
    },
    price: { base: 10 },
    fallbackCampaignId: opts.fallbackCampaignId,
  });
  return { buyers, campaignId: (c.campaign as { id: string }).id };
}

export async function buildWorld(
  baseUrl: string,
  rootToken: string,
  receivers: Receivers,
  opts: { buyers: number; credits: number; windowSeconds: number; endpoints?: Fleet },
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
  let endpointBuyers: EndpointBuyer[] = [];
  if (opts.endpoints) {
    const push = world.mix.find((m) => m.label === 'push')!.campaignId;
    const tree = await buildPingTree(baseUrl, world, receivers, opts.endpoints, {
      credits: opts.credits,
      fallbackCampaignId: push,
    });
    endpointBuyers = tree.buyers;
    // One lead in five goes to the ping tree.
    world.mix.push({ campaignId: tree.campaignId, label: 'ping_tree→push' });
  }
  return { ...world, baseUrl, sources, endpointBuyers };
}
