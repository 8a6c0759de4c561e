/**
 * Reconciliation of card payments (#21 item 5). A webhook can be lost (an outage longer than Stripe's three days of
 * retries, a wrong signing secret for a day); the payment then succeeded at Stripe and never reached the ledger.
 * For one agency, `reconcileAgency` lists the succeeded PaymentIntents of a window from Stripe (the official SDK,
 * every page), maps each to Leadwire's payment by the metadata the checkout and the auto-recharge write, and
 * credits those the ledger lacks through `settleSucceededPayment` – the webhook's own path and ledger key
 * (`stripe:<payment intent id>`), so a webhook arriving after, or racing, the job credits once. Every run is
 * written down (db/reconciliations.ts), counted (observability/metrics.ts), and every payment it credits has its
 * audit-log entry.
 *
 * Stripe is listed in full before anything is credited: a Stripe that fails half-way leaves nothing half-done, the
 * run is recorded `failed` and `ReconcileFailed` tells the caller (the Temporal activity, the CLI) whether asking
 * again can help.
 *
 * `unsettledIntents` is the audit's read-only half (`npm run audit -- --stripe`): the same list and mapping, and
 * the payments without a ledger entry, credited by nobody.
 */
import Stripe from 'stripe';

import { SYSTEM } from '../db/audit';
import type { Db, DbOrTx } from '../db/connection';
import { ledgerHasKey } from '../db/ledger';
import { findPayment, type SettleOutcome, settleSucceededPayment, stripeSecretsOf } from '../db/payments';
import { type ReconciliationRow, recordReconciliation } from '../db/reconciliations';
import { type ReconcileFinding, stripeLedgerKey } from '../domain/payments';
import { stripeClient } from '../lib/stripe';
import { reconciledPayments, reconciliationRuns } from '../observability/metrics';
import { successOfIntent } from './stripe-events';

export interface ReconcileWindow {
  since: Date;
  until: Date;
}

