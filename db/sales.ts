/**
 * Post and charge: the one transaction that sells an offer to a buyer.
 *
 * It re-checks the buyer at the instant of the sale (status, service area,
 * caps, balance), debits the wallet with the idempotency key
 * `offer:<offerId>:buyer:<buyerId>`, creates the assignment and writes the
 * timeline, all or nothing. The same transaction records the dashboard
 * delivery (the lead is in the buyer's "my leads" at commit) and, when this
 * sale fills the offer's last place, closes the offer and writes `lost` for
 * everyone else, so the buyer's answer waits for nothing after the commit.
 * Running it again for the same offer and buyer (an activity retry after a
 * crash) returns the first result and charges nothing.
 *
 * Lock order, the same everywhere so concurrent sales cannot deadlock:
 * offer row, then the buyer's wallet row, then the campaign row (only when the
 * campaign has caps), then a claim's attempt row (db/claim-attempts.ts; the
 * claim relay's refusal takes that row alone), then the lead's row, and last
 * the cap counters' rows (db/cap-counters.ts: the buyer's, then the campaign's;
 * a refund takes them last too). The wallet lock serializes every sale to one buyer, which
 * is what keeps its caps from being overrun by concurrent claims on different
 * offers.
 *
 * The campaign's counter rows are shared by every sale of the campaign, and a
 * row lock is held until COMMIT: so the counters' upsert is the sale's last
 * statement, and what the commit would otherwise run under it (the deferred
 * report refresh of the lead, the source-payout check) is run just before it
 * (db/cap-counters.ts `countSale`). A campaign's sales then queue on its
 * counters only for that upsert and the commit itself, not for the refresh
 * (#22, #26).
 *
 * The re-check reads its inputs through the one eligibility loader
 * (db/eligibility.ts) inside this transaction, after the locks: the buyer's
 * counts, dedupe and pool membership, and the campaign's cap usage (the
 * counter rows this transaction adds its sale to before it commits).
 */
import { and, eq, sql } from 'drizzle-orm';

import {
  attemptEvents,
  type ClaimAttempt,
  type ClaimChannel,
  claimOutcomeOf,
  noPlaceLeft,
  type SaleKind,
  type WonClaim,
  wonClaim,
} from '../claims/vocabulary';
import { checkClaimTimeEligibility } from '../domain/eligibility';
import { filterableLead } from '../domain/filters';
import { endpointPostKey, ledgerChargeKey, ledgerReleaseKey, ledgerReserveKey } from '../domain/ids';
import { priceLead } from '../domain/pricing';
import { orderPushCandidates } from '../domain/push';
import type { SuppressionVerdict } from '../domain/suppression';
import {
  type ClaimFailureReason,
  type ConsentEvidence,
  type LeadFields,
  type PushStrategy,
  SUPPRESSED,
  type WonLeadRecord,
} from '../domain/types';
import { actorRef, type AuditBy, recordReviewDecision } from './audit';
import { pushCandidates, recordPushTurn, takePushTurn } from './campaigns';
import { countSale } from './cap-counters';
import { takeAttemptForSale } from './claim-attempts';
import type { Db, Tx } from './connection';
import { recordDashboardDelivery } from './deliveries';
import { type CampaignRules, loadEligibilityInputs } from './eligibility';
import { acceptedPostAt } from './endpoints';
import { markLeadSold } from './leads';
import { InsufficientCreditsError, isUniqueViolation, postLedgerEntry, releaseHeldReserves } from './ledger';
import {
  appendEvents,
  buyerStanding,
  type ClosedOffer,
  closeOfferWithin,
  standingOf,
  type TimelineEventInput,
} from './offers';
import { assignments, buyers, campaigns, leads, ledgerEntries, offers, offerTargets, wallets } from './schema';
import { recordSourcePayout } from './sources';
import { checkSuppression } from './suppression';

function wonLeadRecord(lead: { id: string; fields: LeadFields; consent: ConsentEvidence | null }): WonLeadRecord {
  return { id: lead.id, ...lead.fields, ...(lead.consent ? { consent: lead.consent } : {}) };
}

