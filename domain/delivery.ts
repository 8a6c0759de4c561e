/**
 * What a delivery sends: the full lead (with its consent evidence) shaped by
 * the buyer's field mapping. Pure, so the mapping is easy to test and to explain.
 */
import type { ConsentClaimRecord, ConsentEvidence, LeadFields } from './types';

/** A buyer's field mapping: rename fields (dotted paths of the payload, e.g. "lead.phone" → "phone_number"), add static values. */
export interface FieldMapping {
  /** source path → target key; a renamed field moves to the top level under its new name. */
  rename?: Record<string, string>;
  /** Added at the top level (after renames), e.g. {"source": "leadwire", "campaign_code": 42}. */
  static?: Record<string, string | number | boolean>;
  /** Drop these source paths (e.g. "lead.answers"). */
  omit?: string[];
}

export interface DeliveryPayload {
  event: 'lead.delivered';
  assignmentId: string;
  leadId: string;
  offerId: string;
  buyerId: string;
  price: number;
  soldAt: string;
  lead: LeadFields & { id: string };
  consent: ConsentEvidence | null;
  /** The consent certificate's claim for this buyer (#23), when the campaign claims one: the answer, or the flag. */
  consentClaim?: ConsentClaimRecord;
}

function put(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function getPath(o: Record<string, unknown>, path: string): { found: boolean; value: unknown } {
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, part))
      return { found: false, value: undefined };
    cur = (cur as Record<string, unknown>)[part];
  }
  return { found: true, value: cur };
}

function deletePath(o: Record<string, unknown>, path: string): void {
  const parts = path.split('.');
  let cur: unknown = o;
  for (const part of parts.slice(0, -1)) {
    if (!cur || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, part)) return;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur && typeof cur === 'object') delete (cur as Record<string, unknown>)[parts.at(-1)!];
}

/** The payload with the mapping applied (a deep copy: the input is not touched). */
export function applyFieldMapping(payload: object, mapping: FieldMapping | undefined): Record<string, unknown> {
  const out = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
  if (!mapping) return out;
  const moved: [string, unknown][] = [];
  for (const [from, to] of Object.entries(mapping.rename ?? {})) {
    const { found, value } = getPath(out, from);
    if (!found) continue;
    moved.push([to, value]);
  }
  for (const from of Object.keys(mapping.rename ?? {})) deletePath(out, from);
  for (const path of mapping.omit ?? []) deletePath(out, path);
  for (const [to, value] of moved) put(out, to, value);
  for (const [k, v] of Object.entries(mapping.static ?? {})) put(out, k, v);
  return out;
}

/** The lead as plain text lines (email and SMS bodies). */
export function leadSummary(payload: DeliveryPayload): string {
  const l = payload.lead;
  const lines = [
    `Name: ${l.firstName} ${l.lastName}`,
    `Phone: ${l.phone}`,
    `Email: ${l.email}`,
    ...(l.address ? [`Address: ${l.address}`] : []),
    `Location: ${[l.city, l.state, l.zip].filter(Boolean).join(', ')}`,
    ...Object.entries(l.answers ?? {}).map(([q, a]) => `${q}: ${String(a)}`),
    `Price: ${payload.price} credits`,
    `Lead id: ${payload.leadId}`,
  ];
  if (payload.consent) {
    const c = payload.consent;
    lines.push(
      '',
      'Consent:',
      `  "${c.text}"`,
      `  at ${c.timestamp} from ${c.ip} (${c.userAgent})`,
      ...(c.certificateUrl ? [`  certificate: ${c.certificateUrl}`] : []),
    );
  }
  if (payload.consentClaim)
    lines.push(
      `  certificate claim: ${payload.consentClaim.status}${payload.consentClaim.flagged ? ' (flagged: the claim failed)' : ''}`,
    );
  return lines.join('\n');
}

/** The retry schedule of a sending channel: exponential from `initialIntervalMs`, capped at `maximumIntervalMs`. */
export interface RetrySchedule {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
}

/** Jitter: each wait is the schedule's ±20 %, so a receiver that was down is not hit by every retry at once. */
const RETRY_JITTER = 0.2;
/** A `Retry-After` is honoured up to a day. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * How long to wait after failed attempt `attempt` (1-based): the receiver's
 * `Retry-After` when it sent one, else the schedule with jitter. `random`
 * is [0, 1) (Math.random in the activity; fixed in tests).
 */
export function retryDelayMs(
  schedule: RetrySchedule,
  attempt: number,
  retryAfterMs: number | null,
  random: number,
): number {
  if (retryAfterMs !== null) return Math.min(Math.max(retryAfterMs, 0), MAX_RETRY_AFTER_MS);
  const base = Math.min(
    schedule.maximumIntervalMs,
    schedule.initialIntervalMs * schedule.backoffCoefficient ** Math.max(0, attempt - 1),
  );
  return Math.max(1, Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random)));
}

// ─── webhook identity and signing settings (the API and the sender share them) ───

/** A rotation's default overlap, in which both secrets sign. */
export const DEFAULT_ROTATION_OVERLAP_SECONDS = 24 * 3600;

/** The message id of a sale's delivery (one per sale and channel: retries and redeliveries repeat it). */
export function messageIdOf(assignmentId: string, channel: string): string {
  return channel === 'webhook' ? `msg_${assignmentId}` : `msg_${assignmentId}_${channel}`;
}

/** A delivery channel's retry policy, chosen by the worker's configuration (tests retry fast). */
export interface DeliveryRetry {
  /** One attempt's limit (the HTTP timeout plus a margin). */
  attemptTimeoutMs: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** Bounded: after the last attempt the delivery is failed for good. */
  maximumAttempts: number;
}
