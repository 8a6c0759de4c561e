/**
 * FROZEN: the lead lifecycle as version one ran it (before the lean lifecycle,
 * `LEAN_LIFECYCLE_PATCH`). Leads started by that code – waiting in manual
 * review or in a long window when the new worker was deployed – replay and
 * finish here; new leads never enter it. Do not change its commands; retire it
 * as docs/operations.md ("Retiring the v1 lifecycle") says.
 *
 * The lead lifecycle. `leadWorkflow` (id `lead-<leadId>`) reads top to bottom
 * as the business process:
 *
 *   route → open offer → wait for claims or sealed bids (ping post) or assign (push)
 *         → post and charge → deliver (dashboard, then the buyer's channels)
 *         → no sale: fall through to the campaign's fallback (a child
 *           workflow each), bounded and cycle-safe
 *         → nothing left: manual review, where an admin re-offers, assigns
 *           or rejects the lead.
 *
 * Deterministic: no I/O, clocks or randomness but Temporal's.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  executeChild,
  patched,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { Mutex } from 'async-mutex';

import type { LeadActivities } from '../../activities';
import { AuctionDesk } from '../../claims/auction-desk';
import { offerWorkflowId } from '../../domain/ids';
import type { DeliveryChannel } from '../../domain/types';
import {
  bidUpdate,
  cancelOfferSignal,
  claimUpdate,
  type LeadWorkflowState,
  type ManualAction,
  manualActionUpdate,
  stateQuery,
} from '../messages';
import {
  DB_ACTIVITY_OPTIONS,
  DELIVERY_CHANNELS_PATCH,
  deliveryActivityOptions,
  MAX_FALLBACK_DEPTH,
  SALE_ACTIVITY_OPTIONS,
} from '../options';
import { leadSearchAttributes } from '../search-attributes';
import type { LeadOutcome, LeadWorkflowInput, OfferRunResult, OfferWorkflowInput } from '../types';
import { ClaimDesk } from './claim-desk';
import { EventQueue } from './event-queue';

const { loadRoute, openOffer, closeOffer, setLeadStatus, deliverToDashboard, planDelivery, recordDeliveryFailure } =
  proxyActivities<LeadActivities>(DB_ACTIVITY_OPTIONS);
const saleActivities = proxyActivities<LeadActivities>(SALE_ACTIVITY_OPTIONS);
const { pushAssign, assignDirect } = saleActivities;

const nowIso = () => new Date(Date.now()).toISOString();

/** The root workflow of a lead. */
export async function leadWorkflowV1(input: LeadWorkflowInput): Promise<LeadOutcome> {
  const desk = serveOffers();
  const state: LeadWorkflowState = { phase: 'routing', currentOfferId: null, offers: [] };
  setHandler(stateQuery, () => state);
  desk.onOffer = (offerId) => {
    state.currentOfferId = offerId;
    state.offers.push(offerId);
  };
  let childSeq = 0;

  /** One auction and its fallbacks, until a sale, a cancel, or nothing is left. */
  const runChain = async (campaignId: string, inline: boolean): Promise<{ sold: boolean; reason: string }> => {
    const visited: string[] = [];
    for (let depth = 0; ; depth++) {
      state.phase = 'offering';
      const result =
        inline && depth === 0
          ? await runCampaignOffer(desk, { ...input, campaignId, depth })
          : await executeChild<typeof offerWorkflowV1>('offerWorkflow', {
              workflowId: offerWorkflowId(input.leadId, ++childSeq),
              args: [{ ...input, campaignId, depth }],
              typedSearchAttributes: leadSearchAttributes(input.leadId, campaignId, input.agencyId),
            });
      if (result.offerId && !state.offers.includes(result.offerId)) state.offers.push(result.offerId);
      if (result.sold) return { sold: true, reason: 'sold' };
      if (result.cancelled) return { sold: false, reason: `cancelled: ${result.cancelled}` };
      visited.push(campaignId);
      const next = result.fallbackCampaignId;
      if (!next) return { sold: false, reason: result.reason ?? 'no_fallback' };
      if (visited.includes(next)) return { sold: false, reason: 'fallback_cycle' };
      if (depth + 1 > MAX_FALLBACK_DEPTH) return { sold: false, reason: 'fallback_depth_exceeded' };
      desk.events.push([
        {
          leadId: input.leadId,
          offerId: result.offerId,
          type: 'fell_through',
          reason: result.skipped ?? 'no_sale',
          data: { fromCampaignId: campaignId, toCampaignId: next, depth: depth + 1 },
        },
      ]);
      campaignId = next;
    }
  };

  // Manual review: wait for an admin. Assign is decided inside the Update (the admin gets the sale's result).
  const manualSales: string[] = [];
  let pending: Exclude<ManualAction, { action: 'assign' }> | null = null;
  const manualMutex = new Mutex();
  setHandler(
    manualActionUpdate,
    (action) =>
      manualMutex.runExclusive(async () => {
        if (state.phase !== 'manual_review')
          throw ApplicationFailure.nonRetryable('the lead is not in manual review', 'NotInManualReview');
        if (action.action === 'assign') {
          state.phase = 'routing';
          const offerId = uuid4();
          state.offers.push(offerId);
          const sale = await assignDirect({
            offerId,
            leadId: input.leadId,
            buyerId: action.buyerId,
            workflowId: workflowInfo().workflowId,
            at: nowIso(),
          });
          if (sale.result === 'won') {
            state.phase = 'sold';
            await deliverToDashboard({ assignmentId: sale.assignmentId });
            manualSales.push(sale.assignmentId); // its other channels run after the Update answered
            return {
              action: 'assign' as const,
              sale: {
                result: 'won' as const,
                offerId,
                assignmentId: sale.assignmentId,
                lead: sale.lead,
                charged: sale.charged,
                balance: sale.balance,
              },
            };
          }
          state.phase = 'manual_review';
          return { action: 'assign' as const, sale: { result: sale.result, reason: sale.reason } };
        }
        pending = action;
        state.phase = action.action === 'reject' ? 'rejected' : 'routing';
        return action.action === 'reoffer'
          ? { action: 'reoffer' as const, accepted: true as const, campaignId: action.campaignId ?? input.campaignId }
          : { action: 'reject' as const, accepted: true as const };
      }),
    {
      validator: (action) => {
        if (state.phase !== 'manual_review') throw new Error('the lead is not in manual review');
        if (!action || !['reoffer', 'assign', 'reject'].includes(action.action))
          throw new Error('unknown manual action');
      },
    },
  );

  let outcome = await runChain(input.campaignId, true);

  while (!outcome.sold) {
    state.phase = 'manual_review';
    state.currentOfferId = null;
    await setLeadStatus({
      leadId: input.leadId,
      status: 'manual_review',
      reason: outcome.reason,
      event: { leadId: input.leadId, type: 'manual_review', reason: outcome.reason, at: nowIso() },
    });
    await condition(() => pending !== null || state.phase === 'sold');
    if ((state.phase as LeadWorkflowState['phase']) === 'sold') break; // assigned by the Update handler
    const action = pending!;
    pending = null;
    if (action.action === 'reject') {
      await setLeadStatus({
        leadId: input.leadId,
        status: 'rejected',
        reason: action.reason,
        event: { leadId: input.leadId, type: 'rejected', reason: action.reason, at: nowIso() },
      });
      await finish(desk);
      return { status: 'rejected', offers: state.offers };
    }
    const campaignId = action.campaignId ?? input.campaignId;
    desk.events.push([{ leadId: input.leadId, type: 'reoffered', data: { campaignId }, at: nowIso() }]);
    outcome = await runChain(campaignId, false);
  }
  state.phase = 'sold';
  if (manualSales.length && patched(DELIVERY_CHANNELS_PATCH))
    for (const assignmentId of manualSales) await deliverOnChannels(assignmentId);
  await finish(desk);
  return { status: 'sold', offers: state.offers };
}

