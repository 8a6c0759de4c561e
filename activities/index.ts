/**
 * Every activity of the lead lifecycle, bound to this process's database and
 * feed bus. Workflows see only the type (`LeadActivities`).
 */
import { bidActivities } from './bids';
import type { ActivityDeps } from './deps';
import { deliveryActivities } from './delivery';
import { offerActivities } from './offers';
import { routingActivities } from './routing';
import { saleActivities } from '../claims/sale';

export type { ActivityDeps, FaultHooks } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    ...routingActivities(deps),
    ...offerActivities(deps),
    ...saleActivities(deps),
    ...deliveryActivities(deps),
    ...bidActivities(deps),
  };
}

export type LeadActivities = ReturnType<typeof createActivities>;
