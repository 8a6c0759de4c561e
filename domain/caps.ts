import { CAP_PERIODS } from './types';
import type { CapPeriod, Caps, PeriodCounts } from './types';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws RangeError for an unknown zone (that is Intl's own check). */
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock at instant t in the zone, encoded as if it were a UTC timestamp (second precision). */
function wallClock(t: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute, parts.second);
}

/** UTC offset of the zone at instant t, in ms (wall clock minus UTC). */
function offsetAt(t: number, timeZone: string): number {
  return wallClock(t, timeZone) - (t - (((t % 1000) + 1000) % 1000));
}

/**
 * The first instant whose wall clock in the zone reads `wall` (a UTC-encoded
 * local time). Two cases need care around DST transitions:
 * - the wall time happens twice (fall back): the earlier instant is the start;
 * - the wall time never happens (spring forward over midnight, e.g. Santiago,
 *   Havana, Beirut): the period starts at the transition, the first instant
 *   whose wall clock is past `wall`.
 */
function firstInstantOfWallTime(wall: number, timeZone: string): number {
  // Any real offset is within [-14h, +14h], so the answer is in [wall - 14h, wall + 14h]:
  // sample offsets across that window to see every offset in force around it.
  const offsets = new Set<number>();
  for (let t = wall - 15 * HOUR; t <= wall + 15 * HOUR; t += 3 * HOUR) offsets.add(offsetAt(t, timeZone));
  const exact = [...offsets].map((o) => wall - o).filter((t) => wallClock(t, timeZone) === wall);
  if (exact.length > 0) return Math.min(...exact);

  // Gap: before the transition the wall clock is behind `wall`, after it, ahead. Bisect to the second.
  let lo = wall - Math.max(...offsets); // wall clock here is < wall
  let hi = wall - Math.min(...offsets); // wall clock here is > wall
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (wallClock(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The UTC instant at which the current day, ISO week (Monday 00:00) or calendar
 * month began, as the agency's clock on the wall sees it: caps are promises to
 * buyers in their own terms ("5 a day" resets at local midnight, not UTC midnight).
 */
export function periodStart(period: CapPeriod, now: Date, timeZone: string): Date {
  const wall = new Date(wallClock(now.getTime(), timeZone));
  const y = wall.getUTCFullYear();
  const m = wall.getUTCMonth();
  const d = wall.getUTCDate();
  let startWall: number;
  switch (period) {
    case 'daily':
      startWall = Date.UTC(y, m, d);
      break;
    case 'weekly': {
      const sinceMonday = (wall.getUTCDay() + 6) % 7;
      startWall = Date.UTC(y, m, d) - sinceMonday * DAY;
      break;
    }
    case 'monthly':
      startWall = Date.UTC(y, m, 1);
      break;
    default:
      throw new RangeError(`unknown cap period: ${String(period)}`);
  }
  return new Date(firstInstantOfWallTime(startWall, timeZone));
}

export function periodStarts(now: Date, timeZone: string): Record<CapPeriod, Date> {
  return {
    daily: periodStart('daily', now, timeZone),
    weekly: periodStart('weekly', now, timeZone),
    monthly: periodStart('monthly', now, timeZone),
  };
}

/**
 * The first period (daily, weekly, monthly) whose cap is set and already met.
 * `>=` because the count is what was bought before this lead: at 5 of 5, a
 * sixth would exceed it. A cap of 0 therefore blocks all buying (a way to pause
 * a period); an absent cap means unlimited.
 */
export function capReached(caps: Caps, counts: PeriodCounts): CapPeriod | null {
  for (const period of CAP_PERIODS) {
    const cap = caps?.[period];
    if (cap === undefined || cap === null) continue;
    if ((counts?.[period] ?? 0) >= cap) return period;
  }
  return null;
}

/** Whether Intl knows the zone (IANA names such as "America/New_York", plus aliases like "UTC"). */
export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz.trim() === '') return false;
  try {
    // Not through the cache: this guards raw input, which should not grow it.
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
