/**
 * The posting spec of one source: generated from the very zod schemas the
 * ping and post routes validate with (so it cannot drift), with the flow, the
 * refusal codes and a curl example for each campaign the source may post into.
 */
import type { Request } from 'express';
import { z } from 'zod';

import type { DbOrTx } from '../db/connection';
import { type SourceCampaignRow, sourceCampaignRules } from '../db/sources';
import { CONTACT_REFUSALS, type ContactRefusal } from '../domain/types';
import { PingCreate, PostCreate } from './routes/supply.schemas';

const schemaOf = (s: z.ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  return rest;
};

function postingSpec(
  baseUrl: string,
  source: { id: string; name: string },
  campaigns: { rule: SourceCampaignRow; campaignName: string }[],
) {
  const allowed = campaigns.filter((c) => c.rule.allowed);
  return {
    source: { id: source.id, name: source.name },
    flow: [
      'POST /v1/pings with the non-identifying fields (and, to have them checked, the phone and email): the answer is accepted (with the payout) or rejected (with a reason), and a pingId valid until expiresAt.',
      'POST /v1/posts with the pingId and the full lead before expiresAt; every field the ping carried must be the same.',
      'GET /v1/source/leads for the outcome of each lead (pending, sold, unsold, returned) and its payout.',
    ],
    refusals: {
      ping_not_found: 404,
      ping_rejected: 409,
      ping_expired: 410,
      ping_already_posted: 409,
      post_contradicts_ping: 422,
      ...(Object.fromEntries(CONTACT_REFUSALS.map((r) => [r, 422])) as Record<ContactRefusal, 422>),
      campaign_not_allowed: 403,
      source_paused: 403,
      rate_limited: 429,
    },
    ping: { method: 'POST', path: '/v1/pings', body: schemaOf(PingCreate) },
    post: { method: 'POST', path: '/v1/posts', body: schemaOf(PostCreate) },
    campaigns: allowed.map((c) => ({
      campaignId: c.rule.campaignId,
      name: c.campaignName,
      payout:
        c.rule.payoutKind === 'fixed'
          ? { kind: 'fixed', amount: c.rule.payoutAmount }
          : { kind: 'share', shareBps: c.rule.payoutShareBps },
      curl: [
        `curl -s -X POST ${baseUrl}/v1/pings -H "Authorization: Bearer $SOURCE_KEY" -H 'Content-Type: application/json' -d '${JSON.stringify({ campaignId: c.rule.campaignId, fields: { zip: '78701', state: 'TX' } })}'`,
        `curl -s -X POST ${baseUrl}/v1/posts -H "Authorization: Bearer $SOURCE_KEY" -H 'Content-Type: application/json' -d '${JSON.stringify({ pingId: '$PING_ID', fields: { firstName: 'Ada', lastName: 'Lovelace', phone: '5125550100', email: 'ada@example.com', state: 'TX', zip: '78701' } })}'`,
      ],
    })),
  };
}

/** The spec of a source as its caller reaches this API (the curl lines name this host), for the source and for its agency alike. */
export async function postingSpecFor(db: DbOrTx, req: Request, source: { id: string; name: string }) {
  const rules = await sourceCampaignRules(db, source.id);
  return postingSpec(`${req.protocol}://${req.get('host') ?? 'localhost'}`, source, rules);
}
