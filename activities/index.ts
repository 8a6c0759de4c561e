/**
 * Every activity of the lead lifecycle, bound to this process's database and
 * feed bus. Workflows see only the type (`LeadActivities`).
 */
import { saleActivities } from '../claims/sale';
import { bidActivities } from './bids';
import { consentActivities } from './consent';
import { deliveryActivities } from './delivery';
import type { ActivityDeps } from './deps';
import { endpointActivities } from './endpoints';
import { offerActivities } from './offers';
import { rechargeActivities } from './recharge';
import { reconcileActivities } from './reconcile';
import { routingActivities } from './routing';

export type { ActivityDeps, FaultHooks } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    ...routingActivities(deps),
    ...offerActivities(deps),
    ...saleActivities(deps),
    ...deliveryActivities(deps),
    ...consentActivities(deps),
    ...bidActivities(deps),
    ...rechargeActivities(deps),
    ...endpointActivities(deps),
    ...reconcileActivities(deps),
  };
}

export type LeadActivities = ReturnType<typeof createActivities>;
