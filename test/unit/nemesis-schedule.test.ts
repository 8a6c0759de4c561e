/**
 * The nemesis campaign's randomness (ops/nemesis/rng.ts, faults.ts): a seed gives one schedule and one
 * sequence of choices per named stream, whatever else ran; and every `npm run nemesis` command the docs
 * print is one the command accepts.
 */
import fs from 'node:fs';
import path from 'node:path';

import { parseArgs } from '../../ops/nemesis';
import { scheduleFor } from '../../ops/nemesis/campaign';
import { FAULT_KINDS } from '../../ops/nemesis/faults';
import { Rng } from '../../ops/nemesis/rng';

test('the same seed replays the same fault schedule; another seed gives another', () => {
  const a = scheduleFor(42, 600_000, FAULT_KINDS);
  expect(scheduleFor(42, 600_000, FAULT_KINDS)).toEqual(a);
  expect(scheduleFor(43, 600_000, FAULT_KINDS)).not.toEqual(a);
  // Every few seconds, one at a time, within the duration, every kind drawn in ten minutes.
  expect(a.length).toBeGreaterThan(30);
  for (const [prev, next] of a.slice(0, -1).map((f, i) => [f, a[i + 1]!] as const))
    expect(next.atMs - (prev.atMs + prev.holdMs)).toBeGreaterThanOrEqual(2_000);
  expect(a[a.length - 1]!.atMs + a[a.length - 1]!.holdMs).toBeLessThanOrEqual(600_000);
  expect(new Set(a.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS.map((k) => k.name)));
});

test("a stream's choices depend on the seed and its name only, not on what other streams drew", () => {
  const draw = (r: Rng) => [r.int(0, 1000), r.uuid(), r.pick(['a', 'b', 'c']), r.next()];
  const one = new Rng(7);
  const claims = one.fork('op:claim:0');
  const first = draw(claims);
  const two = new Rng(7);
  draw(two.fork('op:intake:0')); // another stream drawing first changes nothing
  expect(draw(two.fork('op:claim:0'))).toEqual(first);
  expect(draw(new Rng(8).fork('op:claim:0'))).not.toEqual(first);
});

test('every `npm run nemesis` command in the docs parses', () => {
  const root = path.resolve(__dirname, '..', '..');
  const text = ['README.md', 'docs/guarantees.md'].map((f) => fs.readFileSync(path.join(root, f), 'utf8')).join('\n');
  const commands = [...text.matchAll(/npm run nemesis -- ([^`\n]*)/g)].map((m) => m[1]!.trim().split(/\s+/));
  expect(commands.length).toBeGreaterThan(1);
  for (const argv of commands) expect(() => parseArgs(argv)).not.toThrow();
  expect(parseArgs(['--duration', '10m', '--seed', '5'])).toEqual({ durationMs: 600_000, seed: 5, buyers: 8 });
  expect(() => parseArgs(['--duration', 'soon'])).toThrow(/duration/);
});
