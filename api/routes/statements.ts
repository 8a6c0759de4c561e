/**
 * Monthly statements (#21 item 6): a buyer's own (`/v1/me/statements…`) and
 * the agency's view of any of its buyers (`/v1/buyers/{id}/statements…`), as
 * JSON or CSV (`{month}.csv` or `?format=csv`). The month is a calendar month
 * in the agency's time zone; opening + movements = closing (domain/statements.ts).
 */
import { z } from 'zod';

import { getBuyer } from '../../db/buyers';
import { agencyTimeZone } from '../../db/reports';
import { buyerStatement, statementMonths } from '../../db/statements';
import { csvRecord, type CsvValue } from '../../domain/csv';
import { formatMoney } from '../../domain/payments';
import { type Statement, STATEMENT_CSV_HEADER } from '../../domain/statements';
import { fetchReceiptUrl } from '../../payments/receipts';
import { notFound } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, NOT_FOUND, route, type StreamReply } from '../route';
import { Id } from '../schema-blocks';
import type { ApiServices } from '../services';
import { Responses, StatementFormat, StatementMonth } from './statements.schemas';

const MonthParams = z.object({ month: StatementMonth }).strict();
const BuyerMonthParams = z.object({ id: Id, month: StatementMonth }).strict();
const BuyerParams = z.object({ id: Id }).strict();
const FormatQuery = z.object({ format: StatementFormat.optional() }).strict();

/** An example in the statement's real columns (STATEMENT_CSV_HEADER): opening, one charge, closing. */
const CSV_EXAMPLE = [
  STATEMENT_CSV_HEADER.join(','),
  '2026-03-01T05:00:00.000Z,opening,,,100,,,,,',
  '2026-03-14T09:26:53.000Z,charges,charge,-25,75,00000000-0000-4000-8000-000000000001,,,,',
  '2026-04-01T04:00:00.000Z,closing,,,75,,,,,',
  '',
].join('\r\n');
const CSV_OK = {
  200: {
    description:
      'RFC 4180 CSV with a header row: an `opening` row, one row per ledger entry (oldest first), a `closing` row',
    contentType: 'text/csv',
    example: CSV_EXAMPLE,
  },
};
const JSON_OR_CSV = {
  200: {
    description: 'the statement (as CSV with `?format=csv`, like the `.csv` path)',
    schema: Responses.Statement,
    alsoAs: { contentType: 'text/csv', example: CSV_EXAMPLE },
  },
};

async function statementOf(services: ApiServices, agencyId: string, buyerId: string, month: string) {
  const timeZone = await agencyTimeZone(services.db, agencyId);
  return buyerStatement(services.db, buyerId, month, timeZone, (p) => fetchReceiptUrl(services.db, p));
}

function statementView(buyerId: string, s: Statement) {
  return {
    buyerId,
    month: s.month,
    timeZone: s.timeZone,
    from: s.start.toISOString(),
    to: s.end.toISOString(),
    openingBalance: s.openingBalance,
    closingBalance: s.closingBalance,
    totals: s.totals,
    lines: s.lines.map((l) => ({
      id: l.id,
      at: l.createdAt.toISOString(),
      section: l.section,
      kind: l.kind,
      amount: l.amount,
      balanceAfter: l.balanceAfter,
      leadId: l.leadId,
      reference: l.reference,
      payment: l.payment ?? null,
    })),
  };
}

async function* statementCsv(s: Statement): AsyncGenerator<string> {
  const row = (values: CsvValue[]) => csvRecord(values);
  yield row([...STATEMENT_CSV_HEADER]);
  yield row([s.start, 'opening', null, null, s.openingBalance, null, null, null, null, null]);
  for (const l of s.lines) {
    const p = l.payment;
    yield row([
      l.createdAt,
      l.section,
      l.kind,
      l.amount,
      l.balanceAfter,
      l.leadId,
      l.reference,
      p?.cardLast4 ? `${p.cardBrand ?? 'card'} ${p.cardLast4}` : null,
      p ? formatMoney(p.amount, p.currency) : null,
      p?.receiptUrl ?? null,
    ]);
  }
  yield row([
    s.end,
    'closing',
    null,
    s.closingBalance - s.openingBalance,
    s.closingBalance,
    null,
    null,
    null,
    null,
    null,
  ]);
}

