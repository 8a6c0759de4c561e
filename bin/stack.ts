/**
 * `.data/stack.json`: where the running `npm start` can be reached – its API,
 * the Temporal frontend (and Web UI), the database (for PGlite, the wire
 * server that serves it while `npm start` runs) – written at start, removed
 * at a clean stop. The ops tools (`npm run audit`, `npm run replay`,
 * `npm run studio`) read it when `TEMPORAL_ADDRESS` / `DATABASE_URL` are not
 * set, so they reach the live stack with no flags and no copy of the data.
 */
import fs from 'node:fs';
import path from 'node:path';

import { plainTarget } from '../temporal/connection';
import type { Config } from './runtime';

export interface StackFile {
  pid: number;
  startedAt: string;
  api: string;
  temporal: { address: string; namespace: string; ui: string | null };
  taskQueue: string;
  database: { driver: 'pglite' | 'postgres'; url: string | null; pgliteDir: string | null };
}

export const stackFilePath = (dataDir: string) => path.join(dataDir, 'stack.json');

export function writeStackFile(dataDir: string, stack: StackFile): void {
  fs.mkdirSync(dataDir, { recursive: true });
  // It may hold a DATABASE_URL with a password: owner-only, like the root token.
  fs.writeFileSync(stackFilePath(dataDir), `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
}

export function removeStackFile(dataDir: string, pid = process.pid): void {
  const found = readStackFile(dataDir);
  if (found?.pid === pid) fs.rmSync(stackFilePath(dataDir), { force: true });
}

/** The stack file of a process still alive (a stale file from a killed `npm start` is ignored). */
export function readStackFile(dataDir: string): StackFile | null {
  let stack: StackFile;
  try {
    stack = JSON.parse(fs.readFileSync(stackFilePath(dataDir), 'utf8')) as StackFile;
  } catch {
    return null;
  }
  try {
    process.kill(stack.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return stack;
}

/**
 * The configuration of an ops tool: the environment's, with what it leaves
 * unset taken from the running stack's file. Says where each came from.
 */
export function withRunningStack(config: Config): { config: Config; stack: StackFile | null } {
  const stack = readStackFile(config.dataDir);
  if (!stack) return { config, stack: null };
  const namespace = process.env.TEMPORAL_NAMESPACE ? config.temporalNamespace : stack.temporal.namespace;
  return {
    stack,
    config: {
      ...config,
      temporal: config.temporal ?? plainTarget(stack.temporal.address, namespace),
      temporalNamespace: config.temporal?.namespace ?? namespace,
      databaseUrl: config.databaseUrl ?? stack.database.url,
    },
  };
}
