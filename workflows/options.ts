import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Database activities retry until they succeed: a lead is never dropped
 * because Postgres was away for a while. Each attempt is short.
 */
export const DB_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s' },
};

/** A sale is on a buyer's critical path (the claim waits for it): retry fast. */
export const SALE_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumInterval: '2s' },
};

/** How deep a fallback chain may go (A → B → C …) before the lead goes to manual review. */
export const MAX_FALLBACK_DEPTH = 5;
