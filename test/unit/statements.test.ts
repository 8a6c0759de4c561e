/**
 * Monthly statements (#21 item 6): opening + movements = closing, always – over random ledgers, entries on and
 * around month boundaries, and months in which the clocks change.
 */
import fc from 'fast-check';

import {
  buildStatement,
  monthBounds,
  monthOf,
  SECTION_OF_KIND,
  STATEMENT_SECTIONS,
  type StatementEntry,
} from '../../domain/statements';
import { LEDGER_ENTRY_KINDS, type LedgerEntryKind } from '../../domain/types';

const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Australia/Sydney', 'Asia/Kolkata', 'Pacific/Chatham'];
/** February to May 2026 (DST starts in March in the north, ends in April in the south) and October–November. */
const MONTHS = ['2026-02', '2026-03', '2026-04', '2026-05', '2026-10', '2026-11'];

const SIGN: Record<LedgerEntryKind, 1 | -1 | 0> = {
  top_up: 1,
  refund: 1,
  dispute_reversal: 1,
  card_refund_reversal: 1,
  charge: -1,
  card_refund: -1,
  dispute: -1,
  adjustment: 0,
  reserve: -1,
  release: 1,
};

/** A random ledger whose instants crowd the month boundaries of the zone (each boundary, ±1 ms, ±1 h). */
function ledger(timeZone: string) {
  const boundaries = [...MONTHS, '2026-06', '2026-12'].flatMap((m) => {
    const { start } = monthBounds(m, timeZone);
    return [-3_600_000, -1, 0, 1, 3_600_000].map((d) => start.getTime() + d);
  });
  const lo = monthBounds('2026-01', timeZone).start.getTime();
  const hi = monthBounds('2026-12', timeZone).end.getTime() - 1;
  const at = fc.oneof(fc.constantFrom(...boundaries), fc.integer({ min: lo, max: hi }));
  const entry = fc.record({
    kind: fc.constantFrom(...LEDGER_ENTRY_KINDS),
    size: fc.integer({ min: 1, max: 500 }),
    negative: fc.boolean(),
    at,
  });
  return fc.array(entry, { maxLength: 80 }).map((raw) => {
    const sorted = [...raw].sort((a, b) => a.at - b.at);
    let balance = 0;
    return sorted.map((r, i): StatementEntry => {
      const sign = SIGN[r.kind] || (r.negative ? -1 : 1);
      const amount = sign * r.size;
      balance += amount;
      return {
        id: `e${i}`,
        kind: r.kind,
        amount,
        balanceAfter: balance,
        createdAt: new Date(r.at),
        leadId: null,
        reference: null,
      };
    });
  });
}

const sum = (xs: readonly StatementEntry[]) => xs.reduce((s, e) => s + e.amount, 0);

function statementFrom(all: readonly StatementEntry[], month: string, timeZone: string) {
  const { start, end } = monthBounds(month, timeZone);
  return buildStatement({
    month,
    timeZone,
    openingBalance: sum(all.filter((e) => e.createdAt < start)),
    entries: all.filter((e) => e.createdAt >= start && e.createdAt < end),
  });
}

test('opening + every section = closing; the closing is the balance after the last entry; months chain', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ZONES).chain((tz) => fc.tuple(fc.constant(tz), ledger(tz))),
      ([timeZone, entries]) => {
        let previousClosing: number | null = null;
        for (const month of ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06']) {
          const s = statementFrom(entries, month, timeZone);
          const movements = STATEMENT_SECTIONS.reduce((t, k) => t + s.totals[k], 0);
          expect(s.closingBalance).toBe(s.openingBalance + movements);
          expect(s.closingBalance).toBe(sum(entries.filter((e) => e.createdAt < s.end)));
          if (s.lines.length) expect(s.closingBalance).toBe(s.lines.at(-1)!.balanceAfter);
          if (previousClosing !== null) expect(s.openingBalance).toBe(previousClosing);
          previousClosing = s.closingBalance;
          for (const l of s.lines) {
            expect(l.section).toBe(SECTION_OF_KIND[l.kind]);
            expect(monthOf(l.createdAt, timeZone)).toBe(month);
          }
          for (const k of STATEMENT_SECTIONS) expect(s.totals[k]).toBe(sum(s.lines.filter((l) => l.section === k)));
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('every entry falls in exactly one month, the one monthOf names', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ZONES).chain((tz) => fc.tuple(fc.constant(tz), ledger(tz))),
      ([timeZone, entries]) => {
        for (const e of entries) {
          const holders = ['2026-01', ...MONTHS, '2026-06', '2026-07', '2026-08', '2026-09', '2026-12'].filter((m) => {
            const { start, end } = monthBounds(m, timeZone);
            return e.createdAt >= start && e.createdAt < end;
          });
          expect(holders).toEqual([monthOf(e.createdAt, timeZone)]);
        }
      },
    ),
  );
});

test("a month is the agency's calendar month: the clocks changing inside it make it an hour shorter or longer", () => {
  // New York springs forward on 8 March 2026: March has 31 days less one hour.
  const march = monthBounds('2026-03', 'America/New_York');
  expect(march.start.toISOString()).toBe('2026-03-01T05:00:00.000Z');
  expect(march.end.toISOString()).toBe('2026-04-01T04:00:00.000Z');
  expect(march.end.getTime() - march.start.getTime()).toBe((31 * 24 - 1) * 3_600_000);
  // Sydney falls back on 5 April 2026: April has 30 days and one hour.
  const april = monthBounds('2026-04', 'Australia/Sydney');
  expect(april.start.toISOString()).toBe('2026-03-31T13:00:00.000Z');
  expect(april.end.getTime() - april.start.getTime()).toBe((30 * 24 + 1) * 3_600_000);
  // The instant New York's March begins belongs to March, the millisecond before to February.
  expect(monthOf(march.start, 'America/New_York')).toBe('2026-03');
  expect(monthOf(new Date(march.start.getTime() - 1), 'America/New_York')).toBe('2026-02');
});

test('an entry outside the month, a malformed month or an unknown zone is refused', () => {
  const e: StatementEntry = {
    id: 'x',
    kind: 'top_up',
    amount: 5,
    balanceAfter: 5,
    createdAt: new Date('2026-04-01T03:59:59.999Z'),
    leadId: null,
    reference: null,
  };
  expect(
    buildStatement({ month: '2026-03', timeZone: 'America/New_York', openingBalance: 0, entries: [e] }),
  ).toMatchObject({
    closingBalance: 5,
  });
  expect(() =>
    buildStatement({ month: '2026-04', timeZone: 'America/New_York', openingBalance: 0, entries: [e] }),
  ).toThrow(/not in 2026-04/);
  for (const bad of ['2026-13', '2026-00', '26-03', '2026-3', '2026-03-01', '2026-03.csv'])
    expect(() => monthBounds(bad, 'UTC')).toThrow(/YYYY-MM/);
  expect(() => monthBounds('2026-03', 'Mars/Olympus')).toThrow(/time zone/);
});
