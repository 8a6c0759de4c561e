/**
 * One validated configuration (lib/config.ts): defaults, a bad value named with what was expected, every
 * environment variable the production code reads declared in the schema, `npm run config` masking secrets,
 * an entry point refusing to start on a bad value, and the README's table generated from the schema.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { readmeWithTable } from '../../bin/config';
import { ConfigError, readConfig, setting, SETTINGS } from '../../lib/config';
import { temporalTargetFromEnv } from '../../temporal/connection';
import { cli } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '../..');

test('an empty environment gives every default', () => {
  const c = readConfig({});
  expect(c.PORT).toBe(3000);
  expect(c.DATABASE_URL).toBeNull();
  expect(c.LW_TASK_QUEUE).toBe('leadwire');
  expect(c.LW_PING_TTL_SECONDS).toBe(60);
  expect(c.LW_DELIVERY_BACKOFF).toBe(3);
  expect(c.LW_TRUST_PROXY).toBeUndefined();
  // Empty counts as unset, as the shell's `FOO= cmd` means.
  expect(readConfig({ PORT: '', LW_TASK_QUEUE: '  ' }).PORT).toBe(3000);
});

test('values are typed by their schema', () => {
  const c = readConfig({
    PORT: '8080',
    LW_TRUST_PROXY: '1',
    LW_DELIVERY_BACKOFF: '2.5',
    LOG_LEVEL: 'WARN',
    LW_TEMPORAL_LOG_LEVEL: 'debug',
  });
  expect(c.PORT).toBe(8080);
  expect(c.LW_TRUST_PROXY).toBe(1);
  expect(c.LW_DELIVERY_BACKOFF).toBe(2.5);
  expect(c.LOG_LEVEL).toBe('warn');
  expect(c.LW_TEMPORAL_LOG_LEVEL).toBe('DEBUG');
  expect(readConfig({ LW_TRUST_PROXY: 'loopback, 10.0.0.0/8' }).LW_TRUST_PROXY).toBe('loopback, 10.0.0.0/8');
  expect(readConfig({ LW_TRUST_PROXY: 'false' }).LW_TRUST_PROXY).toBe(false);
});

test('a mistyped value is refused with the variable and what was expected, never defaulted', () => {
  expect(() => readConfig({ LW_PING_TTL_SECONDS: '60s' })).toThrow(
    'LW_PING_TTL_SECONDS="60s": expected a whole number ≥ 1',
  );
  expect(() => setting('PORT', { PORT: '70000' })).toThrow('PORT="70000": expected a whole number 0–65535');
  expect(() => setting('DATABASE_URL', { DATABASE_URL: 'localhost:5432' })).toThrow(
    'expected a URL (postgres:// or postgresql://)',
  );
  expect(() => setting('LOG_LEVEL', { LOG_LEVEL: 'verbose' })).toThrow('expected one of fatal, error, warn');
  // Every bad variable at once, so one restart fixes them all.
  try {
    readConfig({ PORT: 'x', LW_MAX_IN_FLIGHT_PER_KEY: '0', TEMPORAL_ADDRESS: 'no port' });
    throw new Error('not refused');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.name)).toEqual([
      'PORT',
      'TEMPORAL_ADDRESS',
      'LW_MAX_IN_FLIGHT_PER_KEY',
    ]);
  }
});

/** Production folders: every variable they read goes through the schema. */
const PRODUCTION = [
  'activities',
  'api',
  'bin',
  'claims',
  'db',
  'domain',
  'lib',
  'observability',
  'ops',
  'payments',
  'worker',
  'workflows',
];
/** Read by libraries (the OpenTelemetry SDK's own variables) or by the test harness, not Leadwire's settings. */
const NOT_SETTINGS = new Set([
  'OTEL_SDK_DISABLED',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_SERVICE_NAME',
  'JEST_WORKER_ID',
  // The fault campaign's own tool setting (where initdb and pg_ctl are; docs/guarantees.md), not a process's.
  'LW_NEMESIS_PG_BIN',
  // The system's search path, where the Go builds (lib/go-install.ts) look for `go`.
  'PATH',
]);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

