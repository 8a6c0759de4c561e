/**
 * Builds the web pages (web/index.html: the buyer's Live Leads, web/admin.html:
 * the agency console, web/source.html: the source portal) into web/dist, which
 * the API process serves at `/`.
 *
 *   tsx web/tools/build.ts             build now                   (npm run build:web)
 *   tsx web/tools/build.ts --if-stale  build only when a source is newer than the build
 *                                      (npm start / npm run api, the browser tests)
 *   tsx web/tools/build.ts --dev       Vite's dev server on :5173, /v1 proxied to the API
 *                                      (LW_API_URL, default http://127.0.0.1:3000)
 *
 * Nothing is fetched at run time: Preact is bundled, the CSS is ours, the
 * charts are SVG drawn by our code. The build goes to a temporary folder that
 * then replaces web/dist, so a running server never serves a half-written dist.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { InlineConfig } from 'vite';

const webDir = path.resolve(__dirname, '..');
const root = path.resolve(webDir, '..');
const distDir = path.join(webDir, 'dist');
const STAMP = '.build-stamp';

/** Everything the bundle is made of (packages/client: the API's typed client; package-lock.json: a dependency upgrade rebuilds). */
const SOURCES = ['src', 'index.html', 'admin.html', 'source.html', 'tools']
  .map((p) => path.join(webDir, p))
  .concat([path.join(root, 'domain'), path.join(root, 'packages', 'client'), path.join(root, 'package-lock.json')]);

function newestMtime(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

export function isStale(): boolean {
  let built: number;
  try {
    built = fs.statSync(path.join(distDir, STAMP)).mtimeMs;
  } catch {
    return true;
  }
  return SOURCES.some((s) => newestMtime(s) > built);
}

function config(mode: 'build' | 'dev', outDir = distDir): InlineConfig {
  return {
    root: webDir,
    configFile: false,
    logLevel: mode === 'build' ? 'warn' : 'info',
    base: '/',
    publicDir: false,
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
      reportCompressedSize: false,
      rollupOptions: {
        input: {
          index: path.join(webDir, 'index.html'),
          admin: path.join(webDir, 'admin.html'),
          source: path.join(webDir, 'source.html'),
        },
      },
    },
    server: {
      host: '127.0.0.1',
      port: 5173,
      proxy: { '/v1': { target: process.env.LW_API_URL ?? 'http://127.0.0.1:3000', ws: true, changeOrigin: true } },
      fs: { allow: [root] },
    },
  };
}

async function loadVite(): Promise<typeof import('vite') | null> {
  try {
    return await import('vite');
  } catch {
    return null;
  }
}

export async function build(): Promise<void> {
  const vite = await loadVite();
  if (!vite) {
    // A production install without dev dependencies: serve what was built (e.g. in the image), or run without pages.
    if (fs.existsSync(path.join(distDir, 'index.html')))
      console.warn('[web] vite is not installed: serving the existing web/dist');
    else
      console.warn(
        '[web] vite is not installed and web/dist is missing: the API runs without its pages (npm ci, then npm run build:web)',
      );
    return;
  }
  const started = Date.now();
  const tmp = `${distDir}.tmp-${process.pid}`;
  const old = `${distDir}.old-${process.pid}`;
  try {
    await vite.build(config('build', tmp));
    fs.writeFileSync(path.join(tmp, STAMP), `${new Date().toISOString()}\n`);
    if (fs.existsSync(distDir)) fs.renameSync(distDir, old);
    fs.renameSync(tmp, distDir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(old, { recursive: true, force: true });
  }
  console.log(`[web] built web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  if (args.has('--dev')) {
    const vite = await loadVite();
    if (!vite) throw new Error('vite is not installed (npm ci)');
    const server = await vite.createServer(config('dev'));
    await server.listen();
    server.printUrls();
    return;
  }
  if (args.has('--if-stale') && !isStale()) return;
  await build();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error('[web] build failed:', err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
