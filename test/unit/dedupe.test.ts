import { dedupeKeys, normalizeEmail, normalizePhone } from '../../domain/dedupe';

describe('normalizePhone', () => {
  it('keeps only digits', () => {
    expect(normalizePhone('(555) 123-4567')).toBe('5551234567');
    expect(normalizePhone('555.123.4567')).toBe('5551234567');
  });

  it('drops a leading US country code 1 on an 11-digit number', () => {
    expect(normalizePhone('+1 555 123 4567')).toBe('5551234567');
    expect(normalizePhone('15551234567')).toBe('5551234567');
  });

  it('keeps a leading 1 when the number is not 11 digits, and other country codes', () => {
    expect(normalizePhone('1555123456')).toBe('1555123456');
    expect(normalizePhone('+44 20 7946 0958')).toBe('442079460958');
  });

  it('an empty or digitless phone normalizes to empty', () => {
    expect(normalizePhone('')).toBe('');
    expect(normalizePhone('n/a')).toBe('');
  });
});

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
  it('gives a phone key and an email key scoped by service line', () => {
    expect(dedupeKeys({ phone: '+1 (555) 123-4567', email: 'A@B.com' }, 'roofing')).toEqual([
      'phone:roofing:5551234567',
      'email:roofing:a@b.com',
    ]);
  });

  it('the same person in another service line is not a duplicate', () => {
    const f = { phone: '5551234567', email: 'a@b.com' };
    expect(dedupeKeys(f, 'roofing')).not.toEqual(expect.arrayContaining(dedupeKeys(f, 'plumbing')));
  });

  it('omits empty keys', () => {
    expect(dedupeKeys({ phone: '', email: 'a@b.com' }, 'roofing')).toEqual(['email:roofing:a@b.com']);
    expect(dedupeKeys({ phone: '555 123 4567', email: '   ' }, 'roofing')).toEqual(['phone:roofing:5551234567']);
    expect(dedupeKeys({ phone: '', email: '' }, 'roofing')).toEqual([]);
  });
});