/** Stripe could not be listed for the agency: nothing was credited; `retryable` unless the key itself is refused. */
export class ReconcileFailed extends Error {
  override name = 'ReconcileFailed';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** A key Stripe refuses, or a request it calls invalid, stays refused however often it is asked. */
function retryable(err: unknown): boolean {
  return !(
    err instanceof Stripe.errors.StripeAuthenticationError ||
    err instanceof Stripe.errors.StripePermissionError ||
    err instanceof Stripe.errors.StripeInvalidRequestError
  );
}

/**
 * The window's succeeded PaymentIntents, every page (the SDK's auto-pagination follows `has_more`), each with its
 * charge expanded for the card and the receipt. Stripe cannot filter by status: the others are skipped here.
 */
async function succeededIntents(secretKey: string, window: ReconcileWindow): Promise<Stripe.PaymentIntent[]> {
  const found: Stripe.PaymentIntent[] = [];
  try {
    const list = stripeClient(secretKey).paymentIntents.list({
      created: { gte: Math.floor(window.since.getTime() / 1000), lt: Math.ceil(window.until.getTime() / 1000) },
      limit: 100,
      expand: ['data.latest_charge'],
    });
    for await (const intent of list) if (intent.status === 'succeeded') found.push(intent);
  } catch (err) {
    throw new ReconcileFailed(
      `Stripe could not be listed: ${err instanceof Error ? err.message : String(err)}`,
      retryable(err),
    );
  }
  return found;
}

/** Why a listed intent is not this agency's payment (the metadata names another agency), or null. */
function foreignReason(agencyId: string, intent: Stripe.PaymentIntent): string | null {
  const named = intent.metadata?.leadwireAgencyId;
  return named && named !== agencyId ? `its metadata names agency ${named}` : null;
}

/** A settlement as a finding of the run. */
function findingOf(intent: Stripe.PaymentIntent, settled: SettleOutcome, dryRun: boolean): ReconcileFinding {
  const paymentIntentId = intent.id;
  switch (settled.outcome) {
    case 'credited':
      return {
        paymentIntentId,
        outcome: dryRun ? 'would_credit' : 'credited',
        paymentId: settled.payment.id,
        detail: `${dryRun ? 'would credit' : 'credited'} ${settled.payment.credits} credits to buyer ${settled.payment.buyerId}`,
      };
    case 'already_credited':
      return {
        paymentIntentId,
        outcome: 'already_credited',
        paymentId: settled.payment.id,
        detail: `ledger entry ${settled.entry.id}`,
      };
    case 'refused':
      // A payment Leadwire does not have is someone else's (another system on the same Stripe account).
      return settled.reason === 'unknown_payment'
        ? {
            paymentIntentId,
            outcome: 'ignored',
            paymentId: null,
            detail: intent.metadata?.leadwirePaymentId
              ? `names payment ${intent.metadata.leadwirePaymentId}, which this agency does not have`
              : 'no Leadwire metadata and no payment of this agency has this intent',
          }
        : {
            paymentIntentId,
            outcome: 'refused',
            paymentId: settled.payment?.id ?? null,
            detail: `${settled.reason}: ${settled.detail}`,
          };
  }
}

export interface ReconcileRun {
  agencyId: string;
  window: ReconcileWindow;
  dryRun: boolean;
  /** Who runs it, for the record: `workflow:<id>` or `cli`. */
  runBy: string;
}

/**
 * Reconciles one agency's window (see the top of this file): the run's row, or null when the agency has no Stripe
 * settings. Throws `ReconcileFailed` (after recording the failed run) when Stripe cannot be listed.
 */
export async function reconcileAgency(db: Db, run: ReconcileRun): Promise<ReconciliationRow | null> {
  const secrets = await stripeSecretsOf(db, run.agencyId);
  if (!secrets) return null;
  const startedAt = new Date();
  const base = {
    agencyId: run.agencyId,
    windowStart: run.window.since,
    windowEnd: run.window.until,
    dryRun: run.dryRun,
    runBy: run.runBy,
    startedAt,
  };
  let intents: Stripe.PaymentIntent[];
  try {
    intents = await succeededIntents(secrets.secretKey, run.window);
  } catch (err) {
    if (err instanceof ReconcileFailed) {
      await recordReconciliation(db, { ...base, status: 'failed', error: err.message.slice(0, 1000) });
      reconciliationRuns.inc({ status: 'failed' });
    }
    throw err;
  }

  const findings: ReconcileFinding[] = [];
  for (const intent of intents) {
    const foreign = foreignReason(run.agencyId, intent);
    const finding = foreign
      ? { paymentIntentId: intent.id, outcome: 'ignored' as const, paymentId: null, detail: foreign }
      : findingOf(
          intent,
          await settleSucceededPayment(db, successOfIntent(run.agencyId, intent, null), {
            dryRun: run.dryRun,
            by: SYSTEM,
          }),
          run.dryRun,
        );
    findings.push(finding);
    reconciledPayments.inc({ outcome: finding.outcome });
  }
  const count = (...outcomes: ReconcileFinding['outcome'][]) =>
    findings.filter((f) => outcomes.includes(f.outcome)).length;
  const row = await recordReconciliation(db, {
    ...base,
    status: 'completed',
    checked: findings.length,
    credited: count('credited', 'would_credit'),
    alreadyCredited: count('already_credited'),
    ignored: count('ignored'),
    errors: count('refused'),
    findings: findings.filter((f) => f.outcome !== 'already_credited'),
  });
  reconciliationRuns.inc({ status: 'completed' });
  return row;
}

/** A payment Stripe says succeeded that the ledger has not credited (the audit's `--stripe` check). */
export interface UnsettledIntent {
  paymentIntentId: string;
  paymentId: string;
  buyerId: string;
  amount: number;
  currency: string;
}

/**
 * The agency's succeeded payments in the window that have no ledger entry under their key (and how many succeeded
 * intents Stripe listed): listed and mapped as `reconcileAgency` does, credited by nobody. Null when the agency has no Stripe settings; throws
 * `ReconcileFailed` when Stripe cannot be listed.
 */
export async function unsettledIntents(
  db: DbOrTx,
  agencyId: string,
  window: ReconcileWindow,
): Promise<{ checked: number; unsettled: UnsettledIntent[] } | null> {
  const secrets = await stripeSecretsOf(db, agencyId);
  if (!secrets) return null;
  const intents = await succeededIntents(secrets.secretKey, window);
  const unsettled: UnsettledIntent[] = [];
  for (const intent of intents) {
    if (foreignReason(agencyId, intent)) continue;
    const payment = await findPayment(db, agencyId, {
      paymentId: intent.metadata?.leadwirePaymentId,
      paymentIntentId: intent.id,
    });
    if (!payment) continue;
    if (!(await ledgerHasKey(db, stripeLedgerKey.payment(intent.id))))
      unsettled.push({
        paymentIntentId: intent.id,
        paymentId: payment.id,
        buyerId: payment.buyerId,
        amount: intent.amount_received || intent.amount,
        currency: intent.currency,
      });
  }
  return { checked: intents.length, unsettled };
}
