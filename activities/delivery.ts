/**
 * Delivery channels after a win. The dashboard channel is the buyer's own
 * feed and "my leads": the lead is there the moment the sale commits, so
 * delivering it records the fact on the timeline. The sending channels
 * (webhook, email, SMS, voice; activities/channels) are one activity each,
 * retried by the workflow with the policy `planDelivery` hands it; each failed
 * attempt names its own wait (`nextRetryDelay`): the receiver's `Retry-After`,
 * else the schedule with jitter. Every attempt is logged (db/deliveries.ts).
 * A 410 Gone pauses the buyer's webhook endpoint. `redeliver` sends a sale
 * again, with the same message id (the redelivery workflow runs it).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';

import { getAssignment } from '../db/assignments';
import { buyerById, ensureWebhookSecret, openWebhookSecrets, pauseWebhookEndpoint } from '../db/buyers';
import { certificateRuleOfLead, claimsOf } from '../db/consent';
import {
  getDelivery,
  logDeliveryAttempt,
  recordAttemptFailed,
  recordDashboardDelivery,
  recordDelivered,
  recordDeliveryFailed,
} from '../db/deliveries';
import { leadById } from '../db/leads';
import { deliveredPhone } from '../domain/contact-checks';
import type { DeliveryRetry } from '../domain/delivery';
import { type DeliveryPayload, retryDelayMs } from '../domain/delivery';
import type { ConsentEvidence, ConsentProvider, DeliveryChannel } from '../domain/types';
import { UrlRefused } from '../lib/url-guard';
import { channelsFor, SENDING_CHANNELS, type SendingChannel } from './channels';
import { resolveDeliveryConfig } from './channels/config';
import { DeliveryHttpError } from './channels/http-post';
import { messageIdOf, type SigningKeys } from './channels/signing';
import type { ActivityDeps } from './deps';

/**
 * The secrets a buyer's webhooks are signed with now (the previous one only inside its overlap window), opened from
 * the key store; a buyer without a secret has none to sign with (callers check `webhookSecretSealed` first).
 */
export function signingKeys(
  buyer: Parameters<typeof openWebhookSecrets>[0] & { legacySignatureUntil: Date | null },
  now = new Date(),
): SigningKeys {
  const { current, previous } = openWebhookSecrets(buyer, now);
  return {
    current: current!,
    previous,
    legacy: !!buyer.legacySignatureUntil && buyer.legacySignatureUntil > now,
  };
}

export interface DeliveryPlan {
  channels: SendingChannel[];
  retry: DeliveryRetry;
  /** The lead's certificate is claimed with this provider before the channels run (#23); absent: nothing to claim. */
  consentClaim?: ConsentProvider;
}

/**
 * The sending channels a buyer's sales go out on (its settings and this
 * process's configuration) and their retry policy. The sale hands it to the
 * workflow with its answer, so no extra round trip plans the delivery.
 */
export async function deliveryPlanFor(
  db: ActivityDeps['db'],
  overrides: ActivityDeps['delivery'],
  buyerId: string,
  lead?: { id: string; consent?: ConsentEvidence | null },
): Promise<DeliveryPlan> {
  const buyer = await buyerById(db, buyerId);
  const cfg = resolveDeliveryConfig(overrides);
  const channels = channelsFor(cfg);
  // A certificate to claim (#23): only a lead that carries one asks its campaign's rule.
  const rule = lead?.consent?.certificateUrl ? await certificateRuleOfLead(db, lead.id) : null;
  return {
    channels: buyer ? SENDING_CHANNELS.filter((c) => channels[c].configured(buyer)) : [],
    retry: { ...cfg.retry, attemptTimeoutMs: cfg.timeoutMs + 5_000 },
    ...(rule ? { consentClaim: rule.provider } : {}),
  };
}

