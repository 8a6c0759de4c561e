/**
 * Temporal dev-server provisioning for the run command (bin/leadwire.ts), the
 * tests, the benchmark and CI; `npm run temporal` (scripts/temporal-dev.ts) is
 * its command line.
 *
 * Env: TEMPORAL_CLI (path of a temporal binary), TEMPORAL_ADDRESS (use that server, start nothing),
 * LW_TEMPORAL_CACHE (cache root, default ~/.cache/leadwire).
 *
 * The CLI is built from source with `go install` because the only registries we can reach are
 * npm, Debian and the Go module proxy (no prebuilt release downloads).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { Connection } from '@temporalio/client';

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
const HEARTBEAT_MS = 15_000;

const defaultLog = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Empty env values count as unset. */
export function env(name: string): string | undefined {
  const v = process.env[name];
  return v ? v : undefined;
}

export function isExecutableFile(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutableFile(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

function cacheRoot(): string {
  return env('LW_TEMPORAL_CACHE') ?? path.join(os.homedir(), '.cache', 'leadwire');
}

function cachedCli(root: string): string | null {
  for (const tag of CLI_TAGS) {
    const p = path.join(root, `temporal-${tag}`, 'temporal');
    if (isExecutableFile(p)) return p;
  }
  return null;
}

/** Returns the path of a `temporal` binary, building it with `go install` on first use. */
export async function ensureTemporalCli(log: (msg: string) => void = defaultLog): Promise<string> {
  const fromEnv = env('TEMPORAL_CLI');
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const onPath = findOnPath('temporal');
  if (onPath) return onPath;

  const root = cacheRoot();
  const cached = cachedCli(root);
  if (cached) return cached;

  const go = findOnPath('go') ?? (isExecutableFile('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!go) {
    throw new Error(
      'No Temporal CLI found and no Go toolchain to build one. Fix: install Go >= 1.23 from https://go.dev/dl ' +
        '(it fetches the newer toolchain the CLI needs by itself), or set TEMPORAL_CLI to a temporal binary, ' +
        'or set TEMPORAL_ADDRESS to a running Temporal server.',
    );
  }

  fs.mkdirSync(root, { recursive: true });
  const release = await acquireBuildLock(root, log);
  try {
    // Another process may have finished the build while we waited for the lock.
    const built = cachedCli(root);
    if (built) return built;
    // Holding the lock, any half-built dir left behind belongs to a killed build.
    for (const name of fs.readdirSync(root)) {
      if (/^\.temporal-.*\.partial-\d+$/.test(name)) fs.rmSync(path.join(root, name), { recursive: true, force: true });
    }
    return await buildCli(go, root, log);
  } finally {
    release();
  }
}

/**
 * One build at a time per cache dir: the lock file holds the builder's pid; a lock whose pid is gone
 * (killed build) is stale and taken over. The second process waits and then finds the binary.
 */
async function acquireBuildLock(root: string, log: (m: string) => void): Promise<() => void> {
  const lockPath = path.join(root, 'temporal-build.lock');
  const started = Date.now();
  let lastNotice = 0;
  for (;;) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = lockHolder(lockPath);
    if (holder === 'stale') {
      fs.rmSync(lockPath, { force: true });
      continue;
    }
    if (Date.now() - lastNotice >= HEARTBEAT_MS) {
      const waited = Math.round((Date.now() - started) / 1000);
      log(`Another process (pid ${holder}) is building the Temporal CLI; waiting… ${waited}s`);
      lastNotice = Date.now();
    }
    await sleep(1000);
  }
}

function lockHolder(lockPath: string): number | 'stale' | 'unknown' {
  let text: string;
  let ageMs: number;
  try {
    text = fs.readFileSync(lockPath, 'utf8').trim();
    ageMs = Date.now() - fs.statSync(lockPath).mtimeMs;
  } catch {
    return 'stale'; // vanished between our attempts: just retry
  }
  const pid = Number(text);
  // Empty for a moment right after creation; an old empty lock is left-over junk.
  if (!Number.isInteger(pid) || pid <= 0) return ageMs > 10_000 ? 'stale' : 'unknown';
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : 'stale';
  }
}

async function buildCli(go: string, root: string, log: (m: string) => void): Promise<string> {
  const failures: string[] = [];
  for (const [i, tag] of CLI_TAGS.entries()) {
    const result = await goInstall(go, tag, root, log);
    if (result.ok) return result.path;
    failures.push(`${tag}: ${result.tail}`);
    if (!result.refused) break; // a real build failure: an older tag would not help, and costs minutes
    if (i + 1 < CLI_TAGS.length) log(`The Go module proxy refused ${CLI_MODULE}@${tag}; trying ${CLI_TAGS[i + 1]}.`);
  }
  throw new Error(`Building the Temporal CLI with go install failed:\n${failures.join('\n')}`);
}

type GoInstallResult = { ok: true; path: string } | { ok: false; refused: boolean; tail: string };

async function goInstall(go: string, tag: string, root: string, log: (m: string) => void): Promise<GoInstallResult> {
  const finalDir = path.join(root, `temporal-${tag}`);
  // Build into a private dir, then rename: nobody ever sees a half-written binary.
  const tmpDir = path.join(root, `.temporal-${tag}.partial-${process.pid}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  fs.mkdirSync(tmpDir, { recursive: true });

  log(
    `Building Temporal CLI ${tag} with \`go install ${CLI_MODULE}@${tag}\` into ${finalDir}. ` +
      'One-time step; it takes several minutes on a two-core machine.',
  );
  const started = Date.now();
  const child = spawn(go, ['install', '-v', `${CLI_MODULE}@${tag}`], {
    cwd: root, // outside any Go module or workspace of ours
    env: { ...process.env, GOBIN: tmpDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const tail: string[] = [];
  let packages = 0;
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
    // -v prints one bare import path per compiled package: count those, show everything else.
    if (/^[\w.~-]+(\/[\w.~+-]+)*$/.test(line)) packages++;
    else log(`[go] ${line}`);
  };
  readline.createInterface({ input: child.stdout }).on('line', onLine);
  readline.createInterface({ input: child.stderr }).on('line', onLine);
  const heartbeat = setInterval(() => {
    const secs = Math.round((Date.now() - started) / 1000);
    log(`still building… ${secs}s (${packages} packages compiled)`);
  }, HEARTBEAT_MS);

  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      tail.push(String(err));
      resolve(null);
    });
    child.once('close', (c) => resolve(c));
  });
  clearInterval(heartbeat);

  const built = path.join(tmpDir, 'temporal');
  if (code === 0 && isExecutableFile(built)) {
    fs.mkdirSync(finalDir, { recursive: true });
    fs.renameSync(built, path.join(finalDir, 'temporal'));
    fs.rmSync(tmpDir, { recursive: true, force: true });
    log(`Built ${path.join(finalDir, 'temporal')} in ${Math.round((Date.now() - started) / 1000)}s.`);
    return { ok: true, path: path.join(finalDir, 'temporal') };
  }
  fs.rmSync(tmpDir, { recursive: true, force: true });
  const text = tail.join('\n');
  // Version unknown to / withdrawn from the proxy, or needing a newer Go than we may fetch.
  const refused =
    /: (403|404|410)\b|not available|unknown revision|invalid version|no matching versions|requires go >=/i.test(text);
  return { ok: false, refused, tail: text };
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
