/**
 * The lead lifecycle. `leadWorkflow` (id `lead-<leadId>`) reads top to bottom
 * as the business process:
 *
 *   route and open the offer (one local activity, one transaction)
 *     → ping post: wait for claims (first claim) or sealed bids (highest bid)
 *       against a durable timer; push: assign at once
 *     → post and charge (a local activity inside the claim's Update; the sale
 *       closes the offer when it fills it and records the dashboard delivery)
 *     → the buyer's channels, after the buyer has its answer
 *     → no sale: fall through to the campaign's fallback (a child workflow
 *       each), bounded and cycle-safe
 *     → nothing left: manual review, where an admin re-offers, assigns or
 *       rejects the lead.
 *
 * A sold first-claim lead costs two workflow tasks (three with a sending
 * channel): the start, which routes, opens and starts the window's timer, and
 * the winning claim's Update, which sells, answers and completes.
 * test/workflows/lean-lifecycle.test.ts holds those bounds.
 *
 * Leads started before this lifecycle replay and finish in workflows/v1
 * (`LEAN_LIFECYCLE_PATCH`). Deterministic: no I/O, clocks or randomness but
 * Temporal's.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  executeChild,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';

import type { LeadActivities } from '../activities';
import type { DeliveryPlan } from '../activities/delivery';
import type { OfferRoute, RoutedOffer } from '../activities/offers';
import { AuctionDesk } from '../claims/auction-desk';
import { ClaimDesk } from '../claims/desk';
import { runPingTree } from '../claims/ping-tree-desk';
import { offerWorkflowId } from '../domain/ids';
import { type DeliveryChannel, POST_UNKNOWN, SUPPRESSED } from '../domain/types';
import { ManualReview } from './manual-review';
import {
  bidUpdate,
  cancelOfferSignal,
  CLAIM_ARRIVAL_PATCH,
  claimUpdate,
  type LeadWorkflowState,
  stateQuery,
  SUPPRESSION_PATCH,
} from './messages';
import {
  CONSENT_CLAIM_PATCH,
  consentClaimActivityOptions,
  deliveryActivityOptions,
  ENDPOINT_HIGHEST_BID_PATCH,
  LEAN_LIFECYCLE_PATCH,
  LOCAL_DB_OPTIONS,
  LOCAL_SALE_OPTIONS,
  LOCAL_STATUS_OPTIONS,
  MAX_FALLBACK_DEPTH,
  PING_TREE_PATCH,
  UNIQUE_OFFER_CHILDREN_PATCH,
} from './options';
import { leadSearchAttributes } from './search-attributes';
import type { LeadOutcome, LeadWorkflowInput, OfferRunResult, OfferWorkflowInput } from './types';
import { leadWorkflowV1, offerWorkflowV1 } from './v1/lead';

const { routeAndOpen, closeOffer, recordEvents, recordDeliveryFailure, planDelivery, settleConsentClaim } =
  proxyLocalActivities<LeadActivities>(LOCAL_DB_OPTIONS);
const sales = proxyLocalActivities<LeadActivities>(LOCAL_SALE_OPTIONS);
const { setLeadStatus } = proxyLocalActivities<LeadActivities>(LOCAL_STATUS_OPTIONS);

export type { LeadOutcome, LeadWorkflowInput };

const nowIso = () => new Date(Date.now()).toISOString();

/** A sale whose buyer's channels (webhook, email, SMS, voice) still have to run. */
interface Sold {
  assignmentId: string;
  delivery: DeliveryPlan;
}

