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

/** Old histories (before delivery channels) replay without them; new runs deliver on the buyer's channels. */
export const DELIVERY_CHANNELS_PATCH = 'delivery-channels';

/** A delivery channel's retry policy, chosen by the worker's configuration (tests retry fast). */
export interface DeliveryRetry {
  /** One attempt's limit (the HTTP timeout plus a margin). */
  attemptTimeoutMs: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** Bounded: after the last attempt the delivery is failed for good. */
  maximumAttempts: number;
}

export function deliveryActivityOptions(r: DeliveryRetry): ActivityOptions {
  return {
    startToCloseTimeout: r.attemptTimeoutMs,
    retry: {
      initialInterval: r.initialIntervalMs,
      backoffCoefficient: r.backoffCoefficient,
      maximumInterval: r.maximumIntervalMs,
      maximumAttempts: r.maximumAttempts,
      nonRetryableErrorTypes: ['DeliveryRefused', 'EndpointGone', 'ChannelNotConfigured'],
    },
  };
}
