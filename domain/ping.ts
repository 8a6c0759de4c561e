/**
 * Ping-post rules as pure functions: the lead-shaped record a ping is judged
 * as (its non-identifying fields, nothing else), and which fields of a post
 * contradict the ping it redeems.
 */
import { normalizeZip } from './eligibility';
import type { LeadFields } from './types';

export interface PingLeadFields {
  zip: string;
  state?: string;
  city?: string;
  answers?: Record<string, string | number | boolean>;
}

/** The fields of a lead as routing sees them, from a ping: identity left empty (no dedupe keys, no preview of it). */
export function leadFieldsOfPing(p: PingLeadFields): LeadFields {
  return {
    firstName: '',
    lastName: '',
    phone: '',
    email: '',
    zip: p.zip,
    ...(p.state !== undefined ? { state: p.state } : {}),
    ...(p.city !== undefined ? { city: p.city } : {}),
    ...(p.answers !== undefined ? { answers: p.answers } : {}),
  };
}

/**
 * The lead fields a ping may carry – the non-identifying ones above (`answers`:
 * every answer) – in preview.ts's terms, so `previewOf(fields, PING_FIELDS)`
 * is exactly what an outbound ping to a buyer's endpoint may read.
 */
export const PING_FIELDS = ['zip', 'state', 'city', 'answers'] as const satisfies readonly (keyof PingLeadFields)[];

export interface Contradiction {
  path: string;
  message: string;
}

const same = (a: string | undefined, b: string | undefined) =>
  (a ?? '').trim().toLowerCase() === (b ?? '').trim().toLowerCase();

/**
 * Every field the ping carried must arrive unchanged in the post (ZIPs
 * compared normalized, state and city case-insensitively, answers exactly);
 * tracking ids given in both must match. Fields the ping did not carry are free.
 */
export function postContradictions(
  ping: { fields: PingLeadFields; subId: string | null; clickId: string | null },
  post: { fields: LeadFields; subId?: string | null; clickId?: string | null },
): Contradiction[] {
  const out: Contradiction[] = [];
  const was = (v: unknown) => `the ping said ${JSON.stringify(v)}`;
  if (normalizeZip(ping.fields.zip) !== normalizeZip(post.fields.zip))
    out.push({ path: 'fields.zip', message: was(ping.fields.zip) });
  if (ping.fields.state !== undefined && !same(ping.fields.state, post.fields.state))
    out.push({ path: 'fields.state', message: was(ping.fields.state) });
  if (ping.fields.city !== undefined && !same(ping.fields.city, post.fields.city))
    out.push({ path: 'fields.city', message: was(ping.fields.city) });
  for (const [q, v] of Object.entries(ping.fields.answers ?? {})) {
    const got = post.fields.answers?.[q];
    if (got !== v) out.push({ path: `fields.answers.${q}`, message: was(v) });
  }
  if (ping.subId && post.subId && ping.subId !== post.subId) out.push({ path: 'subId', message: was(ping.subId) });
  if (ping.clickId && post.clickId && ping.clickId !== post.clickId)
    out.push({ path: 'clickId', message: was(ping.clickId) });
  return out;
}
