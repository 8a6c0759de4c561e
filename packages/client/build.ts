/**
 * `npm run client:build`: builds @leadwire/client to JavaScript for plain
 * JavaScript integrators, into packages/client/dist:
 * - `index.mjs` (ES module) and `index.cjs` (CommonJS), bundled by esbuild from
 *   index.ts with openapi-fetch left as the package's one dependency;
 * - `index.d.ts` and the generated `schema.d.ts` / `feed.d.ts` beside it, their
 *   relative imports written with `.js` so TypeScript finds them under every
 *   module resolution (node16/nodenext, bundler, node10).
 * package.json's `exports` points `import`, `require` and `types` at them. The
 * repository itself keeps importing the TypeScript sources (`main: index.ts`).
 * test/api/client-package.test.ts packs the package, installs it in a scratch
 * project and uses it from .mjs, .cjs and a type-checked .mts.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { build } from 'esbuild';

const CLIENT_DIR = __dirname;
export const DIST = path.join(CLIENT_DIR, 'dist');

/** `from './x'` → `from './x.js'` in a declaration file. */
const withJsExtensions = (dts: string) =>
  dts.replace(/(from\s+['"])(\.\/[^'"]+?)(['"])/g, (_m, a, p, b) => `${a}${p}.js${b}`);

export async function buildClient(): Promise<void> {
  fs.rmSync(DIST, { recursive: true, force: true });
  for (const format of ['esm', 'cjs'] as const)
    await build({
      entryPoints: [path.join(CLIENT_DIR, 'index.ts')],
      outfile: path.join(DIST, format === 'esm' ? 'index.mjs' : 'index.cjs'),
      bundle: true,
      format,
      platform: 'neutral',
      target: 'es2022',
      external: ['openapi-fetch'],
      logLevel: 'warning',
    });
  const tsc = path.join(CLIENT_DIR, '../../node_modules/typescript/bin/tsc');
  const out = path.join(DIST, 'types');
  execFileSync(
    process.execPath,
    [
      tsc,
      '--declaration',
      '--emitDeclarationOnly',
      '--skipLibCheck',
      '--strict',
      '--target',
      'es2022',
      '--module',
      'esnext',
      '--moduleResolution',
      'bundler',
      '--outDir',
      out,
      path.join(CLIENT_DIR, 'index.ts'),
    ],
    { stdio: 'inherit' },
  );
  // tsc writes the generated .d.ts inputs nowhere (they are declarations already): copy them beside index.d.ts.
  for (const f of ['index.d.ts', 'feed-close-codes.d.ts'])
    fs.writeFileSync(path.join(DIST, f), withJsExtensions(fs.readFileSync(path.join(out, f), 'utf8')));
  for (const f of ['schema.d.ts', 'feed.d.ts'])
    fs.writeFileSync(path.join(DIST, f), withJsExtensions(fs.readFileSync(path.join(CLIENT_DIR, f), 'utf8')));
  fs.rmSync(out, { recursive: true, force: true });
}

if (require.main === module)
  buildClient().then(
    () => console.log(`built @leadwire/client into ${path.relative(process.cwd(), DIST)}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
