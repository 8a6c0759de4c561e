/**
 * The ops tools reach a running `npm start` on PGlite (issue 16, item 4):
 * `bin/leadwire.ts` runs as a newcomer runs it (no DATABASE_URL, so PGlite in
 * its data dir; no TEMPORAL_ADDRESS, so it starts its own dev server), prints its addresses and writes them to `stack.json`; then, with neither
 * TEMPORAL_ADDRESS nor DATABASE_URL in their environment, `npm run audit` and
 * `npm run replay -- <leadId>` work on the live data, and psql connects to
 * the PGlite the stack serves over the wire protocol – while it keeps serving.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client, Connection } from '@temporalio/client';

import type { StackFile } from '../../bin/stack';
import { PERIODIC_JOBS, scheduleIdOf } from '../../worker/schedules';
import { eventually } from '../helpers/temporal';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const ROOT_TOKEN = `lw_root_${crypto.randomBytes(16).toString('hex')}`;

let dataDir: string;
let stack: ChildProcess;
let out = '';

/** The environment of a newcomer's shell: no database or Temporal configured. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LW_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...extra };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  delete env.LEADWIRE_MASTER_KEYS; // npm start generates a dev master key into the data dir
  return env;
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env, maxBuffer: 32 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const readStack = () => JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as StackFile;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of several routes, read field by field
type Json = Record<string, any>;

async function api(method: string, url: string, key: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${readStack().api}${url}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => null)) as Json;
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-stack-'));
  // Nothing configured but the port and the root token: npm start provisions its own Temporal dev server.
  stack = spawn(TSX, [path.join(ROOT, 'bin/leadwire.ts')], {
    cwd: ROOT,
    env: bareEnv({ PORT: '0', LW_ROOT_TOKEN: ROOT_TOKEN }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stack.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  stack.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await eventually(
    async () => out.includes('Leadwire is running.') || undefined,
    180_000,
    `npm start to come up; output so far: ${out}`,
  );
});

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((r) => stack.once('exit', r));
    stack.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('npm start prints the Temporal frontend address and the database address, and writes them to stack.json', () => {
  const s = readStack();
  expect(() => process.kill(s.pid, 0)).not.toThrow(); // the node process tsx runs (a child of the one spawned here)
  expect(s.temporal.address).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(s.temporal.address).not.toBe(process.env.TEMPORAL_ADDRESS); // its own, not the test's
  expect(out).toContain(`Temporal:     ${s.temporal.address}`);
  expect(s.temporal.ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
  expect(s.database).toMatchObject({ driver: 'pglite', pgliteDir: path.join(dataDir, 'pglite') });
  expect(s.database.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  expect(out).toContain(s.database.url!);
  expect(out).toContain(path.join(dataDir, 'stack.json'));
});

test('with no master key configured, npm start generates a dev key into the data dir (0600) and says so', () => {
  const file = path.join(dataDir, 'master-keys');
  expect(out).toContain(`Generated a development master key in ${file}`);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(fs.readFileSync(file, 'utf8')).toMatch(/^dev:[A-Za-z0-9+/]{43}=\n$/);
});

test('with no flags and no environment, audit and replay reach the live stack; psql connects; the stack keeps serving', async () => {
  // A sold lead, through the running API.
  const { adminKey } = await api('POST', '/v1/agencies', ROOT_TOKEN, { name: 'Stack tools' });
  await api('POST', '/v1/service-lines', adminKey, { key: 'roofing', name: 'Roofing' });
  const { buyer, apiKey, webhookSecret } = await api('POST', '/v1/buyers', adminKey, {
    name: 'Roofer',
    serviceLines: ['roofing'],
  });
  await api('POST', `/v1/buyers/${buyer.id}/credits`, adminKey, { amount: 100 });
  const { campaign } = await api('POST', '/v1/campaigns', adminKey, {
    name: 'TX',
    serviceLine: 'roofing',
    mode: 'ping_post',
    claimWindowSeconds: 60,
    price: { base: 10 },
  });
  const { lead } = await api('POST', '/v1/leads', adminKey, {
    campaignId: campaign.id,
    fields: {
      firstName: 'Ada',
      lastName: 'Lovelace',
      phone: '5125550100',
      email: 'ada@example.com',
      city: 'Austin',
      state: 'TX',
      zip: '78701',
    },
  });
  const offer = await eventually(
    async () =>
      (await api('GET', '/v1/offers?status=open', apiKey)).offers.find((o: { leadId: string }) => o.leadId === lead.id),
    30_000,
    'the offer',
  );
  expect((await api('POST', `/v1/offers/${offer.id}/claim`, apiKey, { requestId: 'stack-1' })).result).toBe('won');
  await eventually(
    async () => (await api('GET', `/v1/leads/${lead.id}`, adminKey)).lead.status === 'sold' || undefined,
    30_000,
    'the sale',
  );

  const audit = await run(TSX, [path.join(ROOT, 'ops/audit.ts'), '--min-age-seconds', '0'], bareEnv());
  expect([audit.code, audit.stderr]).toEqual([0, expect.any(String)]);
  expect(audit.stdout).toMatch(/balances/);
  expect(audit.stdout).toMatch(/workflows/); // Temporal was found too, from stack.json

  const replay = await run(TSX, [path.join(ROOT, 'ops/replay.ts'), lead.id], bareEnv());
  expect([replay.code, replay.stderr.slice(0, 500)]).toEqual([0, expect.any(String)]);
  expect(replay.stdout).toContain(`lead-${lead.id}`);
  expect(replay.stdout).toMatch(/replays deterministically/);
  expect(replay.stdout).toContain('status sold');

  const psql = await run(
    'psql',
    [readStack().database.url!, '-At', '-c', `SELECT status FROM leads WHERE id = '${lead.id}'`],
    bareEnv(),
  );
  expect([psql.code, psql.stdout.trim(), psql.stderr]).toEqual([0, 'sold', '']);
  // The buyer's webhook secret, as psql reads the row: sealed under the dev key, nowhere in clear.
  const row = await run(
    'psql',
    [readStack().database.url!, '-At', '-c', `SELECT row_to_json(b) FROM buyers b WHERE id = '${buyer.id}'`],
    bareEnv(),
  );
  expect(row.code).toBe(0);
  expect(row.stdout).toContain('"webhook_secret_sealed":"lwk1.dev.');
  expect(row.stdout).not.toContain((webhookSecret as string).slice('whsec_'.length));

  // The stack was not blocked by its visitors.
  expect((await api('GET', '/v1/me', adminKey)).kind).toBe('admin');
});

test("npm start's periodic jobs are schedules on its dev server, run by its own worker on PGlite: a triggered fold folds", async () => {
  const { temporal, taskQueue, database } = readStack();
  const connection = await Connection.connect({ address: temporal.address });
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    // Made in the background as the stack starts (worker/schedules.ts keepEnsuringSchedules).
    for (const job of PERIODIC_JOBS) {
      const d = await eventually(() => client.schedule.getHandle(scheduleIdOf(taskQueue, job)).describe());
      expect(d.action).toMatchObject({ workflowType: job.workflowType, taskQueue });
    }
    const fold = client.schedule.getHandle(
      scheduleIdOf(
        taskQueue,
        PERIODIC_JOBS.find((j) => j.name === 'report-fold')!,
      ),
    );
    const before = (await fold.describe()).info.numActionsTaken;
    await fold.trigger();
    const taken = await eventually(async () => {
      const d = await fold.describe();
      return d.info.numActionsTaken > before && d.info.recentActions.at(-1);
    });
    await client.workflow.getHandle(taken.action.workflow.workflowId).result();
    // The earlier test's sale left deltas; a fold nobody else was running moved them all.
    const pending = await run(
      'psql',
      [database.url!, '-At', '-c', 'SELECT count(*) FROM report_lead_deltas'],
      bareEnv(),
    );
    expect([pending.code, pending.stdout.trim()]).toEqual([0, '0']);
  } finally {
    await connection.close();
  }
});

test('a clean stop removes stack.json; the tools then say nothing is running', async () => {
  const exited = new Promise((r) => stack.once('exit', r));
  stack.kill('SIGTERM');
  await exited;
  expect(fs.existsSync(path.join(dataDir, 'stack.json'))).toBe(false);
  const replay = await run(TSX, [path.join(ROOT, 'ops/replay.ts'), crypto.randomUUID()], bareEnv());
  expect(replay.code).toBe(2);
  expect(replay.stderr).toContain('no running `npm start`');
});
