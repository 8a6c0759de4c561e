import { checkEmail, checkPhone, deliveredPhone, isDisposableDomain } from '../../domain/contact-checks';
import { evaluateFilters, filterableLead } from '../../domain/filters';

describe('checkPhone', () => {
  it('numbers from several countries and formats normalise to one E.164 each', () => {
    const same: [string, string, string][] = [
      // [as typed, the agency's country, E.164]
      ['(512) 555-0100', 'US', '+15125550100'],
      ['512.555.0100', 'US', '+15125550100'],
      ['+1 512 555 0100', 'GB', '+15125550100'],
      ['1-512-555-0100', 'US', '+15125550100'],
      ['020 7946 0018', 'GB', '+442079460018'],
      ['+44 (0)20 7946 0018', 'US', '+442079460018'],
      ['07400 123456', 'GB', '+447400123456'],
      ['030 901820', 'DE', '+4930901820'],
      ['+49 30 901820', 'US', '+4930901820'],
      ['(416) 555-0123', 'CA', '+14165550123'],
      ['06 12 34 56 78', 'FR', '+33612345678'],
    ];
    for (const [raw, country, e164] of same)
      expect([raw, checkPhone(raw, country)]).toMatchObject([raw, { ok: true, e164 }]);
  });

  it('knows the number type where the metadata does', () => {
    expect(checkPhone('07400 123456', 'GB')).toMatchObject({ ok: true, type: 'mobile', country: 'GB' });
    expect(checkPhone('020 7946 0018', 'GB')).toMatchObject({ ok: true, type: 'fixed_line' });
    expect(checkPhone('+1 800 555 0199', 'US')).toMatchObject({ ok: true, type: 'toll_free' });
    // The North American plan does not tell mobile from fixed line.
    expect(checkPhone('(512) 555-0100', 'US')).toMatchObject({ ok: true, type: 'fixed_line_or_mobile' });
  });

  it('refuses what is not a valid number with invalid_phone', () => {
    for (const raw of [
      '',
      'n/a',
      '555-1234',
      '(555) 123-4567',
      '512 555 01',
      '+1 512 555 01000',
      '+999 1234567',
      '12345678901234567890',
    ])
      expect([raw, checkPhone(raw, 'US')]).toMatchObject([raw, { ok: false, reason: 'invalid_phone' }]);
  });

  it('an unknown default country falls back to US rather than throwing', () => {
    expect(checkPhone('(512) 555-0100', 'ZZ')).toMatchObject({ ok: true, e164: '+15125550100' });
  });
});

describe('checkEmail', () => {
  it('accepts addresses a mail system delivers to, and answers the domain lowercased', () => {
    for (const raw of [
      'ada@example.com',
      'Ada.Lovelace+roof@Example.COM',
      '"ada lovelace"@example.org',
      'a@mail.example.co.uk',
    ])
      expect([raw, checkEmail(raw)]).toMatchObject([raw, { ok: true }]);
    expect(checkEmail('Ada@Example.COM')).toEqual({ ok: true, domain: 'example.com' });
  });

  it('refuses what is not one deliverable address with invalid_email', () => {
    for (const raw of [
      '',
      'ada',
      'ada@',
      '@example.com',
      'ada@@example.com',
      'ada@example', // a single label: no public mail domain
      'ada@[127.0.0.1]', // an address literal
      'ada@-example.com',
      'ada@example.123',
      'Ada <ada@example.com>', // a display name: not an address
      'ada@example.com, bob@example.com',
      'ada (the first)@example.com',
      `${'a'.repeat(65)}@example.com`,
    ])
      expect([raw, checkEmail(raw)]).toMatchObject([raw, { ok: false, reason: 'invalid_email' }]);
  });

  it('refuses a disposable domain, and its subdomains, with disposable_email', () => {
    expect(checkEmail('x@mailinator.com')).toMatchObject({ ok: false, reason: 'disposable_email' });
    expect(checkEmail('x@YOPMAIL.com')).toMatchObject({ ok: false, reason: 'disposable_email' });
    expect(isDisposableDomain('inbox.mailinator.com')).toBe(true);
    expect(isDisposableDomain('gmail.com')).toBe(false);
  });
});

describe('phone type in filters and the delivered number', () => {
  it('a buyer filter on phoneType sees the type intake stored', () => {
    const fields = { firstName: 'A', lastName: 'B', phone: '07400 123456', email: 'a@b.com', zip: '78701' };
    const mobileOnly = {
      match: 'all' as const,
      rules: [{ field: 'phoneType', op: 'in' as const, values: ['mobile'] }],
    };
    expect(evaluateFilters(mobileOnly, filterableLead(fields, 'mobile')).pass).toBe(true);
    expect(evaluateFilters(mobileOnly, filterableLead(fields, 'fixed_line'))).toMatchObject({
      pass: false,
      detail: 'filter rule 1 failed: phoneType in [mobile]',
    });
    // A lead from before the checks has no type: `in` fails, `absent` passes.
    expect(evaluateFilters(mobileOnly, filterableLead(fields, null)).pass).toBe(false);
  });

  it('deliveries carry the number as sent unless the buyer chose E.164', () => {
    expect(deliveredPhone('(512) 555-0100', '+15125550100', undefined)).toBe('(512) 555-0100');
    expect(deliveredPhone('(512) 555-0100', '+15125550100', 'as_sent')).toBe('(512) 555-0100');
    expect(deliveredPhone('(512) 555-0100', '+15125550100', 'e164')).toBe('+15125550100');
    // An older lead without a normalised number keeps what was sent.
    expect(deliveredPhone('(512) 555-0100', null, 'e164')).toBe('(512) 555-0100');
  });
});
