import { checkPhone } from '../../domain/contact-checks';
import { dedupeKeys, normalizeEmail } from '../../domain/dedupe';

const e164 = (raw: string) => {
  const p = checkPhone(raw, 'US');
  if (!p.ok) throw new Error(`${raw}: ${p.detail}`);
  return p.e164;
};

describe('normalizeEmail', () => {
  it('trims and lowercases', () => {
    expect(normalizeEmail('  Jane.Doe@Example.COM ')).toBe('jane.doe@example.com');
  });

  it('drops dots and +tags in gmail local parts', () => {
    expect(normalizeEmail('J.Doe+roofing@gmail.com')).toBe('jdoe@gmail.com');
    expect(normalizeEmail('j.d.o.e@GMAIL.com')).toBe('jdoe@gmail.com');
  });

  it('treats googlemail.com as gmail.com', () => {
    expect(normalizeEmail('j.doe+x@googlemail.com')).toBe('jdoe@gmail.com');
  });

  it('leaves dots and plus signs alone for other providers', () => {
    expect(normalizeEmail('j.doe+x@example.com')).toBe('j.doe+x@example.com');
  });

  it('does not collapse a gmail address that is only a tag', () => {
    expect(normalizeEmail('+tag@gmail.com')).toBe('+tag@gmail.com');
  });
});

describe('dedupeKeys', () => {
  it('gives a phone key (E.164) and an email key scoped by service line', () => {
    expect(dedupeKeys({ phoneE164: e164('+1 (512) 555-0100'), email: 'A@B.com' }, 'roofing')).toEqual([
      'phone:roofing:+15125550100',
      'email:roofing:a@b.com',
    ]);
  });

  it('one person typed in two formats has the same phone key', () => {
    const a = dedupeKeys({ phoneE164: e164('(512) 555-0100'), email: 'x@a.com' }, 'roofing');
    const b = dedupeKeys({ phoneE164: e164('+1.512.555.0100'), email: 'y@b.com' }, 'roofing');
    expect(a[0]).toBe(b[0]);
  });

  it('the same person in another service line is not a duplicate', () => {
    const f = { phoneE164: '+15125550100', email: 'a@b.com' };
    expect(dedupeKeys(f, 'roofing')).not.toEqual(expect.arrayContaining(dedupeKeys(f, 'plumbing')));
  });

  it('omits empty keys', () => {
    expect(dedupeKeys({ phoneE164: null, email: 'a@b.com' }, 'roofing')).toEqual(['email:roofing:a@b.com']);
    expect(dedupeKeys({ phoneE164: '+15125550100', email: '   ' }, 'roofing')).toEqual(['phone:roofing:+15125550100']);
    expect(dedupeKeys({ phoneE164: null, email: '' }, 'roofing')).toEqual([]);
  });
});
