import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

import type { DeliveryRetry } from '../domain/delivery';

/**
 * The lean lifecycle (route-and-open and sales as local activities, claims
 * validated before they touch history). Leads started before it run the
 * frozen first lifecycle (workflows/v1); see docs/operations.md for when that
 * branch can be retired (`deprecatePatch`, then removal).
 */
export const LEAN_LIFECYCLE_PATCH = 'lean-lifecycle';

/**
 * A returned lead's re-offer names its offer children after itself (`lead-<id>-return-<dispute>-offer-<n>`,
 * domain/ids.ts) instead of reusing the first run's `lead-<id>-offer-<n>`. Re-offers that started a child before it
 * replay the old names.
 */
export const UNIQUE_OFFER_CHILDREN_PATCH = 'unique-offer-children';

/** Business refusals and missing rows: retrying cannot help. */
const NON_RETRYABLE = ['RouteNotFound', 'AssignmentNotFound'];

/**
 * The lifecycle's database steps run as local activities, inside the workflow
 * task that needs them (no trip through the server's matching). Each attempt
 * is short and the attempts are bounded (about 1.5 minutes), so one bad row
 * cannot hold a lead forever: the workflow sends the lead to manual review
 * when they run out.
 */
export const LOCAL_DB_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: {
    initialInterval: '200ms',
    backoffCoefficient: 2,
    maximumInterval: '5s',
    maximumAttempts: 20,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/** A sale is on a buyer's critical path (the claim waits for it): retry fast, a bounded number of times. */
export const LOCAL_SALE_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: {
    initialInterval: '100ms',
    backoffCoefficient: 2,
    maximumInterval: '2s',
    maximumAttempts: 20,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/**
 * The lead's status (manual review, rejected) is where a lead lands when
 * everything else failed: it retries until the database is back.
 */
export const LOCAL_STATUS_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: {
    initialInterval: '500ms',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/**
 * The first lifecycle's database activities (workflows/v1) retry until they
 * succeed: a lead is never dropped because Postgres was away for a while.
 */
export const DB_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s' },
};

/** The first lifecycle's sales (workflows/v1): retry fast. */
export const SALE_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumInterval: '2s' },
};

/** How deep a fallback chain may go (A → B → C …) before the lead goes to manual review. */
export const MAX_FALLBACK_DEPTH = 5;

/** Old histories (before delivery channels) replay without them; new runs deliver on the buyer's channels. */
export const DELIVERY_CHANNELS_PATCH = 'delivery-channels';

export type { DeliveryRetry };

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

/**
 * A sale's consent certificate is claimed (#23 item 4) before its channels run, as its own retried activity, with the
 * channels' retry schedule; a provider's refusal is final. Histories from before it have no claim to replay.
 */
export const CONSENT_CLAIM_PATCH = 'consent-claim';

export function consentClaimActivityOptions(r: DeliveryRetry): ActivityOptions {
  const { retry, ...rest } = deliveryActivityOptions(r);
  return { ...rest, retry: { ...retry, nonRetryableErrorTypes: ['ConsentClaimRefused', 'AssignmentNotFound'] } };
}

/**
 * Buyers' own systems in the auction (#22): a `ping_tree` campaign's offer is decided by its tiers – each pinged by
 * one activity, the best bid at or above the floor reserved, posted and, when accepted, sold. Only runs whose route
 * is a ping tree reach it (campaigns before it had none), so no older history holds its marker.
 */
export const PING_TREE_PATCH = 'endpoint-ping-tree';

/**
 * Endpoint bidders in a highest-bid auction (#22): when the offer opens, the campaign's eligible endpoint bidders are
 * pinged by one activity running beside the bid window; their accepted bids join the sealed bids, and an endpoint
 * winner is sold by reserve → post → sale. Only runs whose route names endpoint bidders reach it (campaigns before
 * it had none), so no older history holds its marker.
 */
export const ENDPOINT_HIGHEST_BID_PATCH = 'endpoint-highest-bid';

/**
 * A round of pings that failed as a whole (the worker died mid-round and the activity, which is never retried, timed
 * out) answers no bids, as a round in which nobody bid would: the tree goes on to its next tier, a highest-bid desk
 * to its feed bids. Before it, such a failure failed the lead's workflow and left the lead `offered`; only a failed
 * round reaches the marker, so histories without one replay as before.
 */
export const PING_ROUND_FAILURE_PATCH = 'endpoint-ping-round-failure';

/** One tier's pings: one deadline over them all (each call also has its own timeout, at most 10 s). */
export const PING_TIER_DEADLINE_MS = 10_000;

/** The tier's pings, one activity: no retry (a retry would ping every buyer again; a late answer is no bid). */
export const PING_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: PING_TIER_DEADLINE_MS + 5_000,
  retry: { maximumAttempts: 1 },
};

/**
 * The post to the winner: resent with the same `Idempotency-Key` after a crash or a lost answer, a bounded number of
 * times; if it never answers, the lead goes to review as `post_unknown` (never a second buyer meanwhile).
 */
export const POST_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 5 },
};
