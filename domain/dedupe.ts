/**
 * Dedupe keys: the same person for the same service line. The phone number is
 * the E.164 form intake's contact check made (domain/contact-checks.ts), so
 * "(512) 555-0100" and "+1 512 555 0100" are one key.
 */
const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * Trimmed and lowercased. Gmail ignores dots and "+tags" in the local part, so
 * j.doe+roof@gmail.com is the same inbox as jdoe@gmail.com; googlemail.com is
 * the same service, so it is folded into gmail.com. Other providers treat dots
 * and plus signs differently, so their local parts are left alone.
 */
export function normalizeEmail(e: string): string {
  const email = (e ?? '').trim().toLowerCase();
  const at = email.lastIndexOf('@');
  if (at < 0) return email;
  let local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (!GMAIL_DOMAINS.has(domain)) return email;
  const plus = local.indexOf('+');
  if (plus >= 0) local = local.slice(0, plus);
  local = local.replace(/\./g, '');
  // "+tag@gmail.com" has no real mailbox left; keep it as typed rather than collide on "@gmail.com".
  return local ? `${local}@gmail.com` : email;
}

/**
 * Keys under which a lead counts as a duplicate. Scoped by service line: the
 * same person asking for roofing and for plumbing is two sellable leads.
 */
export function dedupeKeys(person: { phoneE164: string | null; email: string }, serviceLine: string): string[] {
  const keys: string[] = [];
  if (person.phoneE164) keys.push(`phone:${serviceLine}:${person.phoneE164}`);
  const email = normalizeEmail(person.email ?? '');
  if (email) keys.push(`email:${serviceLine}:${email}`);
  return keys;
}
