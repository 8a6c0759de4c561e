/** The caller itself: who it is, and for a buyer its wallet, ledger and won leads. */
import { eq } from 'drizzle-orm';
import { walletBalance } from '../../db/ledger';
import { getBuyer, listBuyerLeads, listLedger } from '../../db/queries';
import { agencies } from '../../db/schema';
import { listBody, pageArgs } from '../pagination';
import { notFound } from '../problem';
import { AUTH_ERRORS, BAD_INPUT, route, type AnyRoute } from '../route';
import { PageQuery, Responses } from '../schemas';
import { agencyView, buyerView, ledgerEntryView, wonLeadView } from '../views';

export const meRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/me',
    operationId: 'me',
    tag: 'Buyer',
    summary: 'Who this key is: root, an agency admin (with the agency) or a buyer (with its profile and balance)',
    roles: ['root', 'admin', 'buyer'],
    responses: { 200: { description: 'the caller', schema: Responses.Me }, ...BAD_INPUT, 401: AUTH_ERRORS[401]!, 429: AUTH_ERRORS[429]! },
    async handler({ principal, services }) {
      if (principal.kind === 'root') return { status: 200, body: { kind: 'root' } };
      const [agency] = await services.db.select().from(agencies).where(eq(agencies.id, principal.agencyId));
      if (!agency) throw notFound('agency');
      if (principal.kind === 'admin') return { status: 200, body: { kind: 'admin', agency: agencyView(agency) } };
      const buyer = await getBuyer(services.db, principal.agencyId, principal.buyerId);
      if (!buyer) throw notFound('buyer');
      return { status: 200, body: { kind: 'buyer', agency: agencyView(agency), buyer: buyerView(buyer, buyer.balance) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/wallet',
    operationId: 'myWallet',
    tag: 'Buyer',
    summary: 'My balance and my latest ledger entries',
    roles: ['buyer'],
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
    roles: ['buyer'],
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
    roles: ['buyer'],
    query: PageQuery,
    responses: { 200: { description: 'a page', schema: Responses.WonLeads }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listBuyerLeads(services.db, principal.buyerId, pageArgs(query));
      return { status: 200, body: listBody('leads', page, wonLeadView) };
    },
  }),
];
