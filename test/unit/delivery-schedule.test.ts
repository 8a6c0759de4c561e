/**
 * The delivery retry schedule (domain/delivery.ts): exponential from the
 * initial wait, capped, ±20 % jitter, and a receiver's Retry-After in its
 * place (up to a day); and the documented default spreads 12 attempts over
 * about 19 hours.
 */
import { deliveryConfigFromEnv } from '../../activities/channels/config';
import { parseRetryAfter } from '../../activities/channels/http-post';
import { MAX_RETRY_AFTER_MS, retryDelayMs } from '../../domain/delivery';

const schedule = { initialIntervalMs: 10_000, backoffCoefficient: 3, maximumIntervalMs: 4 * 3_600_000 };

test('the wait grows by the coefficient and stops at the cap; jitter stays within ±20 %', () => {
  expect([1, 2, 3, 4].map((a) => retryDelayMs(schedule, a, null, 0.5))).toEqual([10_000, 30_000, 90_000, 270_000]);
  expect(retryDelayMs(schedule, 11, null, 0.5)).toBe(4 * 3_600_000);
  expect(retryDelayMs(schedule, 1, null, 0)).toBe(8_000);
  expect(retryDelayMs(schedule, 1, null, 0.999999)).toBeLessThanOrEqual(12_000);
  expect(retryDelayMs(schedule, 1, null, 0.999999)).toBeGreaterThan(11_999);
});

test("a receiver's Retry-After replaces the schedule, up to a day", () => {
  expect(retryDelayMs(schedule, 1, 5_000, 0.9)).toBe(5_000);
  expect(retryDelayMs(schedule, 7, 0, 0.9)).toBe(0);
  expect(retryDelayMs(schedule, 1, 3 * 86_400_000, 0.9)).toBe(MAX_RETRY_AFTER_MS);
  expect(parseRetryAfter('5')).toBe(5_000);
  expect(
    parseRetryAfter(new Date(Date.parse('2030-01-01T00:00:10Z')).toUTCString(), Date.parse('2030-01-01T00:00:00Z')),
  ).toBe(10_000);
  expect(parseRetryAfter('soon')).toBeNull();
  expect(parseRetryAfter(undefined)).toBeNull();
});

test('the default: 12 attempts spread over about 19 hours (docs/delivery.md)', () => {
  const { retry } = deliveryConfigFromEnv({});
  expect(retry.maximumAttempts).toBe(12);
  const waits = Array.from({ length: retry.maximumAttempts - 1 }, (_, i) => retryDelayMs(retry, i + 1, null, 0.5));
  const hours = waits.reduce((a, b) => a + b, 0) / 3_600_000;
  expect(hours).toBeGreaterThan(18.5);
  expect(hours).toBeLessThan(19.5);
});
