/**
 * Monthly statements (#21 item 6): a buyer's ledger for one calendar month in
 * the agency's time zone (agencies.time_zone), grouped the way a person reads a
 * bank statement. Pure: db/statements.ts reads the entries, the routes and the
 * page show what this builds.
 *
 * The rule a statement keeps, always: opening + every movement = closing, where
 * the opening is the sum of every entry before the month's first instant (the
 * ledger's own invariant, sum = balance) and the month is the half-open
 * interval [first instant, first instant of the next month).
 */
import { DateTime } from 'luxon';

import type { LedgerEntryKind } from './types';

/** `YYYY-MM`, months 01–12. */
export const STATEMENT_MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The sections of a statement, in the order it shows them. */
export const STATEMENT_SECTIONS = ['topUps', 'charges', 'returns', 'cardRefunds', 'disputes', 'adjustments'] as const;
export type StatementSection = (typeof STATEMENT_SECTIONS)[number];

/** Which section each ledger kind is shown in: lead returns (`refund`) apart from card refunds. */
export const SECTION_OF_KIND: Record<LedgerEntryKind, StatementSection> = {
  top_up: 'topUps',
  charge: 'charges',
  refund: 'returns',
  card_refund: 'cardRefunds',
  card_refund_reversal: 'cardRefunds',
  dispute: 'disputes',
  dispute_reversal: 'disputes',
  adjustment: 'adjustments',
  // A bid held while its post is out and given back (#22): beside the charge it became or did not.
  reserve: 'charges',
  release: 'charges',
};

/** The month's first instant and the next month's, in the zone; throws RangeError on a bad month or zone. */
export function monthBounds(month: string, timeZone: string): { start: Date; end: Date } {
  if (!STATEMENT_MONTH.test(month)) throw new RangeError('month must be YYYY-MM');
  const [year, m] = month.split('-').map(Number) as [number, number];
  const start = DateTime.fromObject({ year, month: m, day: 1 }, { zone: timeZone });
  if (!start.isValid) throw new RangeError(`unknown time zone: ${timeZone}`);
  return { start: start.toJSDate(), end: start.plus({ months: 1 }).toJSDate() };
}

/** The `YYYY-MM` an instant falls in, in the zone. */
export function monthOf(at: Date, timeZone: string): string {
  return DateTime.fromJSDate(at, { zone: timeZone }).toFormat('yyyy-MM');
}

/** The card payment behind a Stripe-sourced entry (a top-up, a card refund, a dispute). */
export interface StatementPayment {
  paymentId: string;
  amount: number;
  currency: string;
  cardBrand: string | null;
  cardLast4: string | null;
  receiptUrl: string | null;
}

export interface StatementEntry {
  id: string;
  kind: LedgerEntryKind;
  /** Signed credits. */
  amount: number;
  balanceAfter: number;
  createdAt: Date;
  leadId: string | null;
  reference: string | null;
  payment?: StatementPayment | null;
}

interface StatementLine extends StatementEntry {
  section: StatementSection;
}

export interface Statement {
  month: string;
  timeZone: string;
  start: Date;
  end: Date;
  openingBalance: number;
  closingBalance: number;
  /** Signed credits per section; opening + the sum of these = closing. */
  totals: Record<StatementSection, number>;
  /** Oldest first. */
  lines: StatementLine[];
}

/**
 * The statement of a month from the balance before it and the month's entries (any order; entries outside the
 * month are refused, so a caller's wrong query cannot pass unnoticed).
 */
export function buildStatement(input: {
  month: string;
  timeZone: string;
  openingBalance: number;
  entries: readonly StatementEntry[];
}): Statement {
  const { start, end } = monthBounds(input.month, input.timeZone);
  const totals = Object.fromEntries(STATEMENT_SECTIONS.map((s) => [s, 0])) as Record<StatementSection, number>;
  const lines: StatementLine[] = [];
  for (const e of input.entries) {
    if (e.createdAt < start || e.createdAt >= end)
      throw new RangeError(`entry ${e.id} at ${e.createdAt.toISOString()} is not in ${input.month}`);
    const section = SECTION_OF_KIND[e.kind];
    totals[section] += e.amount;
    lines.push({ ...e, section });
  }
  lines.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const closingBalance = input.openingBalance + STATEMENT_SECTIONS.reduce((sum, s) => sum + totals[s], 0);
  return {
    month: input.month,
    timeZone: input.timeZone,
    start,
    end,
    openingBalance: input.openingBalance,
    closingBalance,
    totals,
    lines,
  };
}

/** The CSV columns of a statement's lines (one row per entry, after an opening and before a closing row). */
export const STATEMENT_CSV_HEADER = [
  'date',
  'section',
  'kind',
  'credits',
  'balanceAfter',
  'leadId',
  'reference',
  'card',
  'paymentAmount',
  'receiptUrl',
] as const;
