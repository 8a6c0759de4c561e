/**
 * The campaign's own Postgres: a throwaway cluster (initdb into a temp dir, pg_ctl on a free port), so
 * the nemesis may restart it at will without touching the machine's shared Postgres on 5432, which
 * other engineers' tests use. Run as the `postgres` user when we are root (initdb refuses root).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort } from '../../temporal/dev-server';

export interface OwnPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  adminUrl: string;
  port: number;
  /** Stops it at once (`-m immediate`: a crash, as kill -9 of the postmaster would be), waits `downMs`, starts it. */
  restart(downMs: number): Promise<void>;
  stop(): void;
}

/** The newest /usr/lib/postgresql/<n>/bin holding initdb and pg_ctl, or LW_NEMESIS_PG_BIN. */
function pgBinDir(): string {
  const fromEnv = process.env.LW_NEMESIS_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length)
    throw new Error(
      'no PostgreSQL server binaries under /usr/lib/postgresql (bash scripts/ensure-postgres.sh installs them)',
    );
  return path.join(root, versions[0]!, 'bin');
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

const command = (bin: string, args: string[]): [string, string[]] =>
  asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];

/** Runs a Postgres program, as the postgres user when we are root (without blocking the load). */
function pgRun(bin: string, args: string[]): Promise<void> {
  const [cmd, argv] = command(bin, args);
  return new Promise((resolve, reject) =>
    execFile(cmd, argv, { encoding: 'utf8' }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed: ${err.message}\n${stderr}${stdout}`))
        : resolve(),
    ),
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startOwnPostgres(log: (m: string) => void): Promise<OwnPostgres> {
  const bin = pgBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-nemesis-pg-'));
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  await pgRun(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  // Durability stays on (fsync): a restart must lose nothing that was committed.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=64MB`;
  const ctlArgs = (args: string[]) => ['-D', data, '-w', '-t', '120', ...args];
  const pgCtl = (args: string[]) => pgRun(path.join(bin, 'pg_ctl'), ctlArgs(args));
  const start = () => pgCtl(['-o', options, '-l', path.join(dir, 'postgres.log'), 'start']);
  await start();
  let stopped = false;
  // Synchronous: it also runs from process.on('exit').
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const [cmd, argv] = command(path.join(bin, 'pg_ctl'), ctlArgs(['-m', 'immediate', 'stop']));
    spawnSync(cmd, argv);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  log(`own Postgres ${path.basename(path.dirname(bin))} on 127.0.0.1:${port} (data in ${data})`);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async restart(downMs) {
      await pgCtl(['-m', 'immediate', 'stop']);
      await sleep(downMs);
      await start();
    },
    stop,
  };
}
