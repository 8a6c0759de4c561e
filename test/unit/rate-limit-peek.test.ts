/** RateLimiter.peek on the in-memory buckets (api/rate-limit.ts): looks without taking. */
import { TokenBuckets } from '../../api/rate-limit';

test('peek answers 0 while a token is left and the wait once none is, and never takes one', async () => {
  let now = 0;
  const b = new TokenBuckets({ capacity: 2, refillPerSecond: 0.5 }, () => now);
  for (let i = 0; i < 5; i++) expect(await b.peek('k')).toBe(0);
  expect(await b.acquire('k')).toBe(0);
  expect(await b.peek('k')).toBe(0);
  expect(await b.acquire('k')).toBe(0);
  expect(await b.peek('k')).toBe(2);
  expect(await b.peek('k')).toBe(2);
  expect(await b.peek('other')).toBe(0);
  now += 2000;
  expect(await b.peek('k')).toBe(0);
  expect(await b.acquire('k')).toBe(0);
  expect(await b.acquire('k')).toBe(2);
});