/** The root workflow of a lead. */
export async function leadWorkflow(input: LeadWorkflowInput): Promise<LeadOutcome> {
  if (!patched(LEAN_LIFECYCLE_PATCH)) return leadWorkflowV1(input);
  const state: LeadWorkflowState = { phase: 'routing', currentOfferId: null, offers: [] };
  setHandler(stateQuery, () => state);
  const offers = serveOffers((offerId) => {
    state.currentOfferId = offerId;
    if (!state.offers.includes(offerId)) state.offers.push(offerId);
  });
  const review = new ManualReview(input, state, sales);

  // A lead intake found suppressed (#23) is offered to nobody: it waits in review for a person.
  let outcome =
    input.reviewReason === SUPPRESSED && patched(SUPPRESSION_PATCH)
      ? { sold: false, reason: SUPPRESSED }
      : await offerThroughChain(input, input.campaignId, offers, state, true);
  while (!outcome.sold) {
    state.phase = 'manual_review';
    state.currentOfferId = null;
    await setLeadStatus({
      leadId: input.leadId,
      status: 'manual_review',
      reason: outcome.reason,
      event: { leadId: input.leadId, type: 'manual_review', reason: outcome.reason, at: nowIso() },
    });
    const decision = await review.next();
    if (decision.action === 'assigned') break;
    if (decision.action === 'reject') {
      await setLeadStatus({
        leadId: input.leadId,
        status: 'rejected',
        reason: decision.reason,
        event: { leadId: input.leadId, type: 'rejected', reason: decision.reason, at: nowIso() },
        ...(decision.by ? { by: decision.by } : {}),
      });
      await finish();
      return { status: 'rejected', offers: state.offers };
    }
    const campaignId = decision.campaignId ?? input.campaignId;
    const reoffered = [{ leadId: input.leadId, type: 'reoffered' as const, data: { campaignId }, at: nowIso() }];
    // With who decided it (data only: the same activity, so histories replay as before).
    await (decision.by ? recordEvents(reoffered, decision.by) : recordEvents(reoffered));
    outcome = await offerThroughChain(input, campaignId, offers, state, false);
  }
  state.phase = 'sold';
  await deliverOnChannels(review.sales);
  await finish();
  return { status: 'sold', offers: state.offers };
}

/** A fallback (or re-offer) campaign's offer, as a child of the lead's workflow. */
export async function offerWorkflow(input: OfferWorkflowInput): Promise<OfferRunResult> {
  if (!patched(LEAN_LIFECYCLE_PATCH)) return offerWorkflowV1(input);
  const offers = serveOffers();
  const result = await runCampaignOffer(offers, input);
  await finish();
  return result;
}

/**
 * One campaign's offer and its fallbacks, until a sale, a cancel, or nothing
 * is left. The lead's own campaign runs inline (`inline`); every fallback and
 * every re-offer is a child workflow.
 */
async function offerThroughChain(
  input: LeadWorkflowInput,
  campaignId: string,
  offers: OfferDesks,
  state: LeadWorkflowState,
  inline: boolean,
): Promise<{ sold: boolean; reason: string }> {
  const visited: string[] = [];
  for (let depth = 0; ; depth++) {
    state.phase = 'offering';
    const result =
      inline && depth === 0
        ? await runCampaignOffer(offers, { ...input, campaignId, depth })
        : await executeChild(offerWorkflow, {
            workflowId: offerChildId(input, ++offers.children),
            args: [{ ...input, campaignId, depth }],
            typedSearchAttributes: leadSearchAttributes(input.leadId, campaignId, input.agencyId),
          });
    if (result.offerId && !state.offers.includes(result.offerId)) state.offers.push(result.offerId);
    if (result.sold) return { sold: true, reason: 'sold' };
    // A suppressed lead (#23), or a post whose fate is unknown (#22), goes to review with that reason, not down the
    // fallback chain.
    if (result.cancelled)
      return {
        sold: false,
        reason:
          result.cancelled === SUPPRESSED || result.cancelled === POST_UNKNOWN
            ? result.cancelled
            : `cancelled: ${result.cancelled}`,
      };
    visited.push(campaignId);
    const next = result.fallbackCampaignId;
    if (!next) return { sold: false, reason: result.reason ?? 'no_fallback' };
    if (visited.includes(next)) return { sold: false, reason: 'fallback_cycle' };
    if (depth + 1 > MAX_FALLBACK_DEPTH) return { sold: false, reason: 'fallback_depth_exceeded' };
    await recordEvents([
      {
        leadId: input.leadId,
        offerId: result.offerId,
        type: 'fell_through',
        reason: result.skipped ?? 'no_sale',
        data: { fromCampaignId: campaignId, toCampaignId: next, depth: depth + 1 },
        at: nowIso(),
      },
    ]);
    campaignId = next;
  }
}

/**
 * The id of this run's seq-th offer child: a returned lead's re-offer names its children after itself (its dispute),
 * so they never collide with the first run's, which may still be open. Re-offers that started a child before the
 * patch (and any started without `disputeId`) keep the first run's naming.
 */
