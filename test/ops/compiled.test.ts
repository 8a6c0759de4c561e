/**
 * Compiled production, as the image runs it: `npm run build` emits JavaScript, and `node dist/bin/…` (no
 * tsx, no npm in between) runs the worker and the API against the test's Temporal and Postgres. The
 * worker answers /healthz and /readyz (polling, database, last activity) on its metrics port; the API its
 * own /readyz; SIGTERM reaches node and it shuts down cleanly.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { freePort } from '../../temporal/dev-server';
import { temporalAddress } from '../helpers/temporal';

jest.setTimeout(5 * 60_000);

const ROOT = path.resolve(__dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

beforeAll(async () => {
  await new Promise<void>((resolve, reject) =>
    execFile('npm', ['run', 'build'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`npm run build failed:\n${stdout}\n${stderr}`)) : resolve(),
    ),
  );
});

function run(
  script: string,
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  let output = '';
  const child = spawn(NODE, [path.join(ROOT, script)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: temporalAddress(),
      DATABASE_URL: process.env.TEST_DATABASE_URL!,
      // The run's master key: the processes share the run's database, whose secrets are sealed with it.
      LEADWIRE_MASTER_KEYS: process.env.LEADWIRE_MASTER_KEYS!,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output, exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

async function answer(url: string, timeoutMs = 90_000): Promise<{ status: number; body: Record<string, unknown> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status === 200 || Date.now() > deadline)
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('npm run build emits JavaScript for every entry point, with the migrations beside the data layer', () => {
  for (const entry of [
    'bin/api.js',
    'bin/worker.js',
    'bin/migrate.js',
    'bin/config.js',
    'ops/audit.js',
    'ops/replay.js',
  ])
    expect(fs.existsSync(path.join(ROOT, 'dist', entry))).toBe(true);
  const sql = fs.readdirSync(path.join(ROOT, 'db/migrations')).filter((f) => f.endsWith('.sql'));
  expect(fs.readdirSync(path.join(ROOT, 'dist/db/migrations')).filter((f) => f.endsWith('.sql'))).toEqual(sql);
});

test('the compiled worker polls and reports it on /readyz; the compiled API is ready; SIGTERM stops both cleanly', async () => {
  const workerPort = await freePort();
  const apiPort = await freePort();
  const taskQueue = `compiled-${Date.now()}`;
  const worker = run('dist/bin/worker.js', { LW_TASK_QUEUE: taskQueue, LW_WORKER_METRICS_PORT: String(workerPort) });
  const api = run('dist/bin/api.js', {
    LW_TASK_QUEUE: taskQueue,
    PORT: String(apiPort),
    LW_ROOT_TOKEN: 'compiled-test-root-token-0123456789',
  });

  expect((await answer(`http://127.0.0.1:${workerPort}/healthz`)).status).toBe(200);
  const ready = await answer(`http://127.0.0.1:${workerPort}/readyz`);
  expect(ready).toEqual({
    status: 200,
    body: { status: 'ready', state: 'RUNNING', polling: true, database: true, lastActivityAt: null },
  });
  expect((await fetch(`http://127.0.0.1:${workerPort}/metrics`)).status).toBe(200);
  const apiReady = await answer(`http://127.0.0.1:${apiPort}/readyz`);
  expect(apiReady.status).toBe(200);

  // node is the process: the signal reaches it, it runs its shutdown and exits 0.
  worker.child.kill('SIGTERM');
  api.child.kill('SIGTERM');
  expect(await worker.exit).toBe(0);
  expect(await api.exit).toBe(0);
  expect(worker.output()).toContain('SIGTERM: shutting down');
  expect(api.output()).toContain('SIGTERM: shutting down');
});

test('a compiled process given a bad value stops naming it; the compiled config tool prints the configuration', async () => {
  const bad = run('dist/bin/worker.js', { LW_WORKER_METRICS_PORT: 'nine' });
  expect(await bad.exit).toBe(78);
  expect(bad.output()).toContain('LW_WORKER_METRICS_PORT="nine": expected a whole number 0–65535');
  const config = run('dist/bin/config.js', {});
  expect(await config.exit).toBe(0);
  expect(config.output()).toMatch(/^TEMPORAL_ADDRESS\s+127\.0\.0\.1:\d+\s+\[environment\]$/m);
});
