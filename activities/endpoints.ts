/**
 * Outbound ping-post to buyers' own systems (#22), as activities the lead
 * workflow's auction will call (lib/endpoint-calls.ts does the calls):
 *
 * - `pingEndpoints`: ONE activity per tier – the tier's pings go out together
 *   under one deadline (each call its own timeout), each recorded in the
 *   endpoint's log as it lands; a late answer is no bid. One activity per ping
 *   would cost the engine more than the auction.
 * - `postToEndpoint`: the full lead to the winner only, its own activity, with
 *   the caller's `Idempotency-Key` – a retry after a crash resends the same
 *   post with the same key to the same buyer; `unknown` (sent, unanswered: a
 *   timeout, a dropped connection) is resent by the activity's own retry with
 *   the same key (the buyer answers a repeated key with its first answer), and
 *   answered as `unknown` – never taken for a sale or a refusal – once
 *   POST_SENDS sends went unanswered. When the endpoint has a status query
 *   (#22 item 4), each unanswered send asks it first, under the post's key:
 *   its rules' accepted or rejected is the post's answer (the accepted status
 *   answer in the endpoint's log is the sale's proof, as an accepted post is);
 *   anything else leaves the send unanswered.
 *
 * Both answer small plain data (no request or answer bodies: those are in the
 * log), so the workflow's history stays small.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';

import { endpointForCalls, endpointsOfBuyers, openedForCalls, recordEndpointCall } from '../db/endpoints';
import { leadById } from '../db/leads';
import { appendEvents, eligibleTargetPrices } from '../db/offers';
import { type EndpointCallOutcome, isPingable, type PingedEventData } from '../domain/endpoints';
import { type CallDeps, pingTier, postLead, type PostOutcome, queryStatus } from '../lib/endpoint-calls';
import { resolveDeliveryConfig } from './channels/config';
import type { ActivityDeps } from './deps';

/**
 * How many times one sale's post is sent while its answer is lost (sent, unanswered) before it is answered
 * `unknown` (review): fewer than the agency's default run of failures that pauses an endpoint (5), so one lost
 * answer does not pause the buyer; within the post activity's retry policy (workflows/options.ts, 5 attempts,
 * which a worker's crash also uses up).
 */
export const POST_SENDS = 3;

/** Which send of the post this is: the activity's attempt (1 outside an activity: a direct call is one send). */
function sendNumber(): { attempt: number; last: boolean } {
  let attempt = 1;
  try {
    attempt = Context.current().info.attempt;
  } catch {
    return { attempt, last: true };
  }
  return { attempt, last: attempt >= POST_SENDS };
}

/** One endpoint's answer to a ping, as the auction needs it. */
export interface PingAnswer {
  buyerId: string;
  outcome: EndpointCallOutcome;
  bid: number | null;
  pingId: string | null;
  reason: string | null;
  latencyMs: number;
}

export interface PostAnswer {
  result: PostOutcome;
  outcome: EndpointCallOutcome;
  reason: string | null;
  latencyMs: number;
}

