/**
 * The audit log (#20 item 8): one table, every change an agency or a buyer
 * makes, written in the same transaction as the change it records (so a
 * change that fails leaves no entry, and no change goes unrecorded). It grew
 * out of the buyer change history (buyer_changes, migrated by 0014).
 *
 * To record a change, call inside the change's transaction:
 *
 *   await recordChange(tx, {
 *     agencyId,                      // the agency the change happens in
 *     buyerId?,                      // set when the change is a buyer's or about one
 *     by: { actor, side },           // actor: principal.actor (api/auth.ts) or { type: 'system' };
 *                                    // side: 'admin' | 'buyer' | 'system' (api/audit.ts auditBy(principal))
 *     objectType, objectId,          // domain/audit.ts AUDIT_OBJECT_TYPES, e.g. 'membership', membership id
 *     action,                        // domain/audit.ts AUDIT_ACTIONS, e.g. 'role_changed'
 *     changes?,                      // { field: { from, to } }: only the fields that changed
 *     note?,                         // a sentence for people, e.g. 'previous secret signs until …'
 *   });
 *
 * An `updated` with no changed field records nothing (answers false). Values
 * of fields named like secrets (password, secret, token, key, TOTP seed…) are
 * replaced by '[redacted]' before they are written (domain/audit.ts). The
 * actor's label is looked up here, in the transaction, and kept as it was
 * then: renaming a user later does not rewrite history.
 *
 * Table: audit_log.
 */
import { and, desc, eq, gte, lt, ne, type SQL } from 'drizzle-orm';

import {
  type AuditAction,
  type AuditActor,
  type AuditBy,
  type AuditChanges,
  type AuditObjectType,
  redactChanges,
} from '../domain/audit';
import type { DbOrTx } from './connection';
import { olderThan, type Page, type PageArgs, sortKeyAt, toPage } from './pages';
import { apiKeys, auditLog, users } from './schema';

export type AuditRow = typeof auditLog.$inferSelect;

export type { AuditBy };

/** The system acting on its own (an auto-pause, a sweeper). */
export const SYSTEM: AuditBy = { actor: { type: 'system' }, side: 'system' };

export interface ChangeEntry {
  agencyId: string;
  buyerId?: string | null;
  by: AuditBy;
  objectType: AuditObjectType;
  objectId: string;
  action: AuditAction;
  changes?: AuditChanges;
  note?: string | null;
}

async function userLabel(db: DbOrTx, userId: string): Promise<string | null> {
  const [u] = await db
    .select({ displayName: users.displayName, email: users.email })
    .from(users)
    .where(eq(users.id, userId));
  return u ? `${u.displayName} <${u.email}>` : null;
}

/** How the actor is shown, as of now: a person's name and email; a key's name and prefix, and its maker. */
async function labelOf(db: DbOrTx, actor: AuditActor): Promise<string> {
  switch (actor.type) {
    case 'root':
      return 'the root token';
    case 'system':
      return 'the system';
    case 'user':
      return (await userLabel(db, actor.userId)) ?? `user ${actor.userId}`;
    case 'key': {
      const [k] = await db
        .select({ name: apiKeys.name, prefix: apiKeys.prefix })
        .from(apiKeys)
        .where(eq(apiKeys.id, actor.keyId));
      const key = k ? `key "${k.name}" (${k.prefix}…)` : `key ${actor.keyId}`;
      const maker = actor.userId ? await userLabel(db, actor.userId) : null;
      return maker ? `${key} of ${maker}` : key;
    }
  }
}

/** The actor as the timeline names it (an event's `data.actor`): the ids and the label as of now. */
export interface ActorRef {
  type: AuditActor['type'];
  userId: string | null;
  keyId: string | null;
  label: string;
}

export async function actorRef(db: DbOrTx, actor: AuditActor): Promise<ActorRef> {
  return {
    type: actor.type,
    userId: actor.type === 'user' || actor.type === 'key' ? actor.userId : null,
    keyId: actor.type === 'key' ? actor.keyId : null,
    label: await labelOf(db, actor),
  };
}

