/** Consent certificates, the pure part (#23 item 4): each provider's shape, intake's verdict, previews without them. */
import { certificateIdOf, checkCertificate } from '../../domain/consent-certificates';
import { hiddenValues, previewOf } from '../../domain/preview';
import type { ConsentCertificateRule, ConsentEvidence } from '../../domain/types';

const NOW = new Date('2026-06-01T12:00:00Z');
const TF = 'https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567';
const TOKEN = '1A2B3C4D-5E6F-7A8B-9C0D-1E2F3A4B5C6D';
const consent = (over: Partial<ConsentEvidence> = {}): ConsentEvidence => ({
  text: 'I agree',
  timestamp: '2026-06-01T11:00:00Z',
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0',
  certificateUrl: TF,
  ...over,
});
const rule = (over: Partial<ConsentCertificateRule> = {}): ConsentCertificateRule => ({
  provider: 'trustedform',
  maxAgeSeconds: 7200,
  onClaimFailure: 'flag',
  ...over,
});

describe('certificateIdOf', () => {
  test('TrustedForm: an https URL on cert.trustedform.com with a 40-hex id, nothing else', () => {
    expect(certificateIdOf('trustedform', TF)).toBe(TF.split('/').at(-1));
    expect(
      certificateIdOf(
        'trustedform',
        TF.toUpperCase().replace('HTTPS://CERT.TRUSTEDFORM.COM', 'https://cert.trustedform.com'),
      ),
    ).toBe(TF.split('/').at(-1));
    for (const bad of [
      TF.replace('https:', 'http:'),
      TF.replace('cert.trustedform.com', 'cert.trustedform.com.evil.example'),
      `${TF}?x=1`,
      TF.slice(0, -1),
      'https://user:pw@cert.trustedform.com/0123456789abcdef0123456789abcdef01234567',
      TOKEN,
      'not a url',
    ])
      expect(certificateIdOf('trustedform', bad)).toBeNull();
  });

  test('Jornaya: the 36-character LeadiD token, alone or as a URL parameter', () => {
    expect(certificateIdOf('jornaya', TOKEN)).toBe(TOKEN);
    expect(certificateIdOf('jornaya', TOKEN.toLowerCase())).toBe(TOKEN);
    expect(certificateIdOf('jornaya', `https://example.com/lead?id=${TOKEN}`)).toBe(TOKEN);
    expect(certificateIdOf('jornaya', TF)).toBeNull();
    expect(certificateIdOf('jornaya', TOKEN.slice(1))).toBeNull();
  });
});

describe('checkCertificate', () => {
  test('passes a certificate of the provider inside the age limit, with its age', () => {
    expect(checkCertificate(rule(), consent(), NOW)).toEqual({
      ok: true,
      provider: 'trustedform',
      certificateId: TF.split('/').at(-1),
      ageSeconds: 3600,
    });
  });
  test('refuses with the reason codes', () => {
    expect(checkCertificate(rule(), null, NOW)).toMatchObject({ ok: false, reason: 'consent_missing' });
    expect(checkCertificate(rule(), consent({ certificateUrl: undefined }), NOW)).toMatchObject({
      reason: 'consent_missing',
    });
    expect(checkCertificate(rule({ provider: 'jornaya' }), consent(), NOW)).toMatchObject({
      reason: 'consent_invalid',
    });
    expect(checkCertificate(rule(), consent({ timestamp: '2026-06-01T13:00:00Z' }), NOW)).toMatchObject({
      reason: 'consent_invalid',
    });
    expect(checkCertificate(rule({ maxAgeSeconds: 3599 }), consent(), NOW)).toMatchObject({
      reason: 'consent_expired',
    });
  });
});

describe('previews keep certificates out', () => {
  const fields = {
    firstName: 'Ada',
    lastName: 'L',
    phone: '5125550100',
    email: 'ada@example.com',
    city: 'Austin',
    zip: '78701',
    answers: { homeowner: 'yes', jornaya_leadid: TOKEN, page: TF, note: 'call after 5' },
  };
  test('a visible answer holding a certificate (or named like one) is left out', () => {
    const preview = previewOf(fields, ['city', 'zip', 'answers']);
    expect(preview).toEqual({ city: 'Austin', zip: '78701', answers: { homeowner: 'yes', note: 'call after 5' } });
    expect(previewOf(fields, ['answers.page', 'answers.jornaya_leadid'])).toEqual({});
  });
  test("hiddenValues names the lead's certificate and any among the fields, even when listed as visible", () => {
    const hidden = hiddenValues(fields, ['city', 'zip', 'answers'], consent({ certificateUrl: TOKEN }));
    expect(hidden).toEqual(expect.arrayContaining([TF, TOKEN]));
  });
});