export interface SaleRequest {
  offerId: string;
  buyerId: string;
  /** The client's request id (claims), for the timeline and for retries. */
  requestId?: string | null;
  /** How the lead is sold. */
  sale: SaleKind;
  /** Where the buyer's claim came from, when it is one. */
  channel?: ClaimChannel | null;
  /** What to charge instead of the offer's price (a highest-bid auction charges the bid or the second price). */
  price?: number;
  /** More timeline events of a won sale (an endpoint's `post_accepted`), written with its `won` before the counters. */
  alsoWhenWon?: (assignmentId: string) => TimelineEventInput[];
}

/** A sale: won (the won claim, with whose it is and what it closed) or refused with the reason. */
export type SaleResult =
  | (WonClaim & {
      leadId: string;
      buyerId: string;
      /** Set when this sale filled the offer's last place and closed it (the feed's `offer.closed`); absent on a repeated answer. */
      closed?: ClosedOffer | null;
    })
  | { result: 'lost' | 'failed'; reason: ClaimFailureReason };

/** Sells inside its own transaction. */
export async function sellOffer(db: Db, req: SaleRequest): Promise<SaleResult> {
  return db.transaction((tx) => sellWithin(db, tx, req));
}

/**
 * The sale, inside a caller's transaction. A refusal is returned (and written
 * to the timeline), not thrown, so the caller's transaction still commits it.
 * `db` only derives the suppression lists' keys (cached per database, not per transaction).
 */
