/**
 * Returns (disputes) under the agency's rules, as a pure decision: inside the
 * return window, with an allowed reason, and without pushing the buyer's
 * return rate over the limit.
 */
import type { ReturnRules } from './types';

const DAY = 86_400_000;

/** The rate is measured over this many days: returns ÷ purchases. */
export const RETURN_RATE_DAYS = 30;

export type ReturnRefusal = 'return_window_closed' | 'reason_not_allowed' | 'return_rate_exceeded';

export interface ReturnRequest {
  rules: ReturnRules;
  /** When the lead was sold to the buyer. */
  soldAt: Date;
  now: Date;
  reasonCode: string | null | undefined;
  /** The buyer's purchases and returns (open or approved disputes) over the last RETURN_RATE_DAYS days. */
  purchases: number;
  returns: number;
}

export type ReturnVerdict = { ok: true } | { ok: false; code: ReturnRefusal; detail: string };

export function checkReturn(r: ReturnRequest): ReturnVerdict {
  const { rules } = r;
  if (rules.windowDays !== undefined && r.now.getTime() - r.soldAt.getTime() > rules.windowDays * DAY) {
    return {
      ok: false,
      code: 'return_window_closed',
      detail: `Leads can be returned within ${rules.windowDays} days of the sale.`,
    };
  }
  if (rules.allowedReasons?.length && !(r.reasonCode && rules.allowedReasons.includes(r.reasonCode))) {
    return {
      ok: false,
      code: 'reason_not_allowed',
      detail: `Give one of the agency's return reasons as "code": ${rules.allowedReasons.join(', ')}.`,
    };
  }
  if (rules.maxReturnRate !== undefined) {
    // This return included: a buyer at the limit cannot go over it.
    const rate = r.purchases > 0 ? (r.returns + 1) / r.purchases : Infinity;
    if (rate > rules.maxReturnRate) {
      return {
        ok: false,
        code: 'return_rate_exceeded',
        detail: `This return would make ${r.returns + 1} of ${r.purchases} leads in ${RETURN_RATE_DAYS} days, over the agency's limit of ${Math.round(rules.maxReturnRate * 100)}%.`,
      };
    }
  }
  return { ok: true };
}