function offerChildId(input: LeadWorkflowInput, seq: number): string {
  const disputeId = input.disputeId !== undefined && patched(UNIQUE_OFFER_CHILDREN_PATCH) ? input.disputeId : undefined;
  return offerWorkflowId(input.leadId, seq, disputeId);
}

/** The open offers of this workflow, by id, and the messages that reach them. */
interface OfferDesks {
  claims: Map<string, ClaimDesk>;
  auctions: Map<string, AuctionDesk>;
  /** Child workflows started so far (their ids count on). */
  children: number;
  /** The offer being routed and opened now: its row may be committed and announced before its desk exists. */
  opening: string | null;
  onOffer?: (offerId: string) => void;
}

/** Registers the claim and bid Updates and the cancel signal for the offers this workflow runs. */
function serveOffers(onOffer?: (offerId: string) => void): OfferDesks {
  const ctx: OfferDesks = { claims: new Map(), auctions: new Map(), children: 0, onOffer, opening: null };
  /** A claim or bid on the offer being opened waits until the opening is over (its desk is then set, or there is none). */
  const deskSettled = async (offerId: string) => {
    if (ctx.opening === offerId && patched(CLAIM_ARRIVAL_PATCH)) await condition(() => ctx.opening !== offerId);
  };
  setHandler(
    claimUpdate,
    async (req) => {
      const arrivedAtMs = Date.now();
      await deskSettled(req.offerId);
      // Not an offer of this workflow (any more): over, as far as it knows.
      return (
        ctx.claims.get(req.offerId)?.claim(req, arrivedAtMs) ?? {
          result: 'lost',
          reason: 'offer_closed',
          recorded: false,
        }
      );
    },
    {
      validator: (req) => {
        if (
          !req ||
          typeof req.offerId !== 'string' ||
          typeof req.buyerId !== 'string' ||
          typeof req.requestId !== 'string'
        ) {
          throw new Error('a claim needs offerId, buyerId and requestId');
        }
        ctx.claims.get(req.offerId)?.validate(req);
      },
    },
  );
  setHandler(
    bidUpdate,
    async (req) => {
      await deskSettled(req.offerId);
      const auction = ctx.auctions.get(req.offerId);
      if (auction) return auction.bid(req);
      return { result: 'refused', reason: ctx.claims.has(req.offerId) ? 'not_an_auction' : 'offer_closed' };
    },
    {
      validator: (req) => {
        if (
          !req ||
          typeof req.offerId !== 'string' ||
          typeof req.buyerId !== 'string' ||
          typeof req.requestId !== 'string' ||
          !Number.isInteger(req.amount)
        ) {
          throw new Error('a bid needs offerId, buyerId, requestId and a whole amount');
        }
      },
    },
  );
  setHandler(cancelOfferSignal, ({ offerId, reason }) => {
    ctx.claims.get(offerId)?.cancel(reason);
    ctx.auctions.get(offerId)?.cancel(reason);
  });
  return ctx;
}

/** What deciding one offer produced: the sales, or why there were none. */
interface Decided {
  sold: Sold[];
  cancelled: string | null;
  /** The sale closed the offer itself (it filled the last place). */
  closedBySale: boolean;
}