async function sellWithin(db: Db, tx: Tx, req: SaleRequest): Promise<SaleResult> {
  const prior = await priorSale(tx, req.offerId, req.buyerId);
  if (prior) return prior;

  const [offer] = await tx.select().from(offers).where(eq(offers.id, req.offerId)).for('update');
  if (!offer) throw new Error(`offer ${req.offerId} not found`);
  const [lead] = await tx.select().from(leads).where(eq(leads.id, offer.leadId));
  const [buyer] = await tx.select().from(buyers).where(eq(buyers.id, req.buyerId));
  const [wallet] = await tx.select().from(wallets).where(eq(wallets.buyerId, req.buyerId)).for('update');
  if (!lead || !buyer || !wallet)
    throw new Error(`sale of offer ${req.offerId} to ${req.buyerId}: missing lead, buyer or wallet`);

  const attempt: ClaimAttempt = {
    leadId: lead.id,
    offerId: offer.id,
    buyerId: buyer.id,
    sale: req.sale,
    channel: req.channel,
    requestId: req.requestId,
  };
  const refuse = async (reason: ClaimFailureReason, detail?: string): Promise<SaleResult> => {
    await appendEvents(tx, attemptEvents(attempt, { refused: reason, detail }));
    return { result: claimOutcomeOf(reason).result, reason };
  };

  if (offer.winners >= offer.maxWinners || offer.status !== 'open') {
    // Under the offer's lock: this buyer's own sale may have committed since the first look (a retried claim whose
    // first attempt was still running): its answer, not a refusal.
    const mine = await priorSale(tx, req.offerId, req.buyerId);
    if (mine) return mine;
  }
  // Sold out is lost_race; closed is final, whoever asks: a sale whose workflow lost track of it (a crash between the
  // sale's start and its record in history) cannot sell an offer its workflow has since expired. The offer row's lock
  // orders the two.
  const over = noPlaceLeft({ winners: offer.winners, maxWinners: offer.maxWinners, open: offer.status === 'open' });
  if (over) return refuse(over);
  let targetPrice: number | null = null;
  if (offer.kind !== 'manual') {
    // From the target ids committed with the offer: its verdict rows may not be written yet (#26).
    const target = await buyerStanding(tx, offer, buyer.id);
    if (!target?.eligible) return refuse('not_targeted');
    targetPrice = target.price;
  }

  // #23: the person may have asked not to be contacted since intake (a list added to between intake and this sale):
  // nobody buys the lead and nothing is charged; the workflow sends it to manual review. The buyer's answer does not
  // say which list; the timeline (the agency's) does.
  const suppression = await suppressionAtSale(db, tx, offer.campaignId, lead);
  if (suppression.result === 'suppressed') return refuse(SUPPRESSED, `on ${suppression.lists.join(', ')}`);

  // A bid's price, else this buyer's own price on the offer (#12), else the offer's.
  const price = req.price ?? targetPrice ?? offer.price;
  const verdict = await claimTimeVerdict(tx, offer, lead, buyer, wallet.balance, price);
  if (!verdict.ok) return refuse(verdict.reason, verdict.detail);

  let chargeEntry;
  try {
    // A savepoint, so a refused insert leaves the outer transaction usable for the timeline.
    chargeEntry = await tx.transaction(async (sp) => {
      // A buyer's claim attempt is this sale's from here to the commit, unless the buyer was already answered a
      // refusal (a stale worker's sale arriving late): then no charge (db/claim-attempts.ts).
      if (req.sale === 'claim' && req.requestId) {
        const decision = await takeAttemptForSale(sp, {
          offerId: offer.id,
          buyerId: buyer.id,
          requestId: req.requestId,
        });
        if (decision.state === 'refused') throw new AttemptAlreadyRefused(decision.reason);
      }
      const { entry } = await postLedgerEntry(sp, {
        buyerId: buyer.id,
        agencyId: offer.agencyId,
        kind: 'charge',
        amount: -price,
        idempotencyKey: ledgerChargeKey(offer.id, buyer.id),
        leadId: lead.id,
        offerId: offer.id,
      });
      const [assignment] = await sp
        .insert(assignments)
        .values({
          leadId: lead.id,
          offerId: offer.id,
          buyerId: buyer.id,
          agencyId: offer.agencyId,
          price,
          exclusive: offer.maxWinners === 1,
          chargeEntryId: entry.id,
        })
        .returning();
      await recordSourcePayout(sp, { leadId: lead.id, assignmentId: assignment!.id, agencyId: offer.agencyId, price }); // #13: the source's payout, same transaction
      return { entry, assignment: assignment! };
    });
  } catch (err) {
    // The relay that refused the attempt records it on the timeline (writing the same events here could deadlock with
    // that write, which waits for this sale's offer row).
    if (err instanceof AttemptAlreadyRefused) return { result: claimOutcomeOf(err.reason).result, reason: err.reason };
    if (err instanceof InsufficientCreditsError) return refuse('insufficient_credits');
    // The database's own guards: this buyer already holds the lead, or an exclusive lead is already sold.
    if (isUniqueViolation(err)) return refuse('lost_race', 'the lead is already assigned');
    throw err;
  }

  await markLeadSold(tx, lead.id);
  const { assignment, entry } = chargeEntry;
  await appendEvents(tx, [
    ...attemptEvents(attempt, {
      won: { charged: price, assignmentId: assignment.id, ledgerEntryId: entry.id, balanceAfter: entry.balanceAfter },
    }),
    ...(req.alsoWhenWon?.(assignment.id) ?? []),
  ]);
  await recordDashboardDelivery(tx, assignment);
  // The offer row is locked: `winners` is what it was before this sale (the trigger counts the new one).
  const closed =
    offer.winners + 1 >= offer.maxWinners
      ? await closeOfferWithin(tx, offer.id, { outcome: 'won', at: new Date() })
      : null;
  // #26: the buyer's and the campaign's cap counters, in the assignment's periods (db/cap-counters.ts), last: a
  // campaign's row is shared by all its sales, so it is held for the shortest time (`countSale` first runs the
  // commit's deferred work: this lead's report refresh, the payout check); and after the lead's row, as a refund
  // takes them after reopening the lead (one order, no deadlock).
  await countSale(tx, {
    agencyId: offer.agencyId,
    buyerId: buyer.id,
    campaignId: offer.campaignId,
    at: assignment.createdAt,
  });
  return {
    result: 'won',
    offerId: offer.id,
    leadId: lead.id,
    buyerId: buyer.id,
    assignmentId: assignment.id,
    lead: wonLeadRecord(lead),
    charged: price,
    balance: entry.balanceAfter,
    closed,
  };
}

// ─── endpoint buyers (#22): reserve, post, then sell or release ─────────────

/**
 * Holds a winning endpoint bid on the buyer's wallet before its post goes out, so an accepted post can always be
 * paid: a `reserve` entry under the wallet's overdraft rule. Once per offer and buyer (a retry holds nothing more).
 * Answers `insufficient_credits` when the wallet cannot hold it.
 */
