/**
 * Temporal dev-server provisioning for the run command (bin/leadwire.ts), the
 * tests, the benchmark and CI; `npm run temporal` (scripts/temporal-dev.ts) is
 * its command line.
 *
 * Env: TEMPORAL_CLI (path of a temporal binary), TEMPORAL_ADDRESS (use that server, start nothing),
 * LW_TEMPORAL_CACHE (cache root, default ~/.cache/leadwire).
 *
 * The CLI is built from source with `go install` because the only registries we can reach are
 * npm, Debian and the Go module proxy (no prebuilt release downloads): lib/go-install.ts.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { Connection } from '@temporalio/client';

import { ensureGoProgram, env, findOnPath, type GoProgram, isExecutableFile } from '../lib/go-install';

export interface TemporalDevServer {
  /** host:port of the frontend gRPC service */
  address: string;
  uiUrl: string | null;
  namespace: 'default';
  pid: number | null;
  stop(): Promise<void>;
}

export interface StartTemporalDevServerOptions {
  /** Holds temporal.db; reusing it (with the same port) brings back the workflows of a previous run. */
  dataDir: string;
  /** Frontend gRPC port; a free one when omitted. Pass the previous port to restart "the same" server. */
  port?: number;
  uiPort?: number;
  headless?: boolean;
  log?: (m: string) => void;
  /** Do not forward the server's own log lines (they are still kept for error messages). */
  quiet?: boolean;
  /**
   * Start a server even when TEMPORAL_ADDRESS is set. Tests that stop and restart their own server
   * need this, because the Jest global setup exports TEMPORAL_ADDRESS for everybody.
   */
  ignoreTemporalAddressEnv?: boolean;
  /** Called when the server exits without stop() having been called. */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** Preferred first; the older tags are only tried if the module proxy refuses the newer one. */
const CLI_TAGS = ['v1.5.1', 'v1.5.0', 'v1.4.1'];
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
const READY_TIMEOUT_MS = 60_000; // the SDK's createLocal gives up after ~5 s: too tight on two cores
const READY_POLL_MS = 250;
const STOP_GRACE_MS = 10_000;

const defaultLog = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const TEMPORAL_CLI: GoProgram = {
  name: 'temporal',
  label: 'the Temporal CLI',
  module: CLI_MODULE,
  tags: CLI_TAGS,
  binary: 'temporal',
  expectedDuration: 'several minutes on a two-core machine',
  otherFixes: 'or set TEMPORAL_CLI to a temporal binary, or set TEMPORAL_ADDRESS to a running Temporal server',
};

/** Returns the path of a `temporal` binary, building it with `go install` on first use (lib/go-install.ts). */
export async function ensureTemporalCli(log: (msg: string) => void = defaultLog): Promise<string> {
  const fromEnv = env('TEMPORAL_CLI');
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const onPath = findOnPath('temporal');
  if (onPath) return onPath;
  return ensureGoProgram(TEMPORAL_CLI, log);
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1 with its state in <dataDir>/temporal.db and waits
 * until it answers. With TEMPORAL_ADDRESS set, starts nothing and returns that address.
 */
export async function startTemporalDevServer(opts: StartTemporalDevServerOptions): Promise<TemporalDevServer> {
  const log = opts.log ?? defaultLog;
  const external = env('TEMPORAL_ADDRESS');
  if (external && !opts.ignoreTemporalAddressEnv) {
    return { address: external, uiUrl: null, namespace: 'default', pid: null, stop: async () => {} };
  }

  const cli = await ensureTemporalCli(log);
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  let uiPort: number | null = null;
  if (!opts.headless) {
    uiPort = opts.uiPort ?? (await freePort());
    while (uiPort === port) uiPort = await freePort();
  }
  const address = `127.0.0.1:${port}`;

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)];
  args.push(...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]));
  args.push(
    '--db-filename',
    path.join(dataDir, 'temporal.db'),
    '--log-level',
    'warn',
    '--search-attribute',
    'LeadId=Keyword',
    '--search-attribute',
    'CampaignId=Keyword',
    '--search-attribute',
    'AgencyId=Keyword',
    // Per-workflow Update limits (server defaults: 10 in flight, 2000 in total) are too low for load tests.
    '--dynamic-config-value',
    'history.maxInFlightUpdates=1000',
    '--dynamic-config-value',
    'history.maxTotalUpdates=10000',
    // Tuned like Temporal's own SDK stress runs: a worker that schedules an activity may run it at once.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    // The server's one SQLite writer: write-ahead logging, and no fsync per commit (synchronous=NORMAL). A crash of
    // the process loses nothing; a power cut may lose the last commits of a dev server, never corrupt its file.
    // (The history cache's default, 128,000 workflows per host, already holds 10,000 open leads and their offers.)
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=NORMAL',
  );
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  let ready = false;
  let stopping = false;
  let exited = false;
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  readline.createInterface({ input: child.stdout }).on('line', keep); // start-up banner only
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    keep(line);
    // After stop() the server only reports its own shutdown (poll and dial errors): not worth showing.
    if (!opts.quiet && !stopping) log(`[temporal] ${line}`);
  });

  // If our process exits without stop() (e.g. a crashed test run), don't leave the server behind.
  const onParentExit = (): void => {
    if (!exited) child.kill('SIGTERM');
  };
  process.on('exit', onParentExit);
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  const closed = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      keep(String(err)); // e.g. spawn failure
      exited = true;
      resolve();
    });
    child.once('close', (code, signal) => {
      [exited, exitCode, exitSignal] = [true, code, signal];
      resolve();
    });
  });
  void closed.then(() => {
    process.removeListener('exit', onParentExit);
    if (ready && !stopping) opts.onUnexpectedExit?.(exitCode, exitSignal); // start-up failures reject instead
  });

  const stop = async (): Promise<void> => {
    stopping = true;
    if (exited) return;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      closed.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STOP_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      log(`Temporal dev server (pid ${child.pid}) ignored SIGTERM for ${STOP_GRACE_MS / 1000}s; sending SIGKILL.`);
      child.kill('SIGKILL');
      await closed;
    }
  };

  const notReady = await Promise.race([waitUntilReady(address, () => exited), closed.then(() => 'exited')]);
  if (notReady !== null) {
    const why = exited
      ? `exited before it was ready (code ${exitCode}, signal ${exitSignal})`
      : `did not answer within ${READY_TIMEOUT_MS / 1000}s (${notReady})`;
    await stop();
    throw new Error(`temporal server start-dev on ${address} ${why}. Last output:\n${tail.join('\n')}`);
  }
  ready = true;

  return {
    address,
    uiUrl: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
    namespace: 'default',
    pid: child.pid ?? null,
    stop,
  };
}

/** Polls until the frontend answers and knows the default namespace: null when ready, else the last error. */
async function waitUntilReady(address: string, gaveUp: () => boolean): Promise<string | null> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown = 'no attempt';
  while (Date.now() < deadline && !gaveUp()) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2_000 });
      const conn = connection;
      await conn.withDeadline(Date.now() + 2_000, () =>
        conn.workflowService.describeNamespace({ namespace: 'default' }),
      );
      return null;
    } catch (err) {
      lastError = err;
    } finally {
      await connection?.close();
    }
    await sleep(READY_POLL_MS);
  }
  return String(lastError);
}
