/**
 * Intake's contact gate (#23 items 1 and 2): the lead's phone and email
 * checked once each (domain/contact-checks.ts), the email's domain looked up
 * in DNS when the MX check is on (lib/mx.ts), each check timed. A refusal is
 * the problem document intake answers (422, the reason code as `code`, the
 * field named); a pass is what intake stores beside the lead and puts on its
 * timeline. A ping runs the same local checks on what it carries (no DNS on
 * the ping's path).
 */
import { performance } from 'node:perf_hooks';

import type { Db } from '../db/connection';
import { checkSuppression, suppressionHits } from '../db/suppression';
import { checkCertificate } from '../domain/consent-certificates';
import { checkEmail, checkPhone } from '../domain/contact-checks';
import { suppressionVerdict } from '../domain/suppression';
import type {
  ConsentCertificateRule,
  ConsentEvidence,
  ContactCheckRecord,
  ContactRefusal,
  DncRule,
  LeadFields,
} from '../domain/types';
import type { MxChecker } from '../lib/mx';
import { Problem } from './problem';

export interface ContactRefused {
  ok: false;
  reason: ContactRefusal;
  field: 'phone' | 'email';
  detail: string;
}

export interface ContactPassed {
  ok: true;
  phoneE164: string;
  phoneType: NonNullable<ContactCheckRecord['phoneType']>;
  checks: ContactCheckRecord[];
}

const ms = (since: number) => Math.round((performance.now() - since) * 1000) / 1000;

/** The local checks of a phone and/or an email (a ping carries either, both or neither). */
export function checkContactFields(
  fields: { phone?: string; email?: string },
  country: string,
): { refused: ContactRefused | null; checks: ContactCheckRecord[]; phone: ReturnType<typeof checkPhone> | null } {
  const checks: ContactCheckRecord[] = [];
  let phone: ReturnType<typeof checkPhone> | null = null;
  if (fields.phone !== undefined) {
    const t = performance.now();
    phone = checkPhone(fields.phone, country);
    const latencyMs = ms(t);
    if (!phone.ok)
      return { refused: { ok: false, reason: phone.reason, field: 'phone', detail: phone.detail }, checks, phone };
    checks.push({ check: 'phone', result: 'passed', latencyMs, e164: phone.e164, phoneType: phone.type });
  }
  if (fields.email !== undefined) {
    const t = performance.now();
    const email = checkEmail(fields.email);
    const latencyMs = ms(t);
    if (!email.ok)
      return { refused: { ok: false, reason: email.reason, field: 'email', detail: email.detail }, checks, phone };
    checks.push({ check: 'email', result: 'passed', latencyMs, domain: email.domain });
  }
  return { refused: null, checks, phone };
}

/** Every check of a lead at intake: phone, email, then (when on) the email domain's MX records. */
export async function checkLeadContacts(
  fields: Pick<LeadFields, 'phone' | 'email'>,
  options: { country: string; mx: MxChecker | null },
): Promise<ContactPassed | ContactRefused> {
  const local = checkContactFields(fields, options.country);
  if (local.refused) return local.refused;
  const phone = local.phone!;
  if (!phone.ok) throw new Error('unreachable: a refused phone returns above');
  const checks = local.checks;
  const domain = checks.find((c) => c.check === 'email')!.domain!;
  if (!options.mx) {
    checks.push({ check: 'email_mx', result: 'skipped', latencyMs: 0, domain });
  } else {
    const t = performance.now();
    const verdict = await options.mx.check(domain);
    const latencyMs = ms(t);
    if (verdict.result === 'none')
      return { ok: false, reason: 'invalid_email', field: 'email', detail: verdict.detail };
    checks.push(
      verdict.result === 'found'
        ? { check: 'email_mx', result: 'passed', latencyMs, domain, mx: verdict.mx }
        : { check: 'email_mx', result: 'unverified', latencyMs, domain, detail: verdict.detail },
    );
  }
  return { ok: true, phoneE164: phone.e164, phoneType: phone.type, checks };
}

/** A refused contact as intake answers it: 422 with the reason code, the field named in `errors`. */
export function contactProblem(r: ContactRefused, prefix = 'fields'): Problem {
  return new Problem(422, r.reason, `${prefix}.${r.field}: ${r.detail}`, {
    errors: [{ in: 'body', path: `${prefix}.${r.field}`, message: r.detail }],
  });
}

/**
 * The suppression lists at intake (#23 item 3), after the contact checks passed: the verdict on the E.164 number
 * and the address (db/suppression.ts `checkSuppression`), as the `suppression` check the lead and its timeline
 * show, with the lists that hold it (the agency sees them; a source or buyer hears only `suppressed`).
 */
export async function checkLeadSuppression(
  db: Db,
  input: {
    agencyId: string;
    phoneE164: string;
    email: string;
    consent: ConsentEvidence | null;
    rule: DncRule;
  },
): Promise<ContactCheckRecord> {
  const t = performance.now();
  const verdict = await checkSuppression(db, input);
  return {
    check: 'suppression',
    result: verdict.result,
    latencyMs: ms(t),
    ...(verdict.lists.length ? { lists: verdict.lists } : {}),
  };
}

/**
 * Whether a ping's phone or email is suppressed (#23): rejected `suppressed`, never saying which list. A ping
 * carries no consent, so a Do-Not-Call hit passes when the campaign lets written consent pass: the post carries
 * the consent and intake judges it.
 */
export async function pingSuppressed(
  db: Db,
  agencyId: string,
  contact: { phoneE164: string | null; email: string | null },
  rule: DncRule,
): Promise<boolean> {
  const hits = await suppressionHits(db, agencyId, contact);
  return suppressionVerdict(hits, rule, true).result === 'suppressed';
}

/**
 * The campaign's consent-certificate rule at intake (#23 item 4): a lead without a certificate, with one not of the
 * provider's shape or older than the campaign allows is refused (422 with the reason code, nothing stored); a pass
 * is the `consent_certificate` check on the timeline. A campaign without the rule checks nothing (null).
 */
export function checkLeadCertificate(
  rule: ConsentCertificateRule | null,
  consent: ConsentEvidence | null,
  now = new Date(),
): ContactCheckRecord | null {
  if (!rule) return null;
  const started = performance.now();
  const verdict = checkCertificate(rule, consent, now);
  if (!verdict.ok)
    throw new Problem(422, verdict.reason, `consent.certificateUrl: ${verdict.detail}`, {
      errors: [{ in: 'body', path: 'consent.certificateUrl', message: verdict.detail }],
    });
  return {
    check: 'consent_certificate',
    result: 'passed',
    latencyMs: ms(started),
    provider: verdict.provider,
    ageSeconds: verdict.ageSeconds,
  };
}
