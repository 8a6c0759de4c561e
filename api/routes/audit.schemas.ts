/**
 * The zod schemas of api/routes/audit.ts, kept beside it (the audit log: its
 * filters, its entries, a buyer's change history's `by`). Shapes several route
 * modules share are in api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { AUDIT_ACTIONS, AUDIT_ACTOR_TYPES, AUDIT_OBJECT_TYPES } from '../../domain/audit';
import { Id, IsoTime, list, Nullable } from '../schema-blocks';
import { ChangeActorSchema, PageQuery } from '../schemas';

export const AuditActorTypeSchema = z.enum(AUDIT_ACTOR_TYPES);
export const AuditObjectTypeSchema = z.enum(AUDIT_OBJECT_TYPES);
export const AuditActionSchema = z.enum(AUDIT_ACTIONS);

/** An instant: ISO-8601 with a time zone (`2026-12-05T17:00:00Z`). */
const Instant = z.iso
  .datetime({ offset: true })
  .describe('an ISO-8601 instant with its zone, e.g. 2026-12-05T17:00:00Z');

/** The filters of the log and of its CSV export. */
export const AuditFilterQuery = z
  .object({
    actorUserId: Id.optional().describe('only what this person did (signed in, or through a key they made)'),
    actorKeyId: Id.optional().describe('only what was done with this key'),
    objectType: AuditObjectTypeSchema.optional(),
    objectId: Id.optional().describe('only the entries about this object'),
    from: Instant.optional().describe('from this instant, inclusive'),
    to: Instant.optional().describe('until this instant, exclusive'),
  })
  .strict();
export const AuditLogQuery = PageQuery.extend(AuditFilterQuery.shape).strict();

export const AuditActorView = z
  .object({
    type: AuditActorTypeSchema.describe(
      'root token, a person signed in, a key, the system; `unrecorded` for history from before people were recorded',
    ),
    userId: Nullable(Id).describe("the person (a key's maker for a key)"),
    keyId: Nullable(Id),
    label: z.string().describe('who it was, as shown at the time of the change'),
  })
  .describe('who made the change');

export const AuditEntryView = z.object({
  id: Id,
  at: IsoTime,
  actor: AuditActorView,
  side: ChangeActorSchema.describe('the side that acted: admin (the agency), buyer, system'),
  objectType: AuditObjectTypeSchema,
  objectId: Id,
  action: AuditActionSchema,
  buyerId: Nullable(Id).describe("set when the change is a buyer's or about one"),
  changes: z
    .record(z.string(), z.object({ from: z.unknown(), to: z.unknown() }))
    .describe('before → after of the fields that changed; secrets are "[redacted]"'),
  note: Nullable(z.string()),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  AuditLog: list('entries', AuditEntryView),
};