/** Runs one campaign's offer inside the calling workflow: route and open, decide by the campaign's mode, close, deliver. */
async function runCampaignOffer(ctx: OfferDesks, input: OfferWorkflowInput): Promise<OfferRunResult> {
  const offerId = uuid4();
  let routed: RoutedOffer;
  // From here until the desk is set (synchronously after the open returns), claims on this offer wait for it.
  ctx.opening = offerId;
  try {
    routed = await routeAndOpen({
      offerId,
      leadId: input.leadId,
      campaignId: input.campaignId,
      workflowId: workflowInfo().workflowId,
      depth: input.depth,
      openedAt: nowIso(),
    });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    // Out of attempts (or the lead or campaign is gone): a person looks at it.
    return {
      campaignId: input.campaignId,
      fallbackCampaignId: null,
      cancelled: null,
      offerId: null,
      sold: false,
      skipped: 'routing_failed',
      reason: 'routing_failed',
    };
  } finally {
    ctx.opening = null;
  }
  const { route, offer } = routed;
  const base = { campaignId: route.campaignId, fallbackCampaignId: route.fallbackCampaignId, cancelled: null };
  if (!offer) return { ...base, offerId: null, sold: false, skipped: 'campaign_paused', reason: 'campaign_paused' };
  ctx.onOffer?.(offerId);

  const decided: Decided =
    offer.eligible === 0
      ? { sold: [], cancelled: null, closedBySale: false }
      : route.mode === 'push'
        ? await assignByStrategy(offerId, route)
        : route.auction === 'highest_bid'
          ? await takeSealedBids(ctx, input, offerId, route, offer)
          : route.auction === 'ping_tree' && route.pingTree && patched(PING_TREE_PATCH)
            ? await fallThroughPingTree(input, offerId, route, offer)
            : await takeFirstClaims(ctx, input, offerId, route, offer);

  let sold = decided.sold.length > 0;
  let reason = sold
    ? null
    : (decided.cancelled ??
      (offer.eligible === 0
        ? 'no_eligible_buyers'
        : route.mode === 'push'
          ? 'no_buyer_could_take_it'
          : route.auction === 'ping_tree'
            ? 'no_accepted_post'
            : 'no_claim'));
  if (!decided.closedBySale) {
    const closed = await closeOffer({
      offerId,
      outcome: sold ? 'won' : decided.cancelled ? 'cancelled' : 'expired',
      reason: reason ?? undefined,
      at: nowIso(),
    });
    // Sales the database has and this workflow does not (committed just before a crash lost their record): the
    // offer is sold all the same. (Histories from before this answer existed have none: `closed` is undefined.)
    const unrecorded = (closed?.assignments ?? []).filter((a) => !decided.sold.some((s) => s.assignmentId === a.id));
    for (const a of unrecorded)
      decided.sold.push({ assignmentId: a.id, delivery: await planDelivery({ assignmentId: a.id }) });
    if (unrecorded.length) [sold, reason] = [true, null];
  }
  await deliverOnChannels(decided.sold);
  return { ...base, offerId, sold, cancelled: sold ? null : decided.cancelled, skipped: null, reason };
}

/** Ping post, first claim: claims race inside the window; the desk's sales close the offer once it is full. */
async function takeFirstClaims(
  ctx: OfferDesks,
  input: OfferWorkflowInput,
  offerId: string,
  route: OfferRoute,
  offer: NonNullable<RoutedOffer['offer']>,
): Promise<Decided> {
  const closesAtMs = Date.parse(offer.closesAt);
  const targets = offer.eligibleBuyerIds ? new Set(offer.eligibleBuyerIds) : null;
  const desk = new ClaimDesk(
    { offerId, leadId: input.leadId, maxWinners: route.maxWinners, closesAtMs, targets },
    sales,
  );
  ctx.claims.set(offerId, desk);
  await condition(() => desk.full || desk.cancelReason !== null, Math.max(0, closesAtMs - Date.now()));
  await desk.close();
  const winners = [...desk.winners.values()];
  return {
    sold: winners.map((w) => ({ assignmentId: w.won.assignmentId, delivery: w.delivery })),
    cancelled: winners.length ? null : desk.cancelReason,
    closedBySale: desk.full,
  };
}

/**
 * Ping post, highest bid: sealed bids until the window ends (nobody wins early), then the desk sells down the ranking.
 * A campaign's endpoint bidders (#22) are pinged as the window opens, beside it (one activity; feed bids are not held
 * up); their answers join the bids when they are back, and an answer after the window is no bid.
 */
async function takeSealedBids(
  ctx: OfferDesks,
  input: OfferWorkflowInput,
  offerId: string,
  route: OfferRoute,
  offer: NonNullable<RoutedOffer['offer']>,
): Promise<Decided> {
  const closesAtMs = Date.parse(offer.closesAt);
  const bids = new AuctionDesk(
    {
      offerId,
      leadId: input.leadId,
      maxWinners: route.maxWinners,
      closesAtMs,
      pricing: route.pricing ?? 'first_price',
    },
    sales,
  );
  ctx.auctions.set(offerId, bids);
  bids.setFloor(offer.price);
  const endpointBids =
    route.endpointBidders?.length && patched(ENDPOINT_HIGHEST_BID_PATCH)
      ? bids.takeEndpointBids(route.endpointBidders, offer.eligibleBuyerIds)
      : undefined;
  await condition(() => bids.cancelReason !== null, Math.max(0, closesAtMs - Date.now()));
  await bids.closeAndDecide();
  // The pings' deadline is the window's end: their activity is over or about to be (its answers, if late, are no bid).
  await endpointBids;
  const sold = bids.sales();
  return { sold, cancelled: sold.length ? null : bids.cancelReason, closedBySale: sold.length >= route.maxWinners };
}

