import { DateTime } from 'luxon';

import type { CapPeriod, Caps, PeriodCounts } from './types';
import { CAP_PERIODS } from './types';

/**
 * The UTC instant at which the current day, ISO week (Monday 00:00) or calendar
 * month began, as the agency's clock on the wall sees it: caps are promises to
 * buyers in their own terms ("5 a day" resets at local midnight, not UTC midnight).
 *
 * luxon does the zone arithmetic (the same engine as buyers' schedules,
 * domain/schedule.ts). Two DST cases need care:
 * - midnight happens twice (fall back over midnight): the earlier instant is the start;
 * - midnight never happens (spring forward over midnight, e.g. Santiago, Havana,
 *   Beirut): the period starts at the transition, which is where luxon puts a
 *   skipped wall time's start of day.
 */
export function periodStart(period: CapPeriod, now: Date, timeZone: string): Date {
  const unit = PERIOD_UNIT[period];
  if (!unit) throw new RangeError(`unknown cap period: ${String(period)}`);
  const dt = DateTime.fromJSDate(now, { zone: timeZone });
  if (!dt.isValid) throw new RangeError(`unknown time zone: ${timeZone}`);
  const start = dt.startOf(unit);
  // A repeated midnight: luxon may pick the later of the two; the period began at the earlier.
  const earlier = start.minus({ hours: 1 });
  const sameWall =
    earlier.year === start.year &&
    earlier.month === start.month &&
    earlier.day === start.day &&
    earlier.hour === start.hour &&
    earlier.minute === start.minute;
  return (sameWall ? earlier : start).toJSDate();
}

const PERIOD_UNIT: Record<CapPeriod, 'day' | 'week' | 'month'> = { daily: 'day', weekly: 'week', monthly: 'month' };

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
