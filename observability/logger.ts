/**
 * Structured JSON logs (pino), one line per event, carrying the ids ops
 * search by: leadId, offerId, workflowId, buyerId, where known.
 *
 *   LOG_LEVEL               this process's level (default info)
 *   LW_TEMPORAL_LOG_LEVEL   the Temporal SDK's own logs (worker runtime, core): default WARN
 *
 * Activities get a child logger with their ids from the activity interceptor
 * (observability/activity.ts); the API logs one line per request (pino-http, api/request-log.ts).
 * Every line written inside a request carries its `requestId`, and every line written inside a traced
 * operation (an API request, an activity of a traced workflow) its `trace_id` and `span_id` (`logContext`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import pino, { type Logger } from 'pino';

import { setting } from '../lib/config';

export type { Logger } from 'pino';

/**
 * Jest's own processes stay readable unless LOG_LEVEL asks for logs. Processes a
 * test spawns (a worker under fault injection) inherit JEST_WORKER_ID but are
 * not Jest: they log as in production.
 */
function insideJest(): boolean {
  return !!process.env.JEST_WORKER_ID && /jest/.test(process.argv[1] ?? '');
}

/**
 * LOG_LEVEL, read when this module loads (before an entry point validates the whole configuration): a bad
 * value logs at `info` here, and the entry point's `loadConfig` then stops the process naming it.
 */
function logLevel(): string {
  let level: string | null = null;
  try {
    level = setting('LOG_LEVEL');
  } catch {
    level = 'info';
  }
  return level ?? (insideJest() ? 'silent' : 'info');
}

const requestIds = new AsyncLocalStorage<string>();

/** Runs `fn` (the rest of a request's handling) with `id` as the `requestId` of every line logged inside it. */
export function withRequestId<T>(id: string, fn: () => T): T {
  return requestIds.run(id, fn);
}

/**
 * The pino mixin of every Leadwire logger: the request being handled (`requestId`) and the active
 * OpenTelemetry span (`trace_id`, `span_id`, as the OpenTelemetry log data model names them), where there are.
 */
export function logContext(): Record<string, string> {
  const out: Record<string, string> = {};
  const requestId = requestIds.getStore();
  if (requestId) out.requestId = requestId;
  const span = trace.getSpanContext(context.active());
  if (span && isSpanContextValid(span)) {
    out.trace_id = span.traceId;
    out.span_id = span.spanId;
  }
  return out;
}

export const logger: Logger = pino({
  level: logLevel(),
  mixin: logContext,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  base: { pid: process.pid, ...(service() ? { service: service() } : {}) },
});

/** The ids a log line may carry. */
export interface LogIds {
  leadId?: string | null;
  offerId?: string | null;
  workflowId?: string | null;
  buyerId?: string | null;
  assignmentId?: string | null;
  campaignId?: string | null;
}

/** Picks the ids out of an activity input or a request (only string values). */
export function idsOf(value: unknown): LogIds {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v || typeof v !== 'object') return {};
  const out: Record<string, string> = {};
  for (const k of ['leadId', 'offerId', 'workflowId', 'buyerId', 'assignmentId', 'campaignId'] as const) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'string') out[k] = x;
  }
  return out;
}

/**
 * The console-style logger the API takes (`warn(message, meta)`,
 * `error(message, meta)`), writing through pino: an Error in `meta` is
 * logged as `err` with its stack.
 */
export function consoleStyle(log: Logger = logger): {
  error(message: string, meta?: unknown): void;
  warn(message: string, meta?: unknown): void;
} {
  const fields = (meta: unknown) => (meta === undefined ? {} : meta instanceof Error ? { err: meta } : { meta });
  return {
    error: (message, meta) => log.error(fields(meta), message),
    warn: (message, meta) => log.warn(fields(meta), message),
  };
}

const SEVERITY: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };
const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

function service(): string | null {
  return setting('LW_SERVICE');
}

export function temporalLogLevel(value = process.env.LW_TEMPORAL_LOG_LEVEL): LogLevel {
  const v = (value ?? '').toUpperCase();
  return v in SEVERITY ? (v as LogLevel) : 'WARN';
}

/** The Temporal SDK's Logger interface on top of pino, dropping everything below `level`. */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(
    private readonly out: Logger,
    readonly level: LogLevel = 'WARN',
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (SEVERITY[level] < SEVERITY[this.level]) return;
    const { error, ...rest } = (meta ?? {}) as Record<string, unknown>;
    this.out[PINO_LEVEL[level]]({ ...rest, ...(error !== undefined ? { err: error } : {}) }, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
