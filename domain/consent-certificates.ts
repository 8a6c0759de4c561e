/**
 * Consent certificates (#23 item 4), the pure part: what a provider's
 * certificate looks like, the intake verdict of a campaign's rule (shape and
 * age), and which values are certificates (kept out of previews).
 *
 * TrustedForm: the certificate is a URL `https://cert.trustedform.com/<40 hex>`; claiming it is a POST to that URL
 * on the provider's host. Jornaya (Verisk LeadiD): the certificate is the 36-character LeadiD token, sent as the
 * `certificateUrl` itself or as the `id` (or `token`) parameter of a URL.
 */
import type { ConsentCertificateRule, ConsentEvidence, ConsentProvider, ConsentRefusal } from './types';

const TRUSTEDFORM_HOST = 'cert.trustedform.com';
const TRUSTEDFORM_ID = /^[0-9a-f]{40}$/i;
const LEADID_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A provider's certificate id read from what the lead carries, or null when it is not that provider's shape. */
export function certificateIdOf(provider: ConsentProvider, raw: string): string | null {
  const value = raw.trim();
  if (provider === 'jornaya') {
    if (LEADID_TOKEN.test(value)) return value.toUpperCase();
    const url = parseUrl(value);
    const token = url?.searchParams.get('id') ?? url?.searchParams.get('token') ?? null;
    return token && LEADID_TOKEN.test(token) ? token.toUpperCase() : null;
  }
  const url = parseUrl(value);
  if (!url || url.protocol !== 'https:' || url.hostname !== TRUSTEDFORM_HOST || url.search || url.username) return null;
  const id = url.pathname.replace(/^\//, '');
  return TRUSTEDFORM_ID.test(id) ? id.toLowerCase() : null;
}

function parseUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

export type CertificateVerdict =
  | { ok: true; provider: ConsentProvider; certificateId: string; ageSeconds: number }
  | { ok: false; reason: ConsentRefusal; detail: string };

/**
 * Intake's verdict on a lead of a campaign that requires a certificate: present (`consent_missing`), of the
 * provider's shape (`consent_invalid`), and not older than the campaign allows, by the consent's own time
 * (`consent_expired`; a time in the future by more than a minute is `consent_invalid`).
 */
export function checkCertificate(
  rule: ConsentCertificateRule,
  consent: ConsentEvidence | null | undefined,
  now: Date,
): CertificateVerdict {
  const raw = consent?.certificateUrl;
  if (!consent || !raw)
    return { ok: false, reason: 'consent_missing', detail: `the campaign requires a ${rule.provider} certificate` };
  const certificateId = certificateIdOf(rule.provider, raw);
  if (!certificateId)
    return {
      ok: false,
      reason: 'consent_invalid',
      detail:
        rule.provider === 'trustedform'
          ? 'not a TrustedForm certificate URL (https://cert.trustedform.com/<40 hex characters>)'
          : 'not a Jornaya LeadiD token (36 characters, 8-4-4-4-12 hexadecimal)',
    };
  const at = Date.parse(consent.timestamp);
  const ageSeconds = Math.floor((now.getTime() - at) / 1000);
  if (!Number.isFinite(at) || ageSeconds < -60)
    return { ok: false, reason: 'consent_invalid', detail: 'the consent time is in the future' };
  if (ageSeconds > rule.maxAgeSeconds)
    return {
      ok: false,
      reason: 'consent_expired',
      detail: `the certificate is ${ageSeconds} s old; the campaign takes ${rule.maxAgeSeconds} s at most`,
    };
  return { ok: true, provider: rule.provider, certificateId, ageSeconds: Math.max(0, ageSeconds) };
}

/** Answer names a source gives certificates under (TrustedForm's and Jornaya's usual hidden fields). */
const CERTIFICATE_KEY = /trusted_?form|leadid|jornaya|cert(ificate)?_?(url|id|token)/i;

/**
 * Whether a lead's value (or the answer it is under) is a consent certificate: a TrustedForm URL, a LeadiD token
 * under a certificate-ish name, or anything under such a name. Previews never show one, even in a visible answer:
 * whoever holds a certificate can claim it.
 */
export function isCertificateValue(value: unknown, key = ''): boolean {
  if (CERTIFICATE_KEY.test(key)) return true;
  return typeof value === 'string' && /trustedform\.com|leadid\.com/i.test(value);
}
