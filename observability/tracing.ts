/**
 * OpenTelemetry tracing, end to end and off by default: the API request (a server span per HTTP
 * request), the Temporal client, workflows and activities (@temporalio/interceptors-opentelemetry's
 * plugin), every Postgres statement run inside a traced operation (the sale's transaction among them),
 * and the outgoing delivery webhook (a client span, and a `traceparent` header for the receiver).
 *
 * Configured by the standard variables: tracing is on when OTEL_TRACES_EXPORTER is `otlp` or `console`,
 * or an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, with
 * OTEL_EXPORTER_OTLP_HEADERS etc. read by the exporter itself); OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none turns it off; OTEL_SERVICE_NAME names the process (default LW_SERVICE).
 * Tests call installTracing() with an in-memory exporter.
 *
 * The hooks in the hot path are one-line calls into this file, and cost nothing when tracing is off.
 */
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { NextFunction, Request, Response } from 'express';
import pg from 'pg';

const TRACER = 'leadwire';

interface Installed {
  provider: NodeTracerProvider;
  plugin: OpenTelemetryPlugin;
  restorePg: () => void;
}
let installed: Installed | null = null;

/** Which exporter the environment asks for; null when tracing stays off. */
export function exporterFromEnv(env: NodeJS.ProcessEnv = process.env): 'otlp' | 'console' | null {
  if (env.OTEL_SDK_DISABLED === 'true') return null;
  const chosen = (env.OTEL_TRACES_EXPORTER ?? '').split(',')[0]?.trim();
  if (chosen === 'none') return null;
  if (chosen === 'console') return 'console';
  if (chosen === 'otlp' || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return 'otlp';
  return null;
}

/** Called first thing by bin/*.ts: installs tracing when the OTEL_* environment asks for it. */
export function installTracingFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const kind = exporterFromEnv(env);
  if (!kind) return false;
  const exporter = kind === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter();
  installTracing(new BatchSpanProcessor(exporter), env.OTEL_SERVICE_NAME || env.LW_SERVICE || 'leadwire');
  return true;
}

/** Installs the global tracer provider (AsyncLocalStorage context, W3C trace context) and the hooks. */
export function installTracing(spanProcessor: SpanProcessor, serviceName = 'leadwire'): void {
  if (installed) throw new Error('tracing is already installed');
  const resource = new Resource({ 'service.name': serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  installed = { provider, plugin: new OpenTelemetryPlugin({ resource, spanProcessor }), restorePg: tracePgQueries() };
}

/** Flushes and removes tracing (tests; processes call it on shutdown). */
export async function shutdownTracing(): Promise<void> {
  const i = installed;
  if (!i) return;
  installed = null;
  i.restorePg();
  await i.provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
}

/** For Client and Worker options: `plugins: temporalTracingPlugins()` ([] when tracing is off). */
export function temporalTracingPlugins(): OpenTelemetryPlugin[] {
  return installed ? [installed.plugin] : [];
}

/** Express middleware: one server span per request, active while the request is handled. */
export function traceRequests(req: Request, res: Response, next: NextFunction): void {
  if (!installed) return next();
  const tracer = trace.getTracer(TRACER);
  const parent = propagation.extract(context.active(), req.headers);
  const span = tracer.startSpan(
    `${req.method} ${req.path}`,
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.path } },
    parent,
  );
  res.once('finish', () => {
    const route = (req.route as { path?: string } | undefined)?.path;
    if (route) span.updateName(`${req.method} ${req.baseUrl}${route}`);
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
}

/**
 * Runs an outgoing HTTP call in a client span and adds the W3C trace headers to `headers`
 * (activities/channels/http-post.ts wraps its request in it).
 */
export async function traceOutgoing<T>(
  name: string,
  url: URL,
  headers: Record<string, string>,
  send: (headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  if (!installed) return send(headers);
  return trace.getTracer(TRACER).startActiveSpan(
    name,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': 'POST',
        'server.address': url.hostname,
        'url.full': `${url.origin}${url.pathname}`,
      },
    },
    async (span) => {
      const carrier: Record<string, string> = { ...headers };
      propagation.inject(context.active(), carrier);
      try {
        return await send(carrier);
      } catch (err) {
        fail(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

function fail(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : new Error(String(err)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * A span per Postgres statement (node-postgres), but only inside a traced operation (an active span):
 * the pollers and the bus's LISTEN connection stay out of the traces. Returns the undo.
 */
function tracePgQueries(): () => void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function tracedQuery(this: unknown, ...args: unknown[]): unknown {
    const parent = trace.getSpan(context.active());
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
    if (!parent || !text) return original.apply(this, args);
    const span = trace
      .getTracer(TRACER)
      .startSpan(`pg ${text.trimStart().split(/\s/, 1)[0]?.toUpperCase() ?? 'query'}`, {
        kind: SpanKind.CLIENT,
        attributes: { 'db.system': 'postgresql', 'db.statement': text.slice(0, 500) },
      });
    const done = (err: unknown) => {
      if (err) fail(span, err);
      span.end();
    };
    // pg-pool's pool.query() passes a callback; drizzle's transactions use the promise form.
    const cb = args.findIndex((a) => typeof a === 'function');
    if (cb >= 0) {
      const inner = args[cb] as (err: unknown, ...rest: unknown[]) => void;
      args[cb] = (err: unknown, ...rest: unknown[]) => {
        done(err);
        inner(err, ...rest);
      };
    }
    const result = context.with(trace.setSpan(context.active(), span), () => original.apply(this, args));
    if (cb < 0) {
      if (result && typeof (result as Promise<unknown>).then === 'function')
        (result as Promise<unknown>).then(() => done(null), done);
      else span.end();
    }
    return result;
  };
  return () => {
    proto.query = original;
  };
}
