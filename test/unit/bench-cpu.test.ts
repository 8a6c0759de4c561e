/**
 * The bench's Postgres CPU (bench/lib/stack.ts `cpuSecondsOfTree`, behind throughput's `postgres_all`): a window
 * over a server process must count the CPU of a child that started and exited inside it, as a backend does when
 * pg-pool closes a connection idle for 10 s. Summing the live processes only lost it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';

import { cpuSecondsOfTree } from '../../bench/lib/stack';

// Burns a fixed amount of work (not a time) and prints the CPU seconds it used.
const CHILD = `let x = 0; for (let i = 0; i < 2e8; i++) x = (x + i) % 7; const u = process.cpuUsage(); console.log((u.user + u.system) / 1e6 + x * 0);`;
// Waits for a line, then runs the child to its end (spawnSync reaps it) and prints what the child reported.
const PARENT = `
const { spawnSync } = require('node:child_process');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.once('line', () => {
  const r = spawnSync(process.execPath, ['-e', ${JSON.stringify(CHILD)}], { encoding: 'utf8' });
  console.log('child ' + r.stdout.trim());
});
console.log('ready');
`;

let parent: ChildProcess | null = null;
afterEach(() => {
  parent?.kill();
  parent = null;
});

test('a window over a parent counts a child that started and exited inside it, once', async () => {
  parent = spawn(process.execPath, ['-e', PARENT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: parent.stdout! })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe('ready');

  const before = cpuSecondsOfTree([parent.pid!]);
  parent.stdin!.write('go\n');
  const reported = /^child ([\d.]+)$/.exec(String((await lines.next()).value));
  const after = cpuSecondsOfTree([parent.pid!]);

  expect(reported).not.toBeNull();
  const childCpu = Number(reported![1]);
  expect(childCpu).toBeGreaterThan(0.1);
  // Counted (clock ticks of 10 ms for user and system time: 0.05 s of slack) …
  expect(after - before).toBeGreaterThanOrEqual(childCpu - 0.05);
  // … and once: the child's time plus what the idle parent spent spawning it.
  expect(after - before).toBeLessThan(2 * childCpu + 0.1);
});

test('a process that is gone reads 0', () => {
  expect(cpuSecondsOfTree([2 ** 22 + 12345])).toBe(0);
});
