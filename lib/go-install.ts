/**
 * Go programs the project runs but does not ship (the Temporal CLI, stripe-mock), built from source with
 * `go install <module>@<tag>` – the only registries we can reach are npm, Debian and the Go module proxy, so
 * nothing downloads a prebuilt binary – and cached as <cache>/<name>-<tag>/<binary>.
 *
 * One build at a time per cache dir and program (a lock file holding the builder's pid); the binary is
 * built into a private dir and renamed into place, so nobody ever sees a half-written one. The cache root
 * is LW_TEMPORAL_CACHE (its historical name; default ~/.cache/leadwire).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

const HEARTBEAT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const defaultLog = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

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

export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutableFile(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

function cacheRoot(): string {
  return env('LW_TEMPORAL_CACHE') ?? path.join(os.homedir(), '.cache', 'leadwire');
}

export interface GoProgram {
  /** Cache dir prefix and lock name: <cache>/<name>-<tag>/<binary>. */
  name: string;
  /** For messages: "Temporal CLI", "stripe-mock". */
  label: string;
  /** The `go install` package path, without @version. */
  module: string;
  /** Preferred first; the older tags are only tried if the module proxy refuses the newer one. */
  tags: readonly string[];
  /** The binary `go install` writes (the last element of the package path). */
  binary: string;
  /** For the one-time message: "several minutes on a two-core machine". */
  expectedDuration: string;
  /** Other ways out, for the message when there is no Go toolchain: "or set X to a binary". */
  otherFixes?: string;
}

function cachedBinary(root: string, program: GoProgram): string | null {
  for (const tag of program.tags) {
    const p = path.join(root, `${program.name}-${tag}`, program.binary);
    if (isExecutableFile(p)) return p;
  }
  return null;
}

/** Returns the path of the program's cached binary, building it with `go install` on first use. */
export async function ensureGoProgram(program: GoProgram, log: (msg: string) => void = defaultLog): Promise<string> {
  const root = cacheRoot();
  const cached = cachedBinary(root, program);
  if (cached) return cached;

  const go = findOnPath('go') ?? (isExecutableFile('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!go) {
    throw new Error(
      `No ${program.label} found and no Go toolchain to build one. Fix: install Go >= 1.23 from https://go.dev/dl ` +
        `(it fetches a newer toolchain by itself when a program needs one)${program.otherFixes ? `, ${program.otherFixes}` : ''}.`,
    );
  }

  fs.mkdirSync(root, { recursive: true });
  const release = await acquireBuildLock(root, program, log);
  try {
    // Another process may have finished the build while we waited for the lock.
    const built = cachedBinary(root, program);
    if (built) return built;
    // Holding the lock, any half-built dir left behind belongs to a killed build.
    const partial = new RegExp(`^\\.${escapeRegExp(program.name)}-.*\\.partial-\\d+$`);
    for (const name of fs.readdirSync(root)) {
      if (partial.test(name)) fs.rmSync(path.join(root, name), { recursive: true, force: true });
    }
    return await build(go, root, program, log);
  } finally {
    release();
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * One build at a time per cache dir and program: the lock file holds the builder's pid; a lock whose pid is
 * gone (killed build) is stale and taken over. The second process waits and then finds the binary.
 */
async function acquireBuildLock(root: string, program: GoProgram, log: (m: string) => void): Promise<() => void> {
  const lockPath = path.join(root, `${program.name}-build.lock`);
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
      log(`Another process (pid ${holder}) is building ${program.label}; waiting… ${waited}s`);
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

async function build(go: string, root: string, program: GoProgram, log: (m: string) => void): Promise<string> {
  const failures: string[] = [];
  const { tags } = program;
  for (const [i, tag] of tags.entries()) {
    const result = await goInstall(go, tag, root, program, log);
    if (result.ok) return result.path;
    failures.push(`${tag}: ${result.tail}`);
    if (!result.refused) break; // a real build failure: an older tag would not help, and costs minutes
    if (i + 1 < tags.length) log(`The Go module proxy refused ${program.module}@${tag}; trying ${tags[i + 1]}.`);
  }
  throw new Error(`Building ${program.label} with go install failed:\n${failures.join('\n')}`);
}

type GoInstallResult = { ok: true; path: string } | { ok: false; refused: boolean; tail: string };

async function goInstall(
  go: string,
  tag: string,
  root: string,
  program: GoProgram,
  log: (m: string) => void,
): Promise<GoInstallResult> {
  const finalDir = path.join(root, `${program.name}-${tag}`);
  // Build into a private dir, then rename: nobody ever sees a half-written binary.
  const tmpDir = path.join(root, `.${program.name}-${tag}.partial-${process.pid}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  fs.mkdirSync(tmpDir, { recursive: true });

  log(
    `Building ${program.label} ${tag} with \`go install ${program.module}@${tag}\` into ${finalDir}. ` +
      `One-time step; it takes ${program.expectedDuration}.`,
  );
  const started = Date.now();
  const child = spawn(go, ['install', '-v', `${program.module}@${tag}`], {
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

  const built = path.join(tmpDir, program.binary);
  if (code === 0 && isExecutableFile(built)) {
    fs.mkdirSync(finalDir, { recursive: true });
    fs.renameSync(built, path.join(finalDir, program.binary));
    fs.rmSync(tmpDir, { recursive: true, force: true });
    log(`Built ${path.join(finalDir, program.binary)} in ${Math.round((Date.now() - started) / 1000)}s.`);
    return { ok: true, path: path.join(finalDir, program.binary) };
  }
  fs.rmSync(tmpDir, { recursive: true, force: true });
  const text = tail.join('\n');
  // Version unknown to / withdrawn from the proxy, or needing a newer Go than we may fetch.
  const refused =
    /: (403|404|410)\b|not available|unknown revision|invalid version|no matching versions|requires go >=/i.test(text);
  return { ok: false, refused, tail: text };
}