export async function reserveBid(
  db: Db,
  input: { offerId: string; buyerId: string; amount: number },
): Promise<{ ok: true } | { ok: false; reason: 'insufficient_credits' }> {
  const [offer] = await db.select().from(offers).where(eq(offers.id, input.offerId));
  if (!offer) throw new Error(`offer ${input.offerId} not found`);
  try {
    await postLedgerEntry(db, {
      buyerId: input.buyerId,
      agencyId: offer.agencyId,
      kind: 'reserve',
      amount: -input.amount,
      idempotencyKey: ledgerReserveKey(offer.id, input.buyerId),
      leadId: offer.leadId,
      offerId: offer.id,
    });
    return { ok: true };
  } catch (err) {
    if (err instanceof InsufficientCreditsError) return { ok: false, reason: 'insufficient_credits' };
    throw err;
  }
}

/** Gives back the reserve of this offer and buyer, if one was held and not yet given back. Answers whether it did. */
async function releaseWithin(db: Db | Tx, offerId: string, buyerId: string): Promise<boolean> {
  const [reserve] = await db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.idempotencyKey, ledgerReserveKey(offerId, buyerId)));
  if (!reserve) return false;
  const { created } = await postLedgerEntry(db, {
    buyerId,
    agencyId: reserve.agencyId,
    kind: 'release',
    amount: -reserve.amount,
    idempotencyKey: ledgerReleaseKey(offerId, buyerId),
    leadId: reserve.leadId,
    offerId,
  });
  return created;
}

/** The post was rejected or failed: the reserve goes back to the wallet (once). */
export async function releaseBid(db: Db, input: { offerId: string; buyerId: string }): Promise<boolean> {
  return releaseWithin(db, input.offerId, input.buyerId);
}

/**
 * The endpoint accepted the post: ONE transaction gives back the reserve, charges the bid, creates the assignment
 * and records `post_accepted` – the same sale as a claim's (`sellWithin`), so every re-check holds. It charges
 * nothing unless the endpoint's calls hold the accepted post sent under the sale's key (endpoint_call_facts, kept for
 * good): no charge without an accepted post. A retry answers the first sale.
 */
export async function sellAcceptedPost(
  db: Db,
  input: { offerId: string; buyerId: string; price: number },
): Promise<SaleResult> {
  const key = endpointPostKey(input.offerId, input.buyerId);
  return db.transaction(async (tx) => {
    const prior = await priorSale(tx, input.offerId, input.buyerId);
    if (prior) return prior;
    // The lock order of every sale: the offer row first, then (the release, the charge) the wallet.
    const [offer] = await tx.select().from(offers).where(eq(offers.id, input.offerId)).for('update');
    if (!offer) throw new Error(`offer ${input.offerId} not found`);
    const acceptedAt = await acceptedPostAt(tx, input.buyerId, key);
    if (!acceptedAt)
      throw new Error(`no accepted post of offer ${input.offerId} to buyer ${input.buyerId}: nothing is charged`);
    await releaseWithin(tx, input.offerId, input.buyerId);
    // `post_accepted` goes with the sale's `won` (one insert, before the campaign's counters are taken: nothing of
    // the sale's own runs after them).
    return sellWithin(db, tx, {
      offerId: input.offerId,
      buyerId: input.buyerId,
      sale: 'auction',
      requestId: key,
      price: input.price,
      alsoWhenWon: (assignmentId) => [
        {
          leadId: offer.leadId,
          offerId: offer.id,
          buyerId: input.buyerId,
          type: 'post_accepted',
          // When the buyer answered, so the timeline reads posted → post_accepted → won.
          at: acceptedAt.toISOString(),
          data: { bid: input.price, idempotencyKey: key, assignmentId },
          dedupeKey: `${key}:post_accepted`,
        },
      ],
    });
  });
}

/** The transaction's instant: `now()`, what the assignment's `created_at` defaults to. */
async function transactionNow(tx: Tx): Promise<Date> {
  const result = (await tx.execute(sql`SELECT now() AS now`)) as unknown as { rows: { now: Date | string }[] };
  return new Date(result.rows[0]!.now);
}

