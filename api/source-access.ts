/**
 * What a source key may do, decided in one place: post (ping, post, submit a
 * lead) only while its source is active and only into a campaign the agency
 * allowed for it. Both refusals are 403 with their own code, so a seller can
 * tell "ask the agency" from "wrong key".
 *
 * The answer (the source's status and its rule for the campaign, one query)
 * is remembered for `KEY_CACHE_MS`, like a verified key, so a burst of pings
 * does not look it up on every request. This instance forgets a source at once
 * when the agency changes it (pause, campaign rules); other instances within
 * that second.
 */
import type { Db } from '../db/connection';
import { postingAccess, type SourceCampaignRow } from '../db/sources';
import type { SourceStatus } from '../domain/types';
import { KEY_CACHE_MS, type SourcePrincipal } from './auth';
import { Problem } from './problem';
import type { ApiServices } from './services';

type Access = { status: SourceStatus; rule: SourceCampaignRow | null } | undefined;

/** Remembered answers at most (the oldest go first). */
const CACHE_SIZE = 10_000;

export class SourceAccessCache {
  private readonly answers = new Map<string, { access: Access; sourceId: string; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async access(principal: SourcePrincipal, campaignId: string): Promise<Access> {
    const key = `${principal.agencyId}/${principal.sourceId}/${campaignId}`;
    const cached = this.answers.get(key);
    if (cached && cached.until > this.now()) return cached.access;
    this.answers.delete(key);
    const access = await postingAccess(this.db, principal.agencyId, principal.sourceId, campaignId);
    if (this.answers.size >= CACHE_SIZE) this.answers.delete(this.answers.keys().next().value!);
    this.answers.set(key, { access, sourceId: principal.sourceId, until: this.now() + KEY_CACHE_MS });
    return access;
  }

  /** The source changed (status, campaign rules): ask the database again. */
  forgetSource(sourceId: string): void {
    for (const [k, v] of this.answers) if (v.sourceId === sourceId) this.answers.delete(k);
  }
}

export async function requirePostingSource(
  services: ApiServices,
  principal: SourcePrincipal,
  campaignId: string,
): Promise<SourceCampaignRow> {
  const access = await services.sourceAccess.access(principal, campaignId);
  if (!access || access.status !== 'active')
    throw new Problem(403, 'source_paused', 'This source is paused: the agency does not take its leads now.');
  if (!access.rule) {
    throw new Problem(403, 'campaign_not_allowed', 'This source may not post into that campaign.', {
      errors: [{ in: 'body', path: 'campaignId', message: 'not allowed for this source' }],
    });
  }
  return access.rule;
}
