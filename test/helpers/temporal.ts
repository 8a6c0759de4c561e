/**
 * Temporal for tests: the run's dev server (test/setup), a workflow bundle
 * built once per source version and cached on disk, and workers on their own
 * task queues so test files never steal each other's tasks.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, type Worker } from '@temporalio/worker';

import type { FaultHooks } from '../../activities';
import type { DeliveryOverrides } from '../../activities/channels/config';
import type { Db } from '../../db/connection';
import type { OfferBus } from '../../db/offer-bus';
import { type LeadToRoute, leadWorkflowHandle, startLeadWorkflow } from '../../temporal/calls';
import { plainTarget } from '../../temporal/connection';
import { createLeadwireWorker } from '../../worker/worker';

const ROOT = path.resolve(__dirname, '../..');

export function temporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run the tests through jest (test/setup/global-setup.ts)');
  return address;
}

function sourceHash(): string {
  const hash = crypto.createHash('sha256');
  for (const dir of ['workflows', 'claims', 'domain']) {
    for (const f of fs.readdirSync(path.join(ROOT, dir)).sort()) {
      if (f.endsWith('.ts')) hash.update(f).update(fs.readFileSync(path.join(ROOT, dir, f)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** The workflow bundle for the current sources, built once and reused across test files. */
export async function workflowBundle(): Promise<{ code: string }> {
  const file = path.join(os.tmpdir(), `leadwire-workflows-${sourceHash()}.js`);
  if (!fs.existsSync(file)) {
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'workflows'), logger: quietLogger });
    // A temporary file of this process's own: two Jest processes (test/setup/run-tests.ts) may bundle at once.
    fs.writeFileSync(`${file}.${process.pid}.tmp`, code);
    fs.renameSync(`${file}.${process.pid}.tmp`, file);
  }
  return { code: fs.readFileSync(file, 'utf8') };
}

/** A bundle whose `leadWorkflow` and `offerWorkflow` are the first lifecycle's (workflows/v1): leads started as the previous release started them. */
export async function firstLifecycleBundle(): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(ROOT, 'test/fixtures/v1-workflows.ts'),
    logger: quietLogger,
  });
  return { code };
}

const noop = () => undefined;
const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (m: string) => console.error(m),
  log: noop,
};

export async function testClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection }), connection };
}

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
/** Workers log warnings and errors only, so test output stays readable. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* already installed by an earlier test file in this process */
  }
}

/** Starts a worker on a fresh task queue (or the given one) and runs it in the background. */
export async function startWorker(opts: {
  db: Db;
  bus: OfferBus;
  taskQueue?: string;
  faults?: FaultHooks;
  delivery?: DeliveryOverrides;
  /** Another workflow bundle than the current sources' (e.g. the first lifecycle's, to start leads as it did). */
  workflowBundle?: { code: string };
}): Promise<RunningWorker> {
  quietRuntime();
  const taskQueue = opts.taskQueue ?? `test-${crypto.randomUUID()}`;
  const { worker, connection } = await createLeadwireWorker({
    target: plainTarget(temporalAddress()),
    taskQueue,
    db: opts.db,
    bus: opts.bus,
    faults: opts.faults,
    delivery: opts.delivery,
    workflowBundle: opts.workflowBundle ?? (await workflowBundle()),
  });
  const running = worker.run();
  let stopped: Promise<void> | null = null;
  return {
    worker,
    taskQueue,
    // Idempotent: a test may stop a worker that its afterAll stops again.
    stop() {
      stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        await connection.close();
      })();
      return stopped;
    },
  };
}

/** Starts a lead's workflow as intake does (temporal/calls.ts) and returns its handle. */
export async function startLead(client: Client, taskQueue: string, lead: LeadToRoute) {
  if ((await startLeadWorkflow(client, taskQueue, lead)) !== 'started')
    throw new Error(`lead ${lead.id}: its workflow was already started`);
  return leadWorkflowHandle(client, lead.id);
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false | null>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
