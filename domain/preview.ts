import { isCertificateValue } from './consent-certificates';
import type { ConsentEvidence, LeadFields } from './types';

/** What a buyer sees of an offered lead before paying: enough to judge it, not enough to call the person. */
export const DEFAULT_PREVIEW_FIELDS: readonly string[] = ['city', 'state', 'zip'];

/** The top-level lead fields an admin may make previewable ("answers" = every answer); `answers.<question>` picks one answer. */
export const PREVIEWABLE_FIELDS = [
  'firstName',
  'lastName',
  'phone',
  'email',
  'address',
  'city',
  'state',
  'zip',
  'answers',
] as const satisfies readonly (keyof LeadFields)[];

const TOP_LEVEL = new Set<string>(PREVIEWABLE_FIELDS);
const ANSWER_PREFIX = 'answers.';

/** For the API to validate a campaign's preview field list. */
export function isPreviewableField(f: string): boolean {
  return TOP_LEVEL.has(f) || (f.startsWith(ANSWER_PREFIX) && f.length > ANSWER_PREFIX.length);
}

const has = (o: object | undefined, k: string): boolean => !!o && Object.prototype.hasOwnProperty.call(o, k);
const present = (v: unknown): boolean => v !== undefined && v !== null;

/** defineProperty, not assignment: a question named "__proto__" must stay a plain key. */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Which answers are visible: all of them ('answers' listed), or the listed `answers.<q>`. */
function visibleAnswers(fields: LeadFields, visible: ReadonlySet<string>): string[] {
  const answers = fields?.answers;
  if (!answers || typeof answers !== 'object') return [];
  // A consent certificate is never shown (#23): whoever holds it can claim it.
  return Object.keys(answers).filter(
    (q) =>
      present(answers[q]) &&
      !isCertificateValue(answers[q], q) &&
      (visible.has('answers') || visible.has(ANSWER_PREFIX + q)),
  );
}

/**
 * The preview of a lead: ONLY the listed fields that are present, copied into a
 * fresh object. Built by allow-listing (never by deleting from a copy) so a field
 * added to LeadFields later stays hidden until someone lists it. Unknown names
 * in `visible` are ignored.
 */
export function previewOf(fields: LeadFields, visible: readonly string[]): Record<string, unknown> {
  const vis = new Set(visible);
  const out: Record<string, unknown> = {};
  for (const key of PREVIEWABLE_FIELDS) {
    if (key === 'answers' || !vis.has(key) || !has(fields, key)) continue;
    const value = (fields as unknown as Record<string, unknown>)[key];
    if (present(value) && !isCertificateValue(value)) put(out, key, value);
  }
  const qs = visibleAnswers(fields, vis);
  if (qs.length > 0) {
    const answers: Record<string, unknown> = {};
    for (const q of qs) put(answers, q, fields.answers![q]);
    out.answers = answers;
  }
  return out;
}

/**
 * The non-empty string values a preview must NOT contain, for leak tests: every
 * string field and answer that is not visible. A hidden value equal to a visible
 * one (an answer "yes" next to a visible "yes") is left out: finding it proves nothing. The lead's consent
 * certificate is hidden always (#23), as is any certificate among the fields.
 */
export function hiddenValues(
  fields: LeadFields,
  visible: readonly string[],
  consent?: ConsentEvidence | null,
): string[] {
  const vis = new Set(visible);
  const shown = new Set<string>();
  const hidden = new Set<string>();
  const note = (value: unknown, isVisible: boolean): void => {
    if (typeof value === 'string' && value.trim() !== '')
      (isVisible && !isCertificateValue(value) ? shown : hidden).add(value);
  };
  if (consent?.certificateUrl) hidden.add(consent.certificateUrl);
  const record = (fields ?? {}) as unknown as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'answers') note(record[key], TOP_LEVEL.has(key) && vis.has(key));
  }
  const answers = fields?.answers ?? {};
  const shownAnswers = new Set(visibleAnswers(fields, vis));
  for (const q of Object.keys(answers)) note(answers[q], shownAnswers.has(q));
  return [...hidden].filter((v) => !shown.has(v));
}
