/**
 * The periodic jobs as Temporal Schedules (worker/schedules.ts) on the run's dev server: each job's schedule is
 * as the list defines it, any number of workers starting at once create it once, a changed definition is updated
 * (an operator's pause kept), each job's run does its work through a real worker, runs and failures show in
 * /metrics, and a paused schedule runs nothing until unpaused.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { eq, sql } from 'drizzle-orm';

import { withIdempotency } from '../../api/idempotency';
import { createInProcessBus } from '../../db/offer-bus';
import { idempotencyRecords } from '../../db/schema';
import { serveMetrics } from '../../observability/metrics';
import { ensureTemporalCli } from '../../temporal/dev-server';
import {
  ensureSchedules,
  keepEnsuringSchedules,
  PERIODIC_JOBS,
  type PeriodicJob,
  scheduleIdOf,
} from '../../worker/schedules';
import { openTestPostgres } from '../helpers/db';
import { waitForLeadStatus } from '../helpers/lifecycle';
import { sample } from '../helpers/metrics';
import { type TestSchedules, testSchedules } from '../helpers/schedules';
import { lifecycleSuite } from '../helpers/suite';
import { eventually, startWorker, temporalAddress } from '../helpers/temporal';
import { makeStuckLead } from '../helpers/world';

const suite = lifecycleSuite();
let metricsServer: http.Server;

beforeAll(async () => {
  metricsServer = await serveMetrics(0);
});
afterAll(() => new Promise((r) => metricsServer.close(r)));

/** The worker's /metrics, over HTTP as Prometheus scrapes it. */
async function metrics(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`);
  return res.text();
}
const runs = async (job: string) => sample(await metrics(), 'leadwire_periodic_job_runs_total', { job }) ?? 0;
const failures = async (job: string) => sample(await metrics(), 'leadwire_periodic_job_failures_total', { job }) ?? 0;

/** Triggers the job's schedule once and answers the result of the workflow it started. */
async function runOnce<T>(client: Client, schedules: TestSchedules, name: PeriodicJob['name']): Promise<T> {
  const handle = schedules.handle(name);
  const before = (await handle.describe()).info.numActionsTaken;
  await handle.trigger();
  const taken = await eventually(
    async () => {
      const d = await handle.describe();
      return d.info.numActionsTaken > before && d.info.recentActions.at(-1);
    },
    20_000,
    `a run of ${name}`,
  );
  const { workflowId, firstExecutionRunId } = taken.action.workflow;
  return client.workflow.getHandle(workflowId, firstExecutionRunId).result() as Promise<T>;
}

async function otherClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection }), close: () => connection.close() };
}

async function deleteAll(client: Client, taskQueue: string): Promise<void> {
  for (const job of PERIODIC_JOBS) await client.schedule.getHandle(scheduleIdOf(taskQueue, job)).delete();
}

test("a worker's start leaves every job's schedule as the list defines it: its interval, workflow, queue, skip on overlap", async () => {
  const taskQueue = suite.worker.taskQueue;
  const done = await ensureSchedules(suite.client, taskQueue);
  try {
    expect(Object.values(done)).toEqual(PERIODIC_JOBS.map(() => 'created'));
    expect(PERIODIC_JOBS.map((j) => j.name)).toEqual([
      'stuck-leads',
      'report-fold',
      'expire-records',
      'rotate-secrets',
      'reconcile-payments',
      'erase-expired-leads',
    ]);
    for (const job of PERIODIC_JOBS) {
      const d = await suite.client.schedule.getHandle(scheduleIdOf(taskQueue, job)).describe();
      expect(d.spec.intervals).toMatchObject([{ every: job.everyMs }]);
      expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: job.workflowType, taskQueue });
      expect(d.policies).toMatchObject({ overlap: ScheduleOverlapPolicy.SKIP, pauseOnFailure: false });
      expect(d.policies.catchupWindow).toBeLessThanOrEqual(60_000);
      expect(d.memo).toEqual({ description: job.description });
      expect(d.state.paused).toBe(false);
    }
    // A second start (a restart, another replica) changes nothing.
    expect(Object.values(await ensureSchedules(suite.client, taskQueue))).toEqual(PERIODIC_JOBS.map(() => 'unchanged'));
  } finally {
    await deleteAll(suite.client, taskQueue);
  }
});

test('workers starting at once create each schedule once; a changed interval is updated and a pause is kept', async () => {
  // A queue with no worker: only the schedules matter here.
  const taskQueue = `test-${crypto.randomUUID()}`;
  const others = await Promise.all([otherClient(), otherClient(), otherClient()]);
  try {
    const answers = await Promise.all(others.map((o) => ensureSchedules(o.client, taskQueue)));
    for (const job of PERIODIC_JOBS) {
      const id = scheduleIdOf(taskQueue, job);
      expect(answers.map((a) => a[id]).sort()).toEqual(['created', 'unchanged', 'unchanged']);
    }
    const listed = await eventually(async () => {
      const ids: string[] = [];
      for await (const s of suite.client.schedule.list())
        if (s.scheduleId.startsWith(taskQueue)) ids.push(s.scheduleId);
      return ids.length === PERIODIC_JOBS.length && ids;
    });
    expect(listed.sort()).toEqual(PERIODIC_JOBS.map((j) => scheduleIdOf(taskQueue, j)).sort());

    // An operator paused the fold; the next release folds every 10 s. Both workers restart at once.
    const fold = PERIODIC_JOBS.find((j) => j.name === 'report-fold')!;
    const handle = suite.client.schedule.getHandle(scheduleIdOf(taskQueue, fold));
    await handle.pause('paused by the test');
    const next = PERIODIC_JOBS.map((j) => (j === fold ? { ...j, everyMs: 10_000 } : j));
    const updated = await Promise.all(others.slice(0, 2).map((o) => ensureSchedules(o.client, taskQueue, next)));
    expect(updated.map((a) => a[handle.scheduleId])).toContain('updated');
    const d = await handle.describe();
    expect(d.spec.intervals).toMatchObject([{ every: 10_000 }]);
    expect(d.state).toMatchObject({ paused: true, note: 'paused by the test' });
    expect(await ensureSchedules(suite.client, taskQueue, next)).toMatchObject({ [handle.scheduleId]: 'unchanged' });
  } finally {
    await deleteAll(suite.client, taskQueue);
    for (const o of others) await o.close();
  }
});

test('a worker whose schedules cannot be made yet keeps trying in the background and makes them once Temporal answers', async () => {
  // The namespace does not exist yet: every attempt fails, as a describe does on a cluster that has just started.
  const namespace = `ns-${crypto.randomUUID()}`;
  const taskQueue = `test-${crypto.randomUUID()}`;
  const connection = await Connection.connect({ address: temporalAddress() });
  const failures: number[] = [];
  const ensuring = keepEnsuringSchedules(new Client({ connection, namespace }), taskQueue, {
    onFailure: (_err, attempt) => failures.push(attempt),
    firstDelayMs: 200,
    maxDelayMs: 1_000,
  });
  try {
    await eventually(async () => failures.length >= 2 || undefined, 20_000, 'two failed attempts');
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const done = await ensuring.done;
    expect(done).toEqual(Object.fromEntries(PERIODIC_JOBS.map((j) => [scheduleIdOf(taskQueue, j), 'created'])));
    expect(failures.slice(0, 2)).toEqual([1, 2]);
    const client = new Client({ connection, namespace });
    const d = await client.schedule.getHandle(scheduleIdOf(taskQueue, PERIODIC_JOBS[0]!)).describe();
    expect(d.action).toMatchObject({ workflowType: PERIODIC_JOBS[0]!.workflowType, taskQueue });
    await deleteAll(client, taskQueue);
  } finally {
    await ensuring.stop();
    await connection.close();
  }
}, 90_000);

test('stopping a worker that is still retrying its schedules ends the retries at once', async () => {
  const connection = await Connection.connect({ address: temporalAddress() });
  let failed = 0;
  const ensuring = keepEnsuringSchedules(new Client({ connection, namespace: `ns-${crypto.randomUUID()}` }), 'q', {
    onFailure: () => (failed += 1),
    firstDelayMs: 60_000,
  });
  try {
    await eventually(async () => failed >= 1 || undefined, 20_000, 'a failed attempt');
    await ensuring.stop();
    expect(await ensuring.done).toBeNull();
    expect(failed).toBe(1);
  } finally {
    await connection.close();
  }
});

describe("each job's run does its work on a worker", () => {
  let schedules: TestSchedules;
  beforeAll(async () => {
    schedules = await testSchedules(suite.client, suite.worker.taskQueue);
  });
  afterAll(() => schedules.remove());

  test('stuck-leads: a lead stored while Temporal was away is routed and sold', async () => {
    const lead = await makeStuckLead(suite.db);
    const before = await runs('stuck-leads');
    expect(await runOnce<number>(suite.client, schedules, 'stuck-leads')).toBeGreaterThanOrEqual(1);
    await waitForLeadStatus(suite.db, lead.id, 'sold');
    expect(await runs('stuck-leads')).toBe(before + 1);
  });

  test('expire-records: an idempotency answer past its TTL is purged, a younger one kept', async () => {
    const db = suite.db;
    const scope = `test:${crypto.randomUUID()}`;
    const reply = async () => ({ status: 201, body: {} });
    await withIdempotency(db, scope, 'old', 'hash', reply);
    await withIdempotency(db, scope, 'young', 'hash', reply);
    await db
      .update(idempotencyRecords)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(sql`${idempotencyRecords.scope} = ${scope} AND ${idempotencyRecords.key} = 'old'`);
    const purged = await runOnce<{ idempotency: number }>(suite.client, schedules, 'expire-records');
    expect(purged.idempotency).toBeGreaterThanOrEqual(1);
    const left = await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.scope, scope));
    expect(left.map((r) => r.key)).toEqual(['young']);
  });

  test('report-fold and rotate-secrets: each run answers what it did and is counted, with its time', async () => {
    const started = Date.now() / 1000;
    const folded = await runOnce<number | null>(suite.client, schedules, 'report-fold');
    expect(folded === null || typeof folded === 'number').toBe(true);
    const rotated = await runOnce<{ moved: number; staleKeyIds: string[] }>(suite.client, schedules, 'rotate-secrets');
    expect(rotated).toEqual({ moved: expect.any(Number), staleKeyIds: expect.any(Array) });
    const text = await metrics();
    for (const job of ['report-fold', 'rotate-secrets']) {
      expect(sample(text, 'leadwire_periodic_job_runs_total', { job })).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'leadwire_periodic_job_last_run_timestamp_seconds', { job })).toBeGreaterThanOrEqual(
        Math.floor(started),
      );
      expect(sample(text, 'leadwire_periodic_job_last_success_timestamp_seconds', { job })).toBeGreaterThanOrEqual(
        Math.floor(started),
      );
    }
  });
});

test('a job whose run fails counts its failures, and its last success stays where it was', async () => {
  // A worker whose database is gone: every attempt of the job fails (the workflow gives up after 3).
  const closed = await openTestPostgres();
  await closed.close();
  const worker = await startWorker({ db: closed.db, bus: createInProcessBus() });
  const schedules = await testSchedules(suite.client, worker.taskQueue, { only: ['expire-records'] });
  try {
    const text = await metrics();
    const [runsBefore, failuresBefore] = [await runs('expire-records'), await failures('expire-records')];
    const success = sample(text, 'leadwire_periodic_job_last_success_timestamp_seconds', { job: 'expire-records' });
    await expect(runOnce(suite.client, schedules, 'expire-records')).rejects.toThrow();
    expect(await failures('expire-records')).toBe(failuresBefore + 3);
    expect(await runs('expire-records')).toBe(runsBefore + 3);
    expect(
      sample(await metrics(), 'leadwire_periodic_job_last_success_timestamp_seconds', { job: 'expire-records' }),
    ).toBe(success);
  } finally {
    await schedules.remove();
    await worker.stop();
  }
});

test('a paused schedule runs nothing; unpaused, it runs again', async () => {
  const schedules = await testSchedules(suite.client, suite.worker.taskQueue, { only: ['report-fold'], everyMs: 1000 });
  const handle = schedules.handle('report-fold');
  try {
    const first = await runs('report-fold');
    await eventually(async () => (await runs('report-fold')) >= first + 2, 20_000, 'two runs a second apart');
    await handle.pause();
    expect((await handle.describe()).state.paused).toBe(true);
    // A run started just before the pause may still finish.
    await new Promise((r) => setTimeout(r, 1500));
    const [taken, counted] = [(await handle.describe()).info.numActionsTaken, await runs('report-fold')];
    await new Promise((r) => setTimeout(r, 4000));
    expect((await handle.describe()).info.numActionsTaken).toBe(taken);
    expect(await runs('report-fold')).toBe(counted);

    await handle.unpause();
    await eventually(async () => (await runs('report-fold')) > counted, 20_000, 'a run after the unpause');
  } finally {
    await schedules.remove();
  }
});

/** The `temporal schedule …` commands of docs/operations.md's Periodic jobs section, as argument lists. */
function docScheduleCommands(): string[][] {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/operations.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Periodic jobs'), doc.indexOf('## Temporal: finding'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block
    .split('\n')
    .filter((l) => l.startsWith('temporal schedule '))
    .map((l) => [...l.replace(/\s+#.*$/, '').matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1));
}

test("docs/operations.md's CLI commands list, describe, pause, unpause and trigger a job's schedule", async () => {
  const cli = await ensureTemporalCli();
  const schedules = await testSchedules(suite.client, suite.worker.taskQueue, { only: ['report-fold'] });
  const id = schedules.handle('report-fold').scheduleId;
  const run = async (args: string[]) =>
    (
      await promisify(execFile)(
        cli,
        [...args.map((a) => (a === 'leadwire-report-fold' ? id : a)), '--address', temporalAddress()],
        { timeout: 30_000 },
      )
    ).stdout;
  try {
    const commands = docScheduleCommands();
    expect(commands.map((c) => c.slice(1, 2).concat(c.includes('--pause') ? ['--pause'] : []))).toEqual([
      ['list'],
      ['describe'],
      ['toggle', '--pause'],
      ['toggle'],
      ['trigger'],
    ]);
    const [list, describe, pause, unpause, trigger] = commands as [string[], string[], string[], string[], string[]];
    await eventually(async () => (await run(list)).includes(id), 20_000, 'the schedule in the list');
    expect(await run(describe)).toContain(id);
    await run(pause);
    expect((await schedules.handle('report-fold').describe()).state).toMatchObject({
      paused: true,
      note: 'rebuilding the roll-ups',
    });
    await run(unpause);
    expect((await schedules.handle('report-fold').describe()).state.paused).toBe(false);
    const before = await runs('report-fold');
    await run(trigger);
    await eventually(async () => (await runs('report-fold')) > before, 20_000, 'the triggered run');
  } finally {
    await schedules.remove();
  }
});
