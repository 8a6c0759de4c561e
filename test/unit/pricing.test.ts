import { answerMatches, priceLead, validatePriceRules } from '../../domain/pricing';
import type { PriceRules } from '../../domain/types';

const lead = (zip: string, answers?: Record<string, string | number | boolean>) => ({ zip, answers });

describe('priceLead', () => {
  it('a lead with no matching rule costs the base price', () => {
    expect(priceLead({ base: 20 }, lead('10001'), 'roofing')).toBe(20);
  });

  it('an exact ZIP tier replaces the base price', () => {
    const rules: PriceRules = { base: 20, zipTiers: [{ zips: ['90210'], price: 50 }] };
    expect(priceLead(rules, lead('90210'), 'roofing')).toBe(50);
    expect(priceLead(rules, lead('90211'), 'roofing')).toBe(20);
  });

  it('a ZIP prefix tier matches every ZIP that starts with it, including ZIP+4', () => {
    const rules: PriceRules = { base: 20, zipTiers: [{ zips: ['900'], price: 35 }] };
    expect(priceLead(rules, lead('90001'), 'roofing')).toBe(35);
    expect(priceLead(rules, lead('90099-1234'), 'roofing')).toBe(35);
    expect(priceLead(rules, lead('91000'), 'roofing')).toBe(20);
  });

  it('the first matching tier wins, even if a later one is more specific', () => {
    const rules: PriceRules = {
      base: 20,
      zipTiers: [
        { zips: ['10001', '902'], price: 30 },
        { zips: ['90210'], price: 99 },
      ],
    };
    expect(priceLead(rules, lead('90210'), 'roofing')).toBe(30);
  });

  it('an empty ZIP entry matches nothing (it would otherwise match everything)', () => {
    expect(priceLead({ base: 20, zipTiers: [{ zips: [''], price: 99 }] }, lead('90210'), 'x')).toBe(20);
  });

  it('the service-line multiplier applies to the tier price', () => {
    const rules: PriceRules = { base: 20, zipTiers: [{ zips: ['902'], price: 40 }], multipliers: { roofing: 1.5 } };
    expect(priceLead(rules, lead('90210'), 'roofing')).toBe(60);
    expect(priceLead(rules, lead('90210'), 'plumbing')).toBe(40);
  });

  it('inherited object keys are not multipliers', () => {
    expect(priceLead({ base: 20, multipliers: {} }, lead('1'), 'constructor')).toBe(20);
  });

  it('adjustments are added after the multiplier, every matching one', () => {
    const rules: PriceRules = {
      base: 10,
      multipliers: { roofing: 2 },
      adjustments: [
        { question: 'homeowner', equals: 'yes', add: 5 },
        { question: 'roofAge', equals: 20, add: 3 },
        { question: 'urgent', equals: true, add: 7 },
      ],
    };
    expect(priceLead(rules, lead('1', { homeowner: 'yes', roofAge: 20, urgent: true }), 'roofing')).toBe(35);
    expect(priceLead(rules, lead('1', { homeowner: 'no', roofAge: 21 }), 'roofing')).toBe(20);
    expect(priceLead(rules, lead('1'), 'roofing')).toBe(20);
  });

  it("answers match with string/number tolerance and case-insensitively: '1' equals 1, 'YES' equals 'yes'", () => {
    const rules: PriceRules = {
      base: 10,
      adjustments: [
        { question: 'stories', equals: 1, add: 1 },
        { question: 'homeowner', equals: 'yes', add: 10 },
      ],
    };
    expect(priceLead(rules, lead('1', { stories: '1', homeowner: 'YES' }), 'x')).toBe(21);
    expect(
      priceLead({ base: 10, adjustments: [{ question: 'n', equals: '2', add: 1 }] }, lead('1', { n: 2 }), 'x'),
    ).toBe(11);
  });

  it('rounds to the nearest integer, without float noise pulling .5 down', () => {
    expect(priceLead({ base: 10, multipliers: { a: 1.15 } }, lead('1'), 'a')).toBe(12); // 10*1.15 = 11.4999…
    expect(priceLead({ base: 10, multipliers: { a: 1.24 } }, lead('1'), 'a')).toBe(12);
    expect(priceLead({ base: 10, multipliers: { a: 1.26 } }, lead('1'), 'a')).toBe(13);
  });

  it('is never below 0, however large the discounts', () => {
    const rules: PriceRules = { base: 5, adjustments: [{ question: 'q', equals: 'x', add: -50 }] };
    expect(priceLead(rules, lead('1', { q: 'x' }), 'a')).toBe(0);
  });

  it('refuses rules that yield a non-finite price rather than selling for 0', () => {
    expect(() => priceLead({ base: NaN }, lead('1'), 'a')).toThrow(RangeError);
  });

  it('does not mutate the rules or the lead', () => {
    const rules: PriceRules = {
      base: 10,
      zipTiers: [{ zips: ['1'], price: 12 }],
      adjustments: [{ question: 'q', equals: 1, add: 1 }],
    };
    const l = lead('12345', { q: 1 });
    const before = JSON.stringify([rules, l]);
    priceLead(rules, l, 'a');
    expect(JSON.stringify([rules, l])).toBe(before);
  });
});