/**
 * Ping tree (#22): the tiers in order, each pinged by one activity; the best bid at or above the tier's floor is
 * reserved, posted and, when accepted, sold (claims/ping-tree-desk.ts). A post whose fate is unknown stops the tree:
 * the offer is cancelled `post_unknown` and the lead goes to review with the reserve held.
 */
async function fallThroughPingTree(
  input: OfferWorkflowInput,
  offerId: string,
  route: OfferRoute,
  offer: NonNullable<RoutedOffer['offer']>,
): Promise<Decided> {
  const tree = await runPingTree({ offerId, leadId: input.leadId }, route.pingTree!, offer.eligibleBuyerIds);
  if (tree.result === 'won')
    return {
      sold: [{ assignmentId: tree.assignmentId, delivery: tree.delivery }],
      cancelled: null,
      closedBySale: tree.closedOffer,
    };
  return { sold: [], cancelled: tree.result === 'stop' ? tree.reason : null, closedBySale: false };
}

/** Push: the strategy orders the eligible buyers and the first whose sale succeeds gets the lead; the same transaction closes the offer. */
async function assignByStrategy(offerId: string, route: OfferRoute): Promise<Decided> {
  const won = await sales.pushAssign({
    offerId,
    campaignId: route.campaignId,
    strategy: route.pushStrategy,
    maxWinners: route.maxWinners,
    close: true,
  });
  return {
    sold: won.flatMap((s) => (s.result === 'won' ? [{ assignmentId: s.assignmentId, delivery: s.delivery }] : [])),
    // The sale found the person suppressed (#23) and cancelled the offer.
    cancelled: won.some((s) => s.result !== 'won' && s.reason === SUPPRESSED) ? SUPPRESSED : null,
    closedBySale: true,
  };
}

const CHANNEL_ACTIVITY = {
  webhook: 'deliverWebhook',
  email: 'deliverEmail',
  sms: 'deliverSms',
  voice: 'deliverVoice',
} as const;

/**
 * The buyer's own channels, after the buyer has its answer: each its own
 * activity with the bounded retry its sale's delivery plan carries. A channel
 * that still fails after its last attempt is recorded as `delivery_failed`
 * (which may auto-pause the buyer); the sale stands either way.
 */
async function deliverOnChannels(sold: Sold[]): Promise<void> {
  await Promise.all(
    sold.map(async ({ assignmentId, delivery }) => {
      // The consent certificate first (#23), so the channels carry the provider's answer (a sale without one
      // schedules its channels at once, as before).
      if (delivery.consentClaim && patched(CONSENT_CLAIM_PATCH) && !(await claimConsent(assignmentId, delivery)))
        return;
      await Promise.all(
        delivery.channels.map(async (channel: Exclude<DeliveryChannel, 'dashboard'>) => {
          const activities = proxyActivities<LeadActivities>(deliveryActivityOptions(delivery.retry));
          try {
            await activities[CHANNEL_ACTIVITY[channel]]({ assignmentId });
          } catch (err) {
            await recordDeliveryFailure({ assignmentId, channel, error: failureMessage(err), at: nowIso() });
          }
        }),
      );
    }),
  );
}

/**
 * The sale's certificate claim, retried; after its last attempt the campaign's rule (flag, or a return). Answers
 * whether the sale stands: a returned one goes to no channel.
 */
async function claimConsent(assignmentId: string, delivery: DeliveryPlan): Promise<boolean> {
  const { claimConsentCertificate } = proxyActivities<LeadActivities>(consentClaimActivityOptions(delivery.retry));
  try {
    await claimConsentCertificate({ assignmentId });
    return true;
  } catch (err) {
    const { refunded } = await settleConsentClaim({ assignmentId, error: failureMessage(err) });
    return !refunded;
  }
}

const failureMessage = (err: unknown): string =>
  err instanceof ActivityFailure && err.cause ? err.cause.message : err instanceof Error ? err.message : String(err);

/** No Update is half-answered when the workflow completes. */
async function finish(): Promise<void> {
  await condition(allHandlersFinished);
}
