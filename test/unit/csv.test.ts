/**
 * The CSV writer (domain/csv.ts) against formula injection (#27.3): text whoever
 * typed it never opens as a formula, numbers and validated E.164 phones are
 * written as they are, and every record parses back (RFC 4180) to what was
 * written, text modulo the neutralising quote.
 */
import fc from 'fast-check';

import { csvRecord, type CsvValue, e164Phone, parseCsv } from '../../domain/csv';

const TRIGGERS = ['=', '+', '-', '@', '\t', '\r'];
const startsWithTrigger = (s: string) => TRIGGERS.some((t) => s.startsWith(t));

/** Any text, with the formula triggers and the CSV specials over-represented. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom(...TRIGGERS, '"', ',', '\n', "'", 'a', ' ', '(', ')') }),
  fc.tuple(fc.constantFrom(...TRIGGERS), fc.string()).map(([t, s]) => t + s),
);
const e164 = fc
  .tuple(fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^\d{6,13}$/))
  .map(([cc, rest]) => `+${cc}${rest}`);
type Cell = { kind: 'text'; v: string } | { kind: 'number'; v: number } | { kind: 'phone'; v: string };
const cell: fc.Arbitrary<Cell> = fc.oneof(
  text.map((v) => ({ kind: 'text' as const, v })),
  fc
    .oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
    .map((v) => ({ kind: 'number' as const, v })),
  e164.map((v) => ({ kind: 'phone' as const, v })),
);
const value = (c: Cell): CsvValue => (c.kind === 'phone' ? e164Phone(c.v) : c.v);

describe('CSV cells against formula injection', () => {
  test('text never opens as a formula and round-trips modulo the quote; numbers and E.164 phones are untouched', () => {
    fc.assert(
      fc.property(fc.array(fc.array(cell, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }), (rows) => {
        const parsed = parseCsv(rows.map((r) => csvRecord(r.map(value))).join(''));
        expect(parsed).toHaveLength(rows.length);
        rows.forEach((row, i) => {
          expect(parsed[i]).toHaveLength(row.length);
          row.forEach((c, j) => {
            const out = parsed[i]![j]!;
            if (c.kind === 'text') {
              expect(startsWithTrigger(out)).toBe(false);
              expect(out).toBe(startsWithTrigger(c.v) ? `'${c.v}` : c.v);
            } else if (c.kind === 'number') {
              expect(out).toBe(String(c.v));
              expect(Number(out)).toBe(c.v === 0 ? 0 : c.v); // -0 is written 0
            } else expect(out).toBe(c.v);
          });
        });
      }),
      { numRuns: 500 },
    );
  });

  test('a neutralised cell is quoted (OWASP): the quote and the field quotes are in the file', () => {
    expect(csvRecord(['=HYPERLINK("http://x.example","Click")', 'Ada'])).toBe(
      `"'=HYPERLINK(""http://x.example"",""Click"")",Ada\r\n`,
    );
    expect(csvRecord(['@SUM(A1)', '\tx', '\rx', '+1', '-1'])).toBe(`"'@SUM(A1)","'\tx","'\rx","'+1","'-1"\r\n`);
  });

  test('the product typed a number or an E.164 phone: written as it is; a phone that is not exactly E.164 is text', () => {
    expect(csvRecord([-25, 3.5, e164Phone('+15125550100'), true, null])).toBe('-25,3.5,+15125550100,true,\r\n');
    expect(csvRecord([e164Phone('+1 (512) 555-0100'), e164Phone('+1+1+1+1+1+1+1'), e164Phone('5125550100')])).toBe(
      `"'+1 (512) 555-0100","'+1+1+1+1+1+1+1",5125550100\r\n`,
    );
    expect(csvRecord([e164Phone(undefined), new Date('2026-01-02T03:04:05Z'), { a: '=1' }])).toBe(
      ',2026-01-02T03:04:05.000Z,"{""a"":""=1""}"\r\n',
    );
  });
});