/** A fallback (or re-offer) campaign's offer, as a child of the lead's workflow. */
export async function offerWorkflowV1(input: OfferWorkflowInput): Promise<OfferRunResult> {
  const desk = serveOffers();
  const result = await runCampaignOffer(desk, input);
  await finish(desk);
  return result;
}

interface OfferDesk {
  desks: Map<string, ClaimDesk>;
  auctions: Map<string, AuctionDesk>;
  events: EventQueue;
  onOffer?: (offerId: string) => void;
}

/** Registers the claim Update and the cancel signal for the offers this workflow runs. */
function serveOffers(): OfferDesk {
  const ctx: OfferDesk = { desks: new Map(), auctions: new Map(), events: new EventQueue() };
  setHandler(
    claimUpdate,
    async (req) => {
      const desk = ctx.desks.get(req.offerId);
      // Not an offer of this workflow: it is over as far as this workflow knows.
      if (!desk) return { result: 'lost', reason: 'offer_closed' };
      return desk.claim(req);
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
      },
    },
  );
  setHandler(
    bidUpdate,
    async (req) => {
      const auction = ctx.auctions.get(req.offerId);
      if (auction) return auction.bid(req);
      return { result: 'refused', reason: ctx.desks.has(req.offerId) ? 'not_an_auction' : 'offer_closed' };
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
    ctx.desks.get(offerId)?.cancel(reason);
    ctx.auctions.get(offerId)?.cancel(reason);
  });
  return ctx;
}

