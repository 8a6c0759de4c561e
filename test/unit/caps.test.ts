import fc from 'fast-check';

import { capReached, isValidTimeZone, periodStart, periodStarts } from '../../domain/caps';
import type { CapPeriod } from '../../domain/types';

const at = (iso: string) => new Date(iso);
const start = (period: CapPeriod, now: string, tz: string) => periodStart(period, at(now), tz).toISOString();

describe('periodStart', () => {
  it('in UTC, the day starts at UTC midnight', () => {
    expect(start('daily', '2024-05-15T13:45:12.345Z', 'UTC')).toBe('2024-05-15T00:00:00.000Z');
  });

  it('the day starts at local midnight, not UTC midnight (America/New_York)', () => {
    expect(start('daily', '2024-05-15T02:00:00Z', 'America/New_York')).toBe('2024-05-14T04:00:00.000Z');
  });

  it('on the spring-forward day the day began at midnight EST, and the next day at midnight EDT', () => {
    expect(start('daily', '2024-03-10T12:00:00Z', 'America/New_York')).toBe('2024-03-10T05:00:00.000Z');
    expect(start('daily', '2024-03-11T12:00:00Z', 'America/New_York')).toBe('2024-03-11T04:00:00.000Z');
  });

  it('on the fall-back day the day began at midnight EDT, also during both 01:30s and after', () => {
    for (const now of ['2024-11-03T05:30:00Z', '2024-11-03T06:30:00Z', '2024-11-03T20:00:00Z'])
      expect(start('daily', now, 'America/New_York')).toBe('2024-11-03T04:00:00.000Z');
    expect(start('daily', '2024-11-04T12:00:00Z', 'America/New_York')).toBe('2024-11-04T05:00:00.000Z');
  });

  it('handles half-hour zones (Asia/Kolkata, +05:30)', () => {
    const now = '2024-05-15T20:00:00Z'; // Thursday 2024-05-16 01:30 IST
    expect(start('daily', now, 'Asia/Kolkata')).toBe('2024-05-15T18:30:00.000Z');
    expect(start('weekly', now, 'Asia/Kolkata')).toBe('2024-05-12T18:30:00.000Z');
    expect(start('monthly', now, 'Asia/Kolkata')).toBe('2024-04-30T18:30:00.000Z');
  });

  it('the week starts on Monday 00:00; on a Sunday that is six days back', () => {
    expect(start('weekly', '2024-05-13T00:00:00Z', 'UTC')).toBe('2024-05-13T00:00:00.000Z'); // Monday itself
    expect(start('weekly', '2024-05-19T23:59:59Z', 'UTC')).toBe('2024-05-13T00:00:00.000Z'); // Sunday
  });

  it('a week that spans a DST change starts at the Monday offset, not today’s', () => {
    // Sunday 2024-03-10 is in EDT since 07:00Z; its Monday, 2024-03-04, was EST.
    expect(start('weekly', '2024-03-10T12:00:00Z', 'America/New_York')).toBe('2024-03-04T05:00:00.000Z');
    expect(start('weekly', '2024-03-12T12:00:00Z', 'America/New_York')).toBe('2024-03-11T04:00:00.000Z');
  });

  it('the month starts on the 1st at local midnight, across year boundaries', () => {
    expect(start('monthly', '2024-11-15T12:00:00Z', 'America/New_York')).toBe('2024-11-01T04:00:00.000Z');
    // 2024-01-01T03:00Z is still New Year's Eve in New York.
    expect(start('monthly', '2024-01-01T03:00:00Z', 'America/New_York')).toBe('2023-12-01T05:00:00.000Z');
    expect(start('weekly', '2024-01-01T03:00:00Z', 'America/New_York')).toBe('2023-12-25T05:00:00.000Z');
  });

  it('when midnight does not exist (DST starts at 00:00), the day starts at the transition', () => {
    // Santiago 2022-09-11: 00:00 -04 became 01:00 -03; Havana 2023-03-12: 00:00 -05 became 01:00 -04.
    expect(start('daily', '2022-09-11T15:00:00Z', 'America/Santiago')).toBe('2022-09-11T04:00:00.000Z');
    expect(start('daily', '2023-03-12T12:00:00Z', 'America/Havana')).toBe('2023-03-12T05:00:00.000Z');
  });

  it('when midnight happens twice (DST ends at 01:00 back to 00:00), the day starts at the first one', () => {
    // Havana 2023-11-05: 00:00 -04 at 04:00Z, then 01:00 -04 became 00:00 -05 at 05:00Z.
    expect(start('daily', '2023-11-05T12:00:00Z', 'America/Havana')).toBe('2023-11-05T04:00:00.000Z');
  });

  it('throws for an unknown time zone', () => {
    expect(() => periodStart('daily', at('2024-01-01T00:00:00Z'), 'Mars/Olympus_Mons')).toThrow(RangeError);
  });

  const zones = [
    'UTC',
    'America/New_York',
    'America/Los_Angeles',
    'Europe/London',
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'Australia/Lord_Howe',
    'Pacific/Chatham',
    'America/Santiago',
    'America/Havana',
    'Pacific/Kiritimati',
    'Pacific/Pago_Pago',
  ];
  const localDate = (d: Date, tz: string) =>
    new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);

  it('property: the day start is on the same local date as now, not after now, and the instant before it is the previous local date', () => {
    fc.assert(
      fc.property(
        fc.date({ min: at('2000-01-01T00:00:00Z'), max: at('2037-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom(...zones),
        (now, tz) => {
          const s = periodStart('daily', now, tz);
          expect(s.getTime()).toBeLessThanOrEqual(now.getTime());
          expect(localDate(s, tz)).toBe(localDate(now, tz));
          expect(localDate(new Date(s.getTime() - 1000), tz)).not.toBe(localDate(now, tz));
          expect(periodStart('daily', s, tz)).toEqual(s);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: week and month starts are idempotent and not after the day start', () => {
    fc.assert(
      fc.property(
        fc.date({ min: at('2000-01-01T00:00:00Z'), max: at('2037-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom(...zones),
        (now, tz) => {
          const all = periodStarts(now, tz);
          expect(all.weekly.getTime()).toBeLessThanOrEqual(all.daily.getTime());
          expect(all.monthly.getTime()).toBeLessThanOrEqual(all.daily.getTime());
          expect(periodStart('weekly', all.weekly, tz)).toEqual(all.weekly);
          expect(periodStart('monthly', all.monthly, tz)).toEqual(all.monthly);
          expect(localDate(all.monthly, tz).endsWith('-01')).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('periodStarts', () => {
  it('gives all three period starts', () => {
    expect(periodStarts(at('2024-05-15T13:00:00Z'), 'UTC')).toEqual({
      daily: at('2024-05-15T00:00:00Z'),
      weekly: at('2024-05-13T00:00:00Z'),
      monthly: at('2024-05-01T00:00:00Z'),
    });
  });
});

describe('capReached', () => {
  const counts = (daily: number, weekly: number, monthly: number) => ({ daily, weekly, monthly });

  it('no caps: never reached', () => {
    expect(capReached({}, counts(1000, 1000, 1000))).toBeNull();
  });

  it('a buyer at its daily cap has reached it', () => {
    expect(capReached({ daily: 5 }, counts(5, 5, 5))).toBe('daily');
  });

  it('a buyer below every cap has not', () => {
    expect(capReached({ daily: 5, weekly: 20, monthly: 50 }, counts(4, 19, 49))).toBeNull();
  });

  it('reports the first period reached in daily, weekly, monthly order', () => {
    expect(capReached({ daily: 5, weekly: 20, monthly: 50 }, counts(2, 20, 60))).toBe('weekly');
    expect(capReached({ daily: 5, weekly: 20, monthly: 50 }, counts(9, 20, 60))).toBe('daily');
    expect(capReached({ monthly: 50 }, counts(9, 20, 50))).toBe('monthly');
  });

  it('a cap of 0 means nothing can be bought', () => {
    expect(capReached({ weekly: 0 }, counts(0, 0, 0))).toBe('weekly');
  });
});

describe('isValidTimeZone', () => {
  it.each(['UTC', 'America/New_York', 'Asia/Kolkata', 'Europe/Berlin'])('%s is valid', (tz) => {
    expect(isValidTimeZone(tz)).toBe(true);
  });

  it.each(['', '  ', 'Mars/Olympus_Mons', 'America/NewYork', 'not a zone'])('%j is not', (tz) => {
    expect(isValidTimeZone(tz)).toBe(false);
  });

  it('a non-string is not', () => {
    expect(isValidTimeZone(undefined as unknown as string)).toBe(false);
  });
});
