/**
 * Hours of operation: a buyer's weekly schedule (per weekday, one or more
 * "HH:MM"–"HH:MM" ranges on its own wall clock) and its pauses with an end
 * ("back Monday 8:00"). Pure functions of the schedule, the zone and an
 * instant: whether the buyer takes leads now, and when it opens again.
 *
 * Time zones and daylight saving go through luxon (the same engine as the
 * cap periods in caps.ts). On a spring-forward day a range that starts inside
 * the skipped hour opens at the transition (the first instant the wall clock
 * is past its start); on a fall-back day the repeated hour is inside a range
 * both times it happens.
 */
import { DateTime } from 'luxon';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
type Weekday = (typeof WEEKDAYS)[number];

/** One opening on one weekday: from inclusive, to exclusive; "24:00" is the end of the day. */
interface TimeRange {
  from: string;
  to: string;
}

/** Weekday → its openings; a weekday absent or empty is closed. */
export type WeeklySchedule = Partial<Record<Weekday, TimeRange[]>>;

/** A pause: no leads from `from` (default: now) until `until` (ISO instants). */
export interface Pause {
  from?: string;
  until: string;
  note?: string;
}

export type Availability =
  | { open: true }
  | {
      open: false;
      why: 'schedule' | 'pause';
      /** null: the schedule never opens */ opensAt: Date | null;
      note?: string;
    };

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;

