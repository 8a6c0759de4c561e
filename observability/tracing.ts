/**
 * OpenTelemetry tracing, end to end and off by default: the API request (the server span of
 * @opentelemetry/instrumentation-http, named by its Express route template by
 * @opentelemetry/instrumentation-express), the Temporal client, workflows and activities
 * (@temporalio/interceptors-opentelemetry's plugin), every Postgres statement run inside a traced
 * operation (@opentelemetry/instrumentation-pg; the sale's transaction among them), and every outgoing
 * HTTP call made inside one: the delivery webhook and the buyer endpoints through node:http
 * (instrumentation-http), fetch() through @opentelemetry/instrumentation-undici, each a client span and
 * a `traceparent` header for the receiver.
 *
 * The SDK is the 1.x line (sdk-trace 1.30, instrumentations 0.57) because Temporal's interceptors
 * (@temporalio/interceptors-opentelemetry 1.24) are built on it; the Express instrumentation is 0.49,
 * the first with Express 5 support, which brings its own 0.200 instrumentation base and core 2.x
 * (it talks to the tracer through @opentelemetry/api only). docs/operations.md says how to move to 2.x.
 *
 * Configured by the standard variables: tracing is on when OTEL_TRACES_EXPORTER is `otlp` or `console`,
 * or an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, with
 * OTEL_EXPORTER_OTLP_HEADERS etc. read by the exporter itself); OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none turns it off; OTEL_SERVICE_NAME names the process (default LW_SERVICE).
 * Tests call installTracing() with an in-memory exporter.
 *
 * Nothing sits in the hot path when tracing is off: the instrumentations are registered only by installTracing.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { type InstrumentationModuleDefinition, registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import express from 'express';
import pg from 'pg';

interface Installed {
  provider: NodeTracerProvider;
  plugin: OpenTelemetryPlugin;
  unregister: () => void;
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

/** Installs the global tracer provider (AsyncLocalStorage context, W3C trace context) and the instrumentations. */
export function installTracing(spanProcessor: SpanProcessor, serviceName = 'leadwire'): void {
  if (installed) throw new Error('tracing is already installed');
  const resource = new Resource({ 'service.name': serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  const instrumentations = [
    new HttpInstrumentation({
      // Probes and scrapes are not requests worth a trace; outgoing calls are traced inside a traced operation only
      // (the OTLP exporter's own posts, pollers and timers stay out).
      ignoreIncomingRequestHook: (req) => /^\/(metrics|healthz|readyz)(\?|$)/.test(req.url ?? ''),
      requireParentforOutgoingSpans: true,
    }),
    // Route handlers and routers as spans; the middleware in front of every route would only add noise.
    new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
    // Statements inside a traced operation only: the pollers and the bus's LISTEN connection stay out.
    new PgInstrumentation({ requireParentSpan: true }),
    new UndiciInstrumentation({ requireParentforSpans: true }),
  ];
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations });
  hookLoaded(instrumentations, { http, https, express, pg });
  installed = { provider, plugin: new OpenTelemetryPlugin({ resource, spanProcessor }), unregister };
}

/** Flushes and removes tracing (tests; processes call it on shutdown). */
export async function shutdownTracing(): Promise<void> {
  const i = installed;
  if (!i) return;
  installed = null;
  i.unregister();
  await i.provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
}

/** For Client and Worker options: `plugins: temporalTracingPlugins()` ([] when tracing is off). */
export function temporalTracingPlugins(): OpenTelemetryPlugin[] {
  return installed ? [installed.plugin] : [];
}

/**
 * The instrumentations hook `require`: a module loaded before they were registered is patched only when required
 * again. The entry points load express and pg before main() installs tracing, and Jest loads modules through its
 * own registry, which require hooks never see: so the copies this process already holds (the ones this file
 * imported, shared with the API, the pool and the activities) are handed to the instrumentations' own patch
 * functions, recorded so that unregistering unpatches them. Node's fetch needs nothing: undici reports through
 * diagnostics_channel.
 */
function hookLoaded(
  instrumentations: { getModuleDefinitions(): InstrumentationModuleDefinition[] }[],
  loaded: Record<string, unknown>,
): void {
  for (const instrumentation of instrumentations) {
    for (const definition of instrumentation.getModuleDefinitions()) {
      const version = moduleVersion(definition.name);
      const exports = loaded[definition.name];
      if (exports && definition.patch) {
        definition.moduleExports = exports;
        definition.moduleVersion = version;
        definition.patch(exports, version);
      }
    }
  }
}

function moduleVersion(name: string): string | undefined {
  if (name === 'http' || name === 'https') return process.versions.node;
  try {
    return (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string })
      .version;
  } catch {
    return undefined;
  }
}
