/**
 * The vocabulary of the audit log (#20 item 8): who can act (the actor), on
 * what kind of object, doing what, and the rule that keeps secrets out of an
 * entry. Defined once; the table (db/audit.ts), the API's schemas, the CSV
 * export and the pages import it from here.
 */
import { changesOf } from './self-service';
import type { ChangeActor } from './types';

/**
 * Who acted, as the API's principal carries it (api/auth.ts `Actor`), plus
 * `system` (the platform itself, e.g. an auto-pause after failed deliveries).
 * `unrecorded` is only in entries migrated from the buyer change history,
 * written before actors were kept.
 */
export type AuditActor =
  | { type: 'root' }
  | { type: 'user'; userId: string; sessionId: string }
  | { type: 'key'; keyId: string; userId: string | null }
  | { type: 'system' };

/** Who made a change: the actor, and the side it acted for (admin: the agency; buyer; system). */
export interface AuditBy {
  actor: AuditActor;
  side: ChangeActor;
}

export const AUDIT_ACTOR_TYPES = ['root', 'user', 'key', 'system', 'unrecorded'] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

/** The kinds of object a change is about. */
export const AUDIT_OBJECT_TYPES = [
  'buyer',
  'campaign',
  'wallet',
  'agency_settings',
  'lead',
  'dispute',
  'api_key',
  'source',
  'membership',
  'user',
  'payment_settings',
  'payment',
  'billing',
  /** An agency's suppression lists (object id: the agency's); entries are named by list and count, never by value. */
  'suppression_list',
  'erasure_request',
] as const;
export type AuditObjectType = (typeof AUDIT_OBJECT_TYPES)[number];

/** What was done. `updated` carries the changed fields; the others may too. */
export const AUDIT_ACTIONS = [
  'created',
  'updated',
  'deleted',
  'credited',
  'webhook_secret_rotated',
  'key_issued',
  'key_revoked',
  'assigned',
  'reoffered',
  'rejected',
  'opened',
  'resolved',
  'invited',
  'role_changed',
  'removed',
  'ownership_transferred',
  'refund_requested',
  /** Numbers or addresses put on a suppression list (by hand or by an upload): how many, never which. */
  'listed',
  /** One entry taken off a suppression list. */
  'unlisted',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Before → after of each changed field. */
export type AuditChanges = Record<string, { from: unknown; to: unknown }>;

/** What stands in an entry for a secret's value. */
export const REDACTED = '[redacted]';

/**
 * Field names whose values never enter the log (passwords, secrets, tokens,
 * keys, TOTP seeds, OIDC client secrets), at any depth: the change is
 * recorded, its value is not.
 */
const SECRET_NAME = /pass(word)?|secret|token|api_?key|totp|seed|private|credential|recovery/i;

const isSecretField = (name: string): boolean => SECRET_NAME.test(name);

function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        isSecretField(k) && v !== null && v !== undefined ? REDACTED : redactValue(v),
      ]),
    );
  }
  return value;
}

/** The changes with every secret's value replaced by `REDACTED` (a field named like a secret, at any depth). */
export function redactChanges(changes: AuditChanges): AuditChanges {
  return Object.fromEntries(
    Object.entries(changes).map(([field, { from, to }]) =>
      isSecretField(field)
        ? [field, { from: from == null ? null : REDACTED, to: to == null ? null : REDACTED }]
        : [field, { from: redactValue(from), to: redactValue(to) }],
    ),
  );
}

/** The fields of a new object, as null → value (a creation's entry). */
export const createdFields = (after: Record<string, unknown>): AuditChanges => changesOf({}, after);
