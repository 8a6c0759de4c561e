/**
 * @leadwire/client as a plain JavaScript integrator gets it (#25 item 9): built by `npm run client:build`, packed
 * by npm, installed in a scratch project, and used from an ES module and a CommonJS script (the examples of its
 * README, run verbatim against a running API) and from a TypeScript file type-checked under nodenext.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { buildClient } from '../../packages/client/build';
import { apiAgency, apiBuyer, type Harness, startHarness } from './harness';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '../..');
const CLIENT = path.join(ROOT, 'packages/client');
let h: Harness;
let project: string;

/** The code block under a README heading. */
function example(heading: string): string {
  const readme = fs.readFileSync(path.join(CLIENT, 'README.md'), 'utf8');
  const at = readme.indexOf(`## ${heading}`);
  const m = /```(?:js|ts)\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error(`no example under "${heading}"`);
  return m[1]!;
}

beforeAll(async () => {
  h = await startHarness();
  await buildClient();
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-client-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', CLIENT, '--ignore-scripts', '--json', '--pack-destination', project], {
      cwd: ROOT,
      encoding: 'utf8',
    }),
  ) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['dist/index.mjs', 'dist/index.cjs', 'dist/index.d.ts', 'README.md']));
  // npm always packs `main` (index.ts, which this repository's own code imports); `exports` sends every consumer to dist.
  expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual(['index.ts']);
  const modules = path.join(project, 'node_modules');
  fs.mkdirSync(path.join(modules, '@leadwire'), { recursive: true });
  execFileSync('tar', ['-xzf', path.join(project, packed[0]!.filename), '-C', path.join(modules, '@leadwire')]);
  fs.renameSync(path.join(modules, '@leadwire/package'), path.join(modules, '@leadwire/client'));
  // Its one dependency (and that one's), as npm would install them.
  for (const dep of ['openapi-fetch', 'openapi-typescript-helpers'])
    fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(modules, dep));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'integrator', private: true }));
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

/** Runs a script of the scratch project; asynchronously, since the API it calls runs in this very process. */
async function run(file: string, env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [file], { cwd: project, env: { ...process.env, ...env } });
  return stdout;
}

test("the README's ES module and CommonJS examples run against the API as written", async () => {
  const { adminKey } = await apiAgency(h);
  const { apiKey } = await apiBuyer(h, adminKey, { credits: 37 });
  const env = { LEADWIRE_URL: h.main.baseUrl, LEADWIRE_KEY: apiKey };
  fs.writeFileSync(path.join(project, 'balance.mjs'), example('From JavaScript (ES module)'));
  fs.writeFileSync(path.join(project, 'balance.cjs'), example('From CommonJS'));
  expect(await run('balance.mjs', env)).toBe('balance: 37 credits\n');
  expect(await run('balance.cjs', env)).toBe('balance: 37 credits\n');
  // A wrong key: the problem document's code, from the client's `error`.
  await expect(run('balance.mjs', { ...env, LEADWIRE_KEY: 'lw_wrong' })).rejects.toThrow(/unauthorized/);
});

test('TypeScript finds the declarations under nodenext, for import and require, and checks paths and fields', () => {
  const consumer = `import { createLeadwireClient, FEED_CLOSE_CODES, type FeedServerMessage } from '@leadwire/client';
const api = createLeadwireClient({ baseUrl: 'http://localhost:3000', apiKey: 'lw_x' });
export async function balance(): Promise<number> {
  const { data, error } = await api.GET('/v1/me/wallet');
  if (error) throw new Error(error.code);
  return data.balance;
}
export const closed: number = FEED_CLOSE_CODES.access_revoked;
export const isOpened = (m: FeedServerMessage) => m.type === 'offer.opened';
// @ts-expect-error: no such path
void api.GET('/v1/no-such-path');
`;
  fs.writeFileSync(path.join(project, 'consumer.mts'), consumer);
  fs.writeFileSync(
    path.join(project, 'consumer.cts'),
    `import client = require('@leadwire/client');\nexport const make = () => client.createLeadwireClient({ baseUrl: 'http://x' });\n`,
  );
  // A field the answer does not have is a compile error.
  fs.writeFileSync(path.join(project, 'wrong.mts'), consumer.replace('return data.balance;', 'return data.balanse;'));
  // A project of the integrator's own: nodenext resolution, strict, the DOM's fetch types (no @types/node); one
  // compiler run over the three files (the schema's declarations are large).
  fs.writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022', 'dom'],
        strict: true,
        noEmit: true,
        types: [],
      },
      files: ['consumer.mts', 'consumer.cts', 'wrong.mts'],
    }),
  );
  let output = '';
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
      cwd: project,
      encoding: 'utf8',
    });
  } catch (err) {
    output = (err as { stdout?: string }).stdout ?? String(err);
  }
  const errors = output.split('\n').filter((l) => /error TS\d+/.test(l));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/^wrong\.mts\(\d+,\d+\): error TS2551: .*'balanse'/);
});
