/**
 * stripe-mock, Stripe's official mock of its API (a Go program answering every documented endpoint with
 * fixture objects, stateless), for the payments tests and the fault campaign: built once with `go install`
 * at a pinned version and cached like the Temporal CLI (lib/go-install.ts), started on 127.0.0.1 on a
 * free port. `npx tsx scripts/stripe-mock.ts` is its command line.
 *
 * Env: LW_STRIPE_MOCK (path of a stripe-mock binary: use it, build nothing), LW_TEMPORAL_CACHE (cache root).
 */
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';

import { freePort } from '../temporal/dev-server';
import { ensureGoProgram, env, type GoProgram, isExecutableFile } from './go-install';

export const STRIPE_MOCK_VERSION = 'v0.203.0';

const STRIPE_MOCK: GoProgram = {
  name: 'stripe-mock',
  label: 'stripe-mock',
  module: 'github.com/stripe/stripe-mock',
  tags: [STRIPE_MOCK_VERSION],
  binary: 'stripe-mock',
  expectedDuration: 'about a minute on a two-core machine',
  otherFixes: 'or set LW_STRIPE_MOCK to a stripe-mock binary',
};

/**
 * Any key of the right shape: stripe-mock checks the form of the key, not the key – exactly three parts
 * separated by underscores, sk or rk, then test (so `sk_test_a_b` is refused with a 401).
 */
export const STRIPE_MOCK_KEY = 'sk_test_leadwireStripeMock';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

const defaultLog = (m: string): void => {
  process.stderr.write(`${m}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The path of a stripe-mock binary: LW_STRIPE_MOCK, else the cached build (built on first use). */
export async function ensureStripeMock(log: (m: string) => void = defaultLog): Promise<string> {
  const fromEnv = env('LW_STRIPE_MOCK');
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) throw new Error(`LW_STRIPE_MOCK=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  return ensureGoProgram(STRIPE_MOCK, log);
}

export interface RunningStripeMock {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number | null;
  stop(): Promise<void>;
}

/** Starts stripe-mock (HTTP only) on 127.0.0.1 and waits until it answers an authenticated request. */
export async function startStripeMock(
  opts: { port?: number; log?: (m: string) => void } = {},
): Promise<RunningStripeMock> {
  const log = opts.log ?? defaultLog;
  const binary = await ensureStripeMock(log);
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  // Given only -http-addr, stripe-mock also listens for HTTPS on its default :12112, so a second one on the machine
  // exits at once: its HTTPS listener gets a port the system chooses (unused: the SDK talks plain HTTP to it).
  const child = spawn(binary, ['-http-addr', `127.0.0.1:${port}`, '-https-addr', '127.0.0.1:'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  readline.createInterface({ input: child.stdout }).on('line', keep);
  readline.createInterface({ input: child.stderr }).on('line', keep);

  let exited = false;
  const closed = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      keep(String(err));
      exited = true;
      resolve();
    });
    child.once('close', () => {
      exited = true;
      resolve();
    });
  });
  // If our process exits without stop() (a crashed test run), don't leave the server behind.
  const onParentExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', onParentExit);
  void closed.then(() => process.removeListener('exit', onParentExit));

  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const graceful = await Promise.race([closed.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!graceful) {
      child.kill('SIGKILL');
      await closed;
    }
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'no attempt';
  for (;;) {
    if (exited) {
      throw new Error(`stripe-mock on ${url} exited before it was ready. Last output:\n${tail.join('\n')}`);
    }
    try {
      const res = await fetch(`${url}/v1/balance`, {
        headers: { authorization: `Bearer ${STRIPE_MOCK_KEY}` },
        signal: AbortSignal.timeout(2_000),
      });
      if (res.ok) break;
      // It answers, but not to us: waiting longer will not help.
      await stop();
      throw new Error(`stripe-mock on ${url} answered GET /v1/balance with HTTP ${res.status}: ${await res.text()}`);
    } catch (err) {
      if ((err as Error).message.startsWith('stripe-mock on')) throw err;
      lastError = String(err);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `stripe-mock on ${url} did not answer within ${READY_TIMEOUT_MS / 1000}s (${lastError}). Last output:\n${tail.join('\n')}`,
      );
    }
    await sleep(100);
  }
  return { url, port, pid: child.pid ?? null, stop };
}