/** Rolls the sale's savepoint back: its claim attempt was refused before the sale could take it. */
class AttemptAlreadyRefused extends Error {
  constructor(readonly reason: ClaimFailureReason) {
    super(`claim attempt already refused: ${reason}`);
  }
}

/**
 * Push delivery, one transaction: picks buyers in the campaign's strategy order
 * and sells to the first ones whose sale succeeds (up to maxWinners). The
 * rotation row is locked for the whole transaction, so concurrent leads of one
 * campaign take turns in order and a restart loses no turn. With `close`, the
 * same transaction closes an offer that did not fill (sold to fewer buyers, or
 * to none: `expired` with `no_buyer_could_take_it`). Returns the won sales,
 * and the refusal that stopped it when the lead turned out suppressed (#23:
 * the offer is then cancelled with `suppressed`, whatever `close` says).
 */
export async function sellByPush(
  db: Db,
  input: { offerId: string; campaignId: string; strategy: PushStrategy; maxWinners: number; close?: boolean },
): Promise<SaleResult[]> {
  return db.transaction(async (tx) => {
    const lastBuyerId = await takePushTurn(tx, input.campaignId);
    const order = orderPushCandidates(
      input.strategy,
      await pushCandidates(tx, input.offerId, input.campaignId),
      lastBuyerId,
      Math.random,
    );
    const won: SaleResult[] = [];
    let suppressed: SaleResult | null = null;
    for (const buyerId of order) {
      if (won.length >= input.maxWinners) break;
      const sale = await sellWithin(db, tx, { offerId: input.offerId, buyerId, sale: 'push' });
      if (sale.result === 'won') won.push(sale);
      // The person is suppressed (#23): no other buyer may have the lead either.
      else if (sale.reason === SUPPRESSED) {
        suppressed = sale;
        break;
      }
    }
    const last = won.at(-1);
    if (last && last.result === 'won') await recordPushTurn(tx, input.campaignId, last.buyerId);
    if (input.close || suppressed) {
      const outcome = won.length ? 'won' : suppressed ? 'cancelled' : 'expired';
      // A push offer is never on the feed: nothing to publish.
      await closeOfferWithin(tx, input.offerId, {
        outcome,
        reason: won.length ? null : suppressed ? SUPPRESSED : 'no_buyer_could_take_it',
        at: new Date(),
      });
    }
    return suppressed ? [...won, suppressed] : won;
  });
}

/**
 * An admin's direct sale from manual review, one transaction: the one-buyer
 * "manual" offer at the campaign's price (created with its target and the
 * `assigned` event the first time; a retry finds it), the sale, and the
 * offer closed as won or, refused, cancelled with the reason.
 */
export async function sellManually(
  db: Db,
  input: { offerId: string; leadId: string; buyerId: string; workflowId: string; at: string; by?: AuditBy },
): Promise<SaleResult> {
  return db.transaction(async (tx) => {
    const [existing] = await tx.select().from(offers).where(eq(offers.id, input.offerId));
    const actor = input.by ? await actorRef(tx, input.by.actor) : null;
    // An admin's assignment ends a held endpoint bid (a post whose fate was unknown, #22): given back before the sale.
    await releaseHeldReserves(tx, input.leadId);
    if (!existing) {
      const [lead] = await tx.select().from(leads).where(eq(leads.id, input.leadId));
      if (!lead) throw new Error(`lead ${input.leadId} not found`);
      const [campaign] = await tx.select().from(campaigns).where(eq(campaigns.id, lead.campaignId));
      const price = campaign ? priceLead(campaign.price, lead.fields, campaign.serviceLine) : 0;
      await tx.insert(offers).values({
        id: input.offerId,
        leadId: lead.id,
        agencyId: lead.agencyId,
        campaignId: lead.campaignId,
        kind: 'manual',
        workflowId: input.workflowId,
        price,
        preview: {},
        maxWinners: 1,
        status: 'open',
        openedAt: new Date(input.at),
        closesAt: new Date(input.at),
      });
      await tx
        .insert(offerTargets)
        .values({ offerId: input.offerId, buyerId: input.buyerId, eligible: true, snapshot: { manual: true } });
      await appendEvents(tx, [
        {
          leadId: lead.id,
          offerId: input.offerId,
          type: 'assigned',
          buyerId: input.buyerId,
          data: actor ? { price, actor } : { price },
          at: input.at,
        },
      ]);
    }
    const result = await sellWithin(db, tx, { offerId: input.offerId, buyerId: input.buyerId, sale: 'manual' });
    await tx
      .update(offers)
      .set(
        result.result === 'won'
          ? { status: 'won', closedAt: new Date(input.at) }
          : { status: 'cancelled', closedAt: new Date(input.at), closeReason: result.reason },
      )
      .where(and(eq(offers.id, input.offerId), eq(offers.status, 'open')));
    // A first sale (not a retried activity finding its earlier one) is the admin's decision, recorded with it.
    if (input.by && result.result === 'won' && !existing) {
      const [lead] = await tx
        .select({ id: leads.id, agencyId: leads.agencyId })
        .from(leads)
        .where(eq(leads.id, input.leadId));
      await recordReviewDecision(tx, {
        lead: lead!,
        by: input.by,
        action: 'assigned',
        buyerId: input.buyerId,
        changes: {
          status: { from: 'manual_review', to: 'sold' },
          buyerId: { from: null, to: input.buyerId },
          charged: { from: null, to: result.charged },
        },
        note: `assignment ${result.assignmentId}`,
      });
    }
    return result;
  });
}