test('every environment variable the production code reads is declared in the schema', () => {
  const read = new Set<string>();
  for (const dir of PRODUCTION)
    for (const file of sources(path.join(ROOT, dir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\b(?:process\.env|env)\.([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!);
      for (const m of text.matchAll(/\bprocess\.env\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) read.add(m[1]!);
    }
  const undeclared = [...read].filter((name) => !(name in SETTINGS) && !NOT_SETTINGS.has(name));
  expect(undeclared).toEqual([]);
});

test("the README's configuration table is the one the schema generates", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  // On a difference: `npm run config -- --readme` writes the table from lib/config.ts.
  expect(readmeWithTable(readme)).toBe(readme);
});

test('npm run config prints the effective configuration with secrets masked', async () => {
  const { code, stdout } = await cli('bin/config.ts', [], {
    DATABASE_URL: 'postgres://leadwire:s3cret-password@db.internal:5432/leadwire',
    LW_ROOT_TOKEN: 'lw_root_do-not-print-this-token',
    LW_PROVIDER_WEBHOOK_SECRET: 'whsec_dGhpcyBpcyBzZWNyZXQ=',
    PORT: '8080',
  });
  expect(code).toBe(0);
  expect(stdout).toMatch(/^PORT\s+8080\s+\[environment\]$/m);
  expect(stdout).toMatch(/^LW_TASK_QUEUE\s+leadwire\s+\[default\]$/m);
  expect(stdout).toContain('postgres://leadwire:********@db.internal:5432/leadwire');
  expect(stdout).toMatch(/^LW_ROOT_TOKEN\s+\*{8}\s+\[environment\]$/m);
  for (const secret of ['s3cret-password', 'do-not-print-this-token', 'dGhpcyBpcyBzZWNyZXQ='])
    expect(stdout).not.toContain(secret);
});

test('npm run config and a process given a bad value stop with the variable named (exit 78)', async () => {
  const config = await cli('bin/config.ts', [], { LW_WEBHOOK_TIMEOUT_MS: 'ten seconds' });
  expect(config.code).toBe(78);
  expect(config.stderr).toContain('LW_WEBHOOK_TIMEOUT_MS="ten seconds": expected a whole number ≥ 1');

  const migrate = await cli('bin/migrate.ts', [], { DATABASE_POOL_SIZE: 'lots' });
  expect(migrate.code).toBe(78);
  expect(migrate.stderr).toContain('DATABASE_POOL_SIZE="lots": expected a whole number 1–1000');
  expect(migrate.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
});

test('docs/operations.md shows what npm run config answers to a bad value', async () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
  const example = /^LW_PING_TTL_SECONDS=60s npm run config\n((?:# .*\n)+)/m.exec(doc);
  expect(example).not.toBeNull();
  const shown = example![1]!.replace(/^# /gm, '');
  const { code, stderr } = await cli('bin/config.ts', [], { LW_PING_TTL_SECONDS: '60s' });
  expect(code).toBe(78);
  expect(stderr).toBe(shown);
});

test('npm run config has --help and refuses an unknown flag', async () => {
  const help = await cli('bin/config.ts', ['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Usage: npm run config');
  const bad = await cli('bin/config.ts', ['--bogus']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("Unknown option '--bogus'");
});

test("a Temporal profile file is read only when the environment names it, never a developer's own by surprise", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-home-'));
  try {
    const file = path.join(home, '.config/temporalio/temporal.toml');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(
      file,
      '[profile.default]\naddress = "leadwire-prod.a1b2c.tmprl.cloud:7233"\nnamespace = "leadwire-prod.a1b2c"\napi_key = "key-from-file"\n\n[profile.staging]\naddress = "staging:7233"\n',
    );
    // The CLI's default file exists, but nothing names it: npm start keeps its dev server.
    expect(temporalTargetFromEnv({ HOME: home })).toBeNull();
    expect(temporalTargetFromEnv({ HOME: home, TEMPORAL_PROFILE: 'default' })).toEqual({
      address: 'leadwire-prod.a1b2c.tmprl.cloud:7233',
      namespace: 'leadwire-prod.a1b2c',
      apiKey: 'key-from-file',
      tls: true,
    });
    expect(temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' })).toEqual({
      address: 'staging:7233',
      namespace: 'default',
    });
    // The variables win over the file.
    expect(
      temporalTargetFromEnv({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_API_KEY: '' })
        ?.address,
    ).toBe('127.0.0.1:7233');
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
