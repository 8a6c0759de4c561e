/** The split of `npm test` (test/setup/run-tests.ts): every test file runs in exactly one group, and one result covers them all. */
import { execFile } from 'node:child_process';
import path from 'node:path';

import { failureDigest, GROUPS, mergeResults, selection } from './run-tests';

const ROOT = path.resolve(__dirname, '../..');

/** The files Jest itself selects with these arguments (as the runner passes them), relative to the root. */
function listTests(args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [path.join(ROOT, 'node_modules/jest/bin/jest.js'), '--listTests', ...args],
      { cwd: ROOT, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout) =>
        err
          ? reject(err)
          : resolve(
              stdout
                .split('\n')
                .filter((l) => l.endsWith('.ts'))
                .map((l) => path.relative(ROOT, l))
                .sort(),
            ),
    ),
  );
}

test('every test file runs in exactly one group, and the groups together run them all', async () => {
  const all = await listTests([]);
  expect(all).toContain('test/setup/run-tests.test.ts');
  const byGroup = new Map<string, string[]>();
  for (const g of GROUPS) byGroup.set(g.name, await listTests(selection(g)));

  const seen = new Map<string, string[]>();
  for (const [name, files] of byGroup) for (const f of files) seen.set(f, [...(seen.get(f) ?? []), name]);
  expect([...seen.keys()].sort()).toEqual(all);
  expect([...seen.entries()].filter(([, groups]) => groups.length !== 1)).toEqual([]);

  // What must stay alone does, and the tests that write into the tree share a process with those that read it whole.
  expect(byGroup.get('alone')).toEqual(
    expect.arrayContaining(['test/faults/nemesis.test.ts', 'test/ops/cluster.test.ts']),
  );
  expect(byGroup.get('pages')).toEqual(
    expect.arrayContaining(['test/lint/imports.test.ts', 'test/ops/compiled.test.ts', 'test/browser/pages.test.ts']),
  );
  expect(GROUPS.find((g) => g.name === 'alone')?.phase).toBe(2);
  expect(GROUPS.filter((g) => g.phase === 2).map((g) => g.name)).toEqual(['alone']);
});

const result = (passed: number, failed: number, success = failed === 0) => ({
  numFailedTestSuites: failed ? 1 : 0,
  numFailedTests: failed,
  numPassedTestSuites: 1,
  numPassedTests: passed,
  numPendingTestSuites: 0,
  numPendingTests: 0,
  numRuntimeErrorTestSuites: 0,
  numTodoTests: 0,
  numTotalTestSuites: failed ? 2 : 1,
  numTotalTests: passed + failed,
  startTime: 1000 + passed,
  success,
  wasInterrupted: false,
  openHandles: [],
  snapshot: { total: 0, unchecked: 1 },
  testResults: [{ name: `file-${passed}` }],
});

test('the merged result counts every group, and is a success only when each group is', () => {
  const ok = mergeResults([
    { name: 'a', code: 0, result: result(3, 0) },
    { name: 'b', code: 0, result: result(5, 0) },
  ]);
  expect(ok).toMatchObject({
    numPassedTests: 8,
    numFailedTests: 0,
    numTotalTests: 8,
    numTotalTestSuites: 2,
    startTime: 1003,
    success: true,
    snapshot: { total: 0, unchecked: 2 },
    testResults: [{ name: 'file-3' }, { name: 'file-5' }],
  });

  const oneFailed = mergeResults([
    { name: 'a', code: 0, result: result(3, 0) },
    { name: 'b', code: 1, result: result(5, 2) },
  ]);
  expect(oneFailed).toMatchObject({ numPassedTests: 8, numFailedTests: 2, numTotalTests: 10, success: false });

  // A process that exits non-zero with every test passed (e.g. a crash in globalTeardown) fails the run too.
  expect(mergeResults([{ name: 'a', code: 1, result: result(3, 0) }]).success).toBe(false);
});

test('a group that died without a result counts as a crashed suite, so the run fails', () => {
  const merged = mergeResults([
    { name: 'a', code: 0, result: result(3, 0) },
    { name: 'b', code: 1, result: null },
  ]);
  expect(merged).toMatchObject({ numPassedTests: 3, numRuntimeErrorTestSuites: 1, success: false });
});

test('the digest names each failed test with the start of its message, and a file that failed before its tests', () => {
  const digest = failureDigest(
    {
      testResults: [
        {
          name: `${ROOT}/test/api/a.test.ts`,
          status: 'failed',
          assertionResults: [
            { fullName: 'passes', status: 'passed' },
            {
              fullName: 'claims › a second claim loses',
              status: 'failed',
              failureMessages: [
                '\u001b[31mError: expect(received).toBe(expected)\u001b[39m\n\nExpected: "lost"\nReceived: "won"\n    at line 1\n    at line 2',
              ],
            },
          ],
        },
        {
          name: `${ROOT}/test/db/b.test.ts`,
          status: 'failed',
          message: 'Cannot find module ./gone',
          assertionResults: [],
        },
        {
          name: `${ROOT}/test/db/c.test.ts`,
          status: 'passed',
          assertionResults: [{ fullName: 'fine', status: 'passed' }],
        },
      ],
    },
    3,
  );
  expect(digest).toEqual([
    '  FAIL test/api/a.test.ts › claims › a second claim loses',
    '      Error: expect(received).toBe(expected)',
    '      Expected: "lost"',
    '      Received: "won"',
    '  FAIL test/db/b.test.ts (the file failed)',
    '      Cannot find module ./gone',
  ]);
});
