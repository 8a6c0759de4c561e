/**
 * Who a request acts as, for the audit log (db/audit.ts): the principal's
 * actor (the root token, a person's session, or a key and its maker) and the
 * side it acts for – an agency caller is `admin`, a buyer's caller `buyer`.
 * Every route that changes something passes `auditBy(principal)` down to the
 * data layer, which records the change in the same transaction.
 */
import type { AuditBy } from '../db/audit';
import type { Principal } from './auth';

export const auditBy = (principal: Principal): AuditBy => ({
  actor: principal.actor,
  side: principal.kind === 'buyer' ? 'buyer' : 'admin',
});
