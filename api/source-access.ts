/**
 * What a source key may do, decided in one place: post (ping, post, submit a
 * lead) only while its source is active and only into a campaign the agency
 * allowed for it. Both refusals are 403 with their own code, so a seller can
 * tell "ask the agency" from "wrong key".
 */
import { and, eq } from 'drizzle-orm';
import { sources } from '../db/schema';
import { allowedRule, type SourceCampaignRow } from '../db/sources';
import type { SourcePrincipal } from './auth';
import { Problem } from './problem';
import type { ApiServices } from './services';

export async function requirePostingSource(services: ApiServices, principal: SourcePrincipal, campaignId: string): Promise<SourceCampaignRow> {
  const [source] = await services.db
    .select({ status: sources.status })
    .from(sources)
    .where(and(eq(sources.id, principal.sourceId), eq(sources.agencyId, principal.agencyId)));
  if (!source || source.status !== 'active') throw new Problem(403, 'source_paused', 'This source is paused: the agency does not take its leads now.');
  const rule = await allowedRule(services.db, principal.sourceId, campaignId);
  if (!rule) {
    throw new Problem(403, 'campaign_not_allowed', 'This source may not post into that campaign.', {
      errors: [{ in: 'body', path: 'campaignId', message: 'not allowed for this source' }],
    });
  }
  return rule;
}