/** Runs one campaign's offer inside the calling workflow: ping post (first claim or highest bid) or push, then delivery. */
async function runCampaignOffer(ctx: OfferDesk, input: OfferWorkflowInput): Promise<OfferRunResult> {
  const route = await loadRoute({ leadId: input.leadId, campaignId: input.campaignId });
  const base = { campaignId: route.campaignId, fallbackCampaignId: route.fallbackCampaignId, cancelled: null };
  if (route.campaignStatus !== 'active')
    return { ...base, offerId: null, sold: false, skipped: 'campaign_paused', reason: 'campaign_paused' };

  const offerId = uuid4();
  ctx.onOffer?.(offerId);
  const openedAtMs = Date.now();
  const windowMs = route.mode === 'ping_post' ? route.claimWindowSeconds * 1000 : 0;
  const auction = route.mode === 'ping_post' && route.auction === 'highest_bid' ? 'highest_bid' : 'first_claim';
  // The desk exists before the feed hears of the offer: a claim (or bid) can arrive in the same workflow task.
  const desk =
    route.mode === 'ping_post' && auction === 'first_claim'
      ? new ClaimDesk(
          { offerId, leadId: input.leadId, maxWinners: route.maxWinners, closesAtMs: openedAtMs + windowMs },
          (e) => ctx.events.push(e),
        )
      : null;
  if (desk) ctx.desks.set(offerId, desk);
  const bids =
    auction === 'highest_bid'
      ? new AuctionDesk(
          {
            offerId,
            leadId: input.leadId,
            maxWinners: route.maxWinners,
            closesAtMs: openedAtMs + windowMs,
            pricing: route.pricing ?? 'first_price',
          },
          saleActivities,
        )
      : null;
  if (bids) ctx.auctions.set(offerId, bids);
  const opened = await openOffer({
    offerId,
    leadId: input.leadId,
    agencyId: route.agencyId,
    campaignId: route.campaignId,
    kind: route.mode,
    workflowId: workflowInfo().workflowId,
    maxWinners: route.maxWinners,
    depth: input.depth,
    openedAt: new Date(openedAtMs).toISOString(),
    closesAt: new Date(openedAtMs + windowMs).toISOString(),
    ...(bids ? { auction: 'highest_bid' as const, pricing: route.pricing, floorPrice: route.floorPrice } : {}),
  });

  let assignmentIds: string[];
  let cancelled: string | null = null;
  if (bids) {
    // Sealed bids: the window always runs to its end (nobody wins early), unless an admin cancels.
    bids.setFloor(opened.price);
    if (opened.eligible > 0) await condition(() => bids.cancelReason !== null, windowMs);
    assignmentIds = await bids.closeAndDecide();
    cancelled = assignmentIds.length ? null : bids.cancelReason;
  } else if (!desk) {
    const sales =
      opened.eligible > 0
        ? await pushAssign({
            offerId,
            campaignId: route.campaignId,
            strategy: route.pushStrategy,
            maxWinners: route.maxWinners,
          })
        : [];
    assignmentIds = sales.flatMap((s) => (s.result === 'won' ? [s.assignmentId] : []));
  } else {
    if (opened.eligible > 0) await condition(() => desk.full || desk.cancelReason !== null, windowMs);
    await desk.close();
    assignmentIds = [...desk.winners.values()].map((w) => w.assignmentId);
    cancelled = assignmentIds.length ? null : desk.cancelReason;
  }

  const sold = assignmentIds.length > 0;
  const outcome = sold ? 'won' : cancelled ? 'cancelled' : 'expired';
  const reason = sold
    ? undefined
    : (cancelled ??
      (opened.eligible === 0 ? 'no_eligible_buyers' : route.mode === 'push' ? 'no_buyer_could_take_it' : 'no_claim'));
  await closeOffer({ offerId, outcome, reason, at: nowIso() });
  for (const assignmentId of assignmentIds) await deliverToDashboard({ assignmentId });
  if (sold && patched(DELIVERY_CHANNELS_PATCH))
    for (const assignmentId of assignmentIds) await deliverOnChannels(assignmentId);
  return { ...base, offerId, sold, cancelled, skipped: null, reason: reason ?? null };
}

const CHANNEL_ACTIVITY = {
  webhook: 'deliverWebhook',
  email: 'deliverEmail',
  sms: 'deliverSms',
  voice: 'deliverVoice',
} as const;

/**
 * The buyer's own channels after the dashboard: each its own activity with a
 * bounded exponential retry. A channel that still fails after its last attempt
 * is recorded as `delivery_failed` (which may auto-pause the buyer); the sale
 * stands either way.
 */
async function deliverOnChannels(assignmentId: string): Promise<void> {
  const plan = await planDelivery({ assignmentId });
  await Promise.all(
    plan.channels.map(async (channel: Exclude<DeliveryChannel, 'dashboard'>) => {
      const activities = proxyActivities<LeadActivities>(deliveryActivityOptions(plan.retry));
      try {
        await activities[CHANNEL_ACTIVITY[channel]]({ assignmentId });
      } catch (err) {
        const error =
          err instanceof ActivityFailure && err.cause
            ? err.cause.message
            : err instanceof Error
              ? err.message
              : String(err);
        await recordDeliveryFailure({ assignmentId, channel, error, at: nowIso() });
      }
    }),
  );
}

/** Everything decided is written and no Update is half-answered before the workflow completes. */
async function finish(ctx: OfferDesk): Promise<void> {
  await ctx.events.drained();
  await condition(allHandlersFinished);
  await ctx.events.drained();
}
