/**
 * Erasure of a lead's personal fields (#23 item 6), the pure part: what an erased lead keeps, and the values
 * (needles) whose every stored copy is erased from the lead's other rows (db/erasure.ts).
 *
 * Erased: the name, phone, email, street address, free-text (string) answers, the consent's text, IP address and
 * browser, the normalised phone, the dedupe keys (which hold the normalised phone and email). Kept: city, state and
 * zip (reports, filters and the buyers' service areas), number and yes/no answers, the consent's time and
 * certificate link, the phone's type, the contact checks' results (without the number).
 */
import { normalizeEmail } from './dedupe';
import type { ConsentEvidence, ContactCheckRecord, LeadFields } from './types';

/** What stands in an erased field. */
export const ERASED = '[erased]';

/** The lead's fields that name or reach the person. */
const PERSONAL_FIELDS = ['firstName', 'lastName', 'phone', 'email', 'address'] as const;

/** A needle shorter than this would erase unrelated text (a two-letter name inside every word). */
const MIN_NEEDLE = 3;

export function erasedLeadFields(fields: LeadFields): LeadFields {
  const out: Record<string, unknown> = { ...fields };
  for (const k of PERSONAL_FIELDS) if (out[k] !== undefined) out[k] = ERASED;
  if (fields.answers)
    out.answers = Object.fromEntries(
      Object.entries(fields.answers).map(([k, v]) => [k, typeof v === 'string' ? ERASED : v]),
    );
  return out as unknown as LeadFields;
}

export function erasedConsent(consent: ConsentEvidence | null): ConsentEvidence | null {
  return consent && { ...consent, text: ERASED, ip: ERASED, userAgent: ERASED };
}

/** The checks' results stay (the timeline and reports need them); the number they found goes. */
export function erasedChecks(checks: ContactCheckRecord[] | null): ContactCheckRecord[] | null {
  return checks && checks.map(({ e164: _e164, ...rest }) => rest);
}

/** The digits of a phone number as written ("(512) 555-0100" → "5125550100"). */
const digitsOf = (s: string) => s.replace(/\D/g, '');

/**
 * Every form in which the lead's personal values may have been copied into its other rows (a delivery's body, a
 * timeline event, a preview, a buyer's note): the values as sent, the phone in E.164, with and without its "+",
 * as bare digits and without the country code, the email normalised, each string answer, the consent's text, IP
 * address and browser.
 */
export function personalNeedles(lead: {
  fields: LeadFields;
  consent: ConsentEvidence | null;
  phoneE164: string | null;
}): string[] {
  const f = lead.fields;
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v !== 'string') return;
    const t = v.trim();
    if (t.length >= MIN_NEEDLE && t !== ERASED) out.add(t);
  };
  for (const k of PERSONAL_FIELDS) add(f[k]);
  if (f.firstName && f.lastName) add(`${f.firstName} ${f.lastName}`);
  if (typeof f.email === 'string') add(normalizeEmail(f.email));
  if (typeof f.phone === 'string' && digitsOf(f.phone).length >= 7) add(digitsOf(f.phone));
  if (lead.phoneE164) {
    add(lead.phoneE164);
    add(lead.phoneE164.slice(1));
    // A North American number's ten digits, as most US forms and buyers write it.
    if (lead.phoneE164.startsWith('+1')) add(lead.phoneE164.slice(2));
  }
  for (const v of Object.values(f.answers ?? {})) add(v);
  add(lead.consent?.ip);
  add(lead.consent?.userAgent);
  add(lead.consent?.text);
  return [...out];
}
