/**
 * Every activity attempt, observed from one place (a Temporal activity
 * interceptor, so the activities themselves stay untouched):
 *
 * - a child logger carrying activity, workflowId, attempt and the ids found in
 *   the input (leadId, offerId, buyerId, assignmentId), available inside the
 *   activity as `activityLog()`; a failed attempt is logged at warn; with tracing on,
 *   every line carries the workflow's trace_id (this interceptor runs outside the
 *   OpenTelemetry plugin's, so it enters the trace context the workflow sent in the
 *   activity's headers; inside the activity the RunActivity span is the active one);
 * - duration and failure metrics by activity type;
 * - business outcomes read off the inputs and results: offers opened and
 *   closed, leads sold / sent to review / rejected, deliveries by channel
 *   (delivered, attempt_failed per failed attempt, failed once retries are spent).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import { context as otelContext } from '@opentelemetry/api';
import type { Context } from '@temporalio/activity';
import type { Next } from '@temporalio/common';
import { extractContextFromHeaders } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
} from '@temporalio/worker';

import { idsOf, type Logger, logger } from './logger';
import { activityDuration, activityFailures, deliveries, leadOutcomes, offersClosed, offersOpened } from './metrics';

const current = new AsyncLocalStorage<Logger>();

/** The logger of the running activity (with its ids), or the process logger outside one. */
export function activityLog(): Logger {
  return current.getStore() ?? logger;
}

const FINAL_LEAD_OUTCOMES = new Set(['sold', 'manual_review', 'rejected']);

const SALES = new Set(['postAndCharge', 'pushAssign', 'assignDirect']);

function countOutcomes(activity: string, input: Record<string, unknown>, result: unknown): void {
  const won = (r: unknown) => !!r && typeof r === 'object' && (r as { result?: unknown }).result === 'won';
  if (SALES.has(activity)) countSales(activity, input, Array.isArray(result) ? result : [result]);
  if (activity === 'openOffer' && typeof input.kind === 'string') offersOpened.inc({ kind: input.kind });
  else if (activity === 'routeAndOpen') {
    const routed = result as { route?: { mode?: string }; offer?: unknown } | null;
    if (routed?.offer && typeof routed.route?.mode === 'string') offersOpened.inc({ kind: routed.route.mode });
  } else if (activity === 'closeOffer' && typeof input.outcome === 'string') {
    offersClosed.inc({ outcome: input.outcome });
    if (input.outcome === 'won') leadOutcomes.inc({ outcome: 'sold' });
  } else if (
    activity === 'setLeadStatus' &&
    typeof input.status === 'string' &&
    FINAL_LEAD_OUTCOMES.has(input.status)
  ) {
    leadOutcomes.inc({ outcome: input.status });
  } else if (activity === 'assignDirect' && won(result) && !(result as { closedOffer?: boolean }).closedOffer)
    leadOutcomes.inc({ outcome: 'sold' });
  // A channel's final failure, after its retries (each failed attempt is counted as attempt_failed).
  else if (activity === 'recordDeliveryFailure' && typeof input.channel === 'string')
    deliveries.inc({ channel: input.channel, status: 'failed' });
}

/**
 * A sale records the dashboard delivery in its transaction and, when it fills
 * the offer, closes it (the lead is sold); a push assignment asked to close
 * its offer closes it either way.
 */
function countSales(activity: string, input: Record<string, unknown>, results: unknown[]): void {
  const sales = results.filter(
    (r): r is { result: 'won'; closedOffer?: boolean } =>
      !!r && typeof r === 'object' && (r as { result?: unknown }).result === 'won',
  );
  for (let i = 0; i < sales.length; i++) deliveries.inc({ channel: 'dashboard', status: 'delivered' });
  const closedBySale = sales.some((s) => s.closedOffer);
  const pushClosed = activity === 'pushAssign' && input.close === true;
  if (!closedBySale && !pushClosed) return;
  const outcome = sales.length ? 'won' : 'expired';
  offersClosed.inc({ outcome });
  if (outcome === 'won') leadOutcomes.inc({ outcome: 'sold' });
}

function deliveryChannel(activity: string, input: Record<string, unknown>): string | null {
  if (!/^deliver/.test(activity) || activity === 'deliveryChannels') return null;
  if (typeof input.channel === 'string') return input.channel;
  return activity.replace(/^deliver(To)?/, '').toLowerCase() || 'unknown';
}

function deliveryStatus(result: unknown): string {
  const s = result && typeof result === 'object' ? (result as { status?: unknown }).status : undefined;
  return typeof s === 'string' ? s : 'delivered';
}

let lastActivityStartedAt: number | null = null;

/** When this process last started an activity (the worker's `/readyz` shows it); null: none yet. */
export function lastActivityAt(): Date | null {
  return lastActivityStartedAt === null ? null : new Date(lastActivityStartedAt);
}

export const observeActivities: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    execute(input, next) {
      const traced = extractContextFromHeaders(input.headers);
      return traced ? otelContext.with(traced, () => observe(ctx, input, next)) : observe(ctx, input, next);
    },
  },
});

async function observe(
  ctx: Context,
  input: ActivityExecuteInput,
  next: Next<ActivityInboundCallsInterceptor, 'execute'>,
): Promise<unknown> {
  lastActivityStartedAt = Date.now();
  const { activityType, workflowExecution, attempt } = ctx.info;
  const arg = (input.args[0] ?? {}) as Record<string, unknown>;
  const log = logger.child({
    activity: activityType,
    workflowId: workflowExecution?.workflowId,
    attempt,
    ...idsOf(input.args[0]),
  });
  const channel = deliveryChannel(activityType, Array.isArray(arg) ? {} : arg);
  const started = performance.now();
  try {
    const result = await current.run(log, () => next(input));
    activityDuration.observe({ activity: activityType, result: 'ok' }, (performance.now() - started) / 1000);
    countOutcomes(activityType, arg, result);
    if (channel) deliveries.inc({ channel, status: deliveryStatus(result) });
    log.debug('activity completed');
    return result;
  } catch (err) {
    const seconds = (performance.now() - started) / 1000;
    const type = err instanceof Error ? ((err as { type?: string }).type ?? err.name) : 'unknown';
    activityDuration.observe({ activity: activityType, result: 'error' }, seconds);
    activityFailures.inc({ activity: activityType, error: type });
    if (channel) deliveries.inc({ channel, status: 'attempt_failed' });
    log.warn({ err, ms: Math.round(seconds * 1000) }, 'activity attempt failed');
    throw err;
  }
}
