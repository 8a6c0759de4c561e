/** lib/burst.ts: shared reads and per-turn batches, with their errors kept to whom they belong. */
import { SingleFlight, turnBatcher } from '../../lib/burst';

const tick = () => new Promise<void>((r) => setImmediate(r));

test('SingleFlight: callers of one key during a read share it; a later caller reads again; keys do not mix', async () => {
  const flight = new SingleFlight<number>();
  let reads = 0;
  let release!: () => void;
  const read = () => {
    reads++;
    return new Promise<number>((r) => (release = () => r(reads)));
  };
  const a = flight.run('k', read);
  const b = flight.run('k', read);
  expect(flight.size).toBe(1);
  release();
  expect(await Promise.all([a, b])).toEqual([1, 1]);
  expect(flight.size).toBe(0);
  const c = flight.run('k', read);
  release();
  expect(await c).toBe(2);
  const d = flight.run('other', async () => 99);
  expect(await d).toBe(99);
});

test('SingleFlight: a failed read fails its callers and is not kept', async () => {
  const flight = new SingleFlight<number>();
  const fail = flight.run('k', async () => Promise.reject(new Error('down')));
  const same = flight.run('k', async () => 5);
  await expect(fail).rejects.toThrow('down');
  await expect(same).rejects.toThrow('down');
  await expect(flight.run('k', async () => 5)).resolves.toBe(5);
});

test('turnBatcher: the items of one turn go in one call, in order, each caller gets its own result', async () => {
  const calls: number[][] = [];
  const double = turnBatcher(async (items: number[]) => {
    calls.push(items);
    return items.map((n) => n * 2);
  });
  const first = await Promise.all([1, 2, 3].map(double));
  await tick();
  const second = await double(4);
  expect(first).toEqual([2, 4, 6]);
  expect(second).toBe(8);
  expect(calls).toEqual([[1, 2, 3], [4]]);
});

test('turnBatcher: an item failing alone fails only its caller; a failed call fails the whole turn', async () => {
  const picky = turnBatcher(async (items: number[]) =>
    items.map((n) => (n < 0 ? Promise.reject(new Error(`bad ${n}`)) : n)),
  );
  const settled = await Promise.allSettled([1, -1, 2].map(picky));
  expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  const broken = turnBatcher(async (_items: number[]): Promise<number[]> => {
    throw new Error('database down');
  });
  const all = await Promise.allSettled([1, 2].map(broken));
  expect(all.every((s) => s.status === 'rejected')).toBe(true);
  const short = turnBatcher(async (_items: number[]) => [1]);
  await expect(Promise.all([short(1), short(2)])).rejects.toThrow('a batch of 2 answered 1 results');
});