/** Records one change (see the top of this file). Call it with the transaction that makes the change. */
export async function recordChange(db: DbOrTx, entry: ChangeEntry): Promise<boolean> {
  const changes = redactChanges(entry.changes ?? {});
  if (entry.action === 'updated' && !Object.keys(changes).length) return false;
  const { actor } = entry.by;
  const ref = await actorRef(db, actor);
  await db.insert(auditLog).values({
    agencyId: entry.agencyId,
    buyerId: entry.buyerId ?? null,
    actorType: ref.type,
    actorUserId: ref.userId,
    actorKeyId: ref.keyId,
    actorSessionId: actor.type === 'user' ? actor.sessionId : null,
    actorLabel: ref.label,
    side: entry.by.side,
    objectType: entry.objectType,
    objectId: entry.objectId,
    action: entry.action,
    changes,
    note: entry.note ?? null,
  });
  return true;
}

/**
 * A decision on a lead in manual review (assigned, re-offered, rejected), recorded with the change it makes, inside
 * its transaction; answers the actor for the timeline event's `data.actor`.
 */
export async function recordReviewDecision(
  db: DbOrTx,
  input: {
    lead: { id: string; agencyId: string };
    by: AuditBy;
    action: 'assigned' | 'reoffered' | 'rejected';
    buyerId?: string | null;
    changes: AuditChanges;
    note?: string | null;
  },
): Promise<ActorRef> {
  await recordChange(db, {
    agencyId: input.lead.agencyId,
    buyerId: input.buyerId ?? null,
    by: input.by,
    objectType: 'lead',
    objectId: input.lead.id,
    action: input.action,
    changes: input.changes,
    note: input.note ?? null,
  });
  return actorRef(db, input.by.actor);
}

export interface AuditFilter {
  agencyId: string;
  /** Only the entries of (or about) this buyer: a buyer's own view, and a buyer's change history. */
  buyerId?: string;
  actorUserId?: string;
  actorKeyId?: string;
  objectType?: AuditObjectType;
  objectId?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Leaves out the entries of this action. */
  exceptAction?: AuditAction;
}

function whereOf(f: AuditFilter): SQL | undefined {
  return and(
    eq(auditLog.agencyId, f.agencyId),
    f.buyerId ? eq(auditLog.buyerId, f.buyerId) : undefined,
    f.actorUserId ? eq(auditLog.actorUserId, f.actorUserId) : undefined,
    f.actorKeyId ? eq(auditLog.actorKeyId, f.actorKeyId) : undefined,
    f.objectType ? eq(auditLog.objectType, f.objectType) : undefined,
    f.objectId ? eq(auditLog.objectId, f.objectId) : undefined,
    f.from ? gte(auditLog.createdAt, f.from) : undefined,
    f.to ? lt(auditLog.createdAt, f.to) : undefined,
    f.exceptAction ? ne(auditLog.action, f.exceptAction) : undefined,
  );
}

/** One page of the agency's entries that match the filter, newest first. */
export async function listAuditLog(db: DbOrTx, filter: AuditFilter, page: PageArgs): Promise<Page<AuditRow>> {
  const rows = await db
    .select({ row: auditLog, sortAt: sortKeyAt(auditLog.createdAt) })
    .from(auditLog)
    .where(and(whereOf(filter), olderThan(auditLog.createdAt, auditLog.id, page.after)))
    .orderBy(desc(auditLog.createdAt), desc(auditLog.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.row.id,
    (r) => r.row,
  );
}

/** Every entry that matches, newest first, read a batch at a time (the CSV export). */
export async function* allAuditEntries(db: DbOrTx, filter: AuditFilter, batch = 500): AsyncGenerator<AuditRow> {
  let after: PageArgs['after'] = null;
  do {
    const page = await listAuditLog(db, filter, { limit: batch, after });
    yield* page.items;
    after = page.next;
  } while (after);
}

/**
 * The change history of one buyer (GET /v1/buyers/:id/changes): the log's changes to it after its creation (its
 * settings, status, webhook secret), newest first. Its creation is in the log (GET /v1/audit-log).
 */
export async function buyerChangeHistory(
  db: DbOrTx,
  agencyId: string,
  buyerId: string,
  page: PageArgs,
): Promise<Page<AuditRow>> {
  return listAuditLog(db, { agencyId, objectType: 'buyer', objectId: buyerId, exceptAction: 'created' }, page);
}
