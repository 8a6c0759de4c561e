/**
 * Suppression and Do-Not-Call lists (#23 item 3) as pure rules: what a list
 * entry is the HMAC of (a value normalised by the contact checks and
 * prefixed by its kind), how one line of an uploaded CSV reads, and the
 * verdict on a lead from the lists that hold its phone or email and its
 * campaign's Do-Not-Call rule. The keyed hashing and the lists' rows are
 * db/suppression.ts; nothing here sees a key.
 */
import { type CountryCode, getCountryCallingCode } from 'libphonenumber-js/max';

import { checkEmail, checkPhone, isPhoneCountry } from './contact-checks';
import type { ConsentEvidence, DncRule, SuppressionKind } from './types';

/** A value normalised for its HMAC: what is hashed is `<kind>:<normalised>`, so a number and an address never meet. */
export interface SuppressionValue {
  kind: SuppressionKind;
  /** E.164 for a phone, the lower-cased address for an email. */
  normalised: string;
}

const nanpCountries = new Map<string, boolean>();
/** Whether numbers of this region are of the North American plan (country calling code 1). */
function isNanp(country: string): boolean {
  let known = nanpCountries.get(country);
  if (known === undefined) {
    known = isPhoneCountry(country) && getCountryCallingCode(country as CountryCode) === '1';
    nanpCountries.set(country, known);
  }
  return known;
}

/** The text an entry's HMAC is taken of. */
export const hmacInput = (v: SuppressionValue): string => `${v.kind}:${v.normalised}`;

/**
 * A phone number or an email address as a person or a file gives it: an `@` makes it an email (checked as
 * intake checks one, lower-cased; a disposable domain is still an address worth suppressing), anything else a
 * phone number read in `country` like intake reads it (E.164). Null with the reason when it is neither.
 */
export function suppressionValue(
  raw: string,
  country: string,
): { ok: true; value: SuppressionValue } | { ok: false; detail: string } {
  const text = raw.trim();
  if (text.includes('@')) {
    const email = checkEmail(text);
    if (!email.ok && email.reason === 'invalid_email')
      return { ok: false, detail: `not an email address: ${email.detail}` };
    return { ok: true, value: { kind: 'email', normalised: text.toLowerCase() } };
  }
  // The bulk of any list: a North American number read in a +1 country, digits and punctuation only. Its E.164
  // form is +1 and the ten digits, as intake's libphonenumber would give for a valid one (an invalid one is hashed
  // all the same and never matches a lead, which intake refuses), at a tenth of the parse's cost.
  if (isNanp(country)) {
    const nanp = /^(?:\+?1)?([2-9]\d{2}[2-9]\d{6})$/.exec(text.replace(/[\s().-]/g, ''));
    if (nanp) return { ok: true, value: { kind: 'phone', normalised: `+1${nanp[1]}` } };
  }
  const phone = checkPhone(text, country);
  if (!phone.ok) return { ok: false, detail: `not a phone number: ${phone.detail}` };
  return { ok: true, value: { kind: 'phone', normalised: phone.e164 } };
}

/**
 * One line of the Do-Not-Call registry's area-code files: a ten-digit North American number (NPA-NXX-XXXX,
 * neither the area code nor the exchange starting with 0 or 1). Read without libphonenumber, since a registry
 * file has tens of millions of them and every one is a valid US number; null when the line is not one.
 */
export function registryNumber(line: string): SuppressionValue | null {
  const digits = line.trim();
  if (!/^[2-9]\d{2}[2-9]\d{6}$/.test(digits)) return null;
  return { kind: 'phone', normalised: `+1${digits}` };
}

/** Header names a one-column suppression CSV may start with (compared lower-cased, quotes removed). */
const HEADERS = new Set([
  'phone',
  'phone_number',
  'phonenumber',
  'number',
  'email',
  'email_address',
  'value',
  'contact',
]);

/** A CSV cell: one field, its quotes removed ("" inside quotes is one "). */
function cell(line: string): { ok: true; text: string } | { ok: false; detail: string } {
  const t = line.trim();
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2) return { ok: false, detail: 'an unclosed quote' };
    const inner = t.slice(1, -1);
    if (/(^|[^"])"([^"]|$)/.test(inner.replace(/""/g, ''))) return { ok: false, detail: 'a stray quote' };
    return { ok: true, text: inner.replace(/""/g, '"') };
  }
  if (t.includes(',')) return { ok: false, detail: 'more than one column (one number or email per line)' };
  return { ok: true, text: t };
}

/** What the first line of an upload is: a header (skipped), a value (loaded), or neither (the file is refused whole). */
export function firstLine(line: string, country: string): 'header' | 'value' | { refused: string } {
  const c = cell(line.replace(/^\uFEFF/, ''));
  if (!c.ok) return { refused: `line 1: ${c.detail}` };
  if (HEADERS.has(c.text.toLowerCase())) return 'header';
  if (suppressionValue(c.text, country).ok) return 'value';
  return {
    refused: `line 1 is neither a header (${[...HEADERS].join(', ')}) nor a phone number or email`,
  };
}

/** One data line of an upload: skipped when blank, else a value or why not. */
export function csvLine(
  line: string,
  country: string,
): { blank: true } | { ok: true; value: SuppressionValue } | { ok: false; detail: string } {
  if (!line.trim()) return { blank: true };
  const c = cell(line);
  if (!c.ok) return c;
  return suppressionValue(c.text, country);
}

/**
 * Express written consent as the lead carries it (ConsentEvidence): the consent text the person agreed to, a
 * time that is not in the future, the address and browser it came from. Whether the campaign lets it pass a
 * Do-Not-Call hit is the campaign's rule.
 */
export function hasWrittenConsent(consent: ConsentEvidence | null | undefined, now: Date): boolean {
  if (!consent || !consent.text.trim() || !consent.ip || !consent.userAgent) return false;
  const at = Date.parse(consent.timestamp);
  // A minute of clock skew between the form's server and ours.
  return Number.isFinite(at) && at <= now.getTime() + 60_000;
}

/** A list holding the lead's phone or email: an agency's list, or a Do-Not-Call list (`state_dnc:TX`). */
export interface SuppressionHit {
  list: string;
  /** A Do-Not-Call list, which the campaign's rule may let consent pass; the agency's own lists never pass. */
  dnc: boolean;
}

export type SuppressionVerdict =
  | { result: 'passed'; lists: [] }
  | { result: 'suppressed'; lists: string[] }
  | { result: 'consented'; lists: string[] };

/**
 * The verdict on a lead: clean; `suppressed` when an agency list holds it, or a Do-Not-Call list does and the
 * campaign's rule or the lead's consent does not let it pass; `consented` when only Do-Not-Call lists hold it and
 * the campaign passes leads with written consent (recorded on the timeline like a suppression).
 */
export function suppressionVerdict(hits: SuppressionHit[], rule: DncRule, consented: boolean): SuppressionVerdict {
  if (!hits.length) return { result: 'passed', lists: [] };
  const lists = [...new Set(hits.map((h) => h.list))].sort();
  if (hits.every((h) => h.dnc) && rule === 'consent_passes' && consented) return { result: 'consented', lists };
  return { result: 'suppressed', lists };
}

/**
 * The return reason code that marks a lead as fraud: approving a return with it puts the lead's phone and email
 * on the agency's `returned_fraud` list.
 */
export const FRAUD_RETURN_CODE = 'fraud';
