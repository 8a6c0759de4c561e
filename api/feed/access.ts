/**
 * The feed is for a live key of an active buyer. The sockets of a key that was
 * revoked, or of a buyer that was paused, are closed with 4403 – on the
 * `buyer.access` bus event from whichever process changed it, and on the
 * heartbeat's re-check of every connected key as a backstop.
 */
import { feedAccess } from '../../db/keys';
import type { ApiServices } from '../services';
import type { FeedConnection } from './connection';

/** Closes every socket among `clients` whose key may no longer use the feed (one query for all of them). */
export async function enforceAccess(services: ApiServices, clients: Iterable<FeedConnection>): Promise<void> {
  const live = [...clients].filter((c) => !c.closing);
  if (!live.length) return;
  const allowed = await feedAccess(services.db, [...new Set(live.map((c) => c.buyer.credentialId))]);
  for (const c of live) if (!allowed.has(c.buyer.credentialId)) c.revoke();
}