/** The won result of an earlier sale of this offer to this buyer, if any. */
async function priorSale(db: Db | Tx, offerId: string, buyerId: string): Promise<SaleResult | null> {
  const [row] = await db
    .select({
      assignment: assignments,
      fields: leads.fields,
      consent: leads.consent,
      balance: ledgerEntries.balanceAfter,
    })
    .from(assignments)
    .innerJoin(leads, eq(leads.id, assignments.leadId))
    // The balance right after the charge, so a repeated answer is identical to the first.
    .innerJoin(ledgerEntries, eq(ledgerEntries.id, assignments.chargeEntryId))
    .where(and(eq(assignments.offerId, offerId), eq(assignments.buyerId, buyerId)));
  return row ? wonFromRow(buyerId, row) : null;
}

function wonFromRow(
  buyerId: string,
  row: {
    assignment: typeof assignments.$inferSelect;
    fields: LeadFields;
    consent: ConsentEvidence | null;
    balance: number;
  },
): SaleResult & { result: 'won' } {
  const a = row.assignment;
  return {
    result: 'won',
    offerId: a.offerId,
    leadId: a.leadId,
    buyerId,
    assignmentId: a.id,
    lead: wonLeadRecord({ id: a.leadId, fields: row.fields, consent: row.consent }),
    charged: a.price,
    balance: row.balance,
  };
}

/** A buyer's won claim of an offer from the sale's records, the lead's fields included; null when it bought none. */
export async function wonClaimOf(db: Db, offerId: string, buyerId: string): Promise<WonClaim | null> {
  const prior = await priorSale(db, offerId, buyerId);
  return prior?.result === 'won' ? wonClaim(prior) : null;
}

/**
 * Everything the claim relay needs before it bothers the workflow, in one
 * query: the offer, whether it targets this buyer, and this buyer's earlier
 * sale of it (the repeated winner's answer).
 */
export async function claimContext(db: Db, offerId: string, buyerId: string) {
  const [row] = await db
    .select({
      offer: offers,
      eligible: offerTargets.eligible,
      assignment: assignments,
      fields: leads.fields,
      consent: leads.consent,
      balance: ledgerEntries.balanceAfter,
    })
    .from(offers)
    .leftJoin(offerTargets, and(eq(offerTargets.offerId, offers.id), eq(offerTargets.buyerId, buyerId)))
    .leftJoin(assignments, and(eq(assignments.offerId, offers.id), eq(assignments.buyerId, buyerId)))
    .leftJoin(leads, eq(leads.id, assignments.leadId))
    .leftJoin(ledgerEntries, eq(ledgerEntries.id, assignments.chargeEntryId))
    .where(eq(offers.id, offerId));
  if (!row) return null;
  const { assignment, fields, balance } = row;
  const prior =
    assignment && fields && balance !== null
      ? wonFromRow(buyerId, { assignment, fields, consent: row.consent, balance })
      : null;
  // The ids committed with the offer first: the buyer's verdict row may not be written yet (#26).
  const targeted = standingOf(row.offer, buyerId)?.eligible ?? row.eligible === true;
  return { offer: row.offer, targeted, prior };
}

