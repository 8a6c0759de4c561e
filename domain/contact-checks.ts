/**
 * The contact checks of intake and pings (#23 items 1 and 2), as pure
 * functions: a phone number parsed with Google's libphonenumber metadata
 * (libphonenumber-js, the `max` set, which knows number types) into E.164 and
 * its type, and an email address parsed as RFC 5322 (email-addresses) with a
 * domain the mail system can route to, then looked up in the community
 * disposable-domain list (disposable-email-domains-js). The MX look-up is I/O
 * and lives in lib/mx.ts; this module only names its results.
 *
 * Cheap on purpose (the budget: all local checks add at most 5 ms at
 * p99): each value is parsed once, and the disposable list is read once into
 * a Set at first use.
 */
import { disposableEmailBlocklistSet } from 'disposable-email-domains-js';
import emailAddresses from 'email-addresses';
import {
  type CountryCode,
  isSupportedCountry,
  type NumberType,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';

import type { ContactRefusal, PhoneFormat, PhoneType } from './types';

/** Whether libphonenumber knows the ISO 3166-1 alpha-2 region (an agency's default country). */
export function isPhoneCountry(code: string): boolean {
  return /^[A-Z]{2}$/.test(code) && isSupportedCountry(code);
}

export const DEFAULT_PHONE_COUNTRY = 'US';

const TYPE_OF: Record<NonNullable<NumberType>, PhoneType> = {
  MOBILE: 'mobile',
  FIXED_LINE: 'fixed_line',
  FIXED_LINE_OR_MOBILE: 'fixed_line_or_mobile',
  VOIP: 'voip',
  TOLL_FREE: 'toll_free',
  PREMIUM_RATE: 'premium_rate',
  SHARED_COST: 'shared_cost',
  PERSONAL_NUMBER: 'personal_number',
  PAGER: 'pager',
  UAN: 'uan',
  VOICEMAIL: 'voicemail',
};

export type PhoneCheck =
  | { ok: true; e164: string; type: PhoneType; country: string | null }
  | { ok: false; reason: 'invalid_phone'; detail: string };

/**
 * A phone number as a person or a form typed it: "+44 20 7946 0018", "(512) 555-0100",
 * "512.555.0100". A number without a country code is read in `defaultCountry` (the
 * agency's). Valid means the metadata knows a number of that length and prefix in that
 * region; its type is what the metadata says (in the US and Canada a number does not
 * tell mobile from fixed line: `fixed_line_or_mobile`).
 */
export function checkPhone(raw: string, defaultCountry: string = DEFAULT_PHONE_COUNTRY): PhoneCheck {
  const text = (raw ?? '').trim();
  if (!/\d/.test(text)) return { ok: false, reason: 'invalid_phone', detail: 'no digits' };
  const country = (isPhoneCountry(defaultCountry) ? defaultCountry : DEFAULT_PHONE_COUNTRY) as CountryCode;
  let parsed;
  try {
    parsed = parsePhoneNumberFromString(text, { defaultCountry: country, extract: false });
  } catch {
    parsed = undefined;
  }
  if (!parsed) return { ok: false, reason: 'invalid_phone', detail: 'not a phone number' };
  if (!parsed.isValid())
    return {
      ok: false,
      reason: 'invalid_phone',
      detail: parsed.country
        ? `not a valid number in ${parsed.country}`
        : `not a valid number for country code +${parsed.countryCallingCode}`,
    };
  const type = parsed.getType();
  return { ok: true, e164: parsed.number, type: type ? TYPE_OF[type] : 'unknown', country: parsed.country ?? null };
}

/** Loads the metadata and the disposable list now (at start), so the first lead does not pay for them. */
export function warmContactChecks(): void {
  checkPhone('+15125550100');
  checkEmail('warm@example.com');
}

/** The number a buyer's delivery carries: what the source sent, or the E.164 form when the buyer chose it. */
export function deliveredPhone(sent: string, e164: string | null | undefined, format: PhoneFormat | undefined): string {
  return format === 'e164' && e164 ? e164 : sent;
}

export type EmailCheck =
  | { ok: true; domain: string }
  | { ok: false; reason: Extract<ContactRefusal, 'invalid_email' | 'disposable_email'>; detail: string };

/** A DNS name a mail system can route to: dot-separated LDH labels, a top-level label that is not all digits. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
function routableDomain(domain: string): boolean {
  if (domain.length > 253) return false;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

let disposable: Set<string> | null = null;
/** The disposable list as a Set, read once. */
function disposableDomains(): Set<string> {
  disposable ??= disposableEmailBlocklistSet();
  return disposable;
}

/** The domain or one of its parents is on the list (mail.mailinator.com is mailinator.com's). */
export function isDisposableDomain(domain: string): boolean {
  const set = disposableDomains();
  const labels = domain.toLowerCase().split('.');
  for (let i = 0; i < labels.length - 1; i++) if (set.has(labels.slice(i).join('.'))) return true;
  return false;
}

/**
 * An address the mail system can deliver to: one RFC 5322 addr-spec (no display
 * name, no group, no comments), a local part of at most 64 octets, and a domain
 * that is a routable DNS name (not an address literal, not a single label); then
 * not on the disposable list. Answers the domain, lowercased, for the MX look-up.
 */
export function checkEmail(raw: string): EmailCheck {
  const text = (raw ?? '').trim();
  const invalid = (detail: string): EmailCheck => ({ ok: false, reason: 'invalid_email', detail });
  if (!text) return invalid('empty');
  if (text.length > 254) return invalid('longer than 254 characters');
  const parsed = emailAddresses.parseOneAddress({ input: text, rfc6532: true, rejectTLD: true });
  if (!parsed || parsed.type !== 'mailbox') return invalid('not an email address (RFC 5322)');
  if (parsed.name !== null || parsed.parts.comments.length > 0 || parsed.parts.address.tokens !== text)
    return invalid('only the address itself, without a name or comments');
  if (Buffer.byteLength(parsed.local, 'utf8') > 64) return invalid('the part before @ is longer than 64 characters');
  const domain = parsed.domain.toLowerCase();
  if (!routableDomain(domain)) return invalid(`"${parsed.domain}" is not a domain that receives mail`);
  if (isDisposableDomain(domain))
    return { ok: false, reason: 'disposable_email', detail: `${domain} is a disposable email service` };
  return { ok: true, domain };
}
