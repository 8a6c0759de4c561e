/**
 * The zod schemas of api/routes/keys.ts, kept beside it: the API keys of the
 * caller's own organisation (#20 item 7) – made by a person, named, scoped to
 * a role no higher than its maker's, optionally expiring, shown once.
 */
import { z } from 'zod';

import { AGENCY_ROLES, BUYER_ROLES } from '../../domain/accounts';
import { Id, IsoTime, Nullable, text } from '../schema-blocks';

/** Every role a key can act as (which ones fit depends on the caller's organisation: checked by the route). */
const ApiKeyRoleSchema = z
  .enum([...new Set([...AGENCY_ROLES, ...BUYER_ROLES])] as [string, ...string[]])
  .describe(
    "the role the key acts as: for an agency's key owner, admin, dispatcher or analyst; for a buyer's or a source's, owner or member; never above the caller's own role",
  );

export const ApiKeyCreate = z
  .object({
    name: text(80).describe('what people call it (1–80 characters)'),
    role: ApiKeyRoleSchema,
    expiresAt: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('when it stops working (ISO-8601, in the future); absent: never'),
  })
  .strict();

const ApiKeyCreator = z
  .object({ id: Id, email: z.string(), displayName: z.string() })
  .describe('the person who made it; null for keys made before accounts or by a key without a person');

export const ApiKeyView = z.object({
  id: Id,
  name: z.string(),
  role: z.string(),
  prefix: z.string().describe('its first characters, to tell keys apart'),
  createdBy: Nullable(ApiKeyCreator),
  createdAt: IsoTime,
  expiresAt: Nullable(IsoTime),
  lastUsedAt: Nullable(IsoTime).describe('written at most once a minute'),
  revokedAt: Nullable(IsoTime),
});

/**
 * The answers these routes document (their `responses`), each a named
 * component by its key.
 */
export const Responses = {
  ApiKeyIssued: z.object({
    id: Id,
    name: z.string(),
    role: z.string(),
    prefix: z.string(),
    key: z.string().describe('the key itself: shown this once, never again'),
    expiresAt: Nullable(IsoTime),
    createdAt: IsoTime,
  }),
  ApiKeys: z.object({ keys: z.array(ApiKeyView) }),
  ApiKey: ApiKeyView,
};