describe('answerMatches', () => {
  it.each([
    ['yes', 'yes', true],
    ['Yes', 'yES', true],
    [' yes ', 'yes', true],
    ['yes', 'y', false],
    ['1', 1, true],
    [1, '1', true],
    ['1.0', 1, true],
    ['', 0, false],
    ['one', 1, false],
    [2, 1, false],
    [true, true, true],
    [false, true, false],
    ['true', true, true],
    ['False', false, true],
    [1, true, false],
    [undefined, 'yes', false],
  ] as const)('%j vs %j → %s', (answer, expected, result) => {
    expect(answerMatches(answer, expected)).toBe(result);
  });
});

describe('validatePriceRules', () => {
  it('valid rules have no problems', () => {
    expect(
      validatePriceRules({
        base: 20,
        zipTiers: [{ zips: ['902', '10001'], price: 30 }],
        multipliers: { roofing: 1.5 },
        adjustments: [{ question: 'homeowner', equals: 'yes', add: -5 }],
      }),
    ).toEqual([]);
  });

  it('reports a negative or fractional base', () => {
    expect(validatePriceRules({ base: -1 })).toEqual([expect.stringMatching(/negative/)]);
    expect(validatePriceRules({ base: 1.5 })).toEqual([expect.stringMatching(/whole/)]);
    expect(validatePriceRules({ base: NaN })).toHaveLength(1);
  });

  it('reports an empty ZIP list, a bad ZIP and a bad tier price', () => {
    const problems = validatePriceRules({
      base: 1,
      zipTiers: [
        { zips: [], price: 1 },
        { zips: ['9021O', ''], price: -3 },
      ],
    });
    expect(problems).toEqual([
      expect.stringMatching(/tier 1 has an empty ZIP list/),
      expect.stringMatching(/"9021O"/),
      expect.stringMatching(/""/),
      expect.stringMatching(/tier 2 price/),
    ]);
  });

  it('reports non-positive multipliers', () => {
    expect(validatePriceRules({ base: 1, multipliers: { roofing: 0, siding: -2, ok: 0.5 } })).toEqual([
      expect.stringMatching(/"roofing" must be a positive/),
      expect.stringMatching(/"siding" must be a positive/),
    ]);
  });

  it('reports adjustments without a question or with a fractional amount', () => {
    expect(validatePriceRules({ base: 1, adjustments: [{ question: ' ', equals: 'yes', add: 1.5 }] })).toEqual([
      expect.stringMatching(/no question/),
      expect.stringMatching(/whole number/),
    ]);
  });

  it('reports shapes that are not what they should be instead of throwing', () => {
    expect(validatePriceRules(null as unknown as PriceRules)).toHaveLength(1);
    expect(
      validatePriceRules({ base: 1, zipTiers: 'x', multipliers: [], adjustments: {} } as unknown as PriceRules),
    ).toHaveLength(3);
  });
});
