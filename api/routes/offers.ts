/**
 * Offers. Buyers list the offers targeted to them (preview only) and claim
 * them; admins cancel them and read their timeline and eligibility.
 *
 * Who reads what (a deliberate, simple and safe rule):
 * - timelines are the agency's audit trail: admin keys only (a buyer key gets
 *   403 for the route as a whole, whatever the id, so nothing about other
 *   buyers' clicks or the offer's existence leaks);
 * - eligibility answers "why didn't I see this lead?": an admin sees every
 *   candidate (or one, `?buyerId=`); a buyer sees only its own row (its own
 *   numbers, and the reason in words that quote nothing of the lead: the
 *   admin's detail names the lead's ZIP and state), and any other buyer's
 *   row, or an offer it was never a candidate for, is a 404.
 */
import { WorkflowNotFoundError } from '@temporalio/client';

import { newRequestId } from '../../claims/relay';
import { getOffer, listBuyerOffers, listTargets, offerTimeline, recordViewed } from '../../db/offers';
import { signalCancelOffer } from '../../temporal/calls';
import type { Principal } from '../auth';
import { listBody, pageArgs } from '../pagination';
import { notFound, Problem } from '../problem';
import { QUOTAS } from '../rate-limit';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { BidAccepted, BidRefused, ClaimRefused, ClaimWon, IdParams } from '../schemas';
import type { ApiServices } from '../services';
import { buyerCandidateView, buyerOfferView, candidateView, timelineEventView } from '../views';
import { BidBody, CancelOfferBody, ClaimBody, EligibilityQuery, OffersQuery, Responses } from './offers.schemas';

async function agencyOffer(services: ApiServices, principal: Exclude<Principal, { kind: 'root' }>, id: string) {
  const offer = await getOffer(services.db, id);
  if (!offer || offer.agencyId !== principal.agencyId) throw notFound('offer');
  return offer;
}