export function endpointActivities({ db, delivery }: ActivityDeps) {
  const deps = (): CallDeps => ({
    record: (call, opts) => recordEndpointCall(db, call, opts),
    allowlist: resolveDeliveryConfig(delivery).allowlist,
  });
  const loadLead = async (leadId: string) => {
    const lead = await leadById(db, leadId);
    if (!lead) throw new Error(`lead ${leadId} not found`);
    return lead;
  };

  return {
    /**
     * Pings the endpoints of these buyers (active, with a ping URL) under one deadline; one answer each. With an
     * offer, only the buyers eligible on it are pinged (routing's verdicts: caps, schedule, suppression, balance…)
     * and each answer lands on the lead's timeline as `pinged` (the raw answer stays in the endpoint's log), with the
     * ping tree's `tier` when there is one.
     */
    async pingEndpoints(input: {
      leadId: string;
      buyerIds: string[];
      deadlineMs: number;
      offerId?: string;
      /** A ping tree's tier (1 = the first); absent for a highest-bid auction's endpoint bidders. */
      tier?: number;
    }): Promise<PingAnswer[]> {
      // The three reads at once: what stands between the tier's start and its first ping.
      const [lead, eligible, all] = await Promise.all([
        loadLead(input.leadId),
        input.offerId ? eligibleTargetPrices(db, input.offerId) : null,
        endpointsOfBuyers(db, input.buyerIds),
      ]);
      // Only the endpoints this round pings have their secret opened: not an ineligible buyer's, nor a paused one's.
      const endpoints = all.filter((e) => (!eligible || eligible.has(e.buyerId)) && isPingable(e)).map(openedForCalls);
      const reports = await pingTier(
        endpoints,
        { id: lead.id, values: { fields: lead.fields } },
        input.deadlineMs,
        deps(),
      );
      if (input.offerId) {
        const offerId = input.offerId;
        const tier = input.tier !== undefined ? { tier: input.tier } : {};
        await appendEvents(
          db,
          reports.map((r) => {
            const data: PingedEventData = {
              ...tier,
              outcome: r.outcome,
              latencyMs: Math.round(r.latencyMs),
              bid: r.bid,
            };
            return {
              leadId: lead.id,
              offerId,
              buyerId: r.buyerId,
              type: 'pinged' as const,
              reason: r.outcome === 'accepted' ? null : (r.reason ?? r.outcome),
              data,
              dedupeKey: `${offerId}:${r.buyerId}:pinged`,
            };
          }),
        );
      }
      return reports.map((r) => ({
        buyerId: r.buyerId,
        outcome: r.outcome,
        bid: r.bid,
        pingId: r.pingId,
        reason: r.reason,
        latencyMs: Math.round(r.latencyMs),
      }));
    },

    /**
     * Posts the full lead to the winner's endpoint with the sale's idempotency key (the same on every resend). With an
     * offer, the timeline gets `posted` (and `post_rejected` when the post was refused or failed; an accepted post is
     * recorded by the sale's transaction).
     */
    async postToEndpoint(input: {
      leadId: string;
      buyerId: string;
      pingId: string | null;
      bid: number | null;
      idempotencyKey: string;
      offerId?: string;
    }): Promise<PostAnswer> {
      const sentAt = new Date();
      const answer = await post(input);
      if (input.offerId) {
        const base = { leadId: input.leadId, offerId: input.offerId, buyerId: input.buyerId };
        const key = input.idempotencyKey;
        const data = { bid: input.bid, outcome: answer.outcome, latencyMs: answer.latencyMs, idempotencyKey: key };
        await appendEvents(db, [
          // One `posted` per sale, however many resends (the endpoint's log has each), at the first send's time.
          { ...base, type: 'posted', at: sentAt, data, dedupeKey: `${key}:posted` },
          ...(answer.result === 'rejected' || answer.result === 'failed'
            ? [
                {
                  ...base,
                  type: 'post_rejected' as const,
                  reason: answer.reason ?? answer.outcome,
                  data,
                  dedupeKey: `${key}:post_rejected`,
                },
              ]
            : []),
        ]);
      }
      const send = sendNumber();
      // Sent and unanswered: maybe taken. Sent again with the same key by the retry (the buyer answers it as the
      // first time), never to another buyer; after the last send, `unknown` for a person.
      if (answer.result === 'unknown' && !send.last)
        throw ApplicationFailure.retryable(
          `post ${input.idempotencyKey}: send ${send.attempt} of ${POST_SENDS} unanswered (${answer.reason ?? answer.outcome}); sending it again`,
          'PostUnanswered',
        );
      return answer;
    },
  };

  async function post(input: {
    leadId: string;
    buyerId: string;
    pingId: string | null;
    bid: number | null;
    idempotencyKey: string;
  }): Promise<PostAnswer> {
    const [lead, endpoint] = await Promise.all([loadLead(input.leadId), endpointForCalls(db, input.buyerId)]);
    if (!endpoint) return { result: 'failed', outcome: 'error', reason: 'the buyer has no endpoint', latencyMs: 0 };
    const values = { fields: lead.fields, leadId: lead.id, pingId: input.pingId, bid: input.bid };
    const calls = deps();
    const r = await postLead(endpoint, { id: lead.id, values }, input.idempotencyKey, calls);
    if (r.result !== 'unknown' || !endpoint.statusUrl || !endpoint.statusRules)
      return { result: r.result, outcome: r.outcome, reason: r.reason, latencyMs: Math.round(r.latencyMs) };
    // Sent, unanswered: the buyer's status query says whether it took the post (once per send, before any resend).
    const s = await queryStatus(endpoint, { leadId: lead.id, pingId: input.pingId }, input.idempotencyKey, calls);
    const latencyMs = Math.round(r.latencyMs + s.latencyMs);
    if (s.result === 'unknown')
      return {
        result: 'unknown',
        outcome: r.outcome,
        reason: `${r.reason ?? r.outcome}; status query: ${s.reason ?? s.outcome}`,
        latencyMs,
      };
    return { result: s.result, outcome: s.outcome, reason: s.reason, latencyMs };
  }
}