export function deliveryActivities({ db, bus, delivery }: ActivityDeps) {
  const config = () => resolveDeliveryConfig(delivery);

  const load = async (assignmentId: string) => {
    const a = await getAssignment(db, assignmentId);
    if (!a) throw ApplicationFailure.nonRetryable(`assignment ${assignmentId} not found`, 'AssignmentNotFound');
    const lead = await leadById(db, a.leadId);
    const found = await buyerById(db, a.buyerId);
    if (!lead || !found)
      throw ApplicationFailure.nonRetryable(`assignment ${assignmentId}: lead or buyer missing`, 'AssignmentNotFound');
    // A buyer from before signed webhooks gets a secret now (the admin reads it by rotating).
    const buyer = await ensureWebhookSecret(db, found);
    const payload: DeliveryPayload = {
      event: 'lead.delivered',
      assignmentId: a.id,
      leadId: a.leadId,
      offerId: a.offerId,
      buyerId: a.buyerId,
      price: a.price,
      soldAt: a.createdAt.toISOString(),
      // The number as the source sent it, unless the buyer chose E.164 (#23): no buyer's integration breaks.
      lead: {
        id: lead.id,
        ...lead.fields,
        phone: deliveredPhone(lead.fields.phone, lead.phoneE164, buyer.delivery.phoneFormat),
      },
      consent: lead.consent ?? null,
    };
    // The certificate's claim (#23), when the sale has one: the provider's answer, or the flag of a failed claim.
    const claim = (await claimsOf(db, [a.id])).get(a.id);
    if (claim) payload.consentClaim = claim;
    return { a, lead, buyer, payload };
  };

  const send = async (channel: SendingChannel, assignmentId: string, redelivery = false): Promise<void> => {
    const { a, buyer, payload } = await load(assignmentId);
    const attempt = Context.current().info.attempt;
    if (!redelivery) {
      const done = await getDelivery(db, a.id, channel);
      if (done?.status === 'delivered') return; // an earlier attempt sent it and the record committed
    }
    const cfg = config();
    // A redelivery names its channel; one this buyer (or this worker) lacks cannot be fixed by retrying.
    const usable = channel === 'webhook' ? !!buyer.delivery.webhookUrl : channelsFor(cfg)[channel].configured(buyer);
    if (!usable)
      throw ApplicationFailure.nonRetryable(
        `the ${channel} channel is not configured for this buyer or worker`,
        'ChannelNotConfigured',
      );
    const started = performance.now();
    const messageId = channel === 'email' ? null : messageIdOf(a.id, channel); // HTTP channels: the Standard Webhooks id
    const base = {
      channel,
      attempt,
      redelivery,
      messageId,
      response: null as string | null,
      error: null as string | null,
      nextRetryMs: null as number | null,
    };
    try {
      const sent = await channelsFor(cfg)[channel].send({
        payload,
        buyer: { id: buyer.id, name: buyer.name, delivery: buyer.delivery, signing: signingKeys(buyer) },
        attempt,
      });
      const latencyMs = performance.now() - started;
      await logDeliveryAttempt(db, a, {
        ...base,
        messageId: sent.messageId ?? messageId,
        outcome: 'delivered',
        statusCode: sent.status ?? null,
        latencyMs,
        response: sent.response ?? sent.detail,
      });
      await recordDelivered(db, a, channel, attempt, sent.detail);
    } catch (err) {
      const latencyMs = performance.now() - started;
      const message = err instanceof Error ? err.message : String(err);
      const http = err instanceof DeliveryHttpError ? err : null;
      const failed = {
        ...base,
        latencyMs,
        statusCode: http?.status ?? null,
        response: http?.response ?? null,
        error: message,
      };
      // An address the guard refuses will not become allowed by retrying.
      if (err instanceof UrlRefused) {
        await logDeliveryAttempt(db, a, { ...failed, outcome: 'refused' });
        await recordAttemptFailed(db, a.id, channel, attempt, message);
        throw ApplicationFailure.nonRetryable(message, 'DeliveryRefused');
      }
      // 410 Gone: the receiver says the endpoint is no more. Pause it rather than retry for hours.
      if (channel === 'webhook' && http?.status === 410) {
        await logDeliveryAttempt(db, a, { ...failed, outcome: 'gone' });
        await recordAttemptFailed(db, a.id, channel, attempt, message);
        await pauseWebhookEndpoint(
          db,
          buyer.id,
          `410 Gone from ${buyer.delivery.webhookUrl ?? 'the endpoint'} (assignment ${a.id})`,
        );
        throw ApplicationFailure.nonRetryable(`${message} – the webhook endpoint is paused`, 'EndpointGone');
      }
      const last = attempt >= cfg.retry.maximumAttempts;
      const nextRetryMs = last ? null : retryDelayMs(cfg.retry, attempt, http?.retryAfterMs ?? null, Math.random());
      await logDeliveryAttempt(db, a, { ...failed, outcome: 'failed', nextRetryMs });
      await recordAttemptFailed(db, a.id, channel, attempt, message);
      throw ApplicationFailure.create({
        message,
        type: 'DeliveryFailed',
        ...(nextRetryMs !== null ? { nextRetryDelay: nextRetryMs } : {}),
      });
    }
  };

  return {
    /** The sending channels this sale goes out on (the buyer's settings and this process's configuration), and their retry policy. */
    async planDelivery(input: { assignmentId: string }): Promise<DeliveryPlan> {
      const { buyer, lead } = await load(input.assignmentId);
      return deliveryPlanFor(db, delivery, buyer.id, lead);
    },

    /** The channels a sale goes out on (the dashboard always). */
    async deliveryChannels(input: { assignmentId: string }): Promise<DeliveryChannel[]> {
      const a = await getAssignment(db, input.assignmentId);
      if (!a) return [];
      const buyer = await buyerById(db, a.buyerId);
      const channels = channelsFor(config());
      return ['dashboard', ...SENDING_CHANNELS.filter((c) => buyer && channels[c].configured(buyer))];
    },

    /** The first lifecycle's dashboard step (the sale transaction records it now): a no-op once recorded. */
    async deliverToDashboard(input: { assignmentId: string }): Promise<void> {
      const a = await getAssignment(db, input.assignmentId);
      if (!a) throw new Error(`assignment ${input.assignmentId} not found`);
      await recordDashboardDelivery(db, a);
    },

    async deliverWebhook(input: { assignmentId: string }): Promise<void> {
      await send('webhook', input.assignmentId);
    },
    async deliverEmail(input: { assignmentId: string }): Promise<void> {
      await send('email', input.assignmentId);
    },
    async deliverSms(input: { assignmentId: string }): Promise<void> {
      await send('sms', input.assignmentId);
    },
    async deliverVoice(input: { assignmentId: string }): Promise<void> {
      await send('voice', input.assignmentId);
    },

    /** Sends a sale again on one channel (an admin's redeliver): the same message id, a fresh signature, every attempt logged. */
    async redeliver(input: { assignmentId: string; channel: SendingChannel }): Promise<void> {
      await send(input.channel, input.assignmentId, true);
    },

    /** A channel failed after its last attempt: `delivery_failed`, and the buyer's failure run (auto-pause). */
    async recordDeliveryFailure(input: {
      assignmentId: string;
      channel: SendingChannel;
      error: string;
      at?: string;
    }): Promise<{ paused: boolean }> {
      const { a } = await load(input.assignmentId);
      const { paused } = await recordDeliveryFailed(db, a, input.channel, input.error, input.at);
      // An auto-paused buyer's feed sockets close at once, on every gateway.
      if (paused) await bus.publish({ type: 'buyer.access', agencyId: a.agencyId, buyerId: a.buyerId });
      return { paused };
    },
  };
}