function csvReply(buyerId: string, s: Statement): StreamReply {
  return {
    status: 200,
    contentType: 'text/csv; charset=utf-8; header=present',
    headers: { 'Content-Disposition': `attachment; filename="statement-${s.month}-${buyerId}.csv"` },
    stream: statementCsv(s),
  };
}

async function loadBuyerId(services: ApiServices, agencyId: string, id: string): Promise<string> {
  const buyer = await getBuyer(services.db, agencyId, id);
  if (!buyer) throw notFound('buyer');
  return buyer.id;
}

export const statementRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/me/statements',
    operationId: 'myStatementMonths',
    tag: 'Buyer',
    summary: 'The months in which my wallet moved (statements to look at), newest first',
    responses: { 200: { description: 'the months', schema: Responses.StatementMonths }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const timeZone = await agencyTimeZone(services.db, principal.agencyId);
      return {
        status: 200,
        body: { timeZone, months: await statementMonths(services.db, principal.buyerId, timeZone) },
      };
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/statements/:month.csv',
    operationId: 'myStatementCsv',
    tag: 'Buyer',
    summary: 'My statement of a month as CSV',
    params: MonthParams,
    responses: { ...CSV_OK, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, params, services }) {
      return csvReply(
        principal.buyerId,
        await statementOf(services, principal.agencyId, principal.buyerId, params.month),
      );
    },
  }),

  route({
    method: 'get',
    path: '/v1/me/statements/:month',
    operationId: 'myStatement',
    tag: 'Buyer',
    summary:
      "My statement of a calendar month in the agency's time zone: opening balance, top-ups (card, receipt), charges per lead, returns, card refunds, disputes, adjustments, closing balance",
    params: MonthParams,
    query: FormatQuery,
    responses: { ...JSON_OR_CSV, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, params, query, services }) {
      const s = await statementOf(services, principal.agencyId, principal.buyerId, params.month);
      if (query.format === 'csv') return csvReply(principal.buyerId, s);
      return { status: 200, body: statementView(principal.buyerId, s) };
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id/statements',
    operationId: 'buyerStatementMonths',
    tag: 'Buyers',
    summary: "The months in which a buyer's wallet moved, newest first",
    params: BuyerParams,
    responses: {
      200: { description: 'the months', schema: Responses.StatementMonths },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const buyerId = await loadBuyerId(services, principal.agencyId, params.id);
      const timeZone = await agencyTimeZone(services.db, principal.agencyId);
      return { status: 200, body: { timeZone, months: await statementMonths(services.db, buyerId, timeZone) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id/statements/:month.csv',
    operationId: 'buyerStatementCsv',
    tag: 'Buyers',
    summary: "A buyer's statement of a month as CSV",
    params: BuyerMonthParams,
    responses: { ...CSV_OK, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, services }) {
      const buyerId = await loadBuyerId(services, principal.agencyId, params.id);
      return csvReply(buyerId, await statementOf(services, principal.agencyId, buyerId, params.month));
    },
  }),

  route({
    method: 'get',
    path: '/v1/buyers/:id/statements/:month',
    operationId: 'buyerStatement',
    tag: 'Buyers',
    summary: "A buyer's statement of a calendar month in the agency's time zone (as GET /v1/me/statements/{month})",
    params: BuyerMonthParams,
    query: FormatQuery,
    responses: { ...JSON_OR_CSV, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, query, services }) {
      const buyerId = await loadBuyerId(services, principal.agencyId, params.id);
      const s = await statementOf(services, principal.agencyId, buyerId, params.month);
      if (query.format === 'csv') return csvReply(buyerId, s);
      return { status: 200, body: statementView(buyerId, s) };
    },
  }),
];