/** "HH:MM" → minutes since midnight; null if malformed. */
export function minutesOf(hhmm: string): number | null {
  if (!HHMM.test(hhmm)) return null;
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

/** Problems of a schedule's ranges (for the API's 400), as [path, message]. */
export function scheduleProblems(schedule: WeeklySchedule): [string, string][] {
  const out: [string, string][] = [];
  for (const day of WEEKDAYS) {
    const ranges = schedule[day] ?? [];
    const spans = ranges.map((r) => [minutesOf(r.from) ?? -1, minutesOf(r.to) ?? -1] as const);
    spans.forEach(([from, to], i) => {
      if (from < 0 || from >= 1440) out.push([`${day}.${i}.from`, 'a time "HH:MM" from 00:00 to 23:59']);
      else if (to < 0) out.push([`${day}.${i}.to`, 'a time "HH:MM" up to 24:00']);
      else if (to <= from)
        out.push([`${day}.${i}.to`, 'must be after "from" (a range past midnight is two ranges, one per day)']);
    });
    const sorted = [...spans].map((s, i) => ({ s, i })).sort((a, b) => a.s[0] - b.s[0]);
    for (let k = 1; k < sorted.length; k++) {
      if (sorted[k]!.s[0] < sorted[k - 1]!.s[1])
        out.push([`${day}.${sorted[k]!.i}`, 'overlaps another range of the day']);
    }
  }
  return out;
}

function local(now: Date, timeZone: string): DateTime {
  const dt = DateTime.fromJSDate(now, { zone: timeZone });
  if (!dt.isValid) throw new RangeError(`unknown time zone: ${timeZone}`);
  return dt;
}

/** Whether the wall clock at this instant is inside one of the day's ranges. */
export function inSchedule(schedule: WeeklySchedule, now: Date, timeZone: string): boolean {
  const dt = local(now, timeZone);
  const day = WEEKDAYS[dt.weekday - 1]!;
  const m = dt.hour * 60 + dt.minute;
  return (schedule[day] ?? []).some((r) => {
    const from = minutesOf(r.from);
    const to = minutesOf(r.to);
    return from !== null && to !== null && m >= from && m < to;
  });
}

/**
 * The first instant whose wall clock in the zone reads at least `minutes`
 * after midnight on that local date: the wall time itself, or, when that
 * time is skipped (spring forward), the transition.
 */
function wallInstant(date: DateTime, minutes: number): DateTime {
  if (minutes >= 1440) return date.startOf('day').plus({ days: 1 });
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const dt = date.set({ hour: h, minute: m, second: 0, millisecond: 0 });
  if (dt.hour === h && dt.minute === m) {
    // Fall back: the wall time happens twice; the earlier instant is the start.
    const earlier = dt.minus({ hours: 1 });
    return earlier.hour === h && earlier.minute === m ? earlier : dt;
  }
  // Skipped: bisect (to the minute) between an hour-aligned instant before and the shifted one after.
  const dayStart = date.startOf('day').toMillis();
  let lo = Math.max(dt.minus({ hours: 3 }).toMillis(), dayStart - 60_000);
  let hi = dt.toMillis();
  const target = minutes;
  while (hi - lo > 60_000) {
    const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
    const w = DateTime.fromMillis(mid, { zone: date.zone });
    const past = mid >= dayStart && (!w.hasSame(date, 'day') || w.hour * 60 + w.minute >= target);
    if (past) hi = mid;
    else lo = mid;
  }
  return DateTime.fromMillis(hi, { zone: date.zone });
}

/** The next instant at or after `now` when a range of the schedule begins (within 8 days), or null. */
export function nextScheduleStart(schedule: WeeklySchedule, now: Date, timeZone: string): Date | null {
  const today = local(now, timeZone).startOf('day');
  for (let d = 0; d <= 8; d++) {
    const date = today.plus({ days: d });
    const day = WEEKDAYS[date.weekday - 1]!;
    const starts = (schedule[day] ?? [])
      .map((r) => minutesOf(r.from))
      .filter((m): m is number => m !== null)
      .sort((a, b) => a - b);
    for (const m of starts) {
      const at = wallInstant(date, m).toJSDate();
      if (at.getTime() >= now.getTime() && inSchedule(schedule, at, timeZone)) return at;
    }
  }
  return null;
}

/** The pause in force at this instant, if any (the one that ends last). */
function activePause(pauses: readonly Pause[], now: Date): Pause | null {
  let found: Pause | null = null;
  for (const p of pauses) {
    const from = p.from ? Date.parse(p.from) : -Infinity;
    const until = Date.parse(p.until);
    if (now.getTime() >= from && now.getTime() < until && (!found || until > Date.parse(found.until))) found = p;
  }
  return found;
}

/**
 * Whether the buyer takes leads at `now`: no schedule means always (pauses
 * still apply). When it does not, `opensAt` is the first instant after both
 * its pauses and its closed hours (null when the schedule has no range).
 */
export function availability(input: {
  schedule: WeeklySchedule | null | undefined;
  pauses: readonly Pause[] | null | undefined;
  timeZone: string;
  now: Date;
}): Availability {
  const { schedule, timeZone } = input;
  const pauses = input.pauses ?? [];
  const pause = activePause(pauses, input.now);
  const closed = schedule ? !inSchedule(schedule, input.now, timeZone) : false;
  if (!pause && !closed) return { open: true };

  // Walk forward: out of pauses, into the schedule, until both hold (bounded: pauses and 8 days of ranges).
  let t = input.now;
  for (let i = 0; i < 64; i++) {
    const p = activePause(pauses, t);
    if (p) {
      t = new Date(Date.parse(p.until));
      continue;
    }
    if (schedule && !inSchedule(schedule, t, timeZone)) {
      const next = nextScheduleStart(schedule, t, timeZone);
      if (!next)
        return {
          open: false,
          why: pause ? 'pause' : 'schedule',
          opensAt: null,
          ...(pause?.note ? { note: pause.note } : {}),
        };
      t = next;
      continue;
    }
    break;
  }
  return { open: false, why: pause ? 'pause' : 'schedule', opensAt: t, ...(pause?.note ? { note: pause.note } : {}) };
}

/** "Mon 08:00 (America/New_York)": an instant on the buyer's wall clock, for details and pages. */
export function wallLabel(at: Date, timeZone: string): string {
  return `${local(at, timeZone).toFormat('ccc yyyy-MM-dd HH:mm')} (${timeZone})`;
}
