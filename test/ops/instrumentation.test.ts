/**
 * The maintained OpenTelemetry instrumentations really hook the modules, outside Jest's module registry: as tsx
 * runs the sources and as node runs the compiled dist/ (`npm run build`). test/fixtures/trace-probe.ts, in its own
 * process, serves the real API on the run's Postgres and fetch()es a route inside a `probe` span; the spans it
 * prints must form one trace: probe → fetch (undici) → the API's server span (http, named by the express route) →
 * the route handler (express) → the key's look-up (pg).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { SpanKind } from '@opentelemetry/api';
import { transformSync } from 'esbuild';

jest.setTimeout(5 * 60_000);

const ROOT = path.resolve(__dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const PROBE = path.join(ROOT, 'test/fixtures/trace-probe.ts');

interface ProbeSpan {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  scope: string;
  attributes: Record<string, unknown>;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      file,
      args,
      { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
    ),
  );
}

function probeResult(stdout: string): { status: number; spans: ProbeSpan[] } {
  const last = stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as { status: number; spans: ProbeSpan[] };
}

/** The chain of spans from `span` up to the root, as `scope name` strings. */
function chain(spans: ProbeSpan[], span: ProbeSpan): ProbeSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const out = [span];
  for (let p = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; p;) {
    out.push(p);
    p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined;
  }
  return out;
}

function expectOneTrace(result: { status: number; spans: ProbeSpan[] }): void {
  expect(result.status).toBe(401); // the unknown key, refused after its look-up
  const { spans } = result;
  const query = spans.find(
    (s) => s.scope === '@opentelemetry/instrumentation-pg' && /api_keys/.test(String(s.attributes['db.statement'])),
  );
  expect(query).toBeDefined();
  const path = chain(spans, query!);
  // Every span of the request is in the probe's trace, and the root is the probe's own span.
  expect(new Set(path.map((s) => s.traceId)).size).toBe(1);
  expect(path.at(-1)).toMatchObject({ name: 'probe', parentSpanId: null });
  const [, ...above] = path;
  const scopes = above.map((s) => s.scope);
  // query ← express handler(s) ← the server span ← the fetch ← probe
  const server = above.find((s) => s.scope === '@opentelemetry/instrumentation-http')!;
  expect(server).toMatchObject({ kind: SpanKind.SERVER, name: 'GET /v1/buyers' });
  expect(server.attributes['http.route']).toBe('/v1/buyers');
  expect(scopes.slice(0, scopes.indexOf('@opentelemetry/instrumentation-http'))).toContain(
    '@opentelemetry/instrumentation-express',
  );
  const fetchSpan = above[above.indexOf(server) + 1]!;
  expect(fetchSpan).toMatchObject({ scope: '@opentelemetry/instrumentation-undici', kind: SpanKind.CLIENT });
  expect(above[above.indexOf(fetchSpan) + 1]!.name).toBe('probe');
}

test('under tsx on the sources, the http, express, pg and undici instrumentations make one trace of a request', async () => {
  const out = await run(path.join(ROOT, 'node_modules/.bin/tsx'), [PROBE], { PROBE_ROOT: ROOT });
  expectOneTrace(probeResult(out));
});

test('under node on the compiled dist/, the same', async () => {
  await run('npm', ['run', 'build'], {});
  // The probe itself compiled to CommonJS beside nothing: its packages resolve from the project's node_modules.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trace-probe-'));
  const probe = path.join(dir, 'trace-probe.js');
  fs.writeFileSync(probe, transformSync(fs.readFileSync(PROBE, 'utf8'), { loader: 'ts', format: 'cjs' }).code);
  try {
    const out = await run(NODE, [probe], {
      PROBE_ROOT: path.join(ROOT, 'dist'),
      NODE_PATH: path.join(ROOT, 'node_modules'),
    });
    expectOneTrace(probeResult(out));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
