/**
 * Buyers pay for their own credits (#21): the one definition of what a card
 * payment is, what it costs and which ledger key it credits under. Pure: the
 * database (db/payments.ts), the Stripe adapter (lib/stripe.ts), the routes and
 * the pages import from here.
 *
 * Money is counted in whole credits; a payment's amount is always
 * credits × the agency's credit price, in the currency's minor units (an
 * integer: 100 = one credit costs 1.00 in a two-decimal currency).
 */

/** How a payment came about: a buyer's Checkout top-up, an auto-recharge, or one the reconciliation job found. */
export const PAYMENT_KINDS = ['checkout', 'auto_recharge', 'reconciled'] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

export const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'canceled'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** A refund's state, as Stripe reports it (`requires_action` is kept as pending). */
export const REFUND_STATUSES = ['pending', 'succeeded', 'failed', 'canceled'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** What a verified Stripe event did: recorded once per event id in stripe_events. */
export const STRIPE_EVENT_OUTCOMES = ['applied', 'duplicate', 'ignored', 'refused'] as const;
export type StripeEventOutcome = (typeof STRIPE_EVENT_OUTCOMES)[number];

/** The pause reason a buyer gets when a dispute or refund takes its wallet below zero. */
export const PAYMENT_DISPUTED_REASON = 'payment_disputed';

/** ISO 4217, lower case as Stripe writes it. */
export const CURRENCY = /^[a-z]{3}$/;

/**
 * Currencies Stripe counts without a minor unit (its "zero-decimal currencies"): their credit price is in whole
 * units. Used only to show amounts; amounts themselves are always Stripe's integer minor units.
 */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);

/** The amount Stripe is asked for: credits × price, in minor units. Throws on anything but positive integers. */
export function paymentAmount(credits: number, creditPrice: number): number {
  if (!Number.isSafeInteger(credits) || credits <= 0) throw new RangeError(`credits must be a positive integer`);
  if (!Number.isSafeInteger(creditPrice) || creditPrice <= 0)
    throw new RangeError(`the credit price must be a positive integer`);
  const amount = credits * creditPrice;
  if (!Number.isSafeInteger(amount)) throw new RangeError('the amount is too large');
  return amount;
}

/** "12.50 USD", for people (pages, statements, alerts). */
export function formatMoney(amount: number, currency: string): string {
  const digits = ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency.toUpperCase()}`;
}

/**
 * The ledger idempotency keys of Stripe money, one definition: the webhook, the reconciliation job and the audit
 * all derive them from Stripe's own object ids, so a payment credits once whichever of its two events
 * (`checkout.session.completed`, `payment_intent.succeeded`) or the reconciliation gets there first, and a refund
 * or a dispute debits once.
 */
export const stripeLedgerKey = {
  payment: (paymentIntentId: string) => `stripe:${paymentIntentId}`,
  refund: (refundId: string) => `stripe:${refundId}`,
  /** A refund Stripe reports failed after it had succeeded: its credits back, once. */
  refundFailed: (refundId: string) => `stripe:refund_failed:${refundId}`,
  dispute: (disputeId: string) => `stripe:${disputeId}`,
  disputeReversal: (disputeId: string) => `stripe:${disputeId}:won`,
} as const;

/** The Stripe metadata every object Leadwire creates carries, so an event finds its payment without a lookup by amount. */
export interface PaymentMetadata {
  leadwirePaymentId: string;
  leadwireBuyerId: string;
  leadwireAgencyId: string;
  [key: string]: string;
}

/**
 * What the reconciliation job (payments/reconcile.ts) did with one succeeded PaymentIntent Stripe listed: credited
 * it (its webhook never came; `would_credit` in a dry run), found it credited already, ignored it (not a payment of
 * this agency's Leadwire: no Leadwire metadata, another agency's, an unknown payment id), or refused it (Stripe's
 * amount or currency differs from the payment's: nothing credited, for a person to look at).
 */
type ReconcileOutcome = 'credited' | 'would_credit' | 'already_credited' | 'ignored' | 'refused';

export interface ReconcileFinding {
  paymentIntentId: string;
  outcome: ReconcileOutcome;
  /** Leadwire's payment, when the intent maps to one. */
  paymentId: string | null;
  detail: string;
}

/** How far back reconciliation looks by default: longer than Stripe's webhook retries (three days). */
export const RECONCILE_DEFAULT_HOURS = 72;
