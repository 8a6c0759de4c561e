/**
 * docker-compose.yml, checked without a Docker engine: it parses, it runs every
 * service the deployment needs, the app containers get every variable the code
 * reads, and Temporal gets the dynamic config and search attributes the dev
 * server gets (temporal/dev-server.ts).
 */
import fs from 'node:fs';
import path from 'node:path';

import { parse } from 'yaml';

import { SETTINGS } from '../../lib/config';

const ROOT = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, unknown>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: unknown };
  init?: boolean;
  healthcheck?: { test: string[] };
  volumes?: string[];
};
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

/** Variables only development, tests or PGlite use: a compose deployment runs on Postgres and a real cluster. */
const NOT_FOR_DEPLOYMENT = new Set(['JEST_WORKER_ID', 'PATH', 'LW_DATA_DIR', 'TEMPORAL_CLI']);
const CODE_DIRS = [
  'bin',
  'api',
  'worker',
  'activities',
  'claims',
  'db',
  'observability',
  'domain',
  'workflows',
  'temporal',
];

function tsFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

/** Every variable of the one configuration schema (lib/config.ts), and `process.env.X`, `env.X`, `env['X']` in the runtime code. */
function variablesTheCodeReads(): Map<string, string> {
  const found = new Map<string, string>();
  for (const name of Object.keys(SETTINGS)) if (!NOT_FOR_DEPLOYMENT.has(name)) found.set(name, 'lib/config.ts');
  for (const file of CODE_DIRS.flatMap(tsFiles)) {
    for (const m of read(file).matchAll(/\benv(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])/g)) {
      const name = m[1] ?? m[2]!;
      if (!NOT_FOR_DEPLOYMENT.has(name) && !found.has(name)) found.set(name, file);
    }
  }
  return found;
}

describe('docker-compose.yml', () => {
  test('runs Postgres, Temporal with its schema, search attributes and UI, migrations, the API and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'api',
        'migrate',
        'postgres',
        'temporal',
        'temporal-register',
        'temporal-schema',
        'temporal-ui',
        'worker',
      ].sort(),
    );
    expect(services.postgres!.image).toMatch(/^postgres:/);
    expect(services.temporal!.image).toMatch(/^temporalio\/(server|auto-setup):/);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
    expect(services['temporal-schema']!.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(services.temporal!.depends_on).toMatchObject({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });

    // Compiled JavaScript run by node itself (npm run build), each role's entry point under bin/.
    for (const role of ['migrate', 'api', 'worker']) {
      expect(services[role]!.command).toEqual(['node', `dist/bin/${role}.js`]);
      expect(fs.existsSync(path.join(ROOT, `bin/${role}.ts`))).toBe(true);
      expect(services[role]!.init).toBe(true);
    }
    // Every long-running app service has a healthcheck on its /readyz.
    expect(services.api!.healthcheck?.test.join(' ')).toContain('127.0.0.1:3000/readyz');
    expect(services.worker!.healthcheck?.test.join(' ')).toContain('127.0.0.1:9464/readyz');
    expect(services.worker!.environment?.LW_WORKER_METRICS_PORT).toBe('9464');
    for (const name of ['migrate', 'api', 'worker']) expect(services[name]!.build).toBe('.');
    // API and worker are stateless and scale out; they start after migrations and the search attributes.
    for (const name of ['api', 'worker']) {
      expect(services[name]!.deploy?.replicas).toBeDefined();
      expect(services[name]!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        'temporal-register': { condition: 'service_completed_successfully' },
      });
    }
  });

  test('the app containers get every variable the code reads', () => {
    const vars = variablesTheCodeReads();
    // The core of the configuration, whatever else the code grows.
    for (const v of [
      'DATABASE_URL',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'LW_ROOT_TOKEN',
      'PORT',
      'LW_TASK_QUEUE',
    ])
      expect(vars.has(v)).toBe(true);
    for (const name of ['api', 'worker', 'migrate']) {
      const env = services[name]!.environment ?? {};
      const missing = [...vars].filter(([v]) => !(v in env)).map(([v, file]) => `${v} (read in ${file})`);
      expect({ service: name, missing }).toEqual({ service: name, missing: [] });
    }
    const env = services.api!.environment!;
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\/leadwire$/);
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(String(env.LW_ROOT_TOKEN)).toMatch(/^\$\{LW_ROOT_TOKEN:\?/); // required, never a default
    expect(String(env.LEADWIRE_MASTER_KEYS)).toMatch(/^\$\{LEADWIRE_MASTER_KEYS:\?/); // required: production refuses without
  });

  test("Temporal's dynamic config sets what the dev server sets", () => {
    const devServer = read('temporal/dev-server.ts');
    const expected = [...devServer.matchAll(/'--dynamic-config-value',\s*'([\w.]+)=([^']+)'/g)].map(
      (m) => [m[1]!, m[2]!] as const,
    );
    expect(expected.map(([k]) => k)).toEqual(
      expect.arrayContaining(['history.maxInFlightUpdates', 'history.maxTotalUpdates']),
    );

    const mounted = services.temporal!.volumes!.find((v) => v.includes('dynamicconfig'))!;
    const [hostPath, containerPath] = mounted.split(':');
    expect(String(services.temporal!.environment!.DYNAMIC_CONFIG_FILE_PATH)).toBe(
      path.relative('/etc/temporal', containerPath!),
    );
    const dynamic = parse(read(hostPath!)) as Record<string, { value: unknown }[]>;
    for (const [key, value] of expected)
      expect({ key, value: dynamic[key]?.[0]?.value }).toEqual({ key, value: JSON.parse(value) });
  });

  test('the search attributes the dev server registers are registered by the one-shot service', () => {
    const devServer = read('temporal/dev-server.ts');
    const attrs = [...devServer.matchAll(/'--search-attribute',\s*'(\w+)=Keyword'/g)].map((m) => m[1]!);
    expect(attrs.sort()).toEqual(['AgencyId', 'CampaignId', 'LeadId']);
    const entry = services['temporal-register']!.entrypoint!.join(' ');
    const script = read(path.join('deploy/temporal', path.basename(entry.split(' ').pop()!)));
    const registered = /for attr in ([\w ]+); do/.exec(script)![1]!.split(' ');
    expect(registered.sort()).toEqual(attrs);
    expect(script).toMatch(/--type Keyword/);
  });

  test('the Dockerfile compiles the app on node:24-slim and runs node on the JavaScript, as a non-root user', () => {
    const dockerfile = read('Dockerfile');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.map((s) => s.split('\n')[0])).toEqual(['node:24-slim AS build', 'node:24-slim']);
    const [build, runtime] = stages as [string, string];
    expect(build).toMatch(/^RUN npm ci\b/m);
    expect(build).toMatch(/^RUN npm run build && npm run build:web$/m);
    // The runtime has production dependencies only, the compiled code and the pages: no sources, no tsx.
    expect(runtime).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK /m);
    expect(runtime).toMatch(/^CMD \["node", "dist\/bin\/api\.js"\]$/m);
    expect(runtime).not.toMatch(/tsx|CMD \["npm"/);
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeUndefined(); // a dev dependency: npm start and the tests use it
    expect(read('.dockerignore')).toMatch(/^node_modules$/m);
  });
});