export const offerRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/offers',
    operationId: 'listMyOffers',
    tag: 'Buyer',
    summary:
      'Offers targeted to me (default `status=open`); only the preview of each lead. Records that I viewed them.',
    query: OffersQuery,
    responses: { 200: { description: 'a page', schema: Responses.Offers }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, query, services }) {
      const page = await listBuyerOffers(services.db, principal.buyerId, query.status, pageArgs(query));
      await Promise.all(page.items.map((o) => recordViewed(services.db, o.leadId, o.id, principal.buyerId, 'api')));
      return { status: 200, body: listBody('offers', page, buyerOfferView) };
    },
  }),

  route({
    method: 'post',
    path: '/v1/offers/:id/claim',
    operationId: 'claimOffer',
    quota: QUOTAS.claims,
    tag: 'Buyer',
    summary: 'Claim an offer: the first valid claim wins the lead and is charged at once',
    description:
      'Answers 200 `{result:"won", lead, charged, balance, assignmentId}` (a repeated claim by the winner answers the same, charged once), ' +
      '409 `{result:"lost", reason:"lost_race"|"offer_closed"}`, 402 `{result:"failed", reason:"insufficient_credits"}`, ' +
      '403 `{result:"failed", reason:"not_targeted"|"eligibility_changed"|"cap_reached"}`. ' +
      'On 503 `claim_pending` retry with the same `requestId`: it is the same attempt.',
    params: IdParams,
    body: ClaimBody,
    bodyOptional: true,
    responses: {
      200: { description: 'won', schema: ClaimWon },
      402: { description: 'insufficient credits', schema: ClaimRefused },
      403: {
        description: 'not allowed to buy it; or a problem document (`forbidden`) for a key that is not a buyer key',
        schema: ClaimRefused,
        orProblem: true,
      },
      409: {
        description: 'lost; or a problem document: the offer is a highest-bid auction (`bid_required`)',
        schema: ClaimRefused,
        orProblem: true,
      },
      503: { description: 'still being decided (`claim_pending`): retry with the same requestId' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      401: AUTH_ERRORS[401]!,
      429: { description: 'too many claims with this key, or failed authentications (`rate_limited`)' },
    },
    async handler({ principal, params, body, services }) {
      const answer = await services.claims.claim(principal, params.id, body.requestId ?? newRequestId(), 'api');
      return { status: answer.status, body: answer.body, headers: answer.headers };
    },
  }),

  route({
    method: 'post',
    path: '/v1/offers/:id/bids',
    operationId: 'bidOnOffer',
    quota: QUOTAS.claims,
    tag: 'Buyer',
    summary: 'Place (or raise) a sealed bid on a highest-bid offer; the highest bid at close wins',
    description:
      "The bid must be at least the floor (the offer's `price`) and my balance must cover it now; a later bid must raise my earlier one. " +
      'At close the highest bid wins (a tie: the earlier bid) and pays its bid, or the next bid under second-price pricing (never below the floor); ' +
      'if the winner can no longer pay, the next bid wins. Answers 200 `{result:"accepted", amount, raised}`, or `{result:"refused", reason}` with ' +
      '422 `below_floor`/`not_a_raise`, 402 `insufficient_credits`, 403 `not_targeted`, 409 `offer_closed`/`not_an_auction`.',
    params: IdParams,
    body: BidBody,
    responses: {
      200: { description: 'the bid stands', schema: BidAccepted },
      402: { description: 'my balance does not cover the bid', schema: BidRefused },
      403: {
        description: 'not targeted; or a problem document (`forbidden`) for a key that is not a buyer key',
        schema: BidRefused,
        orProblem: true,
      },
      409: { description: 'the offer is closed, or not an auction', schema: BidRefused },
      422: { description: 'below the floor, or not a raise of my earlier bid', schema: BidRefused },
      503: { description: 'still being decided (`bid_pending`): retry with the same requestId' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      401: AUTH_ERRORS[401]!,
      429: { description: 'too many bids with this key, or failed authentications (`rate_limited`)' },
    },
    async handler({ principal, params, body, services }) {
      const answer = await services.claims.bid(
        principal,
        params.id,
        body.amount,
        body.requestId ?? newRequestId(),
        'api',
      );
      return { status: answer.status, body: answer.body, headers: answer.headers };
    },
  }),

  route({
    method: 'post',
    path: '/v1/offers/:id/cancel',
    operationId: 'cancelOffer',
    tag: 'Offers',
    summary: 'Stop an open auction; the lead goes to manual review',
    params: IdParams,
    body: CancelOfferBody,
    responses: {
      202: { description: 'the offer is being cancelled', schema: Responses.OfferCancelling },
      409: { description: 'the offer is not open (`offer_not_open`)' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const offer = await agencyOffer(services, principal, params.id);
      const notOpen = () =>
        new Problem(409, 'offer_not_open', `The offer is ${offer.status}; only an open auction can be cancelled.`, {
          offerStatus: offer.status,
        });
      if (offer.status !== 'open' || offer.kind !== 'ping_post' || offer.closesAt.getTime() <= Date.now())
        throw notOpen();
      try {
        await signalCancelOffer(services.temporal, offer.workflowId, { offerId: offer.id, reason: body.reason });
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw notOpen();
        throw err;
      }
      return { status: 202, body: { offer: { id: offer.id, status: 'cancelling' } } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/offers/:id/timeline',
    operationId: 'offerTimeline',
    tag: 'Offers',
    summary: 'Every event of one offer: targeted, excluded, viewed, claims, won/lost, expiry, delivery, refunds',
    params: IdParams,
    responses: {
      200: { description: 'the timeline', schema: Responses.Timeline },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const offer = await agencyOffer(services, principal, params.id);
      const events = await offerTimeline(services.db, offer.id);
      return { status: 200, body: { events: events.map(timelineEventView) } };
    },
  }),

  route({
    method: 'get',
    path: '/v1/offers/:id/eligibility',
    operationId: 'offerEligibility',
    tag: 'Offers',
    summary: 'Every candidate buyer of an offer: eligible, or excluded with the reason and what the rules saw',
    description: 'Admins see all candidates (`?buyerId=` for one). A buyer key sees only its own row.',
    params: IdParams,
    query: EligibilityQuery,
    responses: {
      200: { description: 'the candidates', schema: Responses.Eligibility },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, query, services }) {
      const offer = await agencyOffer(services, principal, params.id);
      let buyerId = query.buyerId;
      if (principal.kind === 'buyer') {
        if (buyerId && buyerId !== principal.buyerId) throw notFound('buyer');
        buyerId = principal.buyerId;
      }
      const candidates = await listTargets(services.db, offer.id, buyerId);
      if (principal.kind === 'buyer' && candidates.length === 0) throw notFound('offer');
      return {
        status: 200,
        body: {
          offerId: offer.id,
          leadId: offer.leadId,
          price: offer.price,
          candidates: candidates.map(principal.kind === 'buyer' ? buyerCandidateView : candidateView),
        },
      };
    },
  }),
];
