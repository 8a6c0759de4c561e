/** The caller itself: who it is, and for a buyer its wallet, ledger and won leads. */
import { agencySettings, getAgency } from '../../db/agencies';
import { listBuyerLeads } from '../../db/assignments';
import { changeBuyer, getBuyer } from '../../db/buyers';
import { claimsOf } from '../../db/consent';
import { listLedger, walletBalance } from '../../db/ledger';
import { getSource } from '../../db/sources';
import { selfServiceProblems } from '../../domain/self-service';
import { auditBy } from '../audit';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, route } from '../route';
import { PageQuery } from '../schemas';
import { describeErrors } from '../validate';
import { agencyView, buyerView, ledgerEntryView, sourceView, wonLeadView } from '../views';
import { MePatch, Responses } from './me.schemas';

/** The buyer-side settings (#12) a buyer may change itself (filters only where its agency allows). */
const BUYER_SIDE_KEYS = ['timeZone', 'schedule', 'pauses', 'filters', 'alerts', 'lowBalanceThreshold'];

export const meRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/me',
    operationId: 'me',
    tag: 'Buyer',
    summary:
      'Who this key is: root, an agency admin (with the agency), a buyer (with its profile and balance) or a source (with its balance)',
    responses: {
      200: { description: 'the caller', schema: Responses.Me },
      ...BAD_INPUT,
      401: AUTH_ERRORS[401]!,
      429: AUTH_ERRORS[429]!,
    },
    async handler({ principal, services }) {
      if (principal.kind === 'root') return { status: 200, body: { kind: 'root' } };
      const agency = await getAgency(services.db, principal.agencyId);
      if (!agency) throw notFound('agency');
      if (principal.kind === 'admin') return { status: 200, body: { kind: 'admin', agency: agencyView(agency) } };
      if (principal.kind === 'source') {
        const source = await getSource(services.db, principal.agencyId, principal.sourceId);
        if (!source) throw notFound('source');
        return {
          status: 200,
          body: { kind: 'source', agency: agencyView(agency), source: sourceView(source, source.balance) },
        };
      }
      const buyer = await getBuyer(services.db, principal.agencyId, principal.buyerId);
      if (!buyer) throw notFound('buyer');
      return {
        status: 200,
        body: { kind: 'buyer', agency: agencyView(agency), buyer: buyerView(buyer, buyer.balance) },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/wallet',
    operationId: 'myWallet',
    tag: 'Buyer',
    summary: 'My balance and my latest ledger entries',
    responses: { 200: { description: 'the wallet', schema: Responses.Wallet }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const [balance, latest] = await Promise.all([
        walletBalance(services.db, principal.buyerId),
        listLedger(services.db, principal.buyerId, { limit: 20 }),
      ]);
      return { status: 200, body: { balance, entries: latest.items.map(ledgerEntryView) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/ledger',
    operationId: 'myLedger',
    tag: 'Buyer',
    summary: 'My ledger entries (top-ups, charges, refunds), newest first',
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.Ledger }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listLedger(services.db, principal.buyerId, pageArgs(query));
      return { status: 200, body: listBody('entries', page, ledgerEntryView) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/leads',
    operationId: 'myLeads',
    tag: 'Buyer',
    summary: 'The leads I won, with every field, newest first',
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.WonLeads }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listBuyerLeads(services.db, principal.buyerId, pageArgs(query));
      const claims = await claimsOf(
        services.db,
        page.items.map((w) => w.id),
      );
      return { status: 200, body: listBody('leads', page, (w) => wonLeadView(w, claims.get(w.id))) };
    },
  }),

  route({
    method: 'patch',
    path: '/v1/me',
    operationId: 'updateMe',
    tag: 'Buyer',
    summary:
      'Change my caps, service area, pause state, hours and pauses, alert settings, low-balance threshold (and lead filters where allowed), within the limits my agency sets; audited',
    description:
      "The agency's limits (`selfService` in its settings) bound caps per period and the states or ZIP prefixes a buyer may serve. " +
      'A buyer may pause and resume itself, but not lift a pause by the agency or the system (409 `pause_locked`).',
    body: MePatch,
    responses: {
      200: { description: 'my profile as changed', schema: Responses.Me },
      403: { description: 'the agency does not allow self-service (`forbidden`), or a key that is not a buyer key' },
      409: { description: 'the agency or the system paused me (`pause_locked`)' },
      422: { description: "outside the agency's limits (`validation_failed`); `errors` names the fields" },
      ...BODY_ERRORS,
      401: AUTH_ERRORS[401]!,
      429: AUTH_ERRORS[429]!,
    },
    async handler({ principal, body, services }) {
      const before = await getBuyer(services.db, principal.agencyId, principal.buyerId);
      if (!before) throw notFound('buyer');
      const limits = (await agencySettings(services.db, principal.agencyId)).selfService ?? {};
      if (limits.enabled === false)
        throw new Problem(403, 'forbidden', 'Your agency does not let buyers change their settings; ask it.');
      const problems = selfServiceProblems(limits, body);
      if (problems.length) {
        const errors = problems.map((p) => ({ in: 'body' as const, ...p }));
        throw new Problem(422, 'validation_failed', describeErrors(errors), { errors });
      }
      if (body.status === 'active' && before.status === 'paused' && before.pausedBy && before.pausedBy !== 'buyer') {
        throw new Problem(
          409,
          'pause_locked',
          `You were paused by the ${before.pausedBy === 'system' ? 'system' : 'agency'}${before.pauseReason ? ` (${before.pauseReason})` : ''}; the agency can resume you.`,
        );
      }
      const patch = {
        caps: body.caps,
        zipCodes: body.zipCodes,
        states: body.states,
        timeZone: body.timeZone,
        schedule: body.schedule,
        pauses: body.pauses,
        filters: body.filters,
        alerts: body.alerts,
        lowBalanceThreshold: body.lowBalanceThreshold,
        ...(body.status ? { status: body.status, pausedBy: 'buyer' as const } : {}),
        ...(body.status === 'paused' ? { pauseReason: body.pauseReason ?? 'paused by the buyer' } : {}),
      };
      const fields = ['caps', 'zipCodes', 'states', 'status', 'pauseReason', ...BUYER_SIDE_KEYS].filter((k) =>
        k === 'pauseReason' ? body.status !== undefined : (body as Record<string, unknown>)[k] !== undefined,
      );
      const row = await changeBuyer(services.db, {
        agencyId: principal.agencyId,
        buyerId: principal.buyerId,
        by: auditBy(principal),
        patch,
        before,
        fields,
      });
      if (!row) throw notFound('buyer');
      if (body.status === 'paused') await services.accessChanged(principal.agencyId, principal.buyerId);
      const agency = await getAgency(services.db, principal.agencyId);
      const buyer = await getBuyer(services.db, principal.agencyId, principal.buyerId);
      return {
        status: 200,
        body: { kind: 'buyer', agency: agencyView(agency!), buyer: buyerView(buyer!, buyer!.balance) },
      };
    },
  }),
];
