import {
  DEFAULT_PREVIEW_FIELDS,
  hiddenValues,
  isPreviewableField,
  PREVIEWABLE_FIELDS,
  previewOf,
} from '../../domain/preview';
import type { LeadFields } from '../../domain/types';

const fields = (): LeadFields => ({
  firstName: 'Jane',
  lastName: 'Doe',
  phone: '5551234567',
  email: 'jane@example.com',
  address: '1 Main St',
  city: 'Beverly Hills',
  state: 'CA',
  zip: '90210',
  answers: { homeowner: 'yes', roofAge: 20, urgent: true, notes: 'call after 5pm' },
});

describe('previewOf', () => {
  it('by default a buyer sees only city, state and ZIP', () => {
    expect(previewOf(fields(), [...DEFAULT_PREVIEW_FIELDS])).toEqual({
      city: 'Beverly Hills',
      state: 'CA',
      zip: '90210',
    });
  });

  it('the default preview contains no hidden value anywhere in its JSON', () => {
    const f = fields();
    const json = JSON.stringify(previewOf(f, [...DEFAULT_PREVIEW_FIELDS]));
    const hidden = hiddenValues(f, [...DEFAULT_PREVIEW_FIELDS]);
    expect(hidden.length).toBeGreaterThan(0);
    for (const v of hidden) expect(json).not.toContain(v);
  });

  it('listed answers are copied into a nested answers object, unlisted ones are not', () => {
    expect(previewOf(fields(), ['zip', 'answers.homeowner', 'answers.roofAge'])).toEqual({
      zip: '90210',
      answers: { homeowner: 'yes', roofAge: 20 },
    });
  });

  it('"answers" makes every answer visible', () => {
    expect(previewOf(fields(), ['answers'])).toEqual({ answers: fields().answers });
  });

  it('listed fields that are absent are left out, and no empty answers object is made', () => {
    const f: LeadFields = { firstName: 'J', lastName: 'D', phone: '1', email: 'e', zip: '90210' };
    expect(previewOf(f, ['city', 'state', 'zip', 'answers.homeowner'])).toEqual({ zip: '90210' });
  });

  it('unknown names, prototype keys and dotted paths into other fields show nothing', () => {
    const f = fields();
    expect(
      previewOf(f, ['ssn', '__proto__', 'constructor', 'toString', 'answers.', 'zip.length', 'answers.toString']),
    ).toEqual({});
  });

  it('extra properties on the lead (not LeadFields) are never shown, even if listed', () => {
    const f = { ...fields(), internalScore: 'A+' } as LeadFields;
    expect(previewOf(f, ['internalScore', 'zip'])).toEqual({ zip: '90210' });
  });

  it('a question named __proto__ stays a plain key and does not pollute prototypes', () => {
    const f = fields();
    f.answers = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
    const p = previewOf(f, ['answers.__proto__']);
    expect(Object.getOwnPropertyNames(p.answers)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(p.answers)).toBe(Object.prototype);
    expect(JSON.stringify(p)).toBe('{"answers":{"__proto__":"x"}}');
  });

  it('does not mutate the lead, and the preview does not share the answers object', () => {
    const f = fields();
    const before = JSON.stringify(f);
    const p = previewOf(f, ['answers', 'zip']) as { answers: Record<string, unknown> };
    p.answers.homeowner = 'no';
    expect(JSON.stringify(f)).toBe(before);
  });
});

describe('hiddenValues', () => {
  it('lists the string values of the fields and answers that are not visible', () => {
    expect(hiddenValues(fields(), ['city', 'state', 'zip', 'answers.notes']).sort()).toEqual(
      ['Jane', 'Doe', '5551234567', 'jane@example.com', '1 Main St', 'yes'].sort(),
    );
  });

  it('nothing is hidden when everything is visible', () => {
    expect(hiddenValues(fields(), [...PREVIEWABLE_FIELDS])).toEqual([]);
  });

  it('leaves out a hidden value that is also visible elsewhere (finding it would prove nothing)', () => {
    const f = fields();
    f.answers = { homeowner: 'yes', financing: 'yes' };
    expect(hiddenValues(f, ['answers.homeowner'])).not.toContain('yes');
  });

  it('includes string values of extra, unlisted properties', () => {
    const f = { ...fields(), internalScore: 'A+' } as LeadFields;
    expect(hiddenValues(f, ['internalScore'])).toContain('A+');
  });
});

describe('isPreviewableField', () => {
  it.each(['city', 'zip', 'phone', 'answers', 'answers.homeowner'])('%s is previewable', (f) => {
    expect(isPreviewableField(f)).toBe(true);
  });

  it.each(['ssn', 'answers.', '__proto__', 'City'])('%s is not', (f) => {
    expect(isPreviewableField(f)).toBe(false);
  });
});
