/**
 * The campaign's market, built through the public API: an agency, many buyers (each with its own flaky
 * webhook receiver; one with a daily cap, one short of credits), two sources allowed on the ping-post
 * campaigns with payout rules, and the campaign mix of test/faults/traffic.ts (ping post → fallback ping
 * post → manual review; shared ping post with a campaign cap → push; push round robin).
 */
import { call, callUntilFinal, type RetryStats } from '../../test/faults/traffic';
import { SERVICE_LINE } from '../../test/helpers/world';
import type { Receivers } from './receivers';

export interface Buyer {
  id: string;
  key: string;
  label: string;
}

interface Source {
  id: string;
  key: string;
  /** The campaigns it may ping and post into. */
  campaignIds: string[];
}

export interface World {
  baseUrl: string;
  agencyId: string;
  adminKey: string;
  buyers: Buyer[];
  sources: Source[];
  /** Campaigns the admin's intake cycles through. */
  mix: { campaignId: string; label: string }[];
}

export interface WorldOptions {
  buyers: number;
  credits: number;
  windowSeconds: number;
}

async function must(
  baseUrl: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const stats: RetryStats = { connectionErrors: 0, byStatus: {} };
  const { answer } = await callUntilFinal(() => call(baseUrl, method, path, { key, body }), 60_000, stats);
  if (!answer || answer.status >= 300)
    throw new Error(`${method} ${path}: ${answer?.status} ${JSON.stringify(answer?.body)}`);
  return answer.body;
}

export async function buildWorld(
  baseUrl: string,
  rootToken: string,
  receivers: Receivers,
  opts: WorldOptions,
): Promise<World> {
  const created = await must(baseUrl, 'POST', '/v1/agencies', rootToken, { name: `nemesis-${Date.now()}` });
  const adminKey = created.adminKey as string;
  const agencyId = (created.agency as { id: string }).id;
  await must(baseUrl, 'POST', '/v1/service-lines', adminKey, { key: SERVICE_LINE, name: 'Roofing' });

  const buyers: Buyer[] = [];
  for (let i = 0; i < opts.buyers; i++) {
    const label = i === 0 ? 'capped' : i === 1 ? 'poor' : `buyer${i}`;
    const b = await must(baseUrl, 'POST', '/v1/buyers', adminKey, {
      name: `${label}-${i}`,
      serviceLines: [SERVICE_LINE],
      ...(label === 'capped' ? { caps: { daily: 6 } } : {}),
    });
    const id = (b.buyer as { id: string }).id;
    receivers.setSecret(id, b.webhookSecret as string);
    await must(baseUrl, 'PATCH', `/v1/buyers/${id}`, adminKey, { delivery: { webhookUrl: receivers.url(id) } });
    await must(baseUrl, 'POST', `/v1/buyers/${id}/credits`, adminKey, {
      amount: label === 'poor' ? 45 : opts.credits,
    });
    buyers.push({ id, key: b.apiKey as string, label });
  }

  let campaigns = 0;
  const campaign = async (body: Record<string, unknown>) =>
    (
      (
        await must(baseUrl, 'POST', '/v1/campaigns', adminKey, {
          name: `c-${++campaigns}`,
          serviceLine: SERVICE_LINE,
          price: { base: 10 },
          ...body,
        })
      ).campaign as { id: string }
    ).id;
  const push = await campaign({ mode: 'push', pushStrategy: 'round_robin' });
  const second = await campaign({
    mode: 'ping_post',
    claimWindowSeconds: opts.windowSeconds,
    buyerIds: [buyers[buyers.length - 1]!.id],
  });
  const first = await campaign({
    mode: 'ping_post',
    claimWindowSeconds: opts.windowSeconds,
    fallbackCampaignId: second,
  });
  const shared = await campaign({
    mode: 'ping_post',
    claimWindowSeconds: opts.windowSeconds,
    maxWinners: 2,
    caps: { daily: 400 },
    fallbackCampaignId: push,
    price: { base: 7 },
  });

  const sources: Source[] = [];
  for (const [i, payout] of [
    { kind: 'share', shareBps: 3000 },
    { kind: 'fixed', amount: 3 },
  ].entries()) {
    const s = await must(baseUrl, 'POST', '/v1/sources', adminKey, { name: `source-${i}` });
    const id = (s.source as { id: string }).id;
    for (const campaignId of [first, shared])
      await must(baseUrl, 'POST', `/v1/sources/${id}/campaigns`, adminKey, { campaignId, payout });
    sources.push({ id, key: s.apiKey as string, campaignIds: [first, shared] });
  }

  return {
    baseUrl,
    agencyId,
    adminKey,
    buyers,
    sources,
    mix: [
      { campaignId: first, label: 'ping_post→fallback' },
      { campaignId: shared, label: 'shared→push' },
      { campaignId: first, label: 'ping_post→fallback' },
      { campaignId: push, label: 'push' },
    ],
  };
}