/** The suppression lists' verdict on the lead at the sale, under its campaign's Do-Not-Call rule. */
async function suppressionAtSale(
  db: Db,
  tx: Tx,
  campaignId: string | null,
  lead: typeof leads.$inferSelect,
): Promise<SuppressionVerdict> {
  const [campaign] = campaignId
    ? await tx.select({ dncRule: campaigns.dncRule }).from(campaigns).where(eq(campaigns.id, campaignId))
    : [];
  return checkSuppression(
    db,
    {
      agencyId: lead.agencyId,
      phoneE164: lead.phoneE164,
      email: lead.fields.email || null,
      consent: lead.consent,
      rule: campaign?.dncRule ?? 'suppress',
    },
    tx,
  );
}

type Verdict = { ok: true } | { ok: false; reason: ClaimFailureReason; detail: string };

async function claimTimeVerdict(
  tx: Tx,
  offer: typeof offers.$inferSelect,
  lead: typeof leads.$inferSelect,
  buyer: typeof buyers.$inferSelect,
  balance: number,
  price: number,
): Promise<Verdict> {
  let rules: Pick<CampaignRules, 'id' | 'caps' | 'pool' | 'auction'> = { id: null, caps: {}, pool: null };
  let serviceLine: string | null = null;
  if (offer.campaignId) {
    const [campaign] = await tx.select().from(campaigns).where(eq(campaigns.id, offer.campaignId));
    if (campaign) {
      // Third in the lock order (offer, wallet, campaign), and only when the campaign has caps: its sales are counted
      // (by the loader below) under this lock, so two sales to different buyers cannot both take its last place.
      if (Object.keys(campaign.caps).length)
        await tx.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.id, campaign.id)).for('update');
      // The stored pool (pool undefined): the loader reads this buyer's membership with its other inputs.
      rules = { id: campaign.id, caps: campaign.caps, auction: campaign.auction, pool: undefined };
      serviceLine = campaign.serviceLine;
    }
  }
  // The wallet row is locked: no other sale to this buyer runs meanwhile, so its counts, its balance and what it
  // already bought (this person) cannot change under this check. Judged at the database's instant of this
  // transaction, the one its assignment is stamped with and counted at (db/cap-counters.ts): a worker whose clock is
  // off near a local midnight still reads the cap counters of the period the sale will count in.
  const inputs = await loadEligibilityInputs(tx, lead, rules, { buyerIds: [buyer.id], now: await transactionNow(tx) });
  const candidate = inputs.candidates[0];
  if (!candidate) throw new Error(`sale of offer ${offer.id}: buyer ${buyer.id} is not of the offer's agency`);
  // A manual sale is the admin's decision: the pool and the service area do not bind it, money and caps do.
  const manual = offer.kind === 'manual';
  const loaded = candidate.buyer;
  const verdict = checkClaimTimeEligibility({
    buyer: {
      id: loaded.id,
      status: loaded.status,
      serviceLines: manual || !serviceLine ? [serviceLine ?? ''] : loaded.serviceLines,
      zipCodes: manual ? [] : loaded.zipCodes,
      states: manual ? [] : loaded.states,
      caps: loaded.caps,
      // Hours and filters (#12) bind claims too (refused as eligibility_changed); not an admin's manual sale.
      ...(manual
        ? {}
        : { timeZone: loaded.timeZone, schedule: loaded.schedule, pauses: loaded.pauses, filters: loaded.filters }),
    },
    now: inputs.now,
    // The balance read under the wallet's lock.
    balance,
    counts: candidate.counts,
    lead: filterableLead(lead.fields, lead.phoneType),
    serviceLine: serviceLine ?? '',
    price,
    campaignPool: manual ? null : inputs.campaignPool,
    campaignCapReached: inputs.campaignCapReached,
    alreadyBought: candidate.alreadyBought,
  });
  return verdict.eligible ? { ok: true } : { ok: false, reason: verdict.reason, detail: verdict.detail };
}
